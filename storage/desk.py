"""The staff's desk: the referents' and officials' lists of people, a page at a time.

Ids, dates and counts only: a person's name is never stored, it is asked from Telegram
when a list is shown (core/notify.py). `sector_ids=None` means every sector (officials).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from storage.db import Database
from storage.enrolment import JoinRequest
from storage.statuses import PersonStatus, RequestStatus


@dataclass(frozen=True)
class PendingRequest:
    request: JoinRequest
    requested_at: float


@dataclass(frozen=True)
class MemberLine:
    user_id: int
    sector_id: int
    since: float | None
    charter_version: int | None
    strikes: int  # live ones: not cancelled, not expired


@dataclass(frozen=True)
class ExcludedLine:
    user_id: int
    sector_id: int | None  # the sector they were excluded from, when known
    since: float


def _within(column: str, sector_ids: Sequence[int] | None) -> tuple[str, tuple[Any, ...]]:
    """A WHERE fragment restricting `column` to these sectors (none: no restriction)."""
    if sector_ids is None:
        return "1 = 1", ()
    if not sector_ids:
        return "0 = 1", ()
    return f"{column} IN ({', '.join('?' * len(sector_ids))})", tuple(sector_ids)


class Desk:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _count(self, sql: str, params: tuple[Any, ...]) -> int:
        row = await self.db.fetch_one(sql, params)
        return int(row[0]) if row else 0

    async def pending_requests(self, sector_ids: Sequence[int] | None, offset: int,
                               limit: int) -> tuple[list[PendingRequest], int]:
        """Join requests awaiting a decision, oldest first, and how many in all."""
        where, params = _within("sector_id", sector_ids)
        where = f"status = ? AND {where}"
        params = (RequestStatus.PENDING, *params)
        rows = await self.db.fetch_all(
            "SELECT id, user_id, chat_id, sector_id, status, requested_at FROM join_requests"
            f" WHERE {where} ORDER BY requested_at, id LIMIT ? OFFSET ?",
            (*params, limit, offset))
        total = await self._count(f"SELECT COUNT(*) FROM join_requests WHERE {where}", params)
        return [PendingRequest(JoinRequest(int(r[0]), int(r[1]), int(r[2]), int(r[3]),
                                           RequestStatus(r[4])), float(r[5]))
                for r in rows], total

    async def members(self, sector_ids: Sequence[int] | None, offset: int, limit: int
                      ) -> tuple[list[MemberLine], int]:
        """Enrolled members, by sector then seniority, with their charter and strikes."""
        where, params = _within("p.sector_id", sector_ids)
        where = f"p.status = ? AND {where}"
        params = (PersonStatus.ENROLLED, *params)
        rows = await self.db.fetch_all(
            "SELECT p.user_id, p.sector_id, p.enrolled_at,"
            " (SELECT MAX(version) FROM charter_acceptances c WHERE c.user_id = p.user_id),"
            " (SELECT COUNT(*) FROM strikes s WHERE s.user_id = p.user_id"
            "  AND s.cancelled = 0 AND s.expires_at > ?)"
            f" FROM people p WHERE {where}"
            " ORDER BY p.sector_id, p.enrolled_at IS NULL, p.enrolled_at, p.user_id"
            " LIMIT ? OFFSET ?",
            (time.time(), *params, limit, offset))
        total = await self._count(f"SELECT COUNT(*) FROM people p WHERE {where}", params)
        return [MemberLine(int(r[0]), int(r[1]), r[2], r[3], int(r[4])) for r in rows], total

    async def excluded(self, sector_ids: Sequence[int] | None, offset: int, limit: int
                       ) -> tuple[list[ExcludedLine], int]:
        """Excluded people, the latest first (referents: those excluded from their sectors)."""
        where, params = _within("excluded_from", sector_ids)
        where = f"status = ? AND {where}"
        params = (PersonStatus.EXCLUDED, *params)
        rows = await self.db.fetch_all(
            f"SELECT user_id, excluded_from, updated_at FROM people WHERE {where}"
            " ORDER BY updated_at DESC, user_id LIMIT ? OFFSET ?", (*params, limit, offset))
        total = await self._count(f"SELECT COUNT(*) FROM people WHERE {where}", params)
        return [ExcludedLine(int(r[0]), r[1], float(r[2])) for r in rows], total
