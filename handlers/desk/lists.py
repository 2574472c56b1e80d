"""The desk's three lists, a page at a time: what the message says and which buttons it has.

A person is shown as a link labelled with the name Telegram gives now (`core.notify`),
never a stored name. Referents see their own sectors, officials and admins every sector;
each action button is offered only if `permissions.check` would allow it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from core.buttons import Button
from core.notify import mentions_now
from core.permissions import Action, check
from core.turn import Turn
from handlers.desk.buttons import (
    DeskExclude,
    DeskJoin,
    DeskReinstate,
    DeskRemind,
    ExcludedPage,
    ExcludeStep,
    MembersPage,
    RequestsPage,
)
from handlers.enrolment.buttons import Decision
from storage import Sector

PAGE_SIZE = 8
Screen = tuple[str, InlineKeyboardMarkup | None]


def scope(turn: Turn) -> list[int] | None:
    """The sectors this person's lists cover: None for every sector (the staff)."""
    return None if turn.actor.is_staff else sorted(turn.actor.referent_of)


def _button(label: str, button: Button) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=button.pack())


def _date(turn: Turn, at: float | None) -> str:
    if at is None:
        return turn.t("desk.since_unknown")
    zone = ZoneInfo(turn.svc.settings.commune.timezone)
    return datetime.fromtimestamp(at, zone).strftime(turn.t("desk.date_format"))


async def _sectors(turn: Turn) -> dict[int, Sector]:
    return {sector.id: sector for sector in await turn.svc.store.sectors.active()}


def _sector_name(turn: Turn, sectors: dict[int, Sector], sector_id: int | None) -> str:
    sector = sectors.get(sector_id) if sector_id is not None else None
    return escape(sector.name) if sector else turn.t("desk.sector_unknown")


def _chat_of(sectors: dict[int, Sector], sector_id: int | None) -> int | None:
    sector = sectors.get(sector_id) if sector_id is not None else None
    return sector.chat_id if sector else None


def _paging(turn: Turn, page: int, shown: int, total: int, kind: Callable[[int], Button]
            ) -> list[InlineKeyboardButton]:
    row = []
    if page > 0:
        row.append(_button(turn.t("desk.previous"), kind(page - 1)))
    row.append(_button(turn.t("desk.refresh"), kind(page)))
    if page * PAGE_SIZE + shown < total:
        row.append(_button(turn.t("desk.next"), kind(page + 1)))
    return row


def _title(turn: Turn, key: str, page: int, shown: int, total: int) -> str:
    first = page * PAGE_SIZE + 1
    return turn.t(key, page=turn.t("desk.page", first=first, last=first + shown - 1,
                                   total=total))


Query = Callable[[Sequence[int] | None, int, int], Awaitable[tuple[list[Any], int]]]


async def _fetch(turn: Turn, query: Query, page: int) -> tuple[list[Any], int, int]:
    """A page of rows; past the end (the list got shorter), the last page instead."""
    rows, total = await query(scope(turn), max(page, 0) * PAGE_SIZE, PAGE_SIZE)
    if not rows and total > 0:
        page = (total - 1) // PAGE_SIZE
        rows, total = await query(scope(turn), page * PAGE_SIZE, PAGE_SIZE)
    return rows, total, max(page, 0) if rows else 0


async def requests_screen(turn: Turn, page: int) -> Screen:
    rows, total, page = await _fetch(turn, turn.svc.store.desk.pending_requests, page)
    if not rows:
        return turn.t("desk.requests_empty"), None
    sectors = await _sectors(turn)
    names = await mentions_now(turn.context.bot, [(r.request.user_id, r.request.chat_id)
                                                  for r in rows], turn.language)
    lines = [_title(turn, "desk.requests_title", page, len(rows), total), ""]
    keyboard = []
    for n, row in enumerate(rows, page * PAGE_SIZE + 1):
        request = row.request
        lines.append(turn.t("desk.request_line", n=n, person=names[request.user_id],
                            sector=_sector_name(turn, sectors, request.sector_id),
                            date=_date(turn, row.requested_at)))
        if check(turn.actor, Action.DECIDE_JOIN, turn.place, request.sector_id):
            keyboard.append([
                _button(turn.t("desk.approve_button", n=n),
                        DeskJoin(request.id, Decision.APPROVE, page)),
                _button(turn.t("desk.decline_button", n=n),
                        DeskJoin(request.id, Decision.DECLINE, page))])
    keyboard.append(_paging(turn, page, len(rows), total, RequestsPage))
    return "\n".join(lines), InlineKeyboardMarkup(keyboard)


async def members_screen(turn: Turn, page: int) -> Screen:
    rows, total, page = await _fetch(turn, turn.svc.store.desk.members, page)
    if not rows:
        return turn.t("desk.members_empty"), None
    sectors = await _sectors(turn)
    names = await mentions_now(turn.context.bot, [(r.user_id, _chat_of(sectors, r.sector_id))
                                                  for r in rows], turn.language)
    lines = [_title(turn, "desk.members_title", page, len(rows), total), ""]
    keyboard = []
    for n, row in enumerate(rows, page * PAGE_SIZE + 1):
        charter = (turn.t("desk.charter_version", version=row.charter_version)
                   if row.charter_version else turn.t("desk.charter_none"))
        lines.append(turn.t("desk.member_line", n=n, person=names[row.user_id],
                            sector=_sector_name(turn, sectors, row.sector_id),
                            since=_date(turn, row.since), charter=charter,
                            strikes=row.strikes))
        buttons = []
        if check(turn.actor, Action.REMIND_MEMBER, turn.place, row.sector_id):
            buttons.append(_button(turn.t("desk.remind_button", n=n),
                                   DeskRemind(row.user_id, row.sector_id, page)))
        if check(turn.actor, Action.EXCLUDE, turn.place, row.sector_id):
            buttons.append(_button(turn.t("desk.exclude_button", n=n),
                                   DeskExclude(row.user_id, row.sector_id, ExcludeStep.ASK,
                                               page)))
        if buttons:
            keyboard.append(buttons)
    keyboard.append(_paging(turn, page, len(rows), total, MembersPage))
    return "\n".join(lines), InlineKeyboardMarkup(keyboard)


async def excluded_screen(turn: Turn, page: int) -> Screen:
    rows, total, page = await _fetch(turn, turn.svc.store.desk.excluded, page)
    if not rows:
        return turn.t("desk.excluded_empty"), None
    sectors = await _sectors(turn)
    names = await mentions_now(turn.context.bot, [(r.user_id, None) for r in rows],
                               turn.language)
    lines = [_title(turn, "desk.excluded_title", page, len(rows), total), ""]
    keyboard = []
    for n, row in enumerate(rows, page * PAGE_SIZE + 1):
        lines.append(turn.t("desk.excluded_line", n=n, person=names[row.user_id],
                            sector=_sector_name(turn, sectors, row.sector_id),
                            date=_date(turn, row.since)))
        if check(turn.actor, Action.REINSTATE, turn.place, row.sector_id):
            keyboard.append([_button(turn.t("desk.reinstate_button", n=n),
                                     DeskReinstate(row.user_id, page))])
    keyboard.append(_paging(turn, page, len(rows), total, ExcludedPage))
    return "\n".join(lines), InlineKeyboardMarkup(keyboard)
