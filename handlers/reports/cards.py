"""The report's cards: what the referents, the liaison and the officials read, with their
buttons, as outbox messages. Building only: domain.py queues them inside its transactions.

Every card is protected (no forwarding, no saving) and says facts only: never the
reporter's name, which stays with the bot until they agree to be contacted.
"""

from __future__ import annotations

import time
from html import escape

from telegram.constants import ParseMode

from core import i18n
from core.notify import language_of
from core.runtime.outbox import Buttons, html_message, inline_keyboard
from core.services import Services
from handlers.reports.buttons import (
    AskContact,
    LiaisonStatus,
    SetStatus,
    Triage,
    TriageDecision,
    WarnSector,
)
from storage import Message, Report
from storage.reports import FINAL
from storage.statuses import Purpose, ReportStatus

# The liaison's status buttons keep their short catalogue keys.
STATUS_LABELS = {
    LiaisonStatus.RECEIVED: "reports.status_button.r",
    LiaisonStatus.PATROL: "reports.status_button.p",
    LiaisonStatus.CLOSED: "reports.status_button.c",
    LiaisonStatus.UNFOUNDED: "reports.status_button.u",
}


def ref_of(report_id: int) -> str:
    """The outbox `ref` of every message about a report."""
    return f"report:{report_id}"


def report_id_in(ref: str | None) -> int | None:
    """The inverse of `ref_of`: None for a ref that is not a report's."""
    kind, _, number = (ref or "").partition(":")
    return int(number) if kind == "report" and number.isdigit() else None


async def card_text(svc: Services, report: Report, language: str, similar: int = 0) -> str:
    """The report as the referent, the liaison and the officials read it: facts only."""
    sector = await svc.store.sectors.get(report.sector_id or 0)

    def t(key: str, **values: object) -> str:
        return i18n.t(language, key, **values)

    lines = [
        t("reports.card_title", id=report.id, category=t(f"reports.category.{report.category}")),
        t("reports.card_sector", sector=escape(sector.name if sector else "?")),
        t("reports.card_when", when=t(f"reports.when.{report.occurred}"),
          sent=time.strftime("%d/%m %H:%M", time.localtime(report.created_at))),
        t("reports.card_description", description=escape(report.description or "")),
    ]
    if report.latitude is not None:
        lines.append(t("reports.card_location"))
    if report.photo_file_id:
        lines.append(t("reports.card_photo"))
    if report.screen_flags:
        flags = ", ".join(t(f"reports.flag.{flag}") for flag in report.screen_flags.split(","))
        lines.append(t("reports.card_screened", flags=flags))
    if report.untriaged:
        lines.append(t("reports.card_untriaged"))
    if similar:
        lines.append(t("reports.card_similar", count=similar))
    lines.append(t("reports.card_status", status=t(f"reports.status.{report.status}")))
    return "\n".join(lines)


def status_buttons(report: Report, language: str) -> Buttons:
    """The liaison's card: the four statuses, then the sector warning and the contact."""

    def status(choice: LiaisonStatus) -> tuple[str, str]:
        return i18n.t(language, STATUS_LABELS[choice]), SetStatus(report.id, choice).pack()

    return [[status(LiaisonStatus.RECEIVED), status(LiaisonStatus.PATROL)],
            [status(LiaisonStatus.CLOSED), status(LiaisonStatus.UNFOUNDED)],
            [(i18n.t(language, "reports.warn_sector"), WarnSector(report.id).pack()),
             (i18n.t(language, "reports.ask_contact"), AskContact(report.id).pack())]]


def triage_buttons(report: Report, language: str) -> Buttons:
    def decide(key: str, decision: TriageDecision) -> tuple[str, str]:
        return i18n.t(language, key), Triage(report.id, decision).pack()

    return [[decide("reports.forward", TriageDecision.FORWARD),
             decide("reports.dismiss", TriageDecision.DISMISS)],
            [decide("reports.ask_precision", TriageDecision.ASK),
             (i18n.t(language, "reports.warn_sector"), WarnSector(report.id).pack())]]


async def recipients(svc: Services) -> list[int]:
    """The gendarmerie liaison chat, then each official: who receives relayed reports."""
    roles = svc.roles
    chats = [roles.liaison_chat_id] if roles.liaison_chat_id is not None else []
    return list(dict.fromkeys([*chats, *roles.officials]))


async def _card_language(svc: Services, chat_id: int) -> tuple[bool, str]:
    """Whether `chat_id` is the liaison's, and the language its card is written in."""
    is_liaison = chat_id == svc.roles.liaison_chat_id
    if is_liaison:
        return True, svc.settings.commune.language
    return False, await language_of(svc, chat_id)


async def relay_messages(svc: Services, report: Report) -> list[Message]:
    """The card, the location pin and the photo, for the liaison (with the status
    buttons) and each official (their copy is edited as the status changes)."""
    messages: list[Message] = []
    ref = ref_of(report.id)
    for chat_id in await recipients(svc):
        is_liaison, language = await _card_language(svc, chat_id)
        text = await card_text(svc, report, language)
        buttons = status_buttons(report, language) if is_liaison else None
        messages.append(html_message(chat_id, text, Purpose.RELAY_CARD, ref, buttons=buttons,
                                     dedupe_key=f"relay:{report.id}:{chat_id}", protect=True))
        if report.latitude is not None and report.longitude is not None:
            messages.append(Message(chat_id, "sendLocation", {
                "latitude": report.latitude, "longitude": report.longitude,
                "protect_content": True}, Purpose.RELAY_LOCATION, ref,
                f"relay-location:{report.id}:{chat_id}"))
        if report.photo_file_id:
            messages.append(Message(chat_id, "sendPhoto", {
                "photo": report.photo_file_id, "protect_content": True,
                "caption": i18n.t(language, "reports.photo_caption", id=report.id)},
                Purpose.RELAY_PHOTO, ref, f"relay-photo:{report.id}:{chat_id}"))
    return messages


async def refresh_cards(svc: Services, report: Report, similar: int = 0) -> list[Message]:
    """Edits of every card of `report` (relayed and triage) to show its current state."""
    edits = await refresh_triage_cards(svc, report)
    for row in await svc.store.outbox.by_ref(Purpose.RELAY_CARD, ref_of(report.id)):
        is_liaison, language = await _card_language(svc, row.chat_id)
        payload: dict[str, object] = {
            "message_id_of": row.id, "parse_mode": ParseMode.HTML,
            "text": await card_text(svc, report, language, similar)}
        if is_liaison and report.status not in FINAL:
            payload["reply_markup"] = inline_keyboard(status_buttons(report, language))
        edits.append(Message(row.chat_id, "editMessageText", payload, Purpose.RELAY_EDIT,
                             ref_of(report.id)))
    return edits


def triage_card_buttons(report: Report, language: str) -> Buttons | None:
    """What a referent's card still offers: every decision while the report waits for
    triage; once it is relayed, only the warning to the sector; nothing once it is over."""
    if report.status == ReportStatus.TRIAGE:
        return triage_buttons(report, language)
    if report.status in FINAL:
        return None
    return [[(i18n.t(language, "reports.warn_sector"), WarnSector(report.id).pack())]]


async def refresh_triage_cards(svc: Services, report: Report) -> list[Message]:
    """Edits of every referent's triage card of `report`, after a decision by anyone: the
    status it shows and only the buttons that still apply."""
    edits = []
    for row in await svc.store.outbox.by_ref(Purpose.TRIAGE_CARD, ref_of(report.id)):
        language = await language_of(svc, row.chat_id)
        payload: dict[str, object] = {
            "message_id_of": row.id, "parse_mode": ParseMode.HTML,
            "text": await card_text(svc, report, language)}
        buttons = triage_card_buttons(report, language)
        if buttons is not None:  # without reply_markup, Telegram drops the keyboard
            payload["reply_markup"] = inline_keyboard(buttons)
        edits.append(Message(row.chat_id, "editMessageText", payload, Purpose.RELAY_EDIT,
                             ref_of(report.id)))
    return edits


async def triage_cards(svc: Services, report: Report) -> list[Message]:
    """A card for each referent of the report's sector, with the triage buttons."""
    messages = []
    for referent in await svc.store.referents.of_sector(report.sector_id or 0):
        language = await language_of(svc, referent)
        # A card per version of the report: a precision makes a new card, not a duplicate.
        version = len(await svc.store.reports.history(report.id))
        messages.append(html_message(
            referent, await card_text(svc, report, language), Purpose.TRIAGE_CARD,
            ref_of(report.id), dedupe_key=f"triage:{report.id}:{referent}:{version}",
            buttons=triage_buttons(report, language), protect=True))
    return messages
