"""The outbox worker: the one way the bot sends what must arrive.

Rows are written by `send()` (or inside a caller's transaction through the store), then
claimed here one at a time, paced to Telegram's limits by `Pacer`, sent through a Bot of
their own (PTB's AIORateLimiter pauses every request on one 429 and has no per-private-chat
limit, so the outbox does its own pacing), and settled:

- delivered: the Telegram message id is kept, so later edits can find the message;
- 429: that chat alone waits `retry_after`, the attempt does not count;
- group upgraded to supergroup: the new id replaces the old one everywhere, sent again now;
- network error, 5xx, timeout: retried with exponential backoff and jitter, and sending
  pauses while `getMe` probes Telegram until it answers (an outage spends no attempts);
- a send that may have arrived (timed out or cut after the request left, or interrupted by
  a crash or a stop): marked uncertain and retried once, never twice (storage/outbox.py);
- 403 (blocked, kicked, never started) or 400 (chat not found, text too long…): given up
  with the reason stored; a private chat that blocked the bot is marked so.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBUserWarning

from core import logs
from core.names import name_links
from core.runtime.pacing import Pacer, is_private, posts_in_chat
from core.settings import OutboxSettings
from storage import Message, OutboxRow, Store
from storage.outbox import FAILED

log = logs.get("outbox")

# The outbox calls Bot API methods by name on purpose (rows store method + parameters).
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.", category=PTBUserWarning)

DeliveryHook = Callable[[OutboxRow, Any], Awaitable[None]]
FailureHook = Callable[[OutboxRow, str], Awaitable[None]]
BATCH = 500
PASS_SECONDS = 0.5
MAX_IN_FLIGHT = 64
SETTLE_SECONDS = 10.0  # at a stop, how long sends on the wire may take to settle
PROBE_TIMEOUT = 5.0
PROBE_MAX_SECONDS = 30.0  # longest pause between two probes of an unreachable Telegram
# The request never left: these cannot have been carried out by Telegram.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


Buttons = list[list[tuple[str, str]]]  # rows of (label, callback_data)


def inline_keyboard(buttons: Buttons) -> dict[str, object]:
    return {"inline_keyboard": [[{"text": label, "callback_data": data} for label, data in row]
                                for row in buttons]}


def html_message(chat_id: int, text: str, purpose: str, ref: str | None = None, *,
                 dedupe_key: str | None = None, buttons: Buttons | None = None,
                 markup: dict[str, object] | None = None, protect: bool = False,
                 priority: int = 0) -> Message:
    """An HTML text message for the outbox; `protect` forbids forwarding and saving it."""
    payload: dict[str, object] = {"text": text, "parse_mode": ParseMode.HTML,
                                  "link_preview_options": {"is_disabled": True},
                                  "protect_content": protect}
    if buttons:
        markup = inline_keyboard(buttons)
    if markup:
        payload["reply_markup"] = markup
    return Message(chat_id, "sendMessage", payload, purpose, ref, dedupe_key, priority)


def may_have_arrived(error: TelegramError) -> bool:
    """True when the request may have reached Telegram and been carried out, its answer
    lost: a timeout or a cut connection after it was sent. An HTTP answer (5xx) is certain."""
    cause = error.__cause__
    return isinstance(error, NetworkError) and isinstance(
        cause, httpx.TransportError) and not isinstance(cause, _NOT_SENT)


def _first_of_each_chat(rows: list[OutboxRow]) -> dict[tuple[int, int], int]:
    """(chat, priority) → its oldest due row. Rows come sorted by due time, and a row put
    back after a 429 is due later than the chat's newer rows: the oldest still goes first."""
    first: dict[tuple[int, int], int] = {}
    for row in rows:
        key = (row.chat_id, row.priority)
        first[key] = min(first.get(key, row.id), row.id)
    return first


def _retry_after_seconds(error: RetryAfter) -> float:
    value = error.retry_after
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)


class OutboxWorker:
    def __init__(self, store: Store, bot: Bot, settings: OutboxSettings) -> None:
        self.store = store
        self.bot = bot
        self.settings = settings
        self.pacer = Pacer(settings)
        self.on_delivered: dict[str, DeliveryHook] = {}
        self.on_failed: list[FailureHook] = []
        self._wake = asyncio.Event()
        self._busy: set[int] = set()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.uncertain = 0  # sends of this process whose fate was unknown (may be doubled)
        self._unreachable = False  # Telegram looked down: probe before sending again
        self._probes = 0
        self._probe: asyncio.Task[Any] | None = None

    async def send(self, *messages: Message) -> list[int]:
        """Queue messages durably, then let the worker know."""
        ids = await self.store.outbox.enqueue(messages)
        self.wake()
        return ids

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        requeued, given_up = await self.store.outbox.requeue_interrupted()
        if requeued or given_up:
            # Each may have arrived before the process died: retried once, and counted.
            log.warning("outbox.requeued_interrupted", rows=requeued, uncertain=requeued,
                        given_up=given_up)
        self._stopping = False
        self._unreachable = False
        self._task = asyncio.create_task(self._run(), name="outbox")

    async def stop(self) -> None:
        """Stop claiming; let sends already on the wire settle; park the ones that do not
        (back to pending, uncertain: they may have arrived)."""
        self._stopping = True
        self.wake()
        if self._probe is not None:
            self._probe.cancel()
        if self._task is not None:
            await self._task
            self._task = None
        if not self._in_flight:
            return
        _, late = await asyncio.wait(self._in_flight, timeout=SETTLE_SECONDS)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)
            requeued, given_up = await self.store.outbox.requeue_interrupted()
            log.warning("outbox.parked", rows=requeued, given_up=given_up)

    async def _run(self) -> None:
        while not self._stopping:
            if self._unreachable:
                await self._probe_telegram()
                continue
            try:
                next_ready = await self._dispatch_due()
            except Exception:
                log.exception("outbox.loop_error")
                next_ready = self.settings.poll_interval_seconds
            if next_ready > 0:
                await self._idle(next_ready)

    async def _idle(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def _dispatch_due(self) -> float:
        """Send what is due and may go now; return how long to idle (0: look again at once)."""
        loop = asyncio.get_running_loop()
        now_wall = time.time()
        rows = await self.store.outbox.due(now_wall, BATCH)
        idle = self.settings.poll_interval_seconds
        behind = await self.store.outbox.waiting_retries(now_wall)
        first = _first_of_each_chat(rows)
        waiting: set[int] = set()  # chats whose oldest row waits: later rows wait too (order)
        sent = 0
        # A pass is short, so a row queued meanwhile (a report's card while a notice goes
        # out to 2,000 chats) is seen within PASS_SECONDS and, not being bulk, goes next.
        deadline = loop.time() + PASS_SECONDS
        for row in rows:
            if self._stopping or loop.time() > deadline:
                break
            if row.id != first[row.chat_id, row.priority]:
                continue  # an older row of this chat, further down the list, goes first
            if (row.chat_id in self._busy or row.chat_id in waiting
                    or row.id > behind.get(row.chat_id, row.id)):
                waiting.add(row.chat_id)
                continue
            now = loop.time()
            posts = posts_in_chat(row.method)
            ready = self.pacer.chat_ready_at(row.chat_id, now, posts)
            if ready > now:
                waiting.add(row.chat_id)
                idle = min(idle, ready - now)
                continue
            # Claim first, then wait for the slot: the claim's own time is absorbed in the
            # wait, and the slot is booked when the request actually leaves.
            if not await self.store.outbox.claim(row.id):
                continue
            slot = await self._wait_for_room(loop)
            self.pacer.record(row.chat_id, loop.time(), slot, posts)
            self._busy.add(row.chat_id)
            task = asyncio.create_task(self._deliver(row))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
            sent += 1
        self.pacer.forget_idle(loop.time())
        return 0.0 if sent else idle

    async def _wait_for_room(self, loop: asyncio.AbstractEventLoop) -> float:
        """Wait for a free connection and the next global slot; return the slot."""
        while len(self._in_flight) >= MAX_IN_FLIGHT:
            await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
        now = loop.time()
        slot = max(self.pacer.global_ready_at(now), now)
        if slot > now:
            await asyncio.sleep(slot - now)
        return slot

    async def _resolve(self, row: OutboxRow) -> dict[str, Any] | None:
        """The row's parameters, with `message_id_of` (an earlier outbox row) replaced by
        the Telegram message id it got; None while that message is not delivered yet."""
        payload = dict(row.payload)
        source_id = payload.pop("message_id_of", None)
        if source_id is None:
            return await self._named(payload)
        source = await self.store.outbox.get(int(source_id))
        if source is None or source.status == FAILED:
            raise LookupError("the message to edit was never delivered")
        if source.message_id is None:
            return None
        return await self._named({**payload, "message_id": source.message_id})

    async def _named(self, payload: dict[str, Any]) -> dict[str, Any]:
        """People's profile links labelled with their current name, asked now: the row
        stores only the link, the name exists only in the message Telegram shows."""
        for key in ("text", "caption"):
            value = payload.get(key)
            if isinstance(value, str) and "tg://user?id=" in value:
                payload[key] = await name_links(self.bot, value)
        return payload

    async def _deliver(self, row: OutboxRow) -> None:
        try:
            payload = await self._resolve(row)
            if payload is None:
                await self._later(row, 1.0 / self.settings.time_scale,
                                  "waiting for the message to edit", counted=False)
                return
            result = await self.bot.do_api_request(
                row.method, api_kwargs={"chat_id": row.chat_id, **payload}
            )
        except TelegramError as error:
            await self._refused(row, error)
        except LookupError as error:
            await self._give_up(row, str(error))
        except Exception as error:
            log.exception("outbox.unexpected_error", row=row.id)
            await self._backoff(row, type(error).__name__)
        else:
            message_id = result.get("message_id") if isinstance(result, dict) else None
            await self.store.outbox.delivered(row.id, message_id)
            hook = self.on_delivered.get(row.purpose)
            if hook is not None:
                await hook(row, result)
        finally:
            self._busy.discard(row.chat_id)
            self.wake()

    async def _refused(self, row: OutboxRow, error: TelegramError) -> None:
        """Settle a row Telegram did not deliver, by what the error means (see the module
        docstring). BadRequest is a NetworkError in PTB: it must be matched first."""
        if isinstance(error, RetryAfter):
            await self._later(row, _retry_after_seconds(error), "429 retry after", counted=False)
        elif isinstance(error, ChatMigrated):
            await self.store.migrate_chat(row.chat_id, error.new_chat_id)
            log.info("outbox.chat_migrated", old=row.chat_id, new=error.new_chat_id)
            await self.store.outbox.retry_at(row.id, time.time(), "chat migrated", False)
        elif isinstance(error, Forbidden):
            await self._give_up(row, f"forbidden: {error.message}")
            if is_private(row.chat_id):
                await self.store.people.mark_blocked(row.chat_id)
        elif isinstance(error, BadRequest):
            if "not modified" in error.message.lower():
                await self.store.outbox.delivered(row.id, row.payload.get("message_id"))
            else:
                await self._give_up(row, f"bad request: {error.message}")
        else:
            reason = f"{type(error).__name__}: {error.message}"
            if isinstance(error, NetworkError):
                self._telegram_unreachable()
            if may_have_arrived(error):
                await self._uncertain(row, reason)
            else:
                await self._backoff(row, reason)

    async def _later(self, row: OutboxRow, delay: float, reason: str, counted: bool) -> None:
        loop = asyncio.get_running_loop()
        # The chat waits as a whole, so its later rows cannot overtake this one.
        self.pacer.pause(row.chat_id, loop.time() + delay)
        await self.store.outbox.retry_at(row.id, time.time() + delay, reason, counted)
        log.info("outbox.retry", row=row.id, purpose=row.purpose, delay=round(delay, 2),
                 reason=reason)

    async def _backoff(self, row: OutboxRow, reason: str) -> None:
        attempts = row.attempts + 1  # the claim counted this one
        if attempts >= self.settings.max_attempts:
            await self._give_up(row, f"gave up after {attempts} attempts: {reason}")
            return
        delay = min(
            self.settings.base_backoff_seconds * 2 ** (attempts - 1),
            self.settings.max_backoff_seconds,
        ) / self.settings.time_scale
        await self._later(row, delay * random.uniform(0.8, 1.2), reason, counted=True)

    async def _uncertain(self, row: OutboxRow, reason: str) -> None:
        """The message may have arrived: retry it once; a second doubt gives it up rather
        than risk a third copy."""
        self.uncertain += 1
        log.warning("outbox.uncertain", row=row.id, purpose=row.purpose,
                    retry=not row.uncertain, total=self.uncertain)
        if row.uncertain:
            await self._give_up(row, f"uncertain twice, may have arrived: {reason}")
            return
        delay = self.settings.base_backoff_seconds / self.settings.time_scale
        self.pacer.pause(row.chat_id, asyncio.get_running_loop().time() + delay)
        await self.store.outbox.retry_uncertain(row.id, time.time() + delay, reason)

    def _telegram_unreachable(self) -> None:
        if not self._unreachable:
            log.warning("outbox.telegram_unreachable")
        self._unreachable = True
        self.wake()

    async def _probe_telegram(self) -> None:
        """Ask getMe whether Telegram answers again; until it does, send nothing (rows
        would only spend their attempts, and an uncertain row its one retry)."""
        self._probe = asyncio.create_task(self.bot.get_me(
            read_timeout=PROBE_TIMEOUT, connect_timeout=PROBE_TIMEOUT))
        await asyncio.wait({self._probe})
        probe, self._probe = self._probe, None
        if probe.cancelled() or self._stopping:
            return
        if probe.exception() is None:
            log.info("outbox.telegram_back", probes=self._probes)
            self._unreachable = False
            self._probes = 0
            return
        self._probes += 1
        delay = min(self.settings.base_backoff_seconds * 2 ** (self._probes - 1),
                    PROBE_MAX_SECONDS) / self.settings.time_scale
        loop = asyncio.get_running_loop()
        until = loop.time() + delay * random.uniform(0.8, 1.2)
        # New rows wake the worker; only a stop should cut this pause short.
        while not self._stopping and loop.time() < until:
            await self._idle(until - loop.time())

    async def _give_up(self, row: OutboxRow, reason: str) -> None:
        await self.store.outbox.failed(row.id, reason)
        log.warning("outbox.failed", row=row.id, purpose=row.purpose, chat=row.chat_id,
                    reason=reason)
        for hook in self.on_failed:
            try:
                await hook(row, reason)
            except Exception:
                log.exception("outbox.failure_hook_error", row=row.id)
