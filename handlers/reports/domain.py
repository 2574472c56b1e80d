"""Reports, from a resident's confirmation to the gendarmerie and back.

Everything here that reaches someone goes through the outbox, and is queued in the same
transaction as the report change that causes it: a resident is told "envoyé" only once the
report and its messages are on disk. Relay rows carry a dedupe key per (report, chat), so
a report relayed twice (a referent and the triage timeout racing) reaches the liaison once.
"""

from __future__ import annotations

import time
from html import escape

from telegram.constants import ParseMode

from core import i18n, logs
from core.runtime.outbox import html_message, inline_keyboard
from core.screening import similar
from core.services import Services
from handlers.enrolment.rules import language_of, mention
from storage import Message, NewReport, Report
from storage.outbox import OutboxRow
from storage.reports import LIAISON_STATUSES, RELAYED, TRIAGE

log = logs.get("reports")

CATEGORIES = ("vehicle", "behaviour", "doorstep", "burglary", "incivility", "other")
WHEN = ("now", "today", "earlier")
STATUS_CODES = {"r": "received", "p": "patrol_informed", "c": "closed", "u": "unfounded"}
DISMISS_REASONS = ("duplicate", "out_of_scope", "too_vague", "charter")
RELAY_CARD = "relay_card"


async def card_text(svc: Services, report: Report, language: str, similar: int = 0) -> str:
    """The report as the referent, the liaison and the officials read it: facts only."""
    sector = await svc.store.sectors.get(report.sector_id or 0)
    t = lambda key, **v: i18n.t(language, key, **v)  # noqa: E731 - local shorthand
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


def status_buttons(report: Report, language: str) -> list[list[tuple[str, str]]]:
    def button(code: str) -> tuple[str, str]:
        return i18n.t(language, f"reports.status_button.{code}"), f"st:{report.id}:{code}"

    return [[button("r"), button("p")], [button("c"), button("u")],
            [(i18n.t(language, "reports.warn_sector"), f"wn:{report.id}"),
             (i18n.t(language, "reports.ask_contact"), f"ct:{report.id}")]]


async def recipients(svc: Services) -> list[int]:
    """The gendarmerie liaison chat, then each official: who receives relayed reports."""
    roles = svc.settings.roles
    chats = [roles.liaison_chat_id] if roles.liaison_chat_id is not None else []
    return list(dict.fromkeys([*chats, *roles.officials]))


async def relay_messages(svc: Services, report: Report) -> list[Message]:
    """The card, the location pin and the photo, for the liaison (with the status
    buttons) and each official (their copy is edited as the status changes)."""
    messages: list[Message] = []
    ref = f"report:{report.id}"
    for chat_id in await recipients(svc):
        is_liaison = chat_id == svc.settings.roles.liaison_chat_id
        language = svc.settings.commune.language if is_liaison else await language_of(
            svc, chat_id)
        text = await card_text(svc, report, language)
        buttons = status_buttons(report, language) if is_liaison else None
        messages.append(html_message(chat_id, text, RELAY_CARD, ref, buttons=buttons,
                                     dedupe_key=f"relay:{report.id}:{chat_id}", protect=True))
        if report.latitude is not None and report.longitude is not None:
            messages.append(Message(chat_id, "sendLocation", {
                "latitude": report.latitude, "longitude": report.longitude,
                "protect_content": True}, "relay_location", ref,
                f"relay-location:{report.id}:{chat_id}"))
        if report.photo_file_id:
            messages.append(Message(chat_id, "sendPhoto", {
                "photo": report.photo_file_id, "protect_content": True,
                "caption": i18n.t(language, "reports.photo_caption", id=report.id)},
                "relay_photo", ref, f"relay-photo:{report.id}:{chat_id}"))
    return messages


async def refresh_cards(svc: Services, report: Report, similar: int = 0) -> list[Message]:
    """Edits of every relayed card of `report` to show its current state."""
    edits = []
    for row in await svc.store.outbox.by_ref(RELAY_CARD, f"report:{report.id}"):
        is_liaison = row.chat_id == svc.settings.roles.liaison_chat_id
        language = svc.settings.commune.language if is_liaison else await language_of(
            svc, row.chat_id)
        payload: dict[str, object] = {
            "message_id_of": row.id, "parse_mode": ParseMode.HTML,
            "text": await card_text(svc, report, language, similar)}
        if is_liaison and report.status not in ("closed", "unfounded"):
            payload["reply_markup"] = inline_keyboard(status_buttons(report, language))
        edits.append(Message(row.chat_id, "editMessageText", payload, "relay_edit",
                             f"report:{report.id}"))
    return edits


async def triage_cards(svc: Services, report: Report) -> list[Message]:
    messages = []
    for referent in await svc.store.referents.of_sector(report.sector_id or 0):
        language = await language_of(svc, referent)
        buttons = [[(i18n.t(language, "reports.forward"), f"tri:{report.id}:f"),
                    (i18n.t(language, "reports.dismiss"), f"tri:{report.id}:d")],
                   [(i18n.t(language, "reports.ask_precision"), f"tri:{report.id}:q"),
                    (i18n.t(language, "reports.warn_sector"), f"wn:{report.id}")]]
        # A card per version of the report: a precision makes a new card, not a duplicate.
        version = len(await svc.store.reports.history(report.id))
        messages.append(html_message(
            referent, await card_text(svc, report, language), "triage_card",
            f"report:{report.id}", dedupe_key=f"triage:{report.id}:{referent}:{version}",
            buttons=buttons, protect=True))
    return messages


async def _relay_or_group(svc: Services, report: Report) -> list[Message]:
    """A relayed report becomes a new card, or joins a similar one already relayed."""
    since = report.created_at - svc.settings.reports.similar_window * 60
    for primary in await svc.store.reports.recent_relayed(report.sector_id or 0,
                                                          report.category, since):
        if primary.id == report.id:
            continue
        same_plate = report.plate is not None and report.plate == primary.plate
        if same_plate or similar(report.description or "", primary.description or ""):
            count = await svc.store.reports.group_under(report.id, primary.id)
            await svc.store.audit.record(None, "report.grouped", f"report:{report.id}",
                                         primary=primary.id)
            return await refresh_cards(svc, primary, similar=count)
    return await relay_messages(svc, report)


async def submit(svc: Services, new: NewReport) -> Report:
    """Store a confirmed report with everything it must send, in one transaction."""
    settings = svc.settings.reports
    referents = await svc.store.referents.of_sector(new.sector_id)
    triage = settings.relay_mode == "triage" and bool(referents)
    async with svc.store.transaction():
        if new.draft_key is not None:
            # The same confirmation handled again after a crash: it was stored already.
            existing = await svc.store.reports.by_draft_key(new.draft_key)
            if existing is not None:
                return existing
        report = await svc.store.reports.create(
            new, TRIAGE if triage else RELAYED,
            time.time() + settings.triage_timeout * 60 if triage else None,
            # Triage was asked for but the sector has no referent to do it.
            untriaged=settings.relay_mode == "triage" and not triage)
        messages = await (triage_cards(svc, report) if triage else _relay_or_group(svc, report))
        await svc.store.outbox.enqueue(messages)
        await svc.store.audit.record(new.reporter_id, "report.created", f"report:{report.id}",
                                     triage=triage)
    svc.outbox.wake()
    return report


async def flag(svc: Services, new: NewReport, flagged_by: int) -> Report:
    """A message a referent flagged in the sector group: relayed at once, triaged by them."""
    async with svc.store.transaction():
        report = await svc.store.reports.create(new, RELAYED, None, triaged_by=flagged_by)
        await svc.store.outbox.enqueue(await _relay_or_group(svc, report))
        await svc.store.audit.record(flagged_by, "report.flagged", f"report:{report.id}")
    svc.outbox.wake()
    return report


async def relay(svc: Services, report: Report, actor_id: int | None) -> Report | None:
    """Triage → relayed, by a referent (actor) or by the timeout (untriaged)."""
    async with svc.store.transaction():
        moved = await svc.store.reports.transition(report.id, RELAYED, actor_id,
                                                   untriaged=actor_id is None)
        if moved is None:
            return None
        messages = await _relay_or_group(svc, moved)
        messages += await _tell_reporter(svc, moved, "reports.relayed_dm")
        await svc.store.outbox.enqueue(messages)
        await svc.store.audit.record(actor_id, "report.relayed", f"report:{report.id}",
                                     untriaged=actor_id is None)
    svc.outbox.wake()
    return moved


async def dismiss(svc: Services, report: Report, actor_id: int, reason: str) -> Report | None:
    async with svc.store.transaction():
        moved = await svc.store.reports.transition(report.id, "dismissed", actor_id, reason)
        if moved is None:
            return None
        language = await language_of(svc, moved.reporter_id or 0)
        messages = await _tell_reporter(svc, moved, "reports.dismissed_dm",
                                        reason=i18n.t(language, f"reports.reason.{reason}"))
        await svc.store.outbox.enqueue(messages)
        await svc.store.audit.record(actor_id, "report.dismissed", f"report:{report.id}",
                                     reason=reason)
    svc.outbox.wake()
    return moved


async def set_status(svc: Services, report: Report, status: str, actor_id: int
                     ) -> Report | None:
    """The liaison's answer: reaches the reporter, the triaging referent, every card."""
    assert status in LIAISON_STATUSES
    async with svc.store.transaction():
        moved = await svc.store.reports.transition(report.id, status, actor_id)
        if moved is None:
            return None
        language = await language_of(svc, moved.reporter_id or 0)
        label = i18n.t(language, f"reports.status.{status}")
        messages = await _tell_reporter(svc, moved, "reports.status_dm", status=label)
        if moved.triaged_by is not None:
            referent_language = await language_of(svc, moved.triaged_by)
            messages.append(html_message(
                moved.triaged_by,
                i18n.t(referent_language, "reports.status_referent", id=moved.id,
                       status=i18n.t(referent_language, f"reports.status.{status}")),
                "status_notice", f"report:{moved.id}"))
        messages += await refresh_cards(svc, moved)
        await svc.store.outbox.enqueue(messages)
        await svc.store.audit.record(actor_id, f"report.{status}", f"report:{report.id}")
    svc.outbox.wake()
    return moved


async def _tell_reporter(svc: Services, report: Report, key: str, **values: str
                         ) -> list[Message]:
    if report.reporter_id is None:
        return []
    language = await language_of(svc, report.reporter_id)
    text = i18n.t(language, key, id=report.id, **{k: escape(v) for k, v in values.items()})
    return [html_message(report.reporter_id, text, "reporter_notice", f"report:{report.id}")]


async def _once(svc: Services, message: Message, report: Report, event: str,
                actor_id: int | None) -> bool:
    """Queue a message its dedupe key allows only once; note and audit it the first time."""
    async with svc.store.transaction():
        queued = await svc.store.outbox.enqueue([message])
        if queued:
            await svc.store.reports.note(report.id, event, actor_id)
            await svc.store.audit.record(actor_id, f"report.{event}", f"report:{report.id}")
    svc.outbox.wake()
    return bool(queued)


async def warn_sector(svc: Services, report: Report, actor_id: int) -> bool:
    """A short, cleaned notice to the sector group: category, area, time and advice.

    Never the description, a plate or a photo: those stay with the gendarmerie. Sent once
    per report, whoever asks (the dedupe key makes a second request a no-op)."""
    sector = await svc.store.sectors.get(report.sector_id or 0)
    if sector is None or sector.chat_id is None:
        return False
    language = svc.settings.commune.language
    text = i18n.t(language, "reports.sector_notice",
                  category=i18n.t(language, f"reports.category.{report.category}"),
                  sector=escape(sector.name),
                  when=i18n.t(language, f"reports.when.{report.occurred}"),
                  date=time.strftime("%d/%m", time.localtime(report.created_at)),
                  advice=i18n.t(language, f"reports.advice.{report.category}"))
    notice = html_message(sector.chat_id, text, "sector_notice", f"report:{report.id}",
                          dedupe_key=f"sector-notice:{report.id}")
    return await _once(svc, notice, report, "sector_warned", actor_id)


async def ask_contact(svc: Services, report: Report, actor_id: int) -> bool:
    """The liaison would like to talk to the reporter, who stays anonymous unless they agree."""
    if report.reporter_id is None:
        return False
    language = await language_of(svc, report.reporter_id)
    buttons = [[(i18n.t(language, "reports.contact_yes"), f"ctr:{report.id}:y"),
                (i18n.t(language, "reports.contact_no"), f"ctr:{report.id}:n")]]
    request = html_message(report.reporter_id,
                           i18n.t(language, "reports.contact_request", id=report.id),
                           "contact_request", f"report:{report.id}",
                           dedupe_key=f"contact-ask:{report.id}", buttons=buttons)
    return await _once(svc, request, report, "contact_asked", actor_id)


async def answer_contact(svc: Services, report: Report, accept: bool) -> bool:
    """The reporter's answer reaches the liaison; False if they already answered."""
    liaison_chat = svc.settings.roles.liaison_chat_id
    if liaison_chat is None or report.reporter_id is None:
        return False
    language = svc.settings.commune.language
    text = (i18n.t(language, "reports.contact_accepted", id=report.id,
                   person=mention(report.reporter_id, language)) if accept
            else i18n.t(language, "reports.contact_declined", id=report.id))
    answer = html_message(liaison_chat, text, "contact_answer", f"report:{report.id}",
                          dedupe_key=f"contact-answer:{report.id}", protect=True)
    event = "contact_accepted" if accept else "contact_declined"
    return await _once(svc, answer, report, event, report.reporter_id)


async def ask_precision(svc: Services, report: Report, actor_id: int) -> bool:
    """The referent asks the reporter for a detail; the reporter answers by replying."""
    if report.reporter_id is None or report.status != TRIAGE:
        return False
    language = await language_of(svc, report.reporter_id)
    # force_reply: the reporter's app opens a reply to this very message.
    message = html_message(report.reporter_id,
                           i18n.t(language, "reports.precision_request", id=report.id),
                           "precision_request", f"report:{report.id}",
                           markup={"force_reply": True})
    async with svc.store.transaction():
        await svc.store.outbox.enqueue([message])
        await svc.store.reports.note(report.id, "precision_asked", actor_id)
        await svc.store.audit.record(actor_id, "report.precision_asked", f"report:{report.id}")
    svc.outbox.wake()
    return True


async def add_precision(svc: Services, report: Report, text: str, flags: str | None) -> bool:
    """The reporter's answer joins the report; its referents get the updated card."""
    if report.status != TRIAGE:
        return False
    async with svc.store.transaction():
        await svc.store.reports.add_precision(report.id, text, flags)
        updated = await svc.store.reports.get(report.id)
        assert updated is not None
        await svc.store.outbox.enqueue(await triage_cards(svc, updated))
    svc.outbox.wake()
    return True


async def comment(svc: Services, report: Report, text: str, actor_id: int) -> None:
    """The liaison's comment on a report reaches the reporter."""
    async with svc.store.transaction():
        await svc.store.reports.note(report.id, "commented", actor_id)
        await svc.store.outbox.enqueue(await _tell_reporter(svc, report, "reports.comment_dm",
                                                            comment=text))
        await svc.store.audit.record(actor_id, "report.commented", f"report:{report.id}")
    svc.outbox.wake()


async def relay_overdue(svc: Services) -> int:
    """Reports no referent looked at in time go on, marked untriaged."""
    overdue = await svc.store.reports.triage_due(time.time())
    for report in overdue:
        await relay(svc, report, None)
    return len(overdue)


async def tell_staff_of_failed_relay(svc: Services, row: OutboxRow, reason: str) -> None:
    """A relay the liaison (or an official) refused must not go unnoticed."""
    if not row.purpose.startswith("relay") or row.ref is None:
        return
    roles = svc.settings.roles
    for user_id in dict.fromkeys([*roles.officials, *roles.admins]):
        if user_id == row.chat_id:
            continue
        language = await language_of(svc, user_id)
        await svc.outbox.send(html_message(
            user_id, i18n.t(language, "reports.relay_failed", ref=row.ref.split(":")[-1],
                            chat=row.chat_id, reason=escape(reason)),
            "relay_failure", row.ref, dedupe_key=f"relay-failure:{row.id}:{user_id}"))
