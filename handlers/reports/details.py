"""A detail the reporter adds after sending: /mes_signalements offers, on each report still
open, "Ajouter une précision"; the next text is screened like a report's description and
reaches whoever handles the report now (domain.add_detail). A short conversation, kept
across restarts like the wizard; /annuler leaves it."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from core.commands import command
from core.drafts import key_of
from core.permissions import Action
from core.screening import screen, sounds_like_emergency
from core.services import VigieContext
from core.turn import Turn, guarded
from handlers.common import cancel_conversation
from handlers.reports import domain
from handlers.reports.buttons import AddDetail
from handlers.reports.draft import DetailDraft
from handlers.reports.subjects import detail_target, report_of
from handlers.reports.wizard import TIMEOUT
from storage import Report

DETAIL = 0
KEY = key_of(DetailDraft)


def _forget(turn: Turn) -> None:
    if turn.context.user_data is not None:
        turn.context.user_data.pop(KEY, None)


@guarded(Action.ADD_DETAIL, subject=report_of(AddDetail))
async def ask_detail(turn: Turn) -> int:
    report: Report = turn.subject
    await turn.answer()
    if not domain.open_for_details(report):
        await turn.reply("reports.detail.closed", id=report.id,
                         status=turn.t(f"reports.status.{report.status}"))
        return ConversationHandler.END
    if turn.context.user_data is not None:
        turn.context.user_data[KEY] = DetailDraft(report.id)
    await turn.reply("reports.detail.ask", id=report.id,
                     limit=turn.svc.settings.reports.description_max)
    return DETAIL


@guarded(Action.ADD_DETAIL, subject=detail_target)
async def take_detail(turn: Turn) -> int:
    report: Report = turn.subject
    text = turn.text.strip()
    limit = turn.svc.settings.reports.description_max
    if not text:
        await turn.reply("reports.detail.ask", id=report.id, limit=limit)
        return DETAIL
    if len(text) > limit:
        await turn.reply("reports.detail.too_long", limit=limit, length=len(text))
        return DETAIL
    flags = screen(text)
    if flags:  # facts, not people: refused, the resident rewrites it
        listed = ", ".join(turn.t(f"reports.flag.{flag}") for flag in flags)
        await turn.reply("reports.detail.rephrase", flags=listed)
        return DETAIL
    if sounds_like_emergency(text):
        await turn.reply("reports.emergency_words")
    _forget(turn)
    if not await domain.add_detail(turn.svc, report, text):
        # Closed meanwhile: nothing is stored, and the text is handed back.
        await turn.reply("reports.detail.closed_meanwhile", id=report.id, detail=text)
        return ConversationHandler.END
    await turn.reply("reports.detail.added", id=report.id)
    return ConversationHandler.END


@guarded(Action.ADD_DETAIL, subject=detail_target)
async def not_text(turn: Turn) -> int:
    """A photo, a place, a sticker…: only words are taken here."""
    await turn.reply("reports.detail.text_only")
    return DETAIL


def handlers() -> list[BaseHandler[Update, VigieContext, Any]]:
    private = filters.ChatType.PRIVATE
    return [ConversationHandler(
        entry_points=[CallbackQueryHandler(ask_detail, pattern=AddDetail.pattern())],
        states={DETAIL: [MessageHandler(filters.TEXT & ~filters.COMMAND & private, take_detail),
                         MessageHandler(private & ~filters.COMMAND & ~filters.TEXT, not_text)]},
        fallbacks=[CommandHandler(command(Action.CANCEL).names, cancel_conversation)],
        name="report_detail",
        persistent=True,
        allow_reentry=True,
        conversation_timeout=TIMEOUT,
    )]
