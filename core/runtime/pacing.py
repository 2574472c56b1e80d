"""Telegram's send limits, kept on our side so the outbox almost never meets a 429.

Three sliding windows apply to every send: the whole bot (30 per second), each group
(20 per minute) and each private chat (1 per second). A send may go when all three have room.
A 429 pauses only the chat it came from. Pure logic on a monotonic clock: no I/O here.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from core.settings import OutboxSettings


@dataclass
class SlidingWindow:
    """At most `count` events in any window of `period` seconds."""

    count: int
    period: float
    events: deque[float] = field(default_factory=deque)

    def next_slot(self, now: float) -> float:
        while self.events and self.events[0] <= now - self.period:
            self.events.popleft()
        if len(self.events) < self.count:
            return now
        return self.events[-self.count] + self.period

    def record(self, at: float) -> None:
        self.events.append(at)


def is_private(chat_id: int) -> bool:
    return chat_id > 0


# Moderation and membership calls post nothing in the chat: Telegram's per-chat message
# limits (20 a minute in a group) do not apply to them, only the bot's overall rate. A
# burst of removals in one group must not wait minutes behind its own deletions.
NOT_POSTED = frozenset({"deleteMessage", "deleteMessages", "restrictChatMember",
                        "banChatMember", "unbanChatMember", "approveChatJoinRequest",
                        "declineChatJoinRequest"})


def posts_in_chat(method: str) -> bool:
    return method not in NOT_POSTED


class Pacer:
    def __init__(self, settings: OutboxSettings) -> None:
        stretch = (1.0 + settings.safety_margin) / settings.time_scale
        # A send that leaves a little late (event loop, database) keeps its booked slot, so
        # lateness does not stretch every interval; beyond this tolerance the schedule
        # shifts, so a late request can never bunch up with the next ones at Telegram.
        self.tolerance = settings.safety_margin / 2 / settings.time_scale
        # Whole seconds of budget are spread evenly: bursts at the edge of a window are what
        # network jitter turns into 429s.
        self._global = SlidingWindow(1, stretch / settings.messages_per_second)
        self._group_count = settings.group_messages_per_minute
        self._group_period = 60.0 * stretch
        self._private_period = stretch / settings.private_messages_per_second
        self._chats: dict[int, SlidingWindow] = {}
        self._paused: dict[int, float] = {}

    def _chat(self, chat_id: int) -> SlidingWindow:
        window = self._chats.get(chat_id)
        if window is None:
            window = (
                SlidingWindow(1, self._private_period)
                if is_private(chat_id)
                else SlidingWindow(self._group_count, self._group_period)
            )
            self._chats[chat_id] = window
        return window

    def chat_ready_at(self, chat_id: int, now: float, posts: bool = True) -> float:
        """When the chat may take the next call: its window for a message, and a 429's
        pause for anything."""
        window = self._chat(chat_id).next_slot(now) if posts else now
        return max(window, self._paused.get(chat_id, 0.0))

    def global_ready_at(self, now: float) -> float:
        return self._global.next_slot(now)

    def record(self, chat_id: int, at: float, slot: float | None = None,
               posts: bool = True) -> None:
        """A call left at `at`; `slot` is the global slot it was scheduled for."""
        booked = at if slot is None else max(slot, at - self.tolerance)
        self._global.record(booked)
        if posts:
            self._chat(chat_id).record(at)

    def pause(self, chat_id: int, until: float) -> None:
        self._paused[chat_id] = max(until, self._paused.get(chat_id, 0.0))

    def forget_idle(self, now: float) -> None:
        """Drop windows of chats that have been quiet for a while (bounded memory)."""
        idle = [
            chat for chat, window in self._chats.items()
            if window.next_slot(now) <= now and not window.events
        ]
        for chat in idle:
            del self._chats[chat]
        self._paused = {chat: until for chat, until in self._paused.items() if until > now}
