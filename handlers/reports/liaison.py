"""The gendarmerie liaison's side of a relayed report: its status (which the reporter,
the triaging referent and every copy of the card see), a cleaned warning to the sector,
a request to contact the reporter (who stays anonymous unless they agree), reopening a
closed report with a reason, and replies to the bot's messages: the liaison's comment on a
card or reason for reopening, the reporter's answer to a referent's question."""

from __future__ import annotations

from typing import Any

from telegram import Message, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, MessageHandler, filters

from core.permissions import Action, ChatKind
from core.screening import screen
from core.services import VigieApp, VigieContext
from core.turn import Turn, guarded
from handlers.reports import domain
from handlers.reports.buttons import (
    AskContact,
    ContactAnswer,
    ContactReply,
    Reopen,
    SetStatus,
    WarnSector,
)
from handlers.reports.subjects import (
    answered_card,
    answered_question,
    answered_reopen_question,
    replied_row,
    report_of,
)
from storage import Report
from storage.statuses import Purpose


@guarded(Action.SET_REPORT_STATUS, subject=report_of(SetStatus))
async def set_status(turn: Turn) -> None:
    report: Report = turn.subject
    choice = turn.button(SetStatus).status
    if await domain.set_status(turn.svc, report, choice, turn.actor.user_id) is None:
        await turn.answer("reports.status_not_allowed", alert=True,
                          status=turn.t(f"reports.status.{report.status}"))
        return
    await turn.answer("reports.status_recorded", status=turn.t(f"reports.status.{choice}"))


async def acknowledge(turn: Turn, done: bool, done_key: str, refused_key: str) -> None:
    """A toast when the button did its work, an alert saying why when it could not."""
    await turn.answer(done_key if done else refused_key, alert=not done)


@guarded(Action.WARN_SECTOR, subject=report_of(WarnSector))
async def warn_sector(turn: Turn) -> None:
    done = await domain.warn_sector(turn.svc, turn.subject, turn.actor.user_id)
    await acknowledge(turn, done, "reports.sector_warned", "reports.sector_not_warned")


@guarded(Action.ASK_CONTACT, subject=report_of(AskContact))
async def ask_contact(turn: Turn) -> None:
    done = await domain.ask_contact(turn.svc, turn.subject, turn.actor.user_id)
    await acknowledge(turn, done, "reports.contact_asked", "reports.contact_not_possible")


@guarded(Action.REPORTER_ANSWER, subject=report_of(ContactReply))
async def answer_contact(turn: Turn) -> None:
    report: Report = turn.subject
    accept = turn.button(ContactReply).answer is ContactAnswer.YES
    await turn.answer()
    if not await domain.answer_contact(turn.svc, report, accept):
        await turn.reply("reports.already_answered")
        return
    await turn.reply("reports.contact_shared" if accept else "reports.contact_kept_private")


class ReplyToBot(filters.MessageFilter):
    """A message answering one of the bot's own messages."""

    def __init__(self, app: VigieApp) -> None:
        super().__init__()
        self.app = app

    def filter(self, message: Message) -> bool:
        replied = message.reply_to_message
        return bool(replied and replied.from_user and replied.from_user.id == self.app.bot.id)


async def answer_to_bot(update: Update, context: VigieContext) -> None:
    """A reply to the bot: the reporter's precision, or the liaison's comment on a card."""
    turn = await Turn.build(update, context)
    row = await replied_row(turn)
    purpose = row.purpose if row else None
    if purpose == Purpose.PRECISION_REQUEST:
        await add_precision(update, context)
    elif purpose == Purpose.REOPEN_REQUEST:
        await reopen_reason(update, context)
    elif purpose == Purpose.RELAY_CARD:
        await liaison_comment(update, context)
    elif turn.place.kind is ChatKind.PRIVATE:
        await turn.reply("fallback.text")


async def too_long(turn: Turn, text: str) -> bool:
    """A reply longer than the reports' limit is refused whole, never cut: the person is
    told the limit and replies again."""
    limit = turn.svc.settings.reports.description_max
    if len(text) <= limit:
        return False
    await turn.reply("reports.reply_too_long", limit=limit, length=len(text))
    return True


@guarded(Action.REPORTER_ANSWER, subject=answered_question)
async def add_precision(turn: Turn) -> None:
    report: Report = turn.subject
    text = turn.text.strip()
    if await too_long(turn, text):
        return
    flags = ",".join(screen(text)) or None
    if await domain.add_precision(turn.svc, report, text, flags):
        await turn.reply("reports.precision_added", id=report.id)
    else:
        await turn.reply("reports.already_handled")


@guarded(Action.SET_REPORT_STATUS, subject=answered_card)
async def liaison_comment(turn: Turn) -> None:
    report: Report = turn.subject
    text = turn.text.strip()
    if await too_long(turn, text):
        return
    await domain.comment(turn.svc, report, text, turn.actor.user_id)
    await turn.reply("reports.comment_sent", id=report.id)


@guarded(Action.REOPEN_REPORT, subject=report_of(Reopen))
async def reopen(turn: Turn) -> None:
    """Rouvrir, on the liaison's card of a closed report: the reason is asked next."""
    report: Report = turn.subject
    if not domain.reopenable(report):
        await turn.answer("reports.reopen.not_closed", alert=True,
                          status=turn.t(f"reports.status.{report.status}"))
        return
    query = turn.update.callback_query
    card = query.message.message_id if query and query.message else None
    asked = await domain.ask_reopen_reason(turn.svc, report, turn.place.chat_id, card,
                                           turn.actor.user_id)
    await turn.answer("reports.reopen.asked" if asked else "reports.reopen.asked_already",
                      id=report.id)


@guarded(Action.REOPEN_REPORT, subject=answered_reopen_question)
async def reopen_reason(turn: Turn) -> None:
    """The liaison's reason, as a reply to the question: the report is reopened once."""
    report: Report = turn.subject
    reason = turn.text.strip()
    limit = turn.svc.settings.reports.description_max
    if not reason:
        await turn.reply("reports.reopen.reason_empty", id=report.id)
        return
    if len(reason) > limit:
        await turn.reply("reports.reopen.reason_too_long", limit=limit, length=len(reason))
        return
    if await domain.reopen(turn.svc, report, reason, turn.actor.user_id) is None:
        current = await turn.svc.store.reports.get(report.id) or report
        await turn.reply("reports.reopen.not_closed",
                         status=turn.t(f"reports.status.{current.status}"))
        return
    await turn.reply("reports.reopen.done", id=report.id)


def handlers(app: VigieApp) -> list[BaseHandler[Update, VigieContext, Any]]:
    return [
        MessageHandler(filters.REPLY & filters.TEXT & ~filters.COMMAND & ReplyToBot(app),
                       answer_to_bot),
        CallbackQueryHandler(set_status, pattern=SetStatus.pattern()),
        CallbackQueryHandler(warn_sector, pattern=WarnSector.pattern()),
        CallbackQueryHandler(ask_contact, pattern=AskContact.pattern()),
        CallbackQueryHandler(answer_contact, pattern=ContactReply.pattern()),
        CallbackQueryHandler(reopen, pattern=Reopen.pattern()),
    ]
