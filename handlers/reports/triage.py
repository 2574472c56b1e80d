"""The sector's referents sort what residents send: forward it to the gendarmerie, ask
the reporter a detail, or dismiss it with a reason the reporter is told. A report no
referent looked at in time goes on by itself, marked untriaged (`sweep_triage`)."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from core import logs
from core.permissions import Action
from core.services import Services, VigieContext
from core.turn import Turn, guarded
from handlers.reports import domain
from handlers.reports.buttons import Dismiss, DismissReason, Triage, TriageDecision
from handlers.reports.subjects import report_of
from storage import Report

log = logs.get("handlers.reports.triage")


@guarded(Action.TRIAGE_REPORT, subject=report_of(Triage))
async def triage(turn: Turn) -> None:
    report: Report = turn.subject
    decision = turn.button(Triage).decision
    if decision is TriageDecision.ASK:
        if not await domain.ask_precision(turn.svc, report, turn.actor.user_id):
            await turn.answer("reports.already_handled", alert=True)
            return
        await turn.answer("reports.precision_asked")
        return
    if decision is TriageDecision.FORWARD:
        if await domain.relay(turn.svc, report, turn.actor.user_id) is None:
            await turn.answer("reports.already_handled", alert=True)
            return
        await turn.answer()
        await turn.reply("reports.forwarded", id=report.id)
        return
    await turn.answer()
    await turn.reply("reports.ask_reason", InlineKeyboardMarkup(
        [[InlineKeyboardButton(turn.t(f"reports.reason.{reason}"),
                               callback_data=Dismiss(report.id, reason).pack())]
         for reason in DismissReason]), id=report.id)


@guarded(Action.TRIAGE_REPORT, subject=report_of(Dismiss))
async def dismiss(turn: Turn) -> None:
    report: Report = turn.subject
    reason = turn.button(Dismiss).reason
    if await domain.dismiss(turn.svc, report, turn.actor.user_id, reason) is None:
        await turn.answer("reports.already_handled", alert=True)
        return
    await turn.answer()
    await turn.reply("reports.dismissed", id=report.id)


async def sweep_triage(svc: Services, context: object) -> None:
    """A JobQueue job: relay the reports whose triage time is over."""
    relayed = await domain.relay_overdue(svc)
    if relayed:
        log.info("reports.relayed_untriaged", count=relayed)


def handlers() -> list[BaseHandler[Update, VigieContext, Any]]:
    return [CallbackQueryHandler(triage, pattern=Triage.pattern()),
            CallbackQueryHandler(dismiss, pattern=Dismiss.pattern())]
