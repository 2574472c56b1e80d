"""The mairie's paperwork, as PDF, from the configuration and today's figures: the entry for
the registre des activités de traitement, the mention d'information, a draft impact
assessment (AIPD, the CNIL's structure) and the protocol kit (the register of referents by
sector and date, the renewal dates). No personal data: counts, settings and dates only;
the blanks ("______") are what only the commune knows.

In chat: /documents [registre|mention|aipd|protocole|tout] (officials and admins). From the
command line: `cli(settings, kind, path)`. Three months before the protocol's three-year
term, `renewal_reminder` (a daily job) tells the officials once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from telegram import InputFile
from telegram.constants import ChatAction
from telegram.ext import CommandHandler

from core import i18n, logs
from core.commands import command
from core.permissions import Action
from core.services import VigieApp, VigieContext
from core.settings import Settings
from core.turn import Turn, guarded
from handlers.dashboard.charts import printable
from storage import Store
from storage.outbox import Message
from storage.statuses import Purpose

if TYPE_CHECKING:
    from handlers.paperwork.pdf import Document

log = logs.get("handlers.paperwork")

KINDS = ("registre", "mention", "aipd", "protocole")
ALL = "tout"
# Sections of each document, in order: a heading key `<name>_h` then its text `<name>`.
SECTIONS: dict[str, tuple[str, ...]] = {
    "registre": ("controller", "purposes", "basis", "people", "data", "recipients",
                 "transfers", "retention", "security"),
    "mention": ("who", "why", "what", "who_sees", "how_long", "rights", "sign"),
    "aipd": ("context", "principles", "risks", "measures", "validation"),
    "protocole": ("signatories", "dates", "figures", "yearly"),
}
FAMILY = "DejaVu"
RENEWAL_YEARS = 3
REMIND_MONTHS = 3
Translate = Callable[..., str]


@dataclass(frozen=True)
class Facts:
    """Today's figures: counts and dates, never who."""

    today: dt.date
    sectors: int
    members: int
    referents: int
    staff: int
    charter_version: int
    register: list[tuple[str, dt.date]]  # (sector, appointed on), one per referent


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


def renewal_dates(signed_on: dt.date) -> tuple[dt.date, dt.date]:
    """The protocol's three-year term, and the day the officials are reminded of it."""
    renewal = _add_months(signed_on, 12 * RENEWAL_YEARS)
    return renewal, _add_months(renewal, -REMIND_MONTHS)


async def gather(store: Store, settings: Settings, charter_version: int) -> Facts:
    """The facts the paperwork states, from the database: sectors and staff as the bot
    has them, with the configuration's changes applied as a start would."""
    zone = ZoneInfo(settings.commune.timezone)
    members = await store.stats.members_by_sector(None)
    register = [(sector, dt.datetime.fromtimestamp(when, zone).date())
                for sector, when in await store.referents.appointment_dates()]
    await store.staff.apply_config(settings.roles.officials, settings.roles.admins,
                                   settings.roles.liaison_chat_id)
    roles = await store.staff.load()
    staff = set(roles.officials) | set(roles.admins)
    await store.sectors.apply_config((sector.name, sector.area()) for sector in settings.sectors)
    sectors = await store.sectors.active()
    return Facts(dt.datetime.now(zone).date(), len(sectors), sum(members.values()),
                 len(register), len(staff), charter_version, register)


def _values(settings: Settings, facts: Facts, t: Translate) -> dict[str, Any]:
    date_format = t("dashboard.date_format")
    signed = settings.commune.protocol_signed_on
    renewal, remind = renewal_dates(signed) if signed else (None, None)

    def day(value: dt.date | None) -> str:
        return value.strftime(date_format) if value else t("paperwork.unset_date")

    return {
        "date": day(facts.today), "year": facts.today.year - 1,
        "sectors": facts.sectors, "members": facts.members, "referents": facts.referents,
        "staff": facts.staff, "charter": facts.charter_version,
        "retention": settings.privacy.retention_days, "keep": int(settings.outbox.keep_days),
        "audit": settings.privacy.audit_retention_days,
        "relay": t(f"paperwork.relay_{settings.reports.relay_mode}"),
        "approval": t(f"paperwork.approval_{settings.enrolment.approval}"),
        "signed": day(signed), "renewal": day(renewal), "remind": day(remind),
    }


def build(kind: str, settings: Settings, facts: Facts, t: Translate) -> tuple[str, bytes]:
    """One document: its title and the PDF."""
    from handlers.paperwork.pdf import Document  # fpdf only once a PDF is made

    values = _values(settings, facts, t)
    title = t(f"paperwork.{kind}.title")
    pdf = Document(t("paperwork.footer", title=title, date=values["date"], page="{page}",
                      pages="{pages}"))
    pdf.set_title(printable(title))
    pdf.set_author(printable(settings.commune.name))
    pdf.set_creator("Vigie")
    pdf.add_page()
    pdf.lines(title, size=15, bold=True, gap=3)
    pdf.lines(t(f"paperwork.{kind}.intro", **values), size=10, gap=4)
    for section in SECTIONS[kind]:
        if pdf.will_page_break(30):
            pdf.add_page()
        pdf.lines(t(f"paperwork.{kind}.{section}_h"), size=12, bold=True, gap=1)
        pdf.lines(t(f"paperwork.{kind}.{section}", **values))
        if kind == "protocole" and section == "dates":
            _register(pdf, facts, t, values["date"])
    return title, bytes(pdf.output())


def _register(pdf: Document, facts: Facts, t: Translate, _today: str) -> None:
    pdf.lines(t("paperwork.protocole.register_h"), size=12, bold=True, gap=1)
    pdf.lines(t("paperwork.protocole.register_intro"))
    if not facts.register:
        pdf.lines(t("paperwork.protocole.register_empty"))
        return
    date_format = t("dashboard.date_format")
    pdf.set_font(FAMILY, "", 9)
    with pdf.table(col_widths=(50, 25, 30, 65), text_align="LEFT") as table:
        table.row([printable(t(f"paperwork.protocole.register_{name}"))
                   for name in ("sector", "number", "since", "name")])
        number: dict[str, int] = {}
        for sector, since in facts.register:
            number[sector] = number.get(sector, 0) + 1
            table.row([printable(sector), str(number[sector]), since.strftime(date_format), ""])
    pdf.ln(3)


def documents(kind: str) -> tuple[str, ...]:
    if kind == ALL:
        return KINDS
    if kind not in KINDS:
        raise KeyError(kind)
    return (kind,)


# --- in chat ---------------------------------------------------------------------------

@guarded(Action.PAPERWORK)
async def paperwork(turn: Turn) -> None:
    if not turn.args:
        await turn.reply("paperwork.usage")
        return
    kind = turn.args[0].lower()
    try:
        kinds = documents(kind)
    except KeyError:
        await turn.reply("paperwork.unknown_kind", kind=kind[:30])
        return
    svc = turn.svc
    settings = svc.settings
    await turn.context.bot.send_chat_action(turn.place.chat_id, ChatAction.UPLOAD_DOCUMENT)
    facts = await gather(svc.store, settings, svc.charter.version)
    # The documents are the commune's: in its language, not the asker's.
    language = settings.commune.language

    def t(key: str, **values: Any) -> str:
        return i18n.t(language, key, **values)

    for each in kinds:
        title, pdf = await asyncio.to_thread(build, each, settings, facts, t)
        await svc.store.audit.record(turn.actor.user_id, "paperwork.generated", None,
                                     kind=each)
        await turn.context.bot.send_document(
            turn.place.chat_id, InputFile(io.BytesIO(pdf), filename=f"vigie-{each}.pdf"),
            caption=t("paperwork.caption", title=title, date=facts.today.strftime(
                t("dashboard.date_format"))))
    log.info("paperwork.sent", kinds=len(kinds))


async def renewal_reminder(context: VigieContext) -> None:
    """Daily: from three months before the protocol's term, tell each official, once."""
    svc = context.svc
    settings = svc.settings
    signed = settings.commune.protocol_signed_on
    if signed is None:
        return
    renewal, remind = renewal_dates(signed)
    today = dt.datetime.now(ZoneInfo(settings.commune.timezone)).date()
    if not remind <= today <= renewal:
        return
    officials = sorted(set(svc.roles.officials))
    if not officials:
        return
    people = {official: await svc.store.people.get(official) for official in officials}
    messages = []
    for official in officials:
        person = people[official]
        language = person.language if person is not None else settings.commune.language
        date_format = i18n.t(language, "dashboard.date_format")
        text = i18n.t(language, "paperwork.renewal_due", signed=signed.strftime(date_format),
                      renewal=renewal.strftime(date_format))
        messages.append(Message(official, "sendMessage", {"text": text},
                                Purpose.PROTOCOL_RENEWAL,
                                dedupe_key=f"protocol-renewal:{renewal.isoformat()}:{official}"))
    await svc.outbox.send(*messages)


def register(app: VigieApp) -> None:
    app.add_handler(CommandHandler(command(Action.PAPERWORK).names, paperwork))


# --- from the command line -------------------------------------------------------------

def cli(settings: Settings, kind: str, path: Path) -> int:
    """Write the documents as PDF: `kind` one of KINDS (to the file `path`) or "tout"
    (into the folder `path`). Returns the exit code; prints one line per file."""
    try:
        kinds = documents(kind)
    except KeyError:
        print(f"unknown document {kind!r}: choose one of {', '.join((*KINDS, ALL))}",
              file=sys.stderr)
        return 2
    i18n.use_profile(settings.commune)
    from core.charter import Charter  # the kernel's charter, numbered as the bot numbers it

    async def run() -> Facts:
        store = Store(settings.storage.database)
        await store.open()
        try:
            charter = Charter(settings=settings)
            return await gather(store, settings, await charter.sync(store))
        finally:
            await store.close()

    facts = asyncio.run(run())
    language = settings.commune.language

    def t(key: str, **values: Any) -> str:
        return i18n.t(language, key, **values)

    if kind == ALL:
        path.mkdir(parents=True, exist_ok=True)
    for each in kinds:
        target = path / f"vigie-{each}.pdf" if kind == ALL else path
        _, pdf = build(each, settings, facts, t)
        target.write_bytes(pdf)
        print(target)
    return 0
