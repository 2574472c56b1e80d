"""Builds the Telegram application from the settings: the bots, the services, every flow's
handlers, and, in one place, every outbox hook and background job."""

from __future__ import annotations

import warnings
from functools import partial

from telegram import Bot
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder
from telegram.request import HTTPXRequest
from telegram.warnings import PTBUserWarning

from core.charter import Charter
from core.geo import sector_polygons
from core.runtime import lifecycle
from core.runtime.outbox import MAX_IN_FLIGHT, OutboxWorker
from core.runtime.persistence import SqlitePersistence
from core.runtime.telegram_bot import VigieBot
from core.services import CONTEXT_TYPES, KEY, Services
from core.settings import Settings
from handlers import common, fallback, moderation, privacy
from handlers.broadcast import domain as broadcasts
from handlers.broadcast import flow as broadcast
from handlers.dashboard import flow as dashboard
from handlers.enrolment import groups, membership, onboarding, referents
from handlers.reports import domain as report_domain
from handlers.reports import flow as reports
from handlers.tips import flow as tips
from handlers.tips.schedule import TipSchedule
from storage import Store
from storage.statuses import Purpose

# Conversation buttons are tracked per chat on purpose (per_message=False): PTB's reminder
# about that choice is not a problem to report at every start.
warnings.filterwarnings("ignore", message=r"If 'per_message=False'", category=PTBUserWarning)

# Order matters within a handler group: flows first, the catch-all fallback last. Staff
# conversations come before onboarding, so an official who has not answered the charter
# question yet can still write a notice.
FLOWS = (broadcast, onboarding, reports, membership, referents, moderation, privacy, groups,
         tips, dashboard, common, fallback)


def build_application(settings: Settings) -> Application:  # type: ignore[type-arg]
    assert settings.telegram.token is not None
    token = settings.telegram.token.get_secret_value()
    api, files = settings.telegram.api_base_url, settings.telegram.files_url
    # Direct replies are rate-limited by PTB; the outbox paces itself (core/runtime/outbox.py).
    bot = VigieBot(token, base_url=api, base_file_url=files,
                   rate_limiter=AIORateLimiter(max_retries=3))
    store = Store(settings.storage.database)
    app = (
        ApplicationBuilder()
        .bot(bot)
        .context_types(CONTEXT_TYPES)
        # ConversationHandler is not safe with concurrent updates.
        .concurrent_updates(False)
        # Updates come through core/runtime/inbox.py (stored before they are confirmed), not
        # PTB's Updater; conversations are kept in SQLite so a restart resumes them.
        .updater(None)
        .persistence(SqlitePersistence(store))
        .post_init(lifecycle.startup)
        .post_shutdown(lifecycle.shutdown)
        .build()
    )
    outbox_bot = Bot(token, base_url=api, base_file_url=files,
                     request=HTTPXRequest(connection_pool_size=MAX_IN_FLIGHT + 8))
    svc = Services(
        settings=settings,
        store=store,
        outbox=OutboxWorker(store, outbox_bot, settings.outbox),
        charter=Charter(),
        sector_polygons=sector_polygons(settings.sectors),
    )
    app.bot_data[KEY] = svc
    for flow in FLOWS:
        flow.register(app)
    background(app, svc)
    return app


def background(app: Application, svc: Services) -> None:  # type: ignore[type-arg]
    """Everything that runs off the path of an update: what the outbox does when a row of
    a given purpose settles, and the repeating jobs. (The retention purge is armed at
    start-up: core/runtime/lifecycle.py.)"""
    sweep = broadcasts.ProgressSweep(svc)
    svc.outbox.on_delivered[Purpose.BROADCAST] = sweep.copy_delivered
    svc.outbox.on_delivered[Purpose.POLL_STOP] = partial(broadcasts.on_poll_stopped, svc)
    svc.outbox.on_failed.append(sweep.copy_settled)
    svc.outbox.on_failed.append(partial(report_domain.tell_staff_of_failed_relay, svc))
    jobs = app.job_queue
    if jobs is None:
        return
    every = max(0.2, 2.0 / svc.settings.outbox.time_scale)
    jobs.run_repeating(sweep, interval=every, first=every, name="broadcast_progress")
    every = min(30.0, svc.settings.reports.triage_timeout * 60 / 4)
    jobs.run_repeating(partial(reports.sweep_triage, svc), interval=every, first=every,
                       name="triage_sweep")
    if svc.settings.tips.schedule:
        TipSchedule(svc).start(jobs)
