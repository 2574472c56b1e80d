"""The sector's referents sort what residents send: forward it to the gendarmerie, ask
the reporter a detail, or dismiss it with a reason the reporter is told. A report no
referent looked at in time goes on by itself, marked untriaged (`sweep_triage`)."""

from __future__ import annotations

import time
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from core import logs
from core.permissions import Action
from core.services import Services, VigieContext
from core.turn import Turn, guarded
from handlers.reports import domain
from handlers.reports.buttons import Dismiss, DismissReason, Triage, TriageDecision
from handlers.reports.cards import refresh_triage_cards
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
        moved = await domain.relay(turn.svc, report, turn.actor.user_id)
        await refresh(turn.svc, moved or await turn.svc.store.reports.get(report.id))
        if moved is None:
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
    moved = await domain.dismiss(turn.svc, report, turn.actor.user_id, reason)
    await refresh(turn.svc, moved or await turn.svc.store.reports.get(report.id))
    if moved is None:
        await turn.answer("reports.already_handled", alert=True)
        return
    await turn.answer()
    await turn.reply("reports.dismissed", id=report.id)


async def refresh(svc: Services, report: Report | None) -> None:
    """Every referent's card of the report edited to its current state (a stale card
    pressed again is refreshed too): its buttons are those that still apply."""
    if report is not None:
        edits = await refresh_triage_cards(svc, report)
        if edits:
            await svc.outbox.send(*edits)


async def sweep_triage(svc: Services, context: object) -> None:
    """A JobQueue job: relay the reports whose triage time is over."""
    relayed = 0
    for report in await svc.store.reports.triage_due(time.time()):
        moved = await domain.relay(svc, report, None)
        if moved is not None:
            relayed += 1
            await refresh(svc, moved)
    if relayed:
        log.info("reports.relayed_untriaged", count=relayed)


def handlers() -> list[BaseHandler[Update, VigieContext, Any]]:
    return [CallbackQueryHandler(triage, pattern=Triage.pattern()),
            CallbackQueryHandler(dismiss, pattern=Dismiss.pattern())]
