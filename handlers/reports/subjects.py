"""What a report handler acts on, loaded by its guard (core.turn.guarded) from our own
records: never from what the button or the message claims."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from core.turn import Turn
from handlers.reports.buttons import (
    AskContact,
    ContactReply,
    Dismiss,
    SetStatus,
    Triage,
    WarnSector,
)
from handlers.reports.cards import report_id_in
from storage import OutboxRow, Report
from storage.statuses import Purpose

OnReport = TypeVar("OnReport", Triage, Dismiss, SetStatus, WarnSector, AskContact, ContactReply)


def report_of(kind: type[OnReport]) -> Callable[[Turn], Awaitable[Report | None]]:
    """The report a button of `kind` names, or None (forged or purged id: a stale button)."""

    async def load(turn: Turn) -> Report | None:
        return await turn.svc.store.reports.get(turn.button(kind).report_id)

    load.__name__ = f"report_of_{kind.__name__}"
    return load


async def replied_row(turn: Turn) -> OutboxRow | None:
    """The outbox row that became the bot message being answered."""
    replied = turn.message.reply_to_message if turn.message else None
    if replied is None:
        return None
    return await turn.svc.store.outbox.sent_as(replied.chat.id, replied.message_id)


async def _report_behind(turn: Turn, purpose: Purpose) -> Report | None:
    row = await replied_row(turn)
    report_id = report_id_in(row.ref) if row is not None else None
    if row is None or report_id is None or row.purpose != purpose:
        return None
    return await turn.svc.store.reports.get(report_id)


async def answered_question(turn: Turn) -> Report | None:
    """The report whose reporter is answering a referent's question."""
    return await _report_behind(turn, Purpose.PRECISION_REQUEST)


async def answered_card(turn: Turn) -> Report | None:
    """The report whose relayed card the liaison is commenting on."""
    return await _report_behind(turn, Purpose.RELAY_CARD)
