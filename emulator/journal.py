"""The emulator's own record of what happened, in time order, across every chat (opt-in).

`TelegramEmulator(journal=True)` keeps one `Event` per update queued for the bot (what a
person typed, pressed, asked or did, exactly as the bot receives it), per message the bot
sent, edited, deleted, pinned or unpinned, per callback query it answered, and per vote (a
poll update names nobody: the vote event says who acted, as the emulator knows). The demo
prints its transcript from this record, so what it shows is what Telegram carried.
Off by default: recording copies every message, which benchmarks need not pay for.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emulator.state import Message

JSON = dict[str, Any]
# What each kind of event's `data` holds:
#   update      the Update object as queued for the bot (update_id plus one field)
#   sent        the bot's new message: message_id, kind, sender_id, reply_to, poll_id, content
#   edited      the same, as it stands after the edit
#   deleted     the same, for the message deleted (the bot's or a person's)
#   pinned, unpinned   message_id
#   answered    callback_query_id, text, show_alert (the answer the bot gave to a press)
#   vote        user_id, poll_id, message_id, option_ids
EVENT_KINDS = ("update", "sent", "edited", "deleted", "pinned", "unpinned", "answered", "vote")


@dataclass(frozen=True)
class Event:
    at: float  # seconds since the journal (re)started, by the monotonic clock
    kind: str  # one of EVENT_KINDS
    chat_id: int | None
    data: JSON


class Journal:
    """Append-only while enabled; the caller holds the state's lock."""

    def __init__(self, enabled: bool = False) -> None:
        self.enabled = enabled
        self._events: list[Event] = []
        self._start = time.monotonic()

    def record(self, kind: str, chat_id: int | None, data: Callable[[], JSON]) -> None:
        """Add an event; `data` is built only when recording, so a disabled journal is free."""
        if self.enabled:
            self._events.append(Event(time.monotonic() - self._start, kind, chat_id, data()))

    def events(self) -> list[Event]:
        return list(self._events)

    def clear(self) -> None:
        self._events.clear()
        self._start = time.monotonic()


def message_record(message: Message) -> Callable[[], JSON]:
    """A message (state.Message) as the journal keeps it: a copy, later edits do not touch it."""

    def build() -> JSON:
        return {
            "message_id": message.message_id,
            "kind": message.kind,
            "sender_id": message.sender_id,
            "reply_to": message.reply_to,
            "poll_id": message.poll_id,
            "content": copy.deepcopy(message.content),
        }

    return build


def chat_of_update(payload: object) -> int | None:
    """The chat an update happened in (a message's, a press's, a join request's), if any;
    an injected payload may be anything at all."""
    if not isinstance(payload, dict):
        return None
    for holder in (payload, payload.get("message")):
        if isinstance(holder, dict) and isinstance(holder.get("chat"), dict):
            chat_id = holder["chat"].get("id")
            return chat_id if isinstance(chat_id, int) else None
    return None
