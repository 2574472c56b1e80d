"""The rate limiter of direct replies (the answers to the person acting).

PTB's `AIORateLimiter` holds *every* request while one of them waits out a 429, and adds
an unscaled 0.1 s to each wait. With updates handled side by side, one resident sending
faster than Telegram's one message a second to their chat would then stall everybody's
answers. Telegram's flood limits are per chat beyond the overall 30 messages a second, so
here a 429 pauses only the chat it was about; the others go on. The limits themselves are
PTB's: 30 requests a second overall, 20 messages a minute per group (only requests that
post a message count there: reading a member, answering a button or editing do not).
Windows and the safety margin shrink with the run's time scale (tests, demo, bench).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from core import logs

log = logs.get("limiter")

OVERALL_PER_SECOND = 30
GROUP_PER_MINUTE = 20
MARGIN_SECONDS = 0.1  # on top of Telegram's retry_after, as PTB does
MAX_RETRIES = 3
# Requests that post a message in the chat: Telegram's per-group limit counts these.
_POSTING = frozenset({"copyMessage", "copyMessages", "forwardMessage", "forwardMessages"})

Result = bool | dict[str, Any] | list[dict[str, Any]]


def posts_a_message(endpoint: str) -> bool:
    return endpoint.startswith("send") or endpoint in _POSTING


class DirectReplyLimiter(BaseRateLimiter[int]):
    def __init__(self, time_scale: float = 1.0, max_retries: int = MAX_RETRIES) -> None:
        self.time_scale = time_scale
        self.max_retries = max_retries
        self._overall = AsyncLimiter(OVERALL_PER_SECOND, 1 / time_scale)
        self._groups: dict[int | str, AsyncLimiter] = {}
        # Chat → the loop time before which nothing is sent to it (Telegram said wait).
        self._paused: dict[int | str, float] = {}

    async def initialize(self) -> None:
        """Nothing to set up: limiters are made on first use."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Result:
        chat = _chat_of(data)
        retries = self.max_retries if rate_limit_args is None else rate_limit_args
        attempt = 0
        while True:
            await self._wait_for(chat)
            try:
                async with self._limits(chat, endpoint):
                    return await callback(*args, **kwargs)
            except RetryAfter as error:
                if attempt >= retries or chat is None:
                    raise
                attempt += 1
                self._pause(chat, _seconds(error) + MARGIN_SECONDS / self.time_scale)

    @contextlib.asynccontextmanager
    async def _limits(self, chat: int | str | None, endpoint: str) -> AsyncIterator[None]:
        if chat is None:
            yield
            return
        group = self._group(chat) if _is_group(chat) and posts_a_message(endpoint) else None
        async with contextlib.AsyncExitStack() as stack:
            if group is not None:
                await stack.enter_async_context(group)
            await stack.enter_async_context(self._overall)
            yield

    def _group(self, chat: int | str) -> AsyncLimiter:
        if chat not in self._groups:
            self._groups[chat] = AsyncLimiter(GROUP_PER_MINUTE, 60 / self.time_scale)
        return self._groups[chat]

    def _pause(self, chat: int | str, seconds: float) -> None:
        until = asyncio.get_running_loop().time() + seconds
        self._paused[chat] = max(self._paused.get(chat, 0.0), until)
        log.info("limiter.chat_paused", seconds=round(seconds, 3), private=not _is_group(chat))

    async def _wait_for(self, chat: int | str | None) -> None:
        if chat is None:
            return
        delay = self._paused.get(chat, 0.0) - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)
            await self._wait_for(chat)  # another 429 may have moved the pause meanwhile
        else:
            self._paused.pop(chat, None)


def _chat_of(data: dict[str, Any]) -> int | str | None:
    chat = data.get("chat_id")
    if chat is None:
        return None
    with contextlib.suppress(TypeError, ValueError):
        return int(chat)
    return str(chat)


def _is_group(chat: int | str) -> bool:
    """Negative ids are groups and channels; a string id is a channel's @name."""
    return isinstance(chat, str) or chat < 0


def _seconds(error: RetryAfter) -> float:
    value = error.retry_after
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)
