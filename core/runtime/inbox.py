"""The inbox: updates are stored before Telegram is told they arrived, then handled from there.

PTB's Updater confirms a batch to Telegram (the next getUpdates offset) as soon as it has
fetched it, so a crash before the batch is handled loses it. Here instead:

1. `_fetch` long-polls getUpdates and stores each batch, raw, in SQLite in one transaction
   (storage/inbox.py) *before* the next call moves the offset past it. In webhook mode,
   core/webhook.py stores each update before it answers Telegram's request.
2. `_consume` reads the stored updates in order and queues each on its chat's lane (updates
   without a chat share one lane). Each lane hands its updates, one after the other, to
   `Application.process_update`; lanes run side by side, at most `LANES` updates at once
   (PTB's update processor). Each update's conversation changes (core/persistence.py) are
   committed together with its "done" mark; updates that end together share one commit.
   Done, the row loses its contents; only its update id stays (a day), so a repeated update
   id is never handled twice. Conversations are keyed by chat and user, so one chat's
   updates in order is all a ConversationHandler needs.
3. After a restart, what was stored but not done is handled first, then new updates: in
   Telegram's order within each chat.

An update is handled again only if the process died while handling it; the handlers whose
effects reach outside one transaction are idempotent (a report confirmation finds its report
by the draft's key). An update that keeps killing the process is skipped after
`MAX_ATTEMPTS`. Telegram answering 409 Conflict means another process uses the token: the
inbox stops fetching and says so in `failure`; `bot.py` exits with that line.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import time
import warnings
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.error import Conflict, InvalidToken, RetryAfter
from telegram.warnings import PTBUserWarning

from core import logs
from core.runtime.persistence import SqlitePersistence
from core.runtime.telegram_bot import VigieBot
from storage import Store
from storage.conversations import Write
from storage.inbox import KEEP_DONE_SECONDS, InboxRow, Incoming

if TYPE_CHECKING:
    from core.services import VigieApp

log = logs.get("inbox")

# getUpdates is called by name on purpose: the raw JSON is what gets stored.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.", category=PTBUserWarning)

INBOX_KEY = "vigie.inbox"
BATCH = 100
MAX_ATTEMPTS = 5
LANES = 32  # updates handled at once, each from a different chat
MAX_IN_HAND = 4 * BATCH  # updates read from the store and waiting in their chat's lane
RETRY_FIRST, RETRY_MAX = 0.25, 5.0  # seconds between failed fetches, doubling
READ_MARGIN = 10.0  # beyond the long-poll timeout before a silent connection counts as lost
STOP_GRACE = 20.0  # how long a stop waits for the update in hand
MAINTENANCE_EVERY = 3600.0
CONFLICT = ("Telegram answered 409 Conflict: another program is using this bot token "
            "(polling, or a webhook is set). Stop it: only one Vigie may run per bot.")
INVALID_TOKEN = "Telegram refused the bot token (401/404): check VIGIE_TELEGRAM__TOKEN."


def inbox_of(app: VigieApp) -> UpdateInbox:
    inbox = app.bot_data[INBOX_KEY]
    assert isinstance(inbox, UpdateInbox)
    return inbox


def _quiet(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved: asyncio does not warn about it


class UpdateInbox:
    def __init__(self, app: VigieApp, store: Store,
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
        # Per chat (None: updates without a chat), what is read and waiting, in order.
        self._lanes: dict[int | None, collections.deque[tuple[InboxRow, Update]]] = {}
        self._lane_tasks: set[asyncio.Task[None]] = set()
        self._in_hand: set[int] = set()  # update ids read and not finished
        self._cursor: int | None = None  # the last update id read
        self._rescan = False
        self._room = asyncio.Event()
        self._room.set()
        self._parsed: dict[int, Update] = {}  # parsed as stored, by update id, until read
        # Asked of the next group commit: attempts to count, updates handled to mark done.
        self._begun: dict[int, asyncio.Future[None]] = {}
        self._ended: dict[int, asyncio.Future[None]] = {}
        self._flush_lock = asyncio.Lock()

    async def start(self, poll_timeout: float | None) -> None:
        """Handle what an earlier run left, and poll Telegram unless a webhook feeds us."""
        self._stopping = False
        self._cursor, self._rescan = None, False
        left = (await self.store.inbox.counts())["pending"]
        if left:
            log.info("inbox.resuming", updates=left)  # stored by a run that stopped first
        self._consumer = asyncio.create_task(self._consume(), name="inbox-consumer")
        if poll_timeout is not None:
            self._fetcher = asyncio.create_task(self._fetch(poll_timeout), name="inbox-fetcher")

    async def stop(self) -> None:
        """Stop fetching; finish the updates in hand (one per busy chat); leave the others
        stored for next time."""
        self._stopping = True
        self._parsed.clear()
        if self._fetcher is not None:
            # A long poll cut short loses nothing: its updates were never confirmed.
            self._fetcher.cancel()
            await asyncio.gather(self._fetcher, return_exceptions=True)
            self._fetcher = None
        self._wake.set()
        self._room.set()
        working = set(self._lane_tasks)
        if self._consumer is not None:
            working.add(self._consumer)
        if working:
            _, late = await asyncio.wait(working, timeout=STOP_GRACE)
            if late:
                log.warning("inbox.stop_cut_short")  # those updates stay pending: next start
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
        self._consumer = None

    async def accept(self, raw: list[dict[str, Any]]) -> int:
        """Store updates as received, in one transaction; returns how many were new."""
        incoming = [Incoming(item["update_id"], item, self._sender(item)) for item in raw
                    if isinstance(item, dict) and isinstance(item.get("update_id"), int)]
        added = await self.store.inbox.accept(incoming)
        if added < len(incoming) or len(self._parsed) > MAX_IN_HAND * 2:
            # Some were seen before (never read again: not kept in memory), or the lanes are
            # far behind: parsed again when read.
            for item in incoming:
                self._parsed.pop(item.update_id, None)
        if incoming and self._cursor is not None and \
                min(item.update_id for item in incoming) <= self._cursor:
            self._rescan = True  # older than what was read: a webhook retry, say
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
        """Who the update comes from, so that erasure can drop it before it is handled.
        The parsed update is kept for its handling, which then need not parse it again."""
        bot = self.app.bot
        update = bot.parsed(item["update_id"]) if isinstance(bot, VigieBot) else None
        if update is None:  # a webhook's update, or one the check did not parse
            try:
                update = Update.de_json(item, bot)
            except Exception:
                return None
        self._parsed[update.update_id] = update
        user = update.effective_user
        return user.id if user is not None else None

    # --- handling --------------------------------------------------------------------------

    async def _consume(self) -> None:
        """Read stored updates in order and hand each to its chat's lane."""
        loop = asyncio.get_running_loop()
        maintenance_at = loop.time()
        while not self._stopping:
            if loop.time() >= maintenance_at:
                await self._maintenance()
                maintenance_at = loop.time() + MAINTENANCE_EVERY
            self._wake.clear()
            if self._rescan:
                # An update older than the last one read was stored (a webhook retry):
                # read from the start again; what is already in hand is skipped.
                self._rescan, self._cursor = False, None
            try:
                rows = await self.store.inbox.pending(BATCH, after=self._cursor)
            except Exception:
                log.exception("inbox.read_failed")
                rows = []
            for row in rows:
                if self._stopping:
                    break  # the rest stays stored, handled at the next start
                self._cursor = row.update_id
                if row.update_id not in self._in_hand:
                    self._dispatch(row)
            if len(self._in_hand) >= MAX_IN_HAND:
                await self._room.wait()  # lanes are behind: read on when they catch up
            elif not rows:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=MAINTENANCE_EVERY)

    def _dispatch(self, row: InboxRow) -> None:
        """Queue an update on its chat's lane, starting the lane if it is idle."""
        parsed = self._parsed.pop(row.update_id, None)
        update = parsed if parsed is not None and row.payload is not None else self._parse(row)
        chat = update.effective_chat
        key = chat.id if chat is not None else None  # chatless updates share one lane
        self._in_hand.add(row.update_id)
        self._room.clear()
        queue = self._lanes.get(key)
        if queue is not None:
            queue.append((row, update))
            return
        self._lanes[key] = collections.deque([(row, update)])
        task = asyncio.create_task(self._lane(key), name=f"inbox-lane-{key}")
        self._lane_tasks.add(task)
        task.add_done_callback(self._lane_tasks.discard)

    async def _lane(self, key: int | None) -> None:
        """One chat's updates, one after the other, in Telegram's order."""
        queue = self._lanes[key]
        counted: int | None = None  # the update whose attempt the last commit counted
        try:
            while queue and not self._stopping:
                row, update = queue[0]
                attempts = row.attempts
                while not self._stopping:
                    # The next update's attempt is counted with this one's done mark: one
                    # synchronous commit per update in a busy chat, not two.
                    following = (queue[1][0].update_id if len(queue) > 1
                                 and queue[1][0].payload is not None else None)
                    try:
                        counted = await self._handle(row, update, attempts,
                                                     counted == row.update_id, following)
                        break
                    except Exception:
                        # Not done: handled again (up to MAX_ATTEMPTS), after a pause; this
                        # chat's later updates wait, other chats go on.
                        log.exception("inbox.handling_failed", update_id=row.update_id)
                        attempts += 1
                        counted = None
                        await asyncio.sleep(RETRY_FIRST)
                queue.popleft()
                self._release(row.update_id)
        finally:
            # Stopped: what is left stays stored, handled at the next start.
            for row, _ in queue:
                self._release(row.update_id)
            queue.clear()
            del self._lanes[key]

    def _release(self, update_id: int) -> None:
        self._in_hand.discard(update_id)
        if len(self._in_hand) < MAX_IN_HAND // 2:
            self._room.set()

    async def _handle(self, row: InboxRow, update: Update, attempts: int, counted: bool,
                      following: int | None) -> int | None:
        """Handle one update; returns `following` when its attempt was counted meanwhile."""
        if row.payload is None:
            await self.store.inbox.done(row.update_id)  # erased before it was handled
            return None
        if attempts >= MAX_ATTEMPTS:
            log.error("inbox.update_skipped", update_id=row.update_id, attempts=attempts)
            await self.store.inbox.done(row.update_id)
            return None
        if attempts:
            # A run died (or failed) while handling it: handled again, idempotently.
            log.info("inbox.handling_again", update_id=row.update_id, attempts=attempts)
        if not counted:
            await self._begin(row.update_id)
        # PTB's update processor bounds how many updates are handled at once (LANES).
        await self.app.update_processor.process_update(update, self.app.process_update(update))
        await self._commit(row.update_id, following)
        return following

    def _parse(self, row: InboxRow) -> Update:
        if row.payload is None:
            return Update(row.update_id)  # erased: only marked done
        try:
            return Update.de_json(row.payload, self.app.bot)
        except Exception as error:
            # Stored by the webhook as received: handled as an empty update, so it is skipped.
            log.warning("update.malformed", update_id=row.update_id, error=type(error).__name__)
            return Update(row.update_id)

    async def _commit(self, update_id: int, following: int | None = None) -> None:
        """The conversation changes this update caused, and its done mark, atomically; and
        the attempt of the chat's `following` update, if any."""
        loop = asyncio.get_running_loop()
        self._ended[update_id] = settled = loop.create_future()
        if following is not None:
            counted = self._begun[following] = loop.create_future()  # settled by this flush
            counted.add_done_callback(_quiet)  # nobody awaits it: a failure is `settled`'s
        await self._flush(settled)

    async def _begin(self, update_id: int) -> None:
        """Count an attempt, stored before the update is handled (see MAX_ATTEMPTS)."""
        self._begun[update_id] = counted = asyncio.get_running_loop().create_future()
        await self._flush(counted)

    async def _flush(self, mine: asyncio.Future[None]) -> None:
        """Group commit: what the lanes asked meanwhile (attempts to count, updates ended),
        in one transaction, so that each synchronous commit serves many updates.

        PTB's update_persistence hands over the writes of every update handled since its
        last run, whatever its chat: so every update whose handling ended meanwhile is
        marked done in the same transaction as those writes. An update still being handled
        is not marked, and PTB writes a conversation's new state only as its handler
        returns, so nothing of it is in the batch."""
        async with self._flush_lock:
            if not mine.done():
                begun, self._begun = self._begun, {}
                ended, self._ended = self._ended, {}
                try:
                    await self._write(list(begun), list(ended))
                except Exception as error:
                    for waiting in (*begun.values(), *ended.values()):
                        waiting.set_exception(error)
                except BaseException:
                    for waiting in (*begun.values(), *ended.values()):
                        waiting.cancel()  # a stop cut short: those lanes are stopped too
                    raise
                else:
                    for waiting in (*begun.values(), *ended.values()):
                        waiting.set_result(None)
        await mine

    async def _write(self, begun: list[int], ended: list[int]) -> None:
        writes: list[Write] = []
        if ended and self.persistence is not None:
            async with self.persistence.collecting() as writes:
                await self.app.update_persistence()
        # Attempts alone need not wait for the disk: counted so that an update that kills
        # the process is skipped at last, they must survive a crash, and do (WAL).
        async with self.store.transaction(durable=bool(ended or writes)):
            if writes:
                await self.store.conversations.apply(writes)
            if begun:
                await self.store.inbox.begin(*begun)
            if ended:
                await self.store.inbox.done(*ended)

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
