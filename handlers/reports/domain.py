"""Reports, from a resident's confirmation to the gendarmerie and back.

Everything here that reaches someone goes through the outbox, and is queued in the same
transaction as the report change that causes it: a resident is told "envoyé" only once the
report and its messages are on disk. Relay rows carry a dedupe key per (report, chat), so
a report relayed twice (a referent and the triage timeout racing) reaches the liaison once.
The cards themselves are built in cards.py; nothing here talks to Telegram directly.
"""

from __future__ import annotations

import time
from html import escape

from core import i18n, logs
from core.notify import language_of, mention
from core.runtime.outbox import html_message
from core.screening import similar
from core.services import Services
from handlers.reports.buttons import (
    Category,
    ContactAnswer,
    ContactReply,
    DismissReason,
    LiaisonStatus,
    When,
)
from handlers.reports.cards import (
    detail_messages,
    ref_of,
    refresh_cards,
    relay_messages,
    report_id_in,
    triage_cards,
)
from storage import Message, NewReport, Report
from storage.outbox import OutboxRow
from storage.reports import DETAIL_EVENT, FINAL, REOPENABLE
from storage.statuses import Purpose, ReportStatus

log = logs.get("reports")

# The codes of each choice, for code that lists them (the annual report, tests).
CATEGORIES = tuple(Category)
WHEN = tuple(When)
DISMISS_REASONS = tuple(DismissReason)
# Outbox rows that carry a report to the liaison or an official: a refusal tells the staff.
RELAY_PURPOSES = frozenset({Purpose.RELAY_CARD, Purpose.RELAY_LOCATION, Purpose.RELAY_PHOTO,
                            Purpose.RELAY_EDIT, Purpose.RELAY_FAILURE})


async def sent_last_hour(svc: Services, reporter_id: int) -> int:
    """How many reports this person sent in the last hour (their rate limit)."""
    return await svc.store.reports.count_since(reporter_id, time.time() - 3600)


def held(svc: Services) -> bool:
    """No liaison is configured: relayed reports wait for one (issue 12)."""
    return svc.roles.liaison_chat_id is None


async def _relay_or_group(svc: Services, report: Report) -> list[Message]:
    """A relayed report becomes a new card, or joins a similar one already relayed. With
    no liaison configured it is kept instead, the reporter told, until one is."""
    if held(svc):
        await svc.store.reports.hold_for_recipient(report.id)
        await svc.store.audit.record(None, "report.held", ref_of(report.id))
        return await _tell_reporter(svc, report, "check.report_held")
    since = report.created_at - svc.settings.reports.similar_window * 60
    for primary in await svc.store.reports.recent_relayed(report.sector_id or 0,
                                                          report.category, since):
        if primary.id == report.id:
            continue
        same_plate = report.plate is not None and report.plate == primary.plate
        if same_plate or similar(report.description or "", primary.description or ""):
            count = await svc.store.reports.group_under(report.id, primary.id)
            await svc.store.audit.record(None, "report.grouped", ref_of(report.id),
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
            new, ReportStatus.TRIAGE if triage else ReportStatus.RELAYED,
            time.time() + settings.triage_timeout * 60 if triage else None,
            # Triage was asked for but the sector has no referent to do it.
            untriaged=settings.relay_mode == "triage" and not triage)
        messages = await (triage_cards(svc, report) if triage else _relay_or_group(svc, report))
        await svc.store.outbox.enqueue(messages)
        await svc.store.audit.record(new.reporter_id, "report.created", ref_of(report.id),
                                     triage=triage)
    svc.outbox.wake()
    return report


async def flag(svc: Services, new: NewReport, flagged_by: int) -> Report:
    """A message a referent flagged in the sector group: relayed at once, triaged by them."""
    async with svc.store.transaction():
        report = await svc.store.reports.create(new, ReportStatus.RELAYED, None,
                                                triaged_by=flagged_by)
        await svc.store.outbox.enqueue(await _relay_or_group(svc, report))
        await svc.store.audit.record(flagged_by, "report.flagged", ref_of(report.id))
    svc.outbox.wake()
    return report


async def relay(svc: Services, report: Report, actor_id: int | None) -> Report | None:
    """Triage → relayed, by a referent (actor) or by the timeout (untriaged)."""
    async with svc.store.transaction():
        moved = await svc.store.reports.transition(report.id, ReportStatus.RELAYED, actor_id,
                                                   untriaged=actor_id is None)
        if moved is None:
            return None
        messages = await _relay_or_group(svc, moved)
        if not held(svc):
            messages += await _tell_reporter(svc, moved, "reports.relayed_dm")
        await svc.store.outbox.enqueue(messages)
        await svc.store.audit.record(actor_id, "report.relayed", ref_of(report.id),
                                     untriaged=actor_id is None)
    svc.outbox.wake()
    return moved


async def relay_held(svc: Services) -> int:
    """At start: reports kept while no liaison was configured go out now that one is."""
    if held(svc):
        return 0
    released = 0
    for report in await svc.store.reports.held_for_recipient():
        async with svc.store.transaction():
            if not await svc.store.reports.release_held(report.id):
                continue
            messages = await _relay_or_group(svc, report)
            # Details the reporter added while it was held follow the card, in each chat.
            for detail in await svc.store.reports.details(report.id):
                messages += await detail_messages(svc, report, detail)
            messages += await _tell_reporter(svc, report, "reports.relayed_dm")
            await svc.store.outbox.enqueue(messages)
            await svc.store.audit.record(None, "report.released", ref_of(report.id))
        released += 1
    if released:
        log.info("reports.released", reports=released)
        svc.outbox.wake()
    return released


async def dismiss(svc: Services, report: Report, actor_id: int, reason: DismissReason
                  ) -> Report | None:
    """Triage → dismissed, with the reason the reporter is told."""
    async with svc.store.transaction():
        moved = await svc.store.reports.transition(report.id, ReportStatus.DISMISSED, actor_id,
                                                   reason)
        if moved is None:
            return None
        language = await language_of(svc, moved.reporter_id or 0)
        messages = await _tell_reporter(svc, moved, "reports.dismissed_dm",
                                        reason=i18n.t(language, f"reports.reason.{reason}"))
        await svc.store.outbox.enqueue(messages)
        await svc.store.audit.record(actor_id, "report.dismissed", ref_of(report.id),
                                     reason=reason)
    svc.outbox.wake()
    return moved


async def set_status(svc: Services, report: Report, choice: LiaisonStatus, actor_id: int
                     ) -> Report | None:
    """The liaison's answer: reaches the reporter, the triaging referent, every card."""
    status = choice.status
    async with svc.store.transaction():
        moved = await svc.store.reports.transition(report.id, status, actor_id)
        if moved is None:
            return None
        language = await language_of(svc, moved.reporter_id or 0)
        label = i18n.t(language, f"reports.status.{status}")
        messages = await _tell_reporter(svc, moved, "reports.status_dm", status=label)
        messages += await _tell_referent_of_status(svc, moved)
        messages += await refresh_cards(svc, moved)
        await svc.store.outbox.enqueue(messages)
        await svc.store.audit.record(actor_id, f"report.{status}", ref_of(report.id))
    svc.outbox.wake()
    return moved


async def _tell_referent_of_status(svc: Services, report: Report) -> list[Message]:
    """The referent who triaged the report hears of its new status, in their language."""
    if report.triaged_by is None:
        return []
    language = await language_of(svc, report.triaged_by)
    return [html_message(
        report.triaged_by,
        i18n.t(language, "reports.status_referent", id=report.id,
               status=i18n.t(language, f"reports.status.{report.status}")),
        Purpose.STATUS_NOTICE, ref_of(report.id))]


async def _tell_reporter(svc: Services, report: Report, key: str, **values: str
                         ) -> list[Message]:
    if report.reporter_id is None:
        return []
    language = await language_of(svc, report.reporter_id)
    text = i18n.t(language, key, id=report.id, **{k: escape(v) for k, v in values.items()})
    return [html_message(report.reporter_id, text, Purpose.REPORTER_NOTICE, ref_of(report.id))]


async def _once(svc: Services, message: Message, report: Report, event: str,
                actor_id: int | None) -> bool:
    """Queue a message its dedupe key allows only once; note and audit it the first time."""
    async with svc.store.transaction():
        queued = await svc.store.outbox.enqueue([message])
        if queued:
            await svc.store.reports.note(report.id, event, actor_id)
            await svc.store.audit.record(actor_id, f"report.{event}", ref_of(report.id))
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
    notice = html_message(sector.chat_id, text, Purpose.SECTOR_NOTICE, ref_of(report.id),
                          dedupe_key=f"sector-notice:{report.id}")
    return await _once(svc, notice, report, "sector_warned", actor_id)


async def ask_contact(svc: Services, report: Report, actor_id: int) -> bool:
    """The liaison would like to talk to the reporter, who stays anonymous unless they agree."""
    if report.reporter_id is None:
        return False
    language = await language_of(svc, report.reporter_id)
    buttons = [[(i18n.t(language, "reports.contact_yes"),
                 ContactReply(report.id, ContactAnswer.YES).pack()),
                (i18n.t(language, "reports.contact_no"),
                 ContactReply(report.id, ContactAnswer.NO).pack())]]
    request = html_message(report.reporter_id,
                           i18n.t(language, "reports.contact_request", id=report.id),
                           Purpose.CONTACT_REQUEST, ref_of(report.id),
                           dedupe_key=f"contact-ask:{report.id}", buttons=buttons)
    return await _once(svc, request, report, "contact_asked", actor_id)


async def answer_contact(svc: Services, report: Report, accept: bool) -> bool:
    """The reporter's answer reaches the liaison; False if they already answered."""
    liaison_chat = svc.roles.liaison_chat_id
    if liaison_chat is None or report.reporter_id is None:
        return False
    language = svc.settings.commune.language
    text = (i18n.t(language, "reports.contact_accepted", id=report.id,
                   person=mention(report.reporter_id, language)) if accept
            else i18n.t(language, "reports.contact_declined", id=report.id))
    answer = html_message(liaison_chat, text, Purpose.CONTACT_ANSWER, ref_of(report.id),
                          dedupe_key=f"contact-answer:{report.id}", protect=True)
    event = "contact_accepted" if accept else "contact_declined"
    return await _once(svc, answer, report, event, report.reporter_id)


async def ask_precision(svc: Services, report: Report, actor_id: int) -> bool:
    """The referent asks the reporter for a detail; the reporter answers by replying."""
    if report.reporter_id is None or report.status != ReportStatus.TRIAGE:
        return False
    language = await language_of(svc, report.reporter_id)
    # force_reply: the reporter's app opens a reply to this very message.
    message = html_message(report.reporter_id,
                           i18n.t(language, "reports.precision_request", id=report.id),
                           Purpose.PRECISION_REQUEST, ref_of(report.id),
                           markup={"force_reply": True})
    async with svc.store.transaction():
        await svc.store.outbox.enqueue([message])
        await svc.store.reports.note(report.id, "precision_asked", actor_id)
        await svc.store.audit.record(actor_id, "report.precision_asked", ref_of(report.id))
    svc.outbox.wake()
    return True


async def add_precision(svc: Services, report: Report, text: str, flags: str | None) -> bool:
    """The reporter's answer joins the report; its referents get the updated card."""
    if report.status != ReportStatus.TRIAGE:
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
        await svc.store.audit.record(actor_id, "report.commented", ref_of(report.id))
    svc.outbox.wake()


async def ask_reopen_reason(svc: Services, report: Report, chat_id: int, card_id: int | None,
                            actor_id: int) -> bool:
    """The liaison pressed Rouvrir: ask why, as a force-reply under the card (the answer
    is routed by this message, see liaison.answer_to_bot). Asked once per closing: False
    if it was asked already (a second press, or two at once)."""
    is_liaison_chat = chat_id == svc.roles.liaison_chat_id
    language = svc.settings.commune.language if is_liaison_chat else await language_of(
        svc, chat_id)
    version = len(await svc.store.reports.history(report.id))
    message = html_message(
        chat_id, i18n.t(language, "reports.reopen.ask_reason", id=report.id,
                        limit=svc.settings.reports.description_max),
        Purpose.REOPEN_REQUEST, ref_of(report.id), markup={"force_reply": True},
        dedupe_key=f"reopen-ask:{report.id}:{chat_id}:{version}")
    if card_id is not None:
        message.payload["reply_parameters"] = {"message_id": card_id,
                                               "allow_sending_without_reply": True}
    async with svc.store.transaction():
        queued = await svc.store.outbox.enqueue([message])
        if queued:
            await svc.store.audit.record(actor_id, "report.reopen_asked", ref_of(report.id))
    svc.outbox.wake()
    return bool(queued)


async def reopen(svc: Services, report: Report, reason: str, actor_id: int) -> Report | None:
    """Closed or unfounded → reopened, once (a conditional transition: two answers at once
    reopen it once). The reporter is told why; the triaging referent and every card follow."""
    async with svc.store.transaction():
        moved = await svc.store.reports.transition(report.id, ReportStatus.REOPENED, actor_id,
                                                   note=reason)
        if moved is None:
            return None
        messages = await _tell_reporter(svc, moved, "reports.reopen.reporter_dm", reason=reason)
        messages += await _tell_referent_of_status(svc, moved)
        messages += await refresh_cards(svc, moved)
        await svc.store.outbox.enqueue(messages)
        await svc.store.audit.record(actor_id, "report.reopened", ref_of(report.id))
    svc.outbox.wake()
    return moved


def reopenable(report: Report) -> bool:
    return report.status in REOPENABLE


def open_for_details(report: Report) -> bool:
    """A detail is still useful: the report is neither dismissed, closed nor unfounded."""
    return report.status not in FINAL


async def add_detail(svc: Services, report: Report, text: str) -> bool:
    """The reporter's detail joins the report's history and reaches whoever handles it
    now; False if the report was closed (or dismissed) meanwhile: nothing is stored."""
    async with svc.store.transaction():
        current = await svc.store.reports.get(report.id)
        if current is None or not open_for_details(current):
            return False
        await svc.store.reports.note(current.id, DETAIL_EVENT, current.reporter_id, text)
        await svc.store.outbox.enqueue(await detail_messages(svc, current, text))
        await svc.store.audit.record(current.reporter_id, "report.detail_added",
                                     ref_of(current.id))
    svc.outbox.wake()
    return True


async def relay_overdue(svc: Services) -> int:
    """Reports no referent looked at in time go on, marked untriaged."""
    overdue = await svc.store.reports.triage_due(time.time())
    for report in overdue:
        await relay(svc, report, None)
    return len(overdue)


async def tell_staff_of_failed_relay(svc: Services, row: OutboxRow, reason: str) -> None:
    """A relay the liaison (or an official) refused must not go unnoticed."""
    report_id = report_id_in(row.ref)
    if row.purpose not in RELAY_PURPOSES or report_id is None:
        return
    roles = svc.roles
    for user_id in dict.fromkeys([*roles.officials, *roles.admins]):
        if user_id == row.chat_id:
            continue
        language = await language_of(svc, user_id)
        await svc.outbox.send(html_message(
            user_id, i18n.t(language, "reports.relay_failed", ref=report_id,
                            chat=row.chat_id, reason=escape(reason)),
            Purpose.RELAY_FAILURE, row.ref, dedupe_key=f"relay-failure:{row.id}:{user_id}"))
