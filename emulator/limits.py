"""Flood limits on the bot's sends, with exact and deterministic semantics."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

# Absorbs float rounding (t - W computed in floats, fractional refills), so a client pacing
# itself exactly at a limit is never refused by a rounding error.
_EPSILON = 1e-9


@dataclass(frozen=True)
class Limits:
    """Telegram's flood limits on sending methods, optionally scaled in time or switched off.

    Which calls count: only sends (sendMessage, sendPhoto, sendDocument, sendLocation,
    sendVenue, sendPoll, copyMessage, forwardMessage). Edits, callback answers, chat actions,
    getters and admin methods are never limited.

    Time: the emulator's time.monotonic() when it handles the request, under its state lock,
    so requests are judged in exactly the order they are processed. Let s = `scale`.

    * Global: a send at time t is accepted only if fewer than `global_max` (30) sends were
      accepted in the half-open window (t - W, t] with W = `global_window` / s (1.0 s).
      Consequently sends spaced exactly W / global_max apart are always accepted; a send
      exactly W after an accepted one no longer counts it (with a 1e-9 s float tolerance).
    * Per group or supergroup: the same rule per chat, with `group_max` (20) and
      W = `group_window` / s (60 s).
    * Per private chat: a token bucket per chat holding at most `private_burst` (4) tokens,
      full at first, refilled continuously at one token per `private_interval` / s seconds
      (1 s). A send takes one whole token (1e-9 tolerance). So a burst of 4, then one
      send per second.
    * A send must pass the global limit and its chat's limit. If any refuses, nothing is
      recorded anywhere and the answer is 429 with parameters.retry_after = the time until
      every refusing limit would accept, in whole Telegram seconds scaled: ceil(wait * s) / s,
      at least 1 / s. With s = 1 that is Telegram's integer (at least 1); scaled, it is a
      fraction (s = 10: a 0.04 s wait is announced as 0.1), so a client that obeys it waits
      the scaled time, never a real second.
    * Only accepted sends consume capacity: a request refused for any reason (a 429, a 400,
      a 403, an injected fault) leaves every window and bucket unchanged.
    """

    enabled: bool = True
    scale: float = 1.0
    global_max: int = 30
    global_window: float = 1.0
    group_max: int = 20
    group_window: float = 60.0
    private_burst: int = 4
    private_interval: float = 1.0

    def __post_init__(self) -> None:
        if self.scale <= 0:
            raise ValueError("scale must be positive")

    @classmethod
    def off(cls) -> Limits:
        return cls(enabled=False)

    def scaled(self, seconds: float) -> float:
        return seconds / self.scale


class SlidingWindow:
    """At most `capacity` events in any half-open window (t - length, t]."""

    def __init__(self, capacity: int, length: float):
        self._capacity = capacity
        self._length = length
        self._events: deque[float] = deque()

    def wait_time(self, now: float) -> float:
        while self._events and self._events[0] <= now - self._length + _EPSILON:
            self._events.popleft()
        if len(self._events) < self._capacity:
            return 0.0
        return self._events[0] + self._length - now

    def record(self, now: float) -> None:
        self._events.append(now)


class TokenBucket:
    def __init__(self, capacity: int, interval: float, now: float):
        self._capacity = capacity
        self._interval = interval
        self._tokens = float(capacity)
        self._updated = now

    def wait_time(self, now: float) -> float:
        self._refill(now)
        missing = 1.0 - self._tokens
        return 0.0 if missing <= _EPSILON else missing * self._interval

    def record(self, now: float) -> None:
        self._refill(now)
        self._tokens = max(0.0, self._tokens - 1.0)

    def _refill(self, now: float) -> None:
        gained = (now - self._updated) / self._interval
        self._tokens = min(float(self._capacity), self._tokens + gained)
        self._updated = now


class RateLimiter:
    """Applies `Limits` to sends; not thread-safe, the caller holds the state lock."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self._global = SlidingWindow(limits.global_max, limits.scaled(limits.global_window))
        self._groups: dict[int, SlidingWindow] = {}
        self._privates: dict[int, TokenBucket] = {}

    def acquire(self, chat_id: int, is_private: bool, now: float) -> float:
        """Record a send and return 0.0, or return the seconds to wait and record nothing."""
        if not self.limits.enabled:
            return 0.0
        chat_limit = self._private(chat_id, now) if is_private else self._group(chat_id)
        wait = max(self._global.wait_time(now), chat_limit.wait_time(now))
        if wait > 0:
            return wait
        self._global.record(now)
        chat_limit.record(now)
        return 0.0

    def _group(self, chat_id: int) -> SlidingWindow:
        if chat_id not in self._groups:
            limits = self.limits
            self._groups[chat_id] = SlidingWindow(
                limits.group_max, limits.scaled(limits.group_window)
            )
        return self._groups[chat_id]

    def _private(self, chat_id: int, now: float) -> TokenBucket:
        if chat_id not in self._privates:
            limits = self.limits
            self._privates[chat_id] = TokenBucket(
                limits.private_burst, limits.scaled(limits.private_interval), now
            )
        return self._privates[chat_id]
