"""The retention purge: it runs at start, in short batches, and the bot answers meanwhile.

Reports are seeded through `storage/` before the bot starts (a store left by a long stop),
then the real application runs against the emulator. Nothing here waits on time: the
purge's progress is read from the database (`testing.fences.eventually`).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.runtime.application import build_application
from core.runtime.lifecycle import running
from core.services import services_of
from core.settings import Settings
from storage import Store
from storage.db import compact_file
from storage.reports import PURGE_BATCH, SeedReport
from testing.commune import SECTORS
from testing.fences import eventually
from tests.conftest import Commune, fr

DAY = 86400.0


async def seeded(database: Path, expired: int, fresh: int, retention_days: int) -> None:
    """A store as a long stop leaves it: `expired` reports past retention, `fresh` within."""
    store = Store(database)
    await store.open()
    try:
        await store.sectors.apply_config((name, None) for name in SECTORS)
        sector = await store.sectors.by_name(SECTORS[0])
        assert sector is not None
        now = time.time()
        old = now - (retention_days + 10) * DAY
        await store.reports.seed_bulk(
            [SeedReport(sector.id, "vehicle", old + n, "Clio AB-123-CD rue des Lilas",
                        relayed_after=60.0) for n in range(expired)]
            + [SeedReport(sector.id, "other", now - DAY, "Tag sur le mur")] * fresh)
    finally:
        await store.close()


async def left_to_purge(store: Store, retention_days: int) -> int:
    row = await store.db.fetch_one(
        "SELECT COUNT(*) FROM reports WHERE purged_at IS NULL AND created_at < ?",
        (time.time() - retention_days * DAY,))
    assert row is not None
    return int(row[0])


async def purge_entries(store: Store) -> list[dict[str, int]]:
    return [json.loads(entry["details"])
            for entry in await store.audit.entries("retention.purged")]


async def test_a_purge_at_start_runs(settings: Settings) -> None:
    retention = settings.privacy.retention_days
    await seeded(settings.storage.database, expired=30, fresh=2, retention_days=retention)
    async with running(build_application(settings)) as app:
        store = services_of(app).store

        async def done() -> bool:
            return await left_to_purge(store, retention) == 0 and bool(
                await purge_entries(store))

        await eventually(done, what="the purge at start")
        [summary] = await purge_entries(store)  # one summary entry, not one per report
        assert summary["reports"] == 30
        rows = await store.db.fetch_all(
            "SELECT description, reporter_id, purged_at FROM reports ORDER BY id")
        assert [row[0] for row in rows[:30]] == [None] * 30
        assert all(row[2] is not None for row in rows[:30])
        assert [row[0] for row in rows[30:]] == ["Tag sur le mur"] * 2  # within retention
        notes = await store.db.fetch_all(
            "SELECT note FROM report_events WHERE report_id <= 30 AND note IS NOT NULL")
        assert notes == []
        assert not await store.audit.entries("report.purged")


async def test_a_purge_in_batches_leaves_nothing_and_the_bot_answers_meanwhile(
    settings: Settings, commune: Commune
) -> None:
    retention = settings.privacy.retention_days
    expired = 60 * PURGE_BATCH
    await seeded(settings.storage.database, expired=expired, fresh=3,
                 retention_days=retention)
    async with running(build_application(settings)) as app:
        store = services_of(app).store
        holds: list[float] = []
        store.db.lock_recorder = holds.append

        async def started() -> bool:
            return await left_to_purge(store, retention) < expired

        await eventually(started, what="the purge's first batch")
        commune.alice.send_command("/aide")
        await commune.alice.wait_for(text=fr("help.title"))
        # Answered while reports were still waiting for their batch: the purge yields.
        assert await left_to_purge(store, retention) > 0
        assert not await purge_entries(store)

        async def finished() -> bool:
            return bool(await purge_entries(store))

        await eventually(finished, timeout=60, what="the whole purge")
        assert await left_to_purge(store, retention) == 0
        [summary] = await purge_entries(store)
        assert summary["reports"] == expired
        kept = await store.db.fetch_one(
            "SELECT COUNT(*) FROM reports WHERE description IS NOT NULL")
        assert kept is not None and kept[0] == 3
        assert len(holds) > expired // PURGE_BATCH  # many short transactions, not one


# --- query plans -------------------------------------------------------------------------

async def plan(store: Store, sql: str, params: tuple[object, ...]) -> str:
    rows = await store.db.fetch_all(f"EXPLAIN QUERY PLAN {sql}", params)
    return "\n".join(str(row[3]) for row in rows)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = Store(tmp_path / "plans.db")
    await opened.open()
    yield opened
    await opened.close()


async def test_the_purge_selection_uses_its_partial_index(store: Store) -> None:
    found = await plan(store, "SELECT id FROM reports WHERE purged_at IS NULL"
                              " AND created_at < ? ORDER BY created_at LIMIT ?", (1.0, 500))
    assert "reports_to_purge" in found and "TEMP B-TREE" not in found, found
    found = await plan(store, "SELECT id FROM audit_log WHERE at < ? ORDER BY at LIMIT ?",
                       (1.0, 500))
    assert "audit_by_at" in found and "TEMP B-TREE" not in found, found


async def test_compacting_an_old_file_switches_it_to_incremental_vacuum(
    tmp_path: Path,
) -> None:
    """A file made before incremental auto-vacuum (mode 0) shrinks with `vigie backup
    --compact` (`compact_file`), then gives pages back after each purge (`reclaim`)."""
    database = tmp_path / "old.db"
    with contextlib.closing(sqlite3.connect(database)) as conn:
        conn.execute("PRAGMA auto_vacuum = NONE")
        conn.execute("PRAGMA journal_mode = WAL")  # writes the header: the mode is fixed
    await seeded(database, expired=3000, fresh=0, retention_days=90)
    store = Store(database)
    await store.open()
    assert await store.db.reclaim() == 0  # mode 0: nothing to give back without a VACUUM
    await store.reports.purge_before(time.time())
    await store.db.execute("DELETE FROM report_events")
    await store.close()
    with contextlib.closing(sqlite3.connect(database)) as conn:
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 0  # as an older Vigie's
    before, after = compact_file(database)
    assert after < before
    with contextlib.closing(sqlite3.connect(database)) as conn:
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    await store.open()
    await store.db.execute("DELETE FROM reports")
    assert await store.db.reclaim() > 0
    free = await store.db.fetch_one("PRAGMA freelist_count")
    assert free is not None and free[0] == 0
    await store.close()
