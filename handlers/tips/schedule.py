"""The prevention-tip schedule: cron expressions from the config, quiet hours, and runs
missed while the bot was stopped.

Each run has a slot (the cron time it belongs to). Posting a run claims its slot in the
database in the same transaction that queues the tips, so a slot is posted once: a restart
finds it claimed. At start, the latest slot within `grace_hours` that nobody claimed is
posted at once; older ones are let go (a tip three days late helps nobody).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from html import escape
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from telegram.ext import JobQueue

from core import i18n, logs
from core.runtime.outbox import html_message
from core.services import Services, VigieContext
from core.settings import TipsSettings
from handlers.tips import catalogue
from storage.outbox import BULK
from storage.statuses import Purpose

log = logs.get("tips")


def quiet_end(moment: dt.datetime, quiet_hours: str | None) -> dt.datetime:
    """`moment`, or the end of the quiet hours it falls in (same timezone)."""
    if quiet_hours is None:
        return moment
    start, end = (dt.time.fromisoformat(part) for part in quiet_hours.split("-"))
    clock = moment.time().replace(tzinfo=None)
    inside = start <= clock or clock < end if start > end else start <= clock < end
    if not inside:
        return moment
    day = moment.date() if clock < end else moment.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, end, tzinfo=moment.tzinfo)


def latest_slot(trigger: CronTrigger, now: dt.datetime, grace: dt.timedelta
                ) -> dt.datetime | None:
    """The last cron time in (now - grace, now], if any."""
    found, cursor = None, trigger.get_next_fire_time(None, now - grace)
    while cursor is not None and cursor <= now:
        found = cursor
        cursor = trigger.get_next_fire_time(cursor, cursor + dt.timedelta(seconds=1))
    return found


async def post_run(svc: Services, job: str, slot: float) -> int:
    """Post one run's tips in every linked sector group; 0 if the slot was already posted."""
    settings, store = svc.settings, svc.store
    tips = catalogue.for_country(catalogue.merged(await store.tips.overrides()),
                                 settings.commune.country)
    language = settings.commune.language
    now = time.time()
    today = dt.datetime.fromtimestamp(now, ZoneInfo(settings.commune.timezone)).date()
    campaigns = catalogue.campaigns_on(today, catalogue.school_zone_of(settings),
                                       settings.tips.holiday_reminder_weeks)
    posted = 0
    async with store.transaction():
        if not await store.tips.claim_run(job, slot):
            return 0
        for sector in await store.sectors.active():
            if sector.chat_id is None:
                continue
            history = await store.tips.last_posted(sector.id)
            tip = pick(tips, history, now, today, campaigns, settings.tips)
            if tip is None:
                continue
            await store.tips.record_post(sector.id, tip.id)
            await store.outbox.enqueue([html_message(
                sector.chat_id, tip_text(tip, language), Purpose.TIP, f"tip:{tip.id}",
                dedupe_key=f"tip:{job}:{slot:.0f}:{sector.id}", priority=BULK)])
            posted += 1
    svc.outbox.wake()
    log.info("tips.posted", job=job, groups=posted, campaigns=[str(c) for c in campaigns])
    return posted


def pick(tips: list[catalogue.Tip], history: dict[str, float], now: float, today: dt.date,
         campaigns: list[catalogue.Campaign], settings: TipsSettings) -> catalogue.Tip | None:
    """A campaign's tip when one is on and the group has not had it lately; else the next
    regular tip."""
    every = settings.campaign_every_days * 86400
    by_id = {tip.id: tip for tip in tips}
    for campaign in campaigns:
        last = max((at for tip_id, at in history.items()
                    if tip_id in by_id and by_id[tip_id].campaign == campaign), default=None)
        if last is None or now - last >= every:
            chosen = catalogue.choose(tips, history, now, today, every, campaign)
            if chosen is not None:
                return chosen
    repeat = settings.repeat_after_days * 86400
    return catalogue.choose(tips, history, now, today, repeat)


def tip_text(tip: catalogue.Tip, language: str) -> str:
    key = f"tips.header.{tip.campaign}" if tip.campaign else f"tips.topic.{tip.topic}"
    return f"{i18n.t(language, key)}\n\n{escape(tip.text(language))}"


@dataclass(frozen=True)
class Run:
    """A job's data: which expression, which slot, and whether to arm the next one."""

    expr: str
    slot: float
    rearm: bool


class TipSchedule:
    """One JobQueue job per cron expression, re-armed after each run."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.settings = svc.settings.tips
        self.zone = ZoneInfo(svc.settings.commune.timezone)
        self.triggers = {expr: CronTrigger.from_crontab(expr, timezone=self.zone)
                         for expr in self.settings.schedule}
        self.jobs: JobQueue[VigieContext] | None = None  # the application's, from start()

    def start(self, jobs: JobQueue[VigieContext]) -> None:
        self.jobs = jobs
        now = dt.datetime.now(self.zone)
        grace = dt.timedelta(hours=self.settings.grace_hours)
        for expr, trigger in self.triggers.items():
            missed = latest_slot(trigger, now, grace)
            if missed is not None:  # posted now unless an earlier process already did
                due = quiet_end(now, self.settings.quiet_hours)
                jobs.run_once(self._run, when=due, data=Run(expr, missed.timestamp(), False),
                              name=f"tips:{expr}:catch-up")
            self._arm(jobs, expr, now)

    def _arm(self, jobs: JobQueue[VigieContext], expr: str, after: dt.datetime) -> None:
        slot = self.triggers[expr].get_next_fire_time(None, after + dt.timedelta(seconds=1))
        if slot is not None:
            due = quiet_end(slot, self.settings.quiet_hours)
            jobs.run_once(self._run, when=due, data=Run(expr, slot.timestamp(), True),
                          name=f"tips:{expr}")

    async def _run(self, context: VigieContext) -> None:
        assert context.job is not None and isinstance(context.job.data, Run)
        run = context.job.data
        try:
            await post_run(self.svc, f"tips:{run.expr}", run.slot)
        finally:
            if run.rearm and self.jobs is not None:
                self._arm(self.jobs, run.expr,
                          dt.datetime.fromtimestamp(run.slot, self.zone))
