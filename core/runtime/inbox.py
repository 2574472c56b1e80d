"""The inbox: updates are stored before Telegram is told they arrived, then handled from there.

PTB's Updater confirms a batch to Telegram (the next getUpdates offset) as soon as it has
fetched it, so a crash before the batch is handled loses it. Here instead:

1. `_fetch` long-polls getUpdates and stores each batch, raw, in SQLite in one transaction
   (storage/inbox.py) *before* the next call moves the offset past it. In webhook mode,
   core/webhook.py stores each update before it answers Telegram's request.
2. `_consume` takes the stored updates in order and hands each to
   `Application.process_update`, then commits the conversation changes it caused
   (core/persistence.py) together with its "done" mark. Done, the row loses its contents;
   only its update id stays (a day), so a repeated update id is never handled twice.
3. After a restart, what was stored but not done is handled first, then new updates.

An update is handled again only if the process died while handling it; the handlers whose
effects reach outside one transaction are idempotent (a report confirmation finds its report
by the draft's key). An update that keeps killing the process is skipped after
`MAX_ATTEMPTS`. Telegram answering 409 Conflict means another process uses the token: the
inbox stops fetching and says so in `failure`; `bot.py` exits with that line.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import warnings
from typing import Any

from telegram import Update
from telegram.error import Conflict, InvalidToken, RetryAfter
from telegram.ext import Application
from telegram.warnings import PTBUserWarning

from core import logs
from core.runtime.persistence import SqlitePersistence
from storage import Store
from storage.inbox import KEEP_DONE_SECONDS, InboxRow, Incoming

log = logs.get("inbox")

# getUpdates is called by name on purpose: the raw JSON is what gets stored.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.", category=PTBUserWarning)

INBOX_KEY = "vigie.inbox"
BATCH = 100
MAX_ATTEMPTS = 5
RETRY_FIRST, RETRY_MAX = 0.25, 5.0  # seconds between failed fetches, doubling
READ_MARGIN = 10.0  # beyond the long-poll timeout before a silent connection counts as lost
STOP_GRACE = 20.0  # how long a stop waits for the update in hand
MAINTENANCE_EVERY = 3600.0
CONFLICT = ("Telegram answered 409 Conflict: another program is using this bot token "
            "(polling, or a webhook is set). Stop it: only one Vigie may run per bot.")
INVALID_TOKEN = "Telegram refused the bot token (401/404): check VIGIE_TELEGRAM__TOKEN."


def inbox_of(app: Application) -> UpdateInbox:  # type: ignore[type-arg]
    inbox = app.bot_data[INBOX_KEY]
    assert isinstance(inbox, UpdateInbox)
    return inbox


class UpdateInbox:
    def __init__(self, app: Application, store: Store,  # type: ignore[type-arg]
                 persistence: SqlitePersistence | None) -> None:
        self.app = app
        self.store = store
        self.persistence = persistence
        self.failure: str | None = None  # why the bot cannot go on (409), once it happened
        self.failed = asyncio.Event()
        self._wake = asyncio.Event()
        self._fetcher: asyncio.Task[None] | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self, poll_timeout: float | None) -> None:
        """Handle what an earlier run left, and poll Telegram unless a webhook feeds us."""
        self._stopping = False
        left = (await self.store.inbox.counts())["pending"]
        if left:
            log.info("inbox.resuming", updates=left)  # stored by a run that stopped first
        self._consumer = asyncio.create_task(self._consume(), name="inbox-consumer")
        if poll_timeout is not None:
            self._fetcher = asyncio.create_task(self._fetch(poll_timeout), name="inbox-fetcher")

    async def stop(self) -> None:
        """Stop fetching; finish the update in hand; leave the others stored for next time."""
        self._stopping = True
        if self._fetcher is not None:
            # A long poll cut short loses nothing: its updates were never confirmed.
            self._fetcher.cancel()
            await asyncio.gather(self._fetcher, return_exceptions=True)
            self._fetcher = None
        self._wake.set()
        if self._consumer is not None:
            done, _ = await asyncio.wait({self._consumer}, timeout=STOP_GRACE)
            if not done:
                log.warning("inbox.stop_cut_short")  # the update stays pending: next start
                self._consumer.cancel()
                await asyncio.gather(self._consumer, return_exceptions=True)
            self._consumer = None

    async def accept(self, raw: list[dict[str, Any]]) -> int:
        """Store updates as received, in one transaction; returns how many were new."""
        incoming = [Incoming(item["update_id"], item, self._sender(item)) for item in raw
                    if isinstance(item, dict) and isinstance(item.get("update_id"), int)]
        added = await self.store.inbox.accept(incoming)
        self._wake.set()
        return added

    # --- fetching --------------------------------------------------------------------------

    async def _fetch(self, poll_timeout: float) -> None:
        bot = self.app.bot
        offset: int | None = None
        webhook_cleared = False
        failures = 0
        while not self._stopping:
            try:
                if not webhook_cleared:
                    # getUpdates is refused while a webhook is set (a webhook-mode run left
                    # one); its pending updates are kept and come through getUpdates.
                    await bot.delete_webhook(drop_pending_updates=False)
                    webhook_cleared = True
                raw = await bot.do_api_request(
                    "getUpdates", api_kwargs=self._poll_params(offset, poll_timeout),
                    read_timeout=poll_timeout + READ_MARGIN)
                if raw:
                    # Stored before the next call's offset tells Telegram they arrived.
                    await self.accept(raw)
                    offset = max(item["update_id"] for item in raw) + 1
                failures = 0
            except Conflict:
                self._fail(CONFLICT, "inbox.conflict")
                return
            except InvalidToken:
                self._fail(INVALID_TOKEN, "inbox.invalid_token")
                return
            except RetryAfter as error:
                retry = error.retry_after
                await asyncio.sleep(retry.total_seconds() if hasattr(retry, "total_seconds")
                                    else float(retry))
            except Exception as error:
                # Telegram unreachable, or the batch could not be stored: the offset did not
                # move, so Telegram sends the same updates again.
                failures += 1
                log.warning("inbox.fetch_failed", error=type(error).__name__, failures=failures)
                delay = min(RETRY_FIRST * 2 ** (failures - 1), RETRY_MAX)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))

    @staticmethod
    def _poll_params(offset: int | None, poll_timeout: float) -> dict[str, Any]:
        params: dict[str, Any] = {"timeout": int(poll_timeout), "limit": BATCH,
                                  "allowed_updates": Update.ALL_TYPES}
        if offset is not None:
            params["offset"] = offset
        return params

    def _fail(self, message: str, event: str) -> None:
        log.error(event)
        self.failure = message
        self.failed.set()

    def _sender(self, item: dict[str, Any]) -> int | None:
        """Who the update comes from, so that erasure can drop it before it is handled."""
        try:
            user = Update.de_json(item, self.app.bot).effective_user
        except Exception:
            return None
        return user.id if user is not None else None

    # --- handling --------------------------------------------------------------------------

    async def _consume(self) -> None:
        loop = asyncio.get_running_loop()
        maintenance_at = loop.time()
        while True:
            if loop.time() >= maintenance_at:
                await self._maintenance()
                maintenance_at = loop.time() + MAINTENANCE_EVERY
            self._wake.clear()
            try:
                rows = await self.store.inbox.pending(BATCH)
            except Exception:
                log.exception("inbox.read_failed")
                rows = []
            if not rows:
                if self._stopping:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=MAINTENANCE_EVERY)
                continue
            for row in rows:
                if self._stopping:
                    return  # the rest stays stored, handled at the next start
                try:
                    await self._handle(row)
                except Exception:
                    # Not done: handled again (up to MAX_ATTEMPTS), after a pause.
                    log.exception("inbox.handling_failed", update_id=row.update_id)
                    await asyncio.sleep(RETRY_FIRST)
                    break

    async def _handle(self, row: InboxRow) -> None:
        if row.payload is None:
            await self.store.inbox.done(row.update_id)  # erased before it was handled
            return
        if row.attempts >= MAX_ATTEMPTS:
            log.error("inbox.update_skipped", update_id=row.update_id, attempts=row.attempts)
            await self.store.inbox.done(row.update_id)
            return
        if row.attempts:
            # A run died (or failed) while handling it: handled again, idempotently.
            log.info("inbox.handling_again", update_id=row.update_id, attempts=row.attempts)
        await self.store.inbox.begin(row.update_id)
        await self.app.process_update(self._parse(row))
        await self._commit(row.update_id)

    def _parse(self, row: InboxRow) -> Update:
        try:
            assert row.payload is not None  # an erased row never gets here (_handle)
            return Update.de_json(row.payload, self.app.bot)
        except Exception as error:
            # Stored by the webhook as received: handled as an empty update, so it is skipped.
            log.warning("update.malformed", update_id=row.update_id, error=type(error).__name__)
            return Update(row.update_id)

    async def _commit(self, update_id: int) -> None:
        """The conversation changes this update caused, and its done mark, atomically."""
        if self.persistence is None:
            await self.store.inbox.done(update_id)
            return
        async with self.persistence.collecting() as writes:
            await self.app.update_persistence()
        async with self.store.transaction():
            await self.store.conversations.apply(writes)
            await self.store.inbox.done(update_id)

    async def _maintenance(self) -> None:
        """Forget old done ids and conversations idle past their timeout."""
        try:
            pruned = await self.store.inbox.prune(time.time() - KEEP_DONE_SECONDS)
            stale = await self.persistence.purge() if self.persistence else 0
        except Exception:
            log.exception("inbox.maintenance_failed")
            return
        if pruned or stale:
            log.info("inbox.pruned", update_ids=pruned, idle_conversations=stale)
