"""The figures behind /stats, the annual report and the export: counts, never identities.

Every query takes a time window [start, end) in Unix seconds and an optional set of sector
ids (a referent sees their own sectors only; None is the whole commune). Nothing here reads
a reporter id, a description, a place or a photo.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storage.db import Database
from storage.statuses import PersonStatus, ReportStatus

Scope = frozenset[int] | None
# The longest time slice one figures query reads: a month of a busy commune's reports
# (about 28,000 at a million over three years) keeps each hold of the store's lock short.
CHUNK_SECONDS = 31 * 86400.0
# Connections of their own the figures read on, side by side (the machine has two cores).
READERS = 2
READ_TIMEOUT = 5.0  # seconds a reader waits on a busy file (WAL recovery), rarely
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
# Plain rows, read on a reader connection (tuples, no Row objects): a fifth quicker than
# one JSON array per slice, whose numbers SQLite formats and Python parses again.
DELAYS_SQL = ("SELECT MAX(0.0, answered_at - relayed_at) FROM reports"
              " WHERE created_at >= ? AND created_at < ?{where}"
              " AND relayed_at IS NOT NULL AND answered_at IS NOT NULL")
COUNT_SQL = "SELECT COUNT(*) FROM reports WHERE created_at >= ? AND created_at < ?{where}"
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


# One slice's raw counts: the STATUS_SQL row, (sector, category, count) cells, delays.
SliceCounts = tuple[tuple[Any, ...], list[tuple[Any, ...]], list[float]]


def _read_slices(path: Path, slices: list[tuple[float, float]], where: str,
                 ids: tuple[int, ...], pairs: str | None) -> list[SliceCounts | None]:
    """Some slices' counts, read in a thread on a read-only connection of its own."""
    with _reader(path) as conn:
        found: list[SliceCounts | None] = []
        for low, high in slices:
            row = conn.execute(STATUS_SQL.format(where=where),
                               (*ReportStatus, low, high, *ids)).fetchone()
            if row is None or not row[0]:
                found.append(None)
                continue
            cells = conn.execute(CELLS_SQL, (low, high, pairs)).fetchall() if pairs else []
            if sum(cell[2] for cell in cells) != row[0]:  # reports no seek found: group them
                cells = conn.execute(GROUPED_SQL.format(where=where),
                                     (low, high, *ids)).fetchall()
            delays = conn.execute(DELAYS_SQL.format(where=where), (low, high, *ids)).fetchall()
            found.append((row, cells, [delay for (delay,) in delays]))
        return found


def _reader(path: Path) -> contextlib.closing[sqlite3.Connection]:
    """A read-only connection of its own; each query is its own short read transaction."""
    return contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True,
                                              timeout=READ_TIMEOUT, isolation_level=None))


def _count_slices(path: Path, slices: list[tuple[float, float]], where: str,
                  ids: tuple[int, ...]) -> int:
    with _reader(path) as conn:
        return sum(int(conn.execute(COUNT_SQL.format(where=where), (low, high, *ids)
                                    ).fetchone()[0]) for low, high in slices)


def _export_slices(path: Path, start: float, end: float, scope: Scope,
                   sink: Callable[[list[ReportFacts]], object]) -> int:
    where, ids = _within(SCOPE_COLUMN, scope)
    handed = 0
    with _reader(path) as conn:
        for low, high in _slices(start, end, EXPORT_CHUNK_SECONDS):
            rows = conn.execute(ROWS_SQL.format(where=where), (low, high, *ids)).fetchall()
            if rows:
                sink([ReportFacts(row[0], row[1], row[2], row[3], row[4], row[5],
                                  bool(row[6]), bool(row[7]), row[8], row[9]) for row in rows])
                handed += len(rows)
    return handed


def _merge(tally: ReportTally, found: SliceCounts | None) -> None:
    if found is None:
        return
    (_, relayed, untriaged, *by_status), cells, delays = found
    tally.relayed += relayed
    tally.untriaged += untriaged
    for status, count in zip(tuple(ReportStatus), by_status, strict=True):
        if count:
            tally.by_status[status] += count
    for sector_id, category, count in cells:
        tally.by_sector[sector_id] += count
        tally.by_category[category] += count
    tally.answer_delays += delays


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
        per query so that no query holds a snapshot long, whatever the period.

        No query sorts: statuses, relays and the total are sums over one range of the
        covering index `reports_by_created`; sectors × `categories` are counted by seeks
        of `reports_by_sector`; a slice whose reports these miss (no sector any more, a
        category no longer offered) is grouped the plain way (GROUP BY), rarely.

        The slices are read on READERS read-only connections of their own, in threads side
        by side: never under the store's lock (WAL readers block no writer), and a year's
        twelve slices take half the time. An in-memory store has no second connection: its
        slices go through the store's own, one after the other."""
        where, ids = _within(SCOPE_COLUMN, scope)
        sector_ids = [row[0] for row in await self.db.fetch_all(
            "SELECT id FROM sectors" + (f" WHERE id IN ({', '.join('?' * len(ids))})"
                                        if scope is not None else ""), ids)]
        pairs = json.dumps([[sector, category] for sector in sector_ids
                            for category in categories]) if categories else None
        slices = list(_slices(start, end))
        if self.db.path == Path(":memory:"):
            counted = [await self._count_slice(low, high, where, ids, pairs)
                       for low, high in slices]
        else:
            shares = await asyncio.gather(*(
                asyncio.to_thread(_read_slices, self.db.path, slices[first::READERS], where,
                                  ids, pairs)
                for first in range(min(READERS, len(slices)))))
            # Back in the slices' order (reader k read slices k, k + READERS, …).
            counted = [share[n] for n in range(len(slices) // READERS + 1)
                       for share in shares if n < len(share)]
        tally = ReportTally()
        for found in counted:
            _merge(tally, found)
        for counts in (tally.by_sector, tally.by_category):
            for key in [key for key, count in counts.items() if not count]:
                del counts[key]
        return tally

    async def _count_slice(self, low: float, high: float, where: str, ids: tuple[int, ...],
                           pairs: str | None) -> SliceCounts | None:
        """One slice through the store's own connection (an in-memory store)."""
        row = await self.db.fetch_one(STATUS_SQL.format(where=where),
                                      (*ReportStatus, low, high, *ids))
        if row is None or not row[0]:
            return None
        cells = [tuple(cell) for cell in await self.db.fetch_all(CELLS_SQL, (low, high, pairs))
                 ] if pairs else []
        if sum(cell[2] for cell in cells) != row[0]:  # reports no seek found: group them
            cells = [tuple(cell) for cell in await self.db.fetch_all(
                GROUPED_SQL.format(where=where), (low, high, *ids))]
        delays = await self.db.fetch_all(DELAYS_SQL.format(where=where), (low, high, *ids))
        return tuple(row), cells, [delay[0] for delay in delays]

    async def count(self, start: float, end: float, scope: Scope) -> int:
        """How many reports the window has: a range of `reports_by_created`, counted one
        slice per query (CHUNK_SECONDS), on a reader connection when there is a file."""
        where, ids = _within(SCOPE_COLUMN, scope)
        slices = list(_slices(start, end))
        if self.db.path != Path(":memory:"):
            return await asyncio.to_thread(_count_slices, self.db.path, slices, where, ids)
        total = 0
        for low, high in slices:
            row = await self.db.fetch_one(COUNT_SQL.format(where=where), (low, high, *ids))
            total += int(row[0]) if row else 0
        return total

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

    async def export_rows(self, start: float, end: float, scope: Scope,
                          sink: Callable[[list[ReportFacts]], object]) -> int:
        """The export's rows in date order, handed to `sink` a week at a time in a thread:
        read there on a read-only connection of its own (never under the store's lock)
        and written by `sink` (a file) before the next week is read, so memory holds one
        week, whatever the period. Returns how many rows were handed over."""
        if self.db.path == Path(":memory:"):
            handed = 0
            async for facts in self.report_rows(start, end, scope):
                await asyncio.to_thread(sink, facts)
                handed += len(facts)
            return handed
        return await asyncio.to_thread(_export_slices, self.db.path, start, end, scope, sink)

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
