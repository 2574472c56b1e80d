"""The figures behind /stats, the annual report and the export: counts, never identities.

Every query takes a time window [start, end) in Unix seconds and an optional set of sector
ids (a referent sees their own sectors only; None is the whole commune). Nothing here reads
a reporter id, a description, a place or a photo.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from storage.db import Database
from storage.reports import LIAISON_STATUSES
from storage.statuses import PersonStatus, ReportStatus

Scope = frozenset[int] | None


@dataclass(frozen=True)
class ReportFacts:
    """One report as the figures need it: no reporter, no text, no place."""

    id: int
    created_at: float
    sector_id: int | None
    category: str
    occurred: str
    status: str
    untriaged: bool
    grouped: bool
    relayed_at: float | None  # first time it reached the gendarmerie
    answered_at: float | None  # the liaison's first status after that


def _within(column: str, scope: Scope) -> tuple[str, tuple[int, ...]]:
    """`AND column IN (?, …)` for a scope; nothing for the whole commune."""
    if scope is None:
        return "", ()
    ids = tuple(sorted(scope))
    return f" AND {column} IN ({', '.join('?' * len(ids))})", ids


def _sector_ids(text: str | None) -> set[int]:
    """A broadcast's target sectors, however the list is written ("[1, 2]" or "1,2")."""
    return {int(found) for found in re.findall(r"\d+", text or "")}


class Stats:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def reports(self, start: float, end: float, scope: Scope) -> list[ReportFacts]:
        where, ids = _within("r.sector_id", scope)
        answers = ", ".join("?" * len(LIAISON_STATUSES))
        rows = await self.db.fetch_all(
            "SELECT r.id, r.created_at, r.sector_id, r.category, r.occurred, r.status,"
            " r.untriaged, r.similar_to IS NOT NULL,"
            " (SELECT MIN(e.at) FROM report_events e WHERE e.report_id = r.id"
            "  AND e.status = ?) AS relayed_at,"
            " (SELECT MIN(e.at) FROM report_events e WHERE e.report_id = r.id"
            f"  AND e.status IN ({answers})) AS answered_at"
            f" FROM reports r WHERE r.created_at >= ? AND r.created_at < ?{where}"
            " ORDER BY r.created_at, r.id",
            (ReportStatus.RELAYED, *LIAISON_STATUSES, start, end, *ids),
        )
        return [ReportFacts(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]),
                            bool(row[7]), row[8], row[9]) for row in rows]

    async def sector_names(self) -> dict[int, str]:
        """Every sector, retired ones included: old reports still point at them."""
        rows = await self.db.fetch_all("SELECT id, name FROM sectors ORDER BY name")
        return {row[0]: row[1] for row in rows}

    async def active_sectors(self, scope: Scope) -> list[int]:
        where, ids = _within("id", scope)
        rows = await self.db.fetch_all(
            f"SELECT id FROM sectors WHERE active = 1{where} ORDER BY name", ids)
        return [row[0] for row in rows]

    async def members_by_sector(self, scope: Scope) -> dict[int, int]:
        where, ids = _within("sector_id", scope)
        rows = await self.db.fetch_all(
            "SELECT sector_id, COUNT(*) FROM people WHERE status = ?"
            f" AND sector_id IS NOT NULL{where} GROUP BY sector_id",
            (PersonStatus.ENROLLED, *ids))
        return {row[0]: row[1] for row in rows}

    async def referents_by_sector(self, scope: Scope) -> dict[int, int]:
        where, ids = _within("sector_id", scope)
        rows = await self.db.fetch_all(
            f"SELECT sector_id, COUNT(*) FROM referents WHERE 1 = 1{where} GROUP BY sector_id",
            ids)
        return {row[0]: row[1] for row in rows}

    async def charter_acceptance(self, version: int, scope: Scope) -> tuple[int, int]:
        """(enrolled members who accepted `version` or later, enrolled members)."""
        where, ids = _within("p.sector_id", scope)
        row = await self.db.fetch_one(
            "SELECT COUNT(*), COALESCE(SUM(EXISTS (SELECT 1 FROM charter_acceptances c"
            "  WHERE c.user_id = p.user_id AND c.version >= ?)), 0)"
            f" FROM people p WHERE p.status = ?{where}",
            (version, PersonStatus.ENROLLED, *ids))
        return (int(row[1]), int(row[0])) if row else (0, 0)

    async def tips_posted(self, start: float, end: float, scope: Scope) -> int:
        where, ids = _within("sector_id", scope)
        row = await self.db.fetch_one(
            f"SELECT COUNT(*) FROM tip_posts WHERE posted_at >= ? AND posted_at < ?{where}",
            (start, end, *ids))
        return int(row[0]) if row else 0

    async def broadcasts(self, start: float, end: float, scope: Scope) -> dict[str, int]:
        """Notices, alerts and polls sent in the window, by kind; for a scope, those that
        went to at least one of its sectors."""
        rows = await self.db.fetch_all(
            "SELECT kind, sector_ids FROM broadcasts WHERE created_at >= ? AND created_at < ?",
            (start, end))
        return dict(Counter(row[0] for row in rows
                            if scope is None or _sector_ids(row[1]) & scope))

    async def first_activity(self) -> float | None:
        """When the bot first recorded anything countable: older years have nothing."""
        row = await self.db.fetch_one(
            "SELECT MIN(at) FROM (SELECT MIN(created_at) AS at FROM reports"
            " UNION ALL SELECT MIN(created_at) FROM broadcasts"
            " UNION ALL SELECT MIN(posted_at) FROM tip_posts"
            " UNION ALL SELECT MIN(created_at) FROM people)")
        return None if row is None else row[0]
