"""The figures behind /stats, the annual report and the export: counts, never identities.

Every query takes a time window [start, end) in Unix seconds and an optional set of sector
ids (a referent sees their own sectors only; None is the whole commune). Nothing here reads
a reporter id, a description, a place or a photo.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field

from storage.db import Database
from storage.statuses import PersonStatus, ReportStatus

Scope = frozenset[int] | None
# The longest time slice one figures query reads: a month of a busy commune's reports
# (about 28,000 at a million over three years) keeps each hold of the store's lock short.
CHUNK_SECONDS = 31 * 86400.0
# The export reads whole rows: a week per read (a month held the lock 208 ms at 1,000,000).
EXPORT_CHUNK_SECONDS = 7 * 86400.0
# The hot queries, read from the covering index `reports_by_created` alone (their plans are
# checked in tests/test_dashboard.py); {where} is the scope's `AND sector_id IN (…)`.
# "+": the scope filters the index's entries; without it the planner prefers the sector
# index (an equality) and reads three years of the sector, then sorts.
SCOPE_COLUMN = "+sector_id"
STATUS_SQL = ("SELECT COUNT(*), COUNT(relayed_at), COUNT(relayed_at) FILTER"
              " (WHERE untriaged = 1)" + "".join(
                  ", COUNT(*) FILTER (WHERE status = ?)" for _ in ReportStatus)
              + " FROM reports WHERE created_at >= ? AND created_at < ?{where}")
CELLS_SQL = ("SELECT cell.value ->> 0, cell.value ->> 1, (SELECT COUNT(*) FROM reports r"
             "  WHERE r.sector_id = cell.value ->> 0 AND r.category = cell.value ->> 1"
             "  AND r.created_at >= ? AND r.created_at < ?) FROM json_each(?) AS cell")
GROUPED_SQL = ("SELECT sector_id, category, COUNT(*) FROM reports"
               " WHERE created_at >= ? AND created_at < ?{where} GROUP BY sector_id, category")
# One JSON array per slice: one value crosses the thread, not one Row per report.
DELAYS_SQL = ("SELECT json_group_array(MAX(0.0, answered_at - relayed_at)) FROM reports"
              " WHERE created_at >= ? AND created_at < ?{where}"
              " AND relayed_at IS NOT NULL AND answered_at IS NOT NULL")
ROWS_SQL = ("SELECT id, created_at, sector_id, category, occurred, status, untriaged,"
            " similar_to IS NOT NULL, relayed_at, answered_at"
            " FROM reports WHERE created_at >= ? AND created_at < ?{where}"
            " ORDER BY created_at, id")


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


@dataclass
class ReportTally:
    """The counts of a window's reports, grouped in SQL."""

    by_sector: Counter[int | None] = field(default_factory=Counter)
    by_category: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    relayed: int = 0  # reached the gendarmerie
    untriaged: int = 0  # of those, relayed without a referent's look
    answer_delays: list[float] = field(default_factory=list)  # relay → the liaison's answer


def _slices(start: float, end: float, span: float = CHUNK_SECONDS
            ) -> Iterator[tuple[float, float]]:
    """[start, end) cut into consecutive slices of at most `span` seconds."""
    low = start
    while low < end:
        high = min(end, low + span)
        yield low, high
        low = high


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

    async def tally(self, start: float, end: float, scope: Scope,
                    categories: Sequence[str] = ()) -> ReportTally:
        """The counts of /stats and the annual report, in SQL, one time slice (CHUNK_SECONDS)
        per query so that no query holds the store's lock long, whatever the period.

        No query sorts: statuses, relays and the total are sums over one range of the
        covering index `reports_by_created`; sectors × `categories` are counted by seeks
        of `reports_by_sector`; a slice whose reports these miss (no sector any more, a
        category no longer offered) is grouped the plain way (GROUP BY), rarely."""
        where, ids = _within(SCOPE_COLUMN, scope)
        sector_ids = [row[0] for row in await self.db.fetch_all(
            "SELECT id FROM sectors" + (f" WHERE id IN ({', '.join('?' * len(ids))})"
                                        if scope is not None else ""), ids)]
        pairs = json.dumps([[sector, category] for sector in sector_ids
                            for category in categories])
        tally = ReportTally()
        for low, high in _slices(start, end):
            await self._count_slice(tally, low, high, where, ids, pairs if categories else None)
        for counts in (tally.by_sector, tally.by_category):
            for key in [key for key, count in counts.items() if not count]:
                del counts[key]
        return tally

    async def _count_slice(self, tally: ReportTally, low: float, high: float, where: str,
                           ids: tuple[int, ...], pairs: str | None) -> None:
        statuses = tuple(ReportStatus)
        row = await self.db.fetch_one(STATUS_SQL.format(where=where),
                                      (*statuses, low, high, *ids))
        if row is None or not row[0]:
            return
        total, relayed, untriaged, *by_status = row
        tally.relayed += relayed
        tally.untriaged += untriaged
        for status, count in zip(statuses, by_status, strict=True):
            if count:
                tally.by_status[status] += count
        cells = await self.db.fetch_all(CELLS_SQL, (low, high, pairs)) if pairs else []
        if sum(cell[2] for cell in cells) != total:  # reports no seek found: group them
            cells = await self.db.fetch_all(GROUPED_SQL.format(where=where), (low, high, *ids))
        for sector_id, category, count in cells:
            tally.by_sector[sector_id] += count
            tally.by_category[category] += count
        delays = await self.db.fetch_one(DELAYS_SQL.format(where=where), (low, high, *ids))
        if delays is not None:
            tally.answer_delays += json.loads(delays[0])

    async def report_rows(self, start: float, end: float, scope: Scope
                          ) -> AsyncIterator[list[ReportFacts]]:
        """The export's rows in date order, one time slice at a time (never the whole
        period in memory), read from the covering index alone."""
        where, ids = _within(SCOPE_COLUMN, scope)
        for low, high in _slices(start, end, EXPORT_CHUNK_SECONDS):
            rows = await self.db.fetch_all(ROWS_SQL.format(where=where), (low, high, *ids))
            if rows:
                yield [ReportFacts(row[0], row[1], row[2], row[3], row[4], row[5],
                                   bool(row[6]), bool(row[7]), row[8], row[9])
                       for row in rows]

    async def reports(self, start: float, end: float, scope: Scope) -> list[ReportFacts]:
        """Every report of the window at once: for small windows and tests."""
        return [fact async for rows in self.report_rows(start, end, scope) for fact in rows]

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
