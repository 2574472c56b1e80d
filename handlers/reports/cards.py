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
    Reopen,
    SetStatus,
    Triage,
    TriageDecision,
    WarnSector,
)
from storage import Message, OutboxRow, Report
from storage.reports import FINAL, REOPENABLE, TRANSITIONS
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
    """The liaison's card: the statuses the report may still take from where it is (two a
    line), then the sector warning and the contact."""
    onward = [choice for choice in LiaisonStatus if choice.status in TRANSITIONS[report.status]]
    statuses = [(i18n.t(language, STATUS_LABELS[choice]), SetStatus(report.id, choice).pack())
                for choice in onward]
    return [*(statuses[i:i + 2] for i in range(0, len(statuses), 2)),
            [(i18n.t(language, "reports.warn_sector"), WarnSector(report.id).pack()),
             (i18n.t(language, "reports.ask_contact"), AskContact(report.id).pack())]]


def liaison_buttons(report: Report, language: str) -> Buttons | None:
    """What the liaison's card offers now: the statuses while the report is open; once it
    is closed or unfounded, only reopening it; nothing for a report that is over."""
    if report.status in REOPENABLE:
        return [[(i18n.t(language, "reports.reopen.button"), Reopen(report.id).pack())]]
    if report.status in FINAL:
        return None
    return status_buttons(report, language)


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
        buttons = liaison_buttons(report, language) if is_liaison else None
        if buttons is not None:  # without reply_markup, Telegram drops the keyboard
            payload["reply_markup"] = inline_keyboard(buttons)
        edits.append(Message(row.chat_id, "editMessageText", payload, Purpose.RELAY_EDIT,
                             ref_of(report.id)))
    return edits


def triage_card_buttons(report: Report, language: str) -> Buttons | None:
    """What a referent's card still offers: every decision while the report waits for
    triage; once it is relayed (or reopened), only the warning to the sector; nothing once
    it is over."""
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


def _latest_card(rows: list[OutboxRow], chat_id: int) -> int | None:
    """The Telegram message id of the newest card delivered to `chat_id`, if any."""
    delivered = [row.message_id for row in rows
                 if row.chat_id == chat_id and row.message_id is not None]
    return delivered[-1] if delivered else None


async def detail_messages(svc: Services, report: Report, detail: str) -> list[Message]:
    """A detail the reporter added, for whoever handles the report now: its sector's
    referents while it waits for triage, else the liaison and the officials (the cards of
    the report it is grouped under). A reply to their card where it was delivered, else a
    message of its own, which names the report too."""
    if report.status == ReportStatus.TRIAGE:
        rows = await svc.store.outbox.by_ref(Purpose.TRIAGE_CARD, ref_of(report.id))
        chats = list(dict.fromkeys(row.chat_id for row in rows)) or list(
            await svc.store.referents.of_sector(report.sector_id or 0))
    else:
        rows = await svc.store.outbox.by_ref(Purpose.RELAY_CARD,
                                             ref_of(report.similar_to or report.id))
        # A report held for want of a liaison reached nobody yet: its detail waits with it.
        chats = await recipients(svc) if svc.roles.liaison_chat_id is not None else []
    messages = []
    for chat_id in chats:
        _, language = await _card_language(svc, chat_id)
        message = html_message(
            chat_id, i18n.t(language, "reports.detail.relayed", id=report.id,
                            detail=escape(detail)),
            Purpose.REPORT_DETAIL, ref_of(report.id), protect=True)
        card = _latest_card(rows, chat_id)
        if card is not None:
            message.payload["reply_parameters"] = {"message_id": card,
                                                   "allow_sending_without_reply": True}
        messages.append(message)
    return messages
