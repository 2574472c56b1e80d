"""Start and stop what lives beside PTB's Application: the store, the inbox, the outbox,
the menus; and `serve`, the production run until SIGTERM (docs/reliability.md)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import signal
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from telegram.ext import Application, CallbackContext

from core import logs, menus
from core.runtime.inbox import INBOX_KEY, UpdateInbox, inbox_of
from core.runtime.persistence import SqlitePersistence, conversation_timeouts
from core.runtime.webhook import WebhookReceiver
from core.services import services_of

log = logs.get("lifecycle")


PURGE_EVERY = 6 * 3600
# Production long poll: Telegram answers at once when updates arrive; a stop cancels it.
LONG_POLL_SECONDS = 30.0
ALREADY_RUNNING = ("Another Vigie is already running with the database {database}: stop it "
                   "first (or give this one its own storage.database).")


async def purge(context: CallbackContext) -> None:  # type: ignore[type-arg]
    """Forget what is past its retention: sent messages, report contents, old audit entries."""
    svc = services_of(context.application)
    keep = svc.settings.outbox.keep_days * 86400
    messages = await svc.store.outbox.purge_finished(time.time() - keep)
    async with svc.store.transaction():
        reports = await svc.store.reports.purge_before(
            time.time() - svc.settings.privacy.retention_days * 86400)
        for report_id in reports:
            await svc.store.audit.record(None, "report.purged", f"report:{report_id}")
    audit = await svc.store.audit.purge_before(
        time.time() - svc.settings.privacy.audit_retention_days * 86400)
    if messages or reports or audit:
        log.info("retention.purged", outbox_rows=messages, reports=len(reports),
                 audit_entries=audit)


async def startup(app: Application) -> None:  # type: ignore[type-arg]
    svc = services_of(app)
    await svc.store.open()
    await svc.store.sectors.sync(sector.name for sector in svc.settings.sectors)
    await svc.outbox.bot.initialize()
    await svc.outbox.start()
    await menus.publish(svc, app.bot)
    if app.job_queue is not None:
        app.job_queue.run_repeating(purge, interval=PURGE_EVERY, first=0, name="purge")
    log.info("vigie.started", bot_id=app.bot.id, sectors=len(svc.settings.sectors),
             charter_version=svc.charter.version)


async def shutdown(app: Application) -> None:  # type: ignore[type-arg]
    svc = services_of(app)
    await svc.outbox.stop()
    await svc.outbox.bot.shutdown()
    await svc.store.close()
    log.info("vigie.stopped")


@asynccontextmanager
async def running(
    app: Application, poll_timeout: float = 1.0  # type: ignore[type-arg]
) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """Run the bot inside an existing event loop (`serve`, tests, demo, benchmarks).

    Updates come through the inbox (core/inbox.py): polled, or received by the webhook per
    `telegram.mode`, stored before Telegram is told, handled from the database."""
    svc = services_of(app)
    persistence = app.persistence if isinstance(app.persistence, SqlitePersistence) else None
    if persistence is not None:
        persistence.expire_after = conversation_timeouts(app)
    await app.initialize()  # loads the persisted conversations
    await startup(app)
    await app.start()
    inbox = UpdateInbox(app, svc.store, persistence)
    app.bot_data[INBOX_KEY] = inbox
    receiver = None
    if svc.settings.telegram.mode == "webhook":
        receiver = WebhookReceiver(inbox, svc.settings.telegram.webhook)
        await inbox.start(poll_timeout=None)
        await receiver.start(app.bot)
    else:
        await inbox.start(poll_timeout)
    try:
        yield app
    finally:
        # Stop taking updates, finish the one in hand, then stop the rest; the store closes
        # last, after PTB's final persistence write.
        if receiver is not None:
            await receiver.stop()
        await inbox.stop()
        await app.stop()
        await app.shutdown()
        await shutdown(app)


@contextmanager
def sole_user(database: Path) -> Iterator[bool]:
    """Hold an exclusive lock beside the database file while the bot runs; False when
    another Vigie already holds it. The kernel drops the lock when a process dies, even
    by SIGKILL. (A second instance on another machine is told by Telegram's 409.)"""
    database.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{database}.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


async def serve(app: Application,  # type: ignore[type-arg]
                poll_timeout: float = LONG_POLL_SECONDS) -> str | None:
    """Run until SIGTERM or SIGINT (a clean stop: None), or until the bot cannot go on:
    another Vigie uses this database, or Telegram answers 409 Conflict. Then return why,
    in one line."""
    database = services_of(app).settings.storage.database
    with sole_user(database) as alone:
        if not alone:
            return ALREADY_RUNNING.format(database=database)
        return await _serve(app, poll_timeout)


async def _serve(app: Application,  # type: ignore[type-arg]
                 poll_timeout: float) -> str | None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C still interrupts
            loop.add_signal_handler(signum, stop.set)
    async with running(app, poll_timeout) as started:
        inbox = inbox_of(started)
        waits = {asyncio.create_task(stop.wait()), asyncio.create_task(inbox.failed.wait())}
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for waiting in waits:
            waiting.cancel()
        log.info("vigie.stopping", reason="signal" if stop.is_set() else "conflict")
    return inbox.failure
