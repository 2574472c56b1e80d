"""Start and stop what lives beside PTB's Application: the store, the outbox, the menus."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from telegram import Update
from telegram.ext import Application, CallbackContext

from core import logs, menus
from core.services import KEY, Services

log = logs.get("lifecycle")


PURGE_EVERY = 6 * 3600


async def purge(context: CallbackContext) -> None:  # type: ignore[type-arg]
    """Forget what is past its retention: sent messages, then report contents."""
    svc = services_of(context.application)
    keep = svc.settings.outbox.keep_days * 86400
    messages = await svc.store.outbox.purge_finished(time.time() - keep)
    async with svc.store.transaction():
        reports = await svc.store.reports.purge_before(
            time.time() - svc.settings.privacy.retention_days * 86400)
        for report_id in reports:
            await svc.store.audit.record(None, "report.purged", f"report:{report_id}")
    if messages or reports:
        log.info("retention.purged", outbox_rows=messages, reports=len(reports))


def services_of(app: Application) -> Services:  # type: ignore[type-arg]
    return app.bot_data[KEY]


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
    """Run the bot inside an existing event loop (tests, demo, benchmarks): polling included."""
    await app.initialize()
    await startup(app)
    assert app.updater is not None
    await app.updater.start_polling(
        poll_interval=0.0, timeout=int(poll_timeout), allowed_updates=Update.ALL_TYPES
    )
    await app.start()
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await shutdown(app)
        await app.shutdown()
