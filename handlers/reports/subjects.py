"""What a report handler acts on, loaded by its guard (core.turn.guarded) from our own
records: never from what the button or the message claims."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from core.drafts import key_of
from core.turn import Turn
from handlers.reports.buttons import (
    AddDetail,
    AskContact,
    ContactReply,
    Dismiss,
    Reopen,
    SetStatus,
    Triage,
    WarnSector,
)
from handlers.reports.cards import report_id_in
from handlers.reports.draft import DetailDraft
from storage import OutboxRow, Report
from storage.statuses import Purpose

OnReport = TypeVar("OnReport", Triage, Dismiss, SetStatus, WarnSector, AskContact, ContactReply,
                   Reopen, AddDetail)


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
    row = await turn.svc.store.outbox.sent_as(replied.chat.id, replied.message_id)
    # A card edited since (its status changed) shares its message id with the edit's row,
    # which names the card it edits: the card is what is being answered.
    source = row.payload.get("message_id_of") if row is not None else None
    if isinstance(source, int):
        return await turn.svc.store.outbox.get(source) or row
    return row


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


async def answered_reopen_question(turn: Turn) -> Report | None:
    """The report whose reopening the liaison is giving the reason for."""
    return await _report_behind(turn, Purpose.REOPEN_REQUEST)


async def detail_target(turn: Turn) -> Report | None:
    """The report the reporter is writing a detail for (named by their draft, which only
    the AddDetail button of their own report starts)."""
    found = (turn.context.user_data or {}).get(key_of(DetailDraft))
    if not isinstance(found, DetailDraft):
        return None
    return await turn.svc.store.reports.get(found.report_id)
