"""What tests see of the bot's messages, and the async helpers that wait for them.

Waiting is always `async` and polls: the bot usually runs in the test's own event loop, so a
blocking wait would stop the very bot it is waiting for.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from emulator.state import JSON, Message, State

POLL_INTERVAL = 0.01
_DUMP_LENGTH = 15
T = TypeVar("T")


@dataclass
class SentMessage:
    """A snapshot of one message the bot sent, as it stood (after edits) when it was read.

    `text`/`caption` are what the person sees (HTML tags parsed away, &amp; decoded);
    `raw_text` is the text or caption exactly as the bot sent it. `reply_markup` is the markup
    as sent (inline or reply keyboard, removal, force reply); `buttons` flattens its labels.
    `history` lists every visible text the message has shown, the current one last.
    """

    message_id: int
    chat_id: int
    kind: str
    text: str | None
    caption: str | None
    raw_text: str | None
    parse_mode: str | None
    entities: list[JSON]
    reply_markup: JSON | None
    buttons: list[str]
    protect_content: bool
    disable_notification: bool
    pinned: bool
    deleted: bool
    edits: int
    reply_to_message_id: int | None
    poll: JSON | None
    location: JSON | None
    venue: JSON | None
    file: JSON | None
    date: int
    history: list[str] = field(default_factory=list)

    @property
    def content(self) -> str:
        """The visible text or caption, "" for messages that have neither."""
        return self.text or self.caption or ""

    def callback_data(self, label: str) -> str | None:
        """The callback_data of the inline button labelled `label`, if there is one."""
        for button in inline_buttons(self.reply_markup):
            if button.get("text") == label:
                return button.get("callback_data")
        return None


@dataclass(frozen=True)
class Mark:
    """How far every chat had got at one moment (TelegramEmulator.mark()).

    Pass it as `since` to wait for what the bot sent after that moment in any chat, even if
    it arrived before the wait began: e.g. an action that makes the bot write to two people.
    """

    last_message_ids: Mapping[int, int]


def take_mark(state: State) -> Mark:
    with state.lock:
        return Mark({chat_id: chat.last_message_id for chat_id, chat in state.chats.items()})


Predicate = Callable[[SentMessage], bool]
# A message, as a test may hold it: its id, its snapshot, or the dict an action returned.
MessageRef = int | SentMessage | Mapping[str, Any]
Since = MessageRef | Mark | None


def snapshot(state: State, message: Message) -> SentMessage:
    content = message.content
    return SentMessage(
        message_id=message.message_id,
        chat_id=message.chat_id,
        kind=message.kind,
        text=content.get("text"),
        caption=content.get("caption"),
        raw_text=message.raw,
        parse_mode=message.parse_mode,
        entities=copy.deepcopy(content.get("entities", content.get("caption_entities")) or []),
        reply_markup=copy.deepcopy(message.markup),
        buttons=button_labels(message.markup),
        protect_content=message.protect_content,
        disable_notification=message.disable_notification,
        pinned=message.pinned,
        deleted=message.deleted,
        edits=message.edits,
        reply_to_message_id=message.reply_to,
        poll=state.polls[message.poll_id].to_api() if message.poll_id else None,
        location=copy.deepcopy(content.get("location")),
        venue=copy.deepcopy(content.get("venue")),
        file=_file_of(content),
        date=message.date,
        history=list(message.history),
    )


def sent_messages(state: State, chat_id: int) -> list[SentMessage]:
    with state.lock:
        return [snapshot(state, message) for message in state.bot_messages(chat_id)]


def _bot_messages_after(state: State, chat_id: int, after: int) -> list[SentMessage]:
    """Like sent_messages, but only past `after`: waits poll often, chats can be long."""
    with state.lock:
        chat = state.chats.get(chat_id)
        if chat is None:
            return []
        newer = []
        for message in reversed(chat.messages.values()):
            if message.message_id <= after:
                break
            if message.sender_id == state.bot.id:
                newer.append(snapshot(state, message))
        return newer[::-1]


def button_labels(markup: JSON | None) -> list[str]:
    if not markup:
        return []
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    return [b if isinstance(b, str) else b.get("text", "") for row in rows for b in row]


def inline_buttons(markup: JSON | None) -> list[JSON]:
    rows = (markup or {}).get("inline_keyboard") or []
    return [button for row in rows for button in row]


def _file_of(content: JSON) -> JSON | None:
    if "photo" in content:
        largest: JSON = copy.deepcopy(content["photo"][-1])
        return largest
    for kind in ("document", "sticker"):
        if kind in content:
            found: JSON = copy.deepcopy(content[kind])
            return found
    return None


async def wait_for_message(
    state: State,
    chat_id: int,
    predicate: Predicate | None,
    text: str | None,
    seconds: float,
    since: Since,
) -> SentMessage:
    """The first message from the bot in the chat after `since` that matches.

    `since` defaults to the latest action of any person (or "now" before the first one):
    what the bot sent in reaction to it counts even if it arrived before the wait began,
    which is how a test reads ("Alice sends /start; she is shown the charter"). Pass a
    Mark, a message id, a SentMessage or a message dict to start elsewhere.
    """
    if since is None and isinstance(state.last_action, Mark):
        since = state.last_action
    if since is None:
        after = _last_message_id(state, chat_id)
    elif isinstance(since, Mark):
        after = since.last_message_ids.get(chat_id, 0)
    else:
        after = message_id_of(since)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        for message in _bot_messages_after(state, chat_id, after):
            if _matches(message, predicate, text):
                return message
        if loop.time() >= deadline:
            raise TimeoutError(_timeout_report(state, chat_id, predicate, text, seconds, after))
        await asyncio.sleep(POLL_INTERVAL)


def _matches(message: SentMessage, predicate: Predicate | None, text: str | None) -> bool:
    if text is not None and text not in message.content:
        return False
    return predicate is None or predicate(message)


def _timeout_report(
    state: State,
    chat_id: int,
    predicate: Predicate | None,
    text: str | None,
    seconds: float,
    after: int,
) -> str:
    wanted = f"text containing {text!r}" if text is not None else "a message"
    if predicate is not None:
        wanted += f" matching {getattr(predicate, '__name__', 'the predicate')}"
    report = f"No new bot message ({wanted}) within {seconds}s.\n" + describe_chat(state, chat_id)
    earlier = [
        m.message_id
        for m in sent_messages(state, chat_id)
        if m.message_id <= after and _matches(m, predicate, text)
    ]
    if earlier:
        # The usual cause: the bot answered before the wait began.
        report += (
            f"\nMessage #{earlier[-1]} matches but was sent before the wait began; to accept it,"
            " pass since=emu.mark() taken before the action, or since=<the action's message>."
        )
    return report


async def wait_until(condition: Callable[[], T], seconds: float) -> T:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        value = condition()
        if value:
            return value
        if loop.time() >= deadline:
            name = getattr(condition, "__name__", "condition")
            raise TimeoutError(f"{name} still false after {seconds}s")
        await asyncio.sleep(POLL_INTERVAL)


def describe_chat(state: State, chat_id: int) -> str:
    """The end of a chat's history, one line per message, for failure messages."""
    with state.lock:
        chat = state.chats.get(chat_id)
        if chat is None:
            return f"Chat {chat_id} does not exist."
        name = chat.title or state.users[chat.id].display_name
        messages = list(chat.messages.values())[-_DUMP_LENGTH:]
        lines = [f"Chat {chat_id} ({name}), last {len(messages)} messages:"]
        lines += [f"  {_describe(state, message)}" for message in messages]
    if len(lines) == 1:
        lines.append("  (empty)")
    return "\n".join(lines)


def _describe(state: State, message: Message) -> str:
    sender = state.users[message.sender_id]
    who = "BOT" if sender.is_bot else sender.display_name
    body = message.visible_text
    if body is None:
        service = ", ".join(sorted(message.content)) or message.kind
        body = f"<{message.kind}: {service}>"
    flags = []
    if message.edits:
        flags.append(f"edited x{message.edits}")
    if message.deleted:
        flags.append("deleted")
    if labels := button_labels(message.markup):
        flags.append("buttons: " + " | ".join(labels))
    suffix = f"  [{'; '.join(flags)}]" if flags else ""
    return f"#{message.message_id} {who}: {body!r}{suffix}"


def _last_message_id(state: State, chat_id: int) -> int:
    with state.lock:
        chat = state.chats.get(chat_id)
        return chat.last_message_id if chat is not None else 0


def message_id_of(message: MessageRef) -> int:
    if isinstance(message, int):
        return message
    if isinstance(message, SentMessage):
        return message.message_id
    return int(message["message_id"])
