"""Injected network and server failures, decided per request by the HTTP layer."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

OutageKind = Literal["5xx", "timeout", "reset"]
FailureStatus = int | Literal["timeout", "reset"]


@dataclass(frozen=True)
class Fault:
    """What to do instead of (or after) answering one request.

    kind: "status" answers `status` with an error body; "retry_after" answers 429;
    "timeout" holds the connection for `Faults.hold` seconds then closes it unanswered;
    "reset" closes it at once. `after_processing` means the call is carried out first, so
    only its answer is lost (the classic "did my message go out?" case).
    """

    kind: Literal["status", "retry_after", "timeout", "reset"]
    status: int = 0
    retry_after: int = 0
    after_processing: bool = False


@dataclass
class _Pending:
    fault: Fault
    remaining: int
    method: str | None  # lower-cased; None matches any sending method


class Faults:
    """Failure switches for the emulator; safe to flip from any thread at any time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holds_released = threading.Condition(self._lock)
        self._release_count = 0
        self._outage: OutageKind | None = None
        self._pending: list[_Pending] = []
        self.hold = 30.0

    def outage(self, kind: OutageKind = "5xx") -> None:
        """Fail every request until clear(): 502 Bad Gateway, a held connection, or a reset."""
        if kind not in ("5xx", "timeout", "reset"):
            raise ValueError(f"unknown outage kind {kind!r}")
        with self._lock:
            self._outage = kind

    def clear(self) -> None:
        """End any outage, forget queued failures and release connections being held."""
        with self._lock:
            self._outage = None
            self._pending.clear()
            self._release_holds()

    def reset(self) -> None:
        """As new: no outage, no queued failure, held connections released, default hold."""
        self.clear()
        self.hold = 30.0

    def fail_next(
        self,
        method: str,
        status: FailureStatus = 500,
        times: int = 1,
        *,
        after_processing: bool = False,
    ) -> None:
        """Make the next `times` calls of `method` fail with `status`, "timeout" or "reset".

        `method` is a Bot API method name, or "file" for file downloads. With
        `after_processing` the call takes effect and only its answer is lost.
        """
        if isinstance(status, int):
            fault = Fault("status", status=status, after_processing=after_processing)
        elif status in ("timeout", "reset"):
            fault = Fault(status, after_processing=after_processing)
        else:
            raise ValueError(f"unknown failure status {status!r}")
        self._queue(fault, times, method)

    def retry_after(self, seconds: int = 2, times: int = 1, method: str | None = None) -> None:
        """Answer 429 with retry_after=`seconds` to the next `times` calls of `method`.

        `seconds` are Telegram's: under `Limits(scale=s)` the answer says `seconds / s`, as
        the flood limits' own 429s do (an integer when s = 1).

        Without `method`, the next sending calls (those subject to flood limits) are hit.
        """
        self._queue(Fault("retry_after", status=429, retry_after=seconds), times, method)

    def take(self, method: str, is_sending: bool) -> Fault | None:
        """The fault for this request, if any, consuming one use of a queued failure."""
        name = method.lower()
        with self._lock:
            if self._outage == "5xx":
                return Fault("status", status=502)
            if self._outage is not None:
                return Fault(self._outage)
            for pending in self._pending:
                if pending.method == name or (pending.method is None and is_sending):
                    pending.remaining -= 1
                    if pending.remaining <= 0:
                        self._pending.remove(pending)
                    return pending.fault
        return None

    def wait_released(self, timeout: float) -> None:
        """Block a held request until `timeout` elapses or clear()/release() ends the hold."""
        with self._lock:
            started_at = self._release_count
            self._holds_released.wait_for(lambda: self._release_count != started_at, timeout)

    def release(self) -> None:
        """Let every request being held go now, leaving the switches as they are."""
        with self._lock:
            self._release_holds()

    def _release_holds(self) -> None:
        self._release_count += 1
        self._holds_released.notify_all()

    def _queue(self, fault: Fault, times: int, method: str | None) -> None:
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._pending.append(_Pending(fault, times, method.lower() if method else None))
