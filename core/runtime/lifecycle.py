"""Start and stop what lives beside PTB's Application: the store, the inbox, the outbox,
the menus; and `serve`, the production run until SIGTERM (docs/reliability.md).

A start either succeeds or fails with a `StartFailure`: one line (never the token) and the
exit code bot.py documents. Telegram unreachable at start is not a failure: `connect`
retries getMe with a growing delay, one log line per attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import random
import signal
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from telegram import Bot
from telegram.error import InvalidToken, RetryAfter, TelegramError

from core import i18n, logs, menus
from core.runtime import check
from core.runtime.inbox import INBOX_KEY, INVALID_TOKEN, UpdateInbox, inbox_of
from core.runtime.outbox import html_message
from core.runtime.persistence import SqlitePersistence, conversation_timeouts
from core.runtime.webhook import WebhookReceiver
from core.services import Services, VigieApp, VigieContext, services_of
from core.settings import Settings
from storage.db import StorageError
from storage.statuses import Purpose

log = logs.get("lifecycle")

# Exit codes (bot.py, README "Exit codes").
EXIT_CONFIG, EXIT_ANOTHER_INSTANCE, EXIT_TOKEN, EXIT_DATABASE = 2, 3, 4, 5
CONNECT_FIRST, CONNECT_MAX = 1.0, 60.0  # seconds between getMe attempts at start, doubling
CHECKLIST_KEY = "checklist_digest"
CLEAN_STOP_KEY = "clean_stop"  # "1" once a run stopped cleanly; "0" while one runs
PRIVATE_TEXT_MAX = 4000


class StartFailure(Exception):
    """The bot cannot start or go on: `line` says what to do, `code` is the exit code."""

    def __init__(self, code: int, line: str) -> None:
        super().__init__(line)
        self.code = code
        self.line = line


PURGE_EVERY = 6 * 3600
PURGE_FIRST = 5.0  # seconds after start: the first run (a catch-up after a long stop)
PURGE_GUARD = "retention_purge_running"
# Production long poll: Telegram answers at once when updates arrive; a stop cancels it.
LONG_POLL_SECONDS = 30.0
ALREADY_RUNNING = ("Another Vigie is already running with the database {database}: stop it "
                   "first (or give this one its own storage.database).")


async def purge(context: VigieContext) -> None:
    """The retention job (at start, then every PURGE_EVERY): see `purge_store`. A run that
    finds the previous one still going (a long catch-up) leaves it to finish."""
    app = context.application
    running_now = app.bot_data.setdefault(PURGE_GUARD, asyncio.Lock())
    if running_now.locked():
        return
    async with running_now:
        await purge_store(services_of(app))


async def purge_store(svc: Services) -> dict[str, int]:
    """Forget what is past its retention: sent messages, report contents, old audit entries.

    In batches of a few hundred rows, each its own short transaction, yielding to the event
    loop between them: a catch-up over a million reports never stops other updates from
    being answered. One summary audit entry per run, then the freed pages are given back
    (incremental vacuum) when the file allows it."""
    now = time.time()
    outbox_rows = await svc.store.outbox.purge_finished(now - svc.settings.outbox.keep_days
                                                        * 86400)
    reports_before = now - svc.settings.privacy.retention_days * 86400
    reports = 0
    while batch := await svc.store.reports.purge_batch(reports_before):
        reports += len(batch)
        await asyncio.sleep(0)
    audit_before = now - svc.settings.privacy.audit_retention_days * 86400
    audit_entries = 0
    while gone := await svc.store.audit.purge_batch(audit_before):
        audit_entries += gone
        await asyncio.sleep(0)
    figures = {"reports": reports, "outbox_rows": outbox_rows, "audit_entries": audit_entries}
    if reports or outbox_rows or audit_entries:
        await svc.store.audit.record(None, "retention.purged", None, **figures)
        figures["pages_freed"] = await svc.store.db.reclaim()
        log.info("retention.purged", seconds=round(time.time() - now, 2), **figures)
    return figures


async def connect(bot: Bot, time_scale: float = 1.0) -> None:
    """getMe until Telegram answers (the network may come up after the service starts).

    A refused token ends the start (exit 4); PTB's InvalidToken text carries the token, so
    it is never shown, only our own line."""
    attempt = 0
    while True:
        try:
            await bot.initialize()
            return
        except InvalidToken:
            raise StartFailure(EXIT_TOKEN, INVALID_TOKEN) from None
        except RetryAfter as error:
            retry = error.retry_after
            delay = retry.total_seconds() if hasattr(retry, "total_seconds") else float(retry)
        except TelegramError as error:
            attempt += 1
            delay = min(CONNECT_FIRST * 2 ** (attempt - 1), CONNECT_MAX) / time_scale
            delay *= random.uniform(0.9, 1.1)
            log.warning("telegram.unreachable", attempt=attempt, error=type(error).__name__,
                        retry_in=round(delay, 2))
        await asyncio.sleep(delay)


async def seed_commune(svc: Services) -> None:
    """Apply what config.toml changed since the previous start to the sectors (with their
    areas) and the roles, which otherwise live in the database and change in the bot;
    then load both (storage/staff.py says which wins)."""
    settings = svc.settings
    await svc.store.sectors.apply_config(
        (sector.name, sector.area()) for sector in settings.sectors)
    roles = settings.roles
    await svc.store.staff.apply_config(roles.officials, roles.admins, roles.liaison_chat_id)
    await svc.reload_roles()
    await svc.reload_areas()


async def startup(app: VigieApp) -> None:
    svc = services_of(app)
    await svc.store.open()
    await check_if_unclean(svc)
    await svc.charter.sync(svc.store)  # the version people accept is the database's
    await seed_commune(svc)
    await connect(svc.outbox.bot, svc.settings.outbox.time_scale)
    await svc.outbox.start()
    if app.job_queue is not None:
        # run_repeating(first=0) is moved by the scheduler to start + interval: a bot
        # restarted more often than that would never purge. So a run once, soon, too.
        app.job_queue.run_once(purge, when=PURGE_FIRST / svc.settings.outbox.time_scale,
                               name="purge_at_start")
        app.job_queue.run_repeating(purge, interval=PURGE_EVERY, first=PURGE_EVERY,
                                    name="purge")


async def check_if_unclean(svc: Services) -> None:
    """Opening the store ran SQLite's quick_check; after a stop that was not clean (a
    crash, a kill, a power cut: no mark left by `shutdown`), the full integrity_check too.
    Then the mark is taken away until this run stops cleanly."""
    if await svc.store.db.get_meta(CLEAN_STOP_KEY) != "1":
        started = time.perf_counter()
        try:
            await svc.store.db.full_check()
        except StorageError as error:
            raise StartFailure(EXIT_DATABASE, str(error)) from None
        log.info("database.full_check", seconds=round(time.perf_counter() - started, 3))
    await svc.store.db.set_meta(CLEAN_STOP_KEY, "0")


def ready(app: VigieApp) -> asyncio.Task[None]:
    """Updates are being received: say so (with the memory in use), and set the command
    menus in the background, off the path of the first updates."""
    svc = services_of(app)
    log.info("vigie.started", bot_id=app.bot.id, sectors=len(svc.settings.sectors),
             charter_version=svc.charter.version, rss_mb=rss_mb())
    return asyncio.create_task(_publish_menus(svc, app.bot), name="menus")


async def _publish_menus(svc: Services, bot: Bot) -> None:
    try:
        await menus.publish(svc, bot)
    except Exception:
        log.exception("menus.not_published")  # every menu is set again at the next start


def rss_mb() -> float | None:
    """The process's resident memory now, in MB (Linux), else its peak, else None."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    try:
        import resource  # not on Windows
    except ImportError:
        return None
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


async def shutdown(app: VigieApp) -> None:
    svc = services_of(app)
    await svc.outbox.stop()
    await svc.outbox.bot.shutdown()
    with contextlib.suppress(Exception):  # no mark: the next start runs the full check
        await svc.store.db.set_meta(CLEAN_STOP_KEY, "1")
    await svc.store.close()
    log.info("vigie.stopped")


@asynccontextmanager
async def running(
    app: VigieApp, poll_timeout: float = 1.0
) -> AsyncIterator[VigieApp]:
    """Run the bot inside an existing event loop (`serve`, tests, demo, benchmarks).

    Updates come through the inbox (core/inbox.py): polled, or received by the webhook per
    `telegram.mode`, stored before Telegram is told, handled from the database."""
    svc = services_of(app)
    persistence = app.persistence if isinstance(app.persistence, SqlitePersistence) else None
    if persistence is not None:
        persistence.expire_after = conversation_timeouts(app)
    svc.store.db.backup_folder = backup_folder(svc.settings)
    await connect(app.bot, svc.settings.outbox.time_scale)
    inbox = UpdateInbox(app, svc.store, persistence)
    app.bot_data[INBOX_KEY] = inbox
    receiver = None
    menus_task: asyncio.Task[None] | None = None
    try:
        await app.initialize()  # loads the persisted conversations
        await startup(app)
        await app.start()
        if svc.settings.telegram.mode == "webhook":
            receiver = WebhookReceiver(inbox, svc.settings.telegram.webhook)
            await inbox.start(poll_timeout=None)
            await listen(receiver, app.bot)
        else:
            await inbox.start(poll_timeout)
        menus_task = ready(app)
    except BaseException:
        # A start cut short closes what it opened, or the database's thread would keep
        # the process alive after the failure was reported.
        await _abandon(app, inbox, receiver)
        raise
    try:
        yield app
    finally:
        # Stop taking updates, finish the one in hand, then stop the rest; the store closes
        # last, after PTB's final persistence write.
        if receiver is not None:
            await receiver.stop()
        if menus_task is not None and not menus_task.done():
            menus_task.cancel()  # set again, whole, at the next start
            await asyncio.gather(menus_task, return_exceptions=True)
        await inbox.stop()
        await app.stop()
        await app.shutdown()
        await shutdown(app)


def backup_folder(settings: Settings) -> Path:
    """Where `vigie backup` and the pre-migration copies go: configured, or beside the db."""
    return settings.backup.folder or settings.storage.database.parent / "backups"


async def listen(receiver: WebhookReceiver, bot: Bot) -> None:
    hook = receiver.settings
    try:
        await receiver.start(bot)
    except OSError as error:
        raise StartFailure(EXIT_CONFIG, f"cannot listen on {hook.listen}:{hook.port}: "
                           f"{error.strerror or error} (telegram.webhook.listen/port)") from None
    except TelegramError as error:
        raise StartFailure(EXIT_CONFIG, f"Telegram refused the webhook {receiver.url}: "
                           f"{error.message} (telegram.webhook.public_url)") from None


async def _abandon(app: VigieApp, inbox: UpdateInbox,
                   receiver: WebhookReceiver | None) -> None:
    steps = [inbox.stop(), app.stop(), app.shutdown(), shutdown(app)]
    if receiver is not None:
        steps.insert(0, receiver.stop())
    for step in steps:
        with contextlib.suppress(Exception):
            await step


@contextmanager
def sole_user(database: Path) -> Iterator[bool]:
    """Hold an exclusive lock beside the database file while the bot runs; False when
    another Vigie already holds it. The kernel drops the lock when a process dies, even
    by SIGKILL. (A second instance on another machine is told by Telegram's 409.)"""
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
        handle = open(f"{database}.lock", "a+")  # noqa: SIM115 - held for the whole run
    except OSError as error:
        raise StartFailure(EXIT_DATABASE, f"cannot use the folder {database.parent}: "
                           f"{error.strerror or error} (check its owner and mode)") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


async def serve(app: VigieApp,
                poll_timeout: float = LONG_POLL_SECONDS) -> None:
    """Run until SIGTERM or SIGINT (a clean stop), or raise StartFailure when the bot
    cannot start or go on: another Vigie uses this database, Telegram answers 409
    Conflict or refuses the token."""
    database = services_of(app).settings.storage.database
    with sole_user(database) as alone:
        if not alone:
            raise StartFailure(EXIT_ANOTHER_INSTANCE, ALREADY_RUNNING.format(database=database))
        failure = await _serve(app, poll_timeout)
    if failure is not None:
        code = EXIT_TOKEN if failure == INVALID_TOKEN else EXIT_ANOTHER_INSTANCE
        raise StartFailure(code, failure)


async def _serve(app: VigieApp,
                 poll_timeout: float) -> str | None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C still interrupts
            loop.add_signal_handler(signum, stop.set)
    async with running(app, poll_timeout) as started:
        inbox = inbox_of(started)
        checking = asyncio.create_task(announce_checklist(services_of(started), started.bot))
        waits = {asyncio.create_task(stop.wait()), asyncio.create_task(inbox.failed.wait())}
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for waiting in [*waits, checking]:
            waiting.cancel()
        log.info("vigie.stopping", reason="signal" if stop.is_set() else "conflict")
    return inbox.failure


async def announce_checklist(svc: Services, bot: Bot) -> check.Checklist | None:
    """At start: each ✗ of the checklist as a warning in the log; the whole list to the
    officials in private when it changed since the last start."""
    try:
        checklist = await check.run(svc.settings, bot, svc.store)
    except Exception:
        log.exception("check.not_run")
        return None
    for item in checklist.failures:
        log.warning("check.failed", item=item.code, blocking=item.blocking)
    try:
        await _tell_officials(svc, checklist)
    except Exception:
        log.exception("check.not_sent")
    return checklist


async def _tell_officials(svc: Services, checklist: check.Checklist) -> None:
    """The list, in private, to each official, when it differs from the last start's."""
    digest = checklist.digest()
    if await svc.store.db.get_meta(CHECKLIST_KEY) == digest:
        return
    text = checklist_text(svc.settings, checklist, svc.settings.commune.language)
    messages = [html_message(official, text, Purpose.CHECKLIST)
                for official in svc.roles.officials]
    # Queued with the new digest in one transaction: told once per change, even A → B → A.
    async with svc.store.transaction():
        await svc.store.outbox.enqueue(messages)
        await svc.store.db.set_meta(CHECKLIST_KEY, digest)
    svc.outbox.wake()
    log.info("check.changed", failures=len(checklist.failures), officials_told=len(messages))


def checklist_text(settings: Settings, checklist: check.Checklist, language: str) -> str:
    """The officials' message (HTML): what changed is the whole list, or only its ✗ lines
    when a large commune's list would not fit in one message."""
    def escape(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    head = [f"<b>{escape(i18n.t(language, 'check.title', commune=settings.commune.name))}</b>",
            escape(i18n.t(language, "check.changed"))]
    body = checklist.render(language)
    if len(body) > PRIVATE_TEXT_MAX - 500:
        body = "\n".join(item.render(language) for item in checklist.failures)
    tail = ("check.blocked" if checklist.blocked else
            "check.all_good" if not checklist.failures else None)
    parts = [*head, escape(body)]
    if tail is not None:
        parts.append(escape(i18n.t(language, tail)))
    return "\n\n".join(parts)[:PRIVATE_TEXT_MAX]
