"""Builds the Telegram application from the settings: the bots, the services, every flow's
handlers, and, in one place, every outbox hook and background job."""

from __future__ import annotations

import warnings
from functools import partial
from typing import cast

from telegram import Bot
from telegram.ext import ApplicationBuilder
from telegram.request import HTTPXRequest
from telegram.warnings import PTBUserWarning

from core import i18n
from core.charter import Charter
from core.runtime import lifecycle
from core.runtime.inbox import LANES
from core.runtime.limiter import DirectReplyLimiter
from core.runtime.outbox import MAX_IN_FLIGHT, OutboxWorker
from core.runtime.persistence import SqlitePersistence
from core.runtime.telegram_bot import VigieBot
from core.services import CONTEXT_TYPES, KEY, Services, VigieApp
from core.settings import Settings
from handlers import common, desk, fallback, liaison, moderation, paperwork, privacy, reports
from handlers.areas import flow as areas
from handlers.broadcast import domain as broadcasts
from handlers.broadcast import flow as broadcast
from handlers.broadcast.progress import ProgressSweep
from handlers.dashboard import flow as dashboard
from handlers.enrolment import groups, membership, onboarding, referents
from handlers.moderation import domain as moderation_domain
from handlers.reports import domain as report_domain
from handlers.sectors import flow as sectors
from handlers.sectors import rehome
from handlers.staff import flow as staff
from handlers.tips import flow as tips
from handlers.tips.schedule import TipSchedule
from storage import Roles, Store
from storage.statuses import Purpose

# Conversation buttons are tracked per chat on purpose (per_message=False): PTB's reminder
# about that choice is not a problem to report at every start.
warnings.filterwarnings("ignore", message=r"If 'per_message=False'", category=PTBUserWarning)

# Order matters within a handler group: flows first, the catch-all fallback last. Staff
# conversations come before onboarding, so an official who has not answered the charter
# question yet can still write a notice. The team's pickers (handlers/staff) come first:
# a conversation's catch-all would otherwise take their users_shared / chat_shared answers.
FLOWS = (staff, broadcast, sectors, areas, onboarding, reports, membership, referents, moderation,
         privacy, groups, tips, dashboard, paperwork, liaison, desk, rehome, common, fallback)


def build_application(settings: Settings, *, rate_limited: bool = True) -> VigieApp:
    """`rate_limited=False` lifts the limiter on direct replies: for a benchmark against an
    emulator with its limits off (bench/updates.py), never in production."""
    assert settings.telegram.token is not None
    token = settings.telegram.token.get_secret_value()
    api, files = settings.telegram.api_base_url, settings.telegram.files_url
    # Direct replies are rate-limited per chat (core/runtime/limiter.py); the outbox paces
    # itself (core/runtime/outbox.py).
    limiter = DirectReplyLimiter(settings.outbox.time_scale) if rate_limited else None
    # One connection per update handled at once (the default pool holds one).
    bot = VigieBot(token, base_url=api, base_file_url=files, rate_limiter=limiter,
                   request=HTTPXRequest(connection_pool_size=LANES + 4))
    store = Store(settings.storage.database)
    i18n.use_profile(settings.commune)  # every text words this commune's scheme
    # PTB's builder cannot express our context and job-queue types together; the cast
    # states what CONTEXT_TYPES makes true at run time.
    app = cast(VigieApp, (
        ApplicationBuilder()
        .bot(bot)
        .context_types(CONTEXT_TYPES)
        # Updates from different chats are handled side by side, one chat's in order (the
        # inbox's lanes), at most LANES at once: ConversationHandler state lives per chat.
        .concurrent_updates(LANES)
        # Updates come through core/runtime/inbox.py (stored before they are confirmed), not
        # PTB's Updater; conversations are kept in SQLite so a restart resumes them.
        .updater(None)
        .persistence(SqlitePersistence(store))
        .post_init(lifecycle.startup)
        .post_shutdown(lifecycle.shutdown)
        .build()
    ))
    outbox_bot = Bot(token, base_url=api, base_file_url=files,
                     request=HTTPXRequest(connection_pool_size=MAX_IN_FLIGHT + 8))
    svc = Services(
        settings=settings,
        store=store,
        outbox=OutboxWorker(store, outbox_bot, settings.outbox),
        charter=Charter(settings=settings),
    )
    app.bot_data[KEY] = svc
    for flow in FLOWS:
        flow.register(app)
    background(app, svc)
    return app


def background(app: VigieApp, svc: Services) -> None:
    """Everything that runs off the path of an update: what the outbox does when a row of
    a given purpose settles, and the repeating jobs. (The retention purge is armed at
    start-up: core/runtime/lifecycle.py.)"""
    sweep = ProgressSweep(svc)
    svc.outbox.on_delivered[Purpose.BROADCAST] = sweep.copy_delivered
    svc.outbox.on_delivered[Purpose.POLL_STOP] = partial(broadcasts.on_poll_stopped, svc)
    svc.outbox.on_failed.append(sweep.copy_settled)
    svc.outbox.on_failed.append(partial(report_domain.tell_staff_of_failed_relay, svc))
    # A removal or a notice that failed (a missing right, an author who blocked the bot).
    svc.outbox.on_failed.append(partial(moderation_domain.on_failed, svc))
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
    # Removed texts kept for the referents' decision, and strikes, expire.
    every = max(1.0, moderation.PURGE_EVERY_SECONDS / svc.settings.outbox.time_scale)
    jobs.run_repeating(partial(moderation.purge, svc), interval=every, first=every,
                       name="moderation_purge")

    async def relay_held(context: object) -> None:
        await report_domain.relay_held(svc)

    # Reports kept while no liaison was configured go out once one is (issue 12).
    jobs.run_once(relay_held, when=0, name="relay_held")
    # Three months before the protocol's three-year term, the officials are told once.
    jobs.run_repeating(paperwork.renewal_reminder, interval=86400, first=5,
                       name="protocol_renewal")
    # Who belongs to the liaison group, asked of Telegram off the path of any update,
    # through the outbox's bot (no direct-reply limiter), 20 calls a minute at most. Paused
    # unless the liaison is a group (the roles live in the database and can change while
    # the bot runs): a job firing for nothing every few seconds is one a stop must cancel.
    every = liaison.LiaisonCheck.interval(svc.settings.outbox.time_scale)
    check = jobs.run_repeating(liaison.LiaisonCheck(svc, svc.outbox.bot), interval=every,
                               first=every, name="liaison_check")
    check.enabled = False

    def follow_liaison(roles: Roles) -> None:
        wanted = roles.liaison_chat_id is not None and roles.liaison_chat_id < 0
        if check.enabled != wanted:
            check.enabled = wanted

    svc.roles_listeners.append(follow_liaison)
