"""Figures for the people who run the scheme: /stats, /rapport_annuel, /export, /journal.

Referents get the figures of their own sectors only; the gendarmerie and the officials get
the whole commune. Nothing here shows who reported what.
"""

from __future__ import annotations

import asyncio
import importlib
import io
import json
import re
import tempfile
from datetime import date, datetime
from functools import partial
from html import escape
from types import ModuleType
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest
from telegram.ext import CallbackQueryHandler, CommandHandler

from core import i18n, logs
from core.commands import command
from core.notify import mentions_now
from core.permissions import Action, staff_or_liaison
from core.services import VigieApp
from core.turn import NO_PREVIEW, Turn, guarded
from handlers.dashboard import charts, stats
from handlers.dashboard.buttons import JournalPage, PeriodChoice, StatsPeriod
from handlers.dashboard.stats import InputError, Period
from storage.audit import AuditEntry
from storage.stats import Scope

if TYPE_CHECKING:
    from handlers.dashboard.annual_report import AnnualReport

log = logs.get("handlers.dashboard.flow")

JOURNAL_PAGE = 10
JOURNAL_TYPE = re.compile(r"^type:([a-z0-9_.]{1,32})$")
JOURNAL_PERSON = re.compile(r"^-?\d{1,15}$")
JOURNAL_SUBJECT = re.compile(r"^user:\d{1,15}$")  # an entry about a person
DETAILS_MAX = 100
PDF_MODULE = "handlers.dashboard.annual_report"  # fpdf's importer


def _zone(turn: Turn) -> ZoneInfo:
    return ZoneInfo(turn.svc.settings.commune.timezone)


def _today(turn: Turn) -> date:
    return stats.today_in(_zone(turn))


def _scope(turn: Turn) -> Scope:
    """The whole commune for the gendarmerie and the officials; a referent's own sectors."""
    return None if staff_or_liaison(turn.actor, turn.place) else turn.actor.referent_of


def _dates(turn: Turn, period: Period) -> dict[str, str]:
    shape = turn.t("dashboard.date_format")
    return {"start": period.start.strftime(shape), "end": period.end.strftime(shape)}


# --- /stats ------------------------------------------------------------------------------

async def _asked_period(turn: Turn) -> Period | None:
    """The period typed after the command, or None once the person is told what is wrong."""
    try:
        return stats.parse_period(turn.args, _today(turn))
    except InputError as error:
        await turn.reply(error.key, None, **error.values)
        return None


@guarded(Action.STATS)
async def show_stats(turn: Turn) -> None:
    period = await _asked_period(turn)
    if period is not None:
        await _send_stats(turn, period)


@guarded(Action.STATS)
async def stats_button(turn: Turn) -> None:
    button = turn.button(StatsPeriod)
    await turn.answer()
    await _send_stats(turn, stats.last_days(button.days.days, _today(turn)))


async def _send_stats(turn: Turn, period: Period) -> None:
    store, scope = turn.svc.store, _scope(turn)
    figures = await stats.compute(store, period, _zone(turn), scope, turn.svc.charter.version)
    title = turn.t("dashboard.chart_title", **_dates(turn, period))
    # The chart is drawn in a thread while the text goes out. None: nothing to draw, said
    # in words (an empty chart would only suggest something was measured).
    drawing = (asyncio.ensure_future(asyncio.to_thread(
        charts.bar_chart, stats.chart_panels(figures, turn.t), title)) if figures.total else None)
    try:
        names = await store.stats.sector_names()
        sectors = ", ".join(sorted(names.get(sector_id, "?") for sector_id in scope or ()))
        await turn.say(stats.stats_text(figures, sectors, turn.t), InlineKeyboardMarkup([[
            InlineKeyboardButton(turn.t("dashboard.days_button", days=choice.days),
                                 callback_data=StatsPeriod(choice).pack())
            for choice in PeriodChoice]]))
    except BaseException:
        if drawing is not None:
            drawing.cancel()
        raise
    log.info("dashboard.stats", days=period.days, whole_commune=scope is None,
             reports=figures.total)
    if drawing is None:
        return
    await turn.context.bot.send_photo(turn.place.chat_id,
                                      InputFile(await drawing, filename="stats.png"),
                                      caption=title)


# --- /rapport_annuel ---------------------------------------------------------------------

@guarded(Action.ANNUAL_REPORT)
async def annual_report(turn: Turn) -> None:
    zone, today = _zone(turn), _today(turn)
    try:
        year = stats.parse_year(turn.args, today)
    except InputError as error:
        await turn.reply(error.key, None, **error.values)
        return
    store, settings = turn.svc.store, turn.svc.settings
    period = stats.year_period(year, today)
    first = await store.stats.first_activity()
    # A year before the commune used the bot has no figures worth a document: refuse it.
    # A year it ran without any report gets its short PDF: "none" is a result to present.
    if first is None or first >= period.bounds(zone)[1]:
        await turn.reply("dashboard.year_no_data", year=year)
        return
    # fpdf (and numpy, which it takes along) is imported only once a PDF is made: in a
    # thread, while the figures are read (about 0.5 s of imports, mostly overlapped).
    loading = asyncio.ensure_future(asyncio.to_thread(importlib.import_module, PDF_MODULE))
    try:
        await turn.context.bot.send_chat_action(turn.place.chat_id,
                                                ChatAction.UPLOAD_DOCUMENT)
        report = await _year_report(turn, period, first, loading)
    finally:
        await asyncio.wait([loading])  # an import is never left half done
    from handlers.dashboard.annual_report import build

    # The document is for the conseil municipal: in the commune's language, not the asker's.
    pdf = await asyncio.to_thread(build, report, partial(i18n.t, settings.commune.language))
    # Recorded before it leaves: the log keeps every document asked for, even one Telegram
    # then fails to deliver.
    await store.audit.record(turn.actor.user_id, "dashboard.annual_report", None, year=year)
    await turn.context.bot.send_document(
        turn.place.chat_id, InputFile(pdf, filename=f"bilan-vigie-{year}.pdf"),
        caption=turn.t("dashboard.annual_caption", year=year))
    if report.figures.total == 0:
        await turn.reply("dashboard.annual_no_reports", year=year)
    log.info("dashboard.annual_report", year=year, reports=report.figures.total)


async def _year_report(turn: Turn, period: Period, first: float,
                       loading: asyncio.Future[ModuleType]) -> AnnualReport:
    """The year's figures and, if the bot already ran then, the number of reports over the
    same dates a year before, for the comparison. `loading` imports the PDF module."""
    store, zone, version = turn.svc.store, _zone(turn), turn.svc.charter.version
    today, before = _today(turn), period.year_before()
    previous = (stats.PeriodTotal(before, await store.stats.count(*before.bounds(zone), None))
                if first < before.bounds(zone)[1] else None)
    figures = await stats.compute(store, period, zone, None, version)
    await loading  # imported here by a thread, not by the event loop
    from handlers.dashboard.annual_report import AnnualReport

    return AnnualReport(commune=turn.svc.settings.commune.name, year=period.start.year,
                        figures=figures, previous=previous,
                        current_year=period.start.year == today.year, generated=today)


# --- /export -----------------------------------------------------------------------------

@guarded(Action.EXPORT)
async def export(turn: Turn) -> None:
    period = await _asked_period(turn)
    if period is None:
        return
    store, zone = turn.svc.store, _zone(turn)
    names = await store.stats.sector_names()
    name = f"vigie-signalements-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    with tempfile.TemporaryFile() as raw, \
            io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
        sheet = stats.CsvExport(text, names, zone, turn.t)
        # A week at a time, read and written in a thread (off the event loop and the
        # store's lock): the file, not memory, holds the period.
        await store.stats.export_rows(*period.bounds(zone), None, sheet.write)
        if not sheet.rows:
            await turn.reply("dashboard.export_empty", None, **_dates(turn, period))
            return
        text.flush()
        raw.seek(0)
        await store.audit.record(turn.actor.user_id, "dashboard.export", None,  # before it leaves
                                 start=period.start.isoformat(), end=period.end.isoformat(),
                                 rows=sheet.rows)
        # Streamed from the file as it is uploaded (httpx rewinds it for each attempt),
        # never read whole into memory.
        await turn.context.bot.send_document(
            turn.place.chat_id, InputFile(raw, filename=name, read_file_handle=False),
            caption=turn.t("dashboard.export_caption", count=sheet.rows,
                           **_dates(turn, period)))
    log.info("dashboard.export", days=period.days, rows=sheet.rows)


# --- /journal ----------------------------------------------------------------------------

def journal_filters(args: list[str]) -> tuple[int | None, str | None]:
    """`/journal [ID] [type:PREFIX]`, in any order; anything else is a usage error."""
    person = prefix = None
    for arg in args:
        typed = JOURNAL_TYPE.match(arg.lower())
        if JOURNAL_PERSON.match(arg) and person is None:
            person = int(arg)
        elif typed and prefix is None:
            prefix = typed.group(1)
        else:
            raise InputError("dashboard.journal_usage")
    return person, prefix


@guarded(Action.AUDIT_LOG)
async def journal(turn: Turn) -> None:
    try:
        person, prefix = journal_filters(turn.args)
    except InputError as error:
        await turn.reply(error.key)
        return
    text, markup = await _journal_page(turn, person, prefix, 0)
    await turn.context.bot.send_message(turn.place.chat_id, text, parse_mode=ParseMode.HTML,
                                        reply_markup=markup, link_preview_options=NO_PREVIEW)


@guarded(Action.AUDIT_LOG)
async def journal_page(turn: Turn) -> None:
    button = turn.button(JournalPage)
    if button.page < 0:  # never offered: forged
        await turn.answer("fallback.stale_button", alert=True)
        return
    await turn.answer()
    text, markup = await _journal_page(turn, button.person, button.kind, button.page)
    query = turn.update.callback_query
    assert query is not None
    try:
        await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup,
                                      link_preview_options=NO_PREVIEW)
    except BadRequest as error:  # the same page pressed twice: nothing to change
        if "not modified" not in error.message.lower():
            raise


async def _journal_page(turn: Turn, person: int | None, prefix: str | None, page: int
                        ) -> tuple[str, InlineKeyboardMarkup | None]:
    entries, total = await turn.svc.store.audit.page(person, prefix, page * JOURNAL_PAGE,
                                                     JOURNAL_PAGE)
    filters = "".join([
        turn.t("dashboard.journal_filter_person", id=person) if person is not None else "",
        turn.t("dashboard.journal_filter_type", prefix=prefix) if prefix else ""])
    if not entries:
        return escape(turn.t("dashboard.journal_empty", filters=filters)), None
    first = page * JOURNAL_PAGE + 1
    title = turn.t("dashboard.journal_title", first=first, last=first + len(entries) - 1,
                   total=total, filters=filters)
    # People by the name Telegram gives now (never stored), with their id for /journal ID.
    people = {entry.actor_id for entry in entries if entry.actor_id is not None}
    people |= {int(entry.subject[5:]) for entry in entries
               if entry.subject and JOURNAL_SUBJECT.match(entry.subject)}
    names = await mentions_now(turn.context.bot, [(user_id, None) for user_id in people],
                               turn.language)
    lines = [escape(title), "", *(_entry(turn, entry, names) for entry in entries)]
    buttons = []
    if page > 0:
        buttons.append(InlineKeyboardButton(turn.t("dashboard.journal_newer"),
                                            callback_data=JournalPage(page - 1, person,
                                                                      prefix).pack()))
    if first + len(entries) - 1 < total:
        buttons.append(InlineKeyboardButton(turn.t("dashboard.journal_older"),
                                            callback_data=JournalPage(page + 1, person,
                                                                      prefix).pack()))
    return "\n".join(lines), InlineKeyboardMarkup([buttons]) if buttons else None


def _entry(turn: Turn, entry: AuditEntry, names: dict[int, str]) -> str:
    """One line, in HTML: the people in it as links to their profile, with their id."""
    at = datetime.fromtimestamp(entry.at, _zone(turn))
    actor = entry.actor_id
    subject = entry.subject
    if subject and JOURNAL_SUBJECT.match(subject):
        subject = f"{names[int(subject[5:])]} ({subject[5:]})"
    elif subject:
        subject = escape(subject)
    what = " ".join(str(part) for part in (escape(entry.action), subject,
                                           escape(_details(entry.details))) if part)
    return turn.t("dashboard.journal_line", what=what,
                  when=at.strftime(f"{turn.t('dashboard.date_format')} %H:%M"),
                  actor=escape(turn.t("dashboard.journal_bot")) if actor is None
                  else f"{names[actor]} ({actor})")


def _details(raw: str | None) -> str:
    """The entry's details (ids and short codes, never free text), on one short line."""
    if not raw:
        return ""
    try:
        details = json.loads(raw)
    except ValueError:
        details = raw
    text = (", ".join(f"{key}={value}" for key, value in details.items())
            if isinstance(details, dict) else str(details))
    return text if len(text) <= DETAILS_MAX else text[:DETAILS_MAX - 1] + "…"


def register(app: VigieApp) -> None:
    app.add_handler(CommandHandler(command(Action.STATS).names, show_stats))
    app.add_handler(CallbackQueryHandler(stats_button, pattern=StatsPeriod.pattern()))
    app.add_handler(CommandHandler(command(Action.ANNUAL_REPORT).names, annual_report))
    app.add_handler(CommandHandler(command(Action.EXPORT).names, export))
    app.add_handler(CommandHandler(command(Action.AUDIT_LOG).names, journal))
    app.add_handler(CallbackQueryHandler(journal_page, pattern=JournalPage.pattern()))
