"""Reports and their history. The allowed status transitions live here, in one table.

    triage ──► relayed ──► received ──► patrol_informed ──► closed
       │          │            │               │
       └► dismissed└─► closed / unfounded (from any relayed state)

    closed / unfounded ──► reopened (the liaison, with a reason) ──► any liaison status

A report waits in `triage` for a referent; `relay()` moves it on (by a referent or, after
the triage timeout, by the bot, marked untriaged). Every change appends to report_events;
so does a detail the reporter adds afterwards (DETAIL_EVENT, its text in `note`, erased
with the report's other notes by the purge and by erasure).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass

from storage.db import Database
from storage.statuses import ReportStatus

# The statuses the gendarmerie liaison sets, in the order a report goes through them.
LIAISON_STATUSES = (ReportStatus.RECEIVED, ReportStatus.PATROL, ReportStatus.CLOSED,
                    ReportStatus.UNFOUNDED)
# Where a report may go from each status; `transition` refuses anything else.
TRANSITIONS: dict[ReportStatus, frozenset[ReportStatus]] = {
    ReportStatus.TRIAGE: frozenset({ReportStatus.RELAYED, ReportStatus.DISMISSED}),
    ReportStatus.RELAYED: frozenset(LIAISON_STATUSES),
    ReportStatus.RECEIVED: frozenset({ReportStatus.PATROL, ReportStatus.CLOSED,
                                      ReportStatus.UNFOUNDED}),
    ReportStatus.PATROL: frozenset({ReportStatus.CLOSED, ReportStatus.UNFOUNDED}),
    ReportStatus.DISMISSED: frozenset(),
    # Only the liaison reopens a closed report (with a reason the reporter is told).
    ReportStatus.CLOSED: frozenset({ReportStatus.REOPENED}),
    ReportStatus.UNFOUNDED: frozenset({ReportStatus.REOPENED}),
    ReportStatus.REOPENED: frozenset(LIAISON_STATUSES),
}
# Reports erased per transaction by the retention purge: each batch holds the store's lock
# a few milliseconds (bench/retention.py), so other updates are answered between batches.
PURGE_BATCH = 250
# Statuses where the report is over: no decision is left but reopening a closed one.
REOPENABLE = frozenset(status for status, onward in TRANSITIONS.items()
                       if ReportStatus.REOPENED in onward)
FINAL = frozenset(status for status, onward in TRANSITIONS.items() if not onward) | REOPENABLE
# The report_events kind of a detail the reporter added after sending.
DETAIL_EVENT = "detail_added"


@dataclass(frozen=True)
class Report:
    id: int
    reporter_id: int | None
    sector_id: int | None
    category: str
    occurred: str
    description: str | None
    latitude: float | None
    longitude: float | None
    photo_file_id: str | None
    status: ReportStatus
    untriaged: bool
    created_at: float
    screen_flags: str | None
    plate: str | None
    triaged_by: int | None
    similar_to: int | None

    @property
    def owner_id(self) -> int | None:
        """Whose report it is: only they answer questions put to the reporter."""
        return self.reporter_id


@dataclass(frozen=True)
class NewReport:
    reporter_id: int | None  # None: a flagged message whose author the bot does not know
    sector_id: int
    category: str
    occurred: str
    description: str
    latitude: float | None = None
    longitude: float | None = None
    photo_file_id: str | None = None
    screen_flags: str | None = None
    plate: str | None = None
    # The draft's random key: a confirmation handled again after a crash finds its report
    # instead of creating a second one.
    draft_key: str | None = None


@dataclass(frozen=True)
class SeedReport:
    """One report for `Reports.seed_bulk` (benchmarks, tests)."""

    sector_id: int | None
    category: str
    created_at: float
    description: str = "Texte du déclarant"
    occurred: str = "now"
    status: ReportStatus = ReportStatus.RELAYED
    untriaged: bool = False
    relayed_after: float | None = None  # seconds after created_at
    answered_after: float | None = None  # seconds after created_at (a liaison status)


_COLUMNS = ("id, reporter_id, sector_id, category, occurred, description, latitude, longitude,"
            " photo_file_id, status, untriaged, created_at, screen_flags, plate, triaged_by,"
            " similar_to")


def _report(row: sqlite3.Row) -> Report:
    values = list(row)
    values[9] = ReportStatus(values[9])
    values[10] = bool(values[10])
    return Report(*values)


class Reports:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, new: NewReport, status: ReportStatus, triage_due_at: float | None,
                     untriaged: bool = False, triaged_by: int | None = None) -> Report:
        now = time.time()
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO reports (reporter_id, sector_id, category, occurred, description,"
                " latitude, longitude, photo_file_id, status, untriaged, screen_flags, plate,"
                " triage_due_at, triaged_by, created_at, updated_at, draft_key)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (new.reporter_id, new.sector_id, new.category, new.occurred, new.description,
                 new.latitude, new.longitude, new.photo_file_id, status, int(untriaged),
                 new.screen_flags, new.plate, triage_due_at, triaged_by, now, now,
                 new.draft_key),
            )
            report_id = int(cursor.lastrowid or 0)
            await self._event(report_id, "created", new.reporter_id, None)
            if status != ReportStatus.TRIAGE:
                await self._event(report_id, status, triaged_by,
                                  "flagged" if triaged_by else "direct")
        report = await self.get(report_id)
        assert report is not None
        return report

    async def by_draft_key(self, draft_key: str) -> Report | None:
        row = await self.db.fetch_one(f"SELECT {_COLUMNS} FROM reports WHERE draft_key = ?",
                                      (draft_key,))
        return None if row is None else _report(row)

    async def get(self, report_id: int) -> Report | None:
        row = await self.db.fetch_one(f"SELECT {_COLUMNS} FROM reports WHERE id = ?",
                                      (report_id,))
        return None if row is None else _report(row)

    async def transition(self, report_id: int, to: ReportStatus, actor_id: int | None,
                         note: str | None = None, untriaged: bool = False) -> Report | None:
        """Move a report along TRANSITIONS; None if that move is not allowed from where it is
        (already done, pressed twice, too late): the caller tells the person so."""
        async with self.db.transaction() as conn:
            report = await self.get(report_id)
            if report is None or to not in TRANSITIONS[report.status]:
                return None
            triaged_by = actor_id if report.status == ReportStatus.TRIAGE else report.triaged_by
            await conn.execute(
                "UPDATE reports SET status = ?, untriaged = ?, triaged_by = ?, updated_at = ?"
                " WHERE id = ?",
                (to, int(untriaged or report.untriaged), triaged_by, time.time(), report_id),
            )
            await self._event(report_id, to, actor_id, note)
        return await self.get(report_id)

    async def add_precision(self, report_id: int, text: str, flags: str | None) -> None:
        """The reporter's answer to a referent's question, appended to the description."""
        async with self.db.transaction():
            await self.db.execute(
                "UPDATE reports SET description = description || ? || ?,"
                " screen_flags = COALESCE(?, screen_flags), updated_at = ? WHERE id = ?",
                ("\n— ", text, flags, time.time(), report_id),
            )
            await self._event(report_id, "precision_added", None, None)

    async def details(self, report_id: int) -> list[str]:
        """The details the reporter added after sending, oldest first (purged: none)."""
        rows = await self.db.fetch_all(
            "SELECT note FROM report_events WHERE report_id = ? AND status = ?"
            " AND note IS NOT NULL ORDER BY id", (report_id, DETAIL_EVENT))
        return [row[0] for row in rows]

    async def purge_before(self, before: float) -> list[int]:
        """Erase contents and reporter of reports older than `before`; keep the counts.
        Returns the ids purged (every batch: for small stores and tests; the daily job
        calls `purge_batch` itself and yields between batches)."""
        purged: list[int] = []
        while batch := await self.purge_batch(before):
            purged += batch
        return purged

    async def purge_batch(self, before: float, limit: int = PURGE_BATCH) -> list[int]:
        """One short transaction: erase up to `limit` reports older than `before`, set-based
        (three statements whatever the count), selected through the partial index
        `reports_to_purge`. Returns the ids purged; empty once nothing is left."""
        now = time.time()
        async with self.db.transaction() as conn:
            rows = await (await conn.execute(
                "UPDATE reports SET description = NULL, latitude = NULL, longitude = NULL,"
                " photo_file_id = NULL, plate = NULL, screen_flags = NULL,"
                " reporter_id = NULL, purged_at = ?, updated_at = ?"
                " WHERE id IN (SELECT id FROM reports WHERE purged_at IS NULL"
                "  AND created_at < ? ORDER BY created_at LIMIT ?) RETURNING id",
                (now, now, before, limit))).fetchall()
            ids = json.dumps([row[0] for row in rows])
            if rows:
                await conn.execute(
                    "UPDATE report_events SET note = NULL WHERE note IS NOT NULL"
                    " AND report_id IN (SELECT value FROM json_each(?))", (ids,))
                await conn.execute(
                    "INSERT INTO report_events (report_id, status, actor_id, note, at)"
                    " SELECT value, 'purged', NULL, NULL, ? FROM json_each(?)", (now, ids))
        return sorted(row[0] for row in rows)

    async def seed_bulk(self, rows: list[SeedReport]) -> None:
        """Benchmarks and tests only: many reports at once, in one transaction, each with its
        events (created; relayed and the liaison's answer when given: their triggers set
        the report's relayed_at and answered_at, as for any event)."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute("SELECT COALESCE(MAX(id), 0) FROM reports")
            top = await cursor.fetchone()
            first = (int(top[0]) if top is not None else 0) + 1
            await conn.executemany(
                "INSERT INTO reports (id, sector_id, category, occurred, description, status,"
                " untriaged, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(first + n, row.sector_id, row.category, row.occurred, row.description,
                  row.status, int(row.untriaged), row.created_at, row.created_at)
                 for n, row in enumerate(rows)])
            events: list[tuple[int, str, str | None, float]] = []
            for n, row in enumerate(rows):
                events.append((first + n, "created", "seeded", row.created_at))
                if row.relayed_after is not None:
                    events.append((first + n, ReportStatus.RELAYED, None,
                                   row.created_at + row.relayed_after))
                if row.answered_after is not None and row.status in LIAISON_STATUSES:
                    events.append((first + n, row.status, None,
                                   row.created_at + row.answered_after))
            await conn.executemany(
                "INSERT INTO report_events (report_id, status, actor_id, note, at)"
                " VALUES (?, ?, NULL, ?, ?)", events)

    async def note(self, report_id: int, event: str, actor_id: int | None,
                   note: str | None = None) -> None:
        """Something happened to the report that does not change its status."""
        await self._event(report_id, event, actor_id, note)

    async def _event(self, report_id: int, status: str, actor_id: int | None,
                     note: str | None) -> None:
        await self.db.insert(
            "INSERT INTO report_events (report_id, status, actor_id, note, at)"
            " VALUES (?, ?, ?, ?, ?)",
            (report_id, status, actor_id, note, time.time()),
        )

    async def history(self, report_id: int) -> list[tuple[str, int | None, str | None]]:
        rows = await self.db.fetch_all(
            "SELECT status, actor_id, note FROM report_events WHERE report_id = ? ORDER BY id",
            (report_id,),
        )
        return [(row[0], row[1], row[2]) for row in rows]

    async def count_since(self, reporter_id: int, since: float) -> int:
        row = await self.db.fetch_one(
            "SELECT COUNT(*) FROM reports WHERE reporter_id = ? AND created_at >= ?",
            (reporter_id, since),
        )
        return int(row[0]) if row else 0

    async def of_reporter(self, reporter_id: int, limit: int = 10) -> list[Report]:
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM reports WHERE reporter_id = ? ORDER BY id DESC LIMIT ?",
            (reporter_id, limit),
        )
        return [_report(row) for row in rows]

    async def triage_due(self, now: float) -> list[Report]:
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM reports WHERE status = ? AND triage_due_at <= ?",
            (ReportStatus.TRIAGE, now),
        )
        return [_report(row) for row in rows]

    async def next_triage_due(self) -> float | None:
        row = await self.db.fetch_one(
            "SELECT MIN(triage_due_at) FROM reports WHERE status = ?",
            (ReportStatus.TRIAGE,))
        return None if row is None else row[0]

    async def recent_relayed(self, sector_id: int, category: str, since: float) -> list[Report]:
        """Primary (not grouped) reports of that sector and category already relayed."""
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM reports WHERE sector_id = ? AND category = ?"
            " AND created_at >= ? AND similar_to IS NULL AND status NOT IN (?, ?)"
            " ORDER BY id",
            (sector_id, category, since, ReportStatus.TRIAGE, ReportStatus.DISMISSED),
        )
        return [_report(row) for row in rows]

    async def group_under(self, report_id: int, primary_id: int) -> int:
        """Attach a report to a similar primary one; return how many are now attached."""
        async with self.db.transaction():
            await self.db.execute("UPDATE reports SET similar_to = ? WHERE id = ?",
                                  (primary_id, report_id))
            await self._event(report_id, "grouped", None, f"report:{primary_id}")
            row = await self.db.fetch_one(
                "SELECT COUNT(*) FROM reports WHERE similar_to = ?", (primary_id,))
        return int(row[0]) if row else 0

    # --- reports kept while nobody can receive them (issue 12, migration 6) -----------------

    async def hold_for_recipient(self, report_id: int) -> None:
        """No liaison is configured: the report waits, it is never dropped."""
        await self.db.execute("UPDATE reports SET pending_relay = 1 WHERE id = ?",
                              (report_id,))

    async def held_for_recipient(self) -> list[Report]:
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM reports WHERE pending_relay = 1 ORDER BY id")
        return [_report(row) for row in rows]

    async def release_held(self, report_id: int) -> bool:
        """Take a held report for relaying, once (False if another run took it)."""
        changed = await self.db.execute(
            "UPDATE reports SET pending_relay = 0 WHERE id = ? AND pending_relay = 1",
            (report_id,))
        return changed == 1

