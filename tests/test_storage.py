"""The store: migrations from every version, pragmas, transactions, the outbox table."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage import Message, StorageError, Store
from storage.db import Database
from storage.migrations import MIGRATIONS
from storage.statuses import StaffRole


async def schema(db: Database) -> list[tuple[str, str]]:
    rows = await db.fetch_all(
        "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"
    )
    return [(row[0], row[1]) for row in rows]


@pytest.fixture
async def store(tmp_path: Path):
    store = Store(tmp_path / "vigie.db")
    await store.open()
    yield store
    await store.close()


async def test_fresh_file_gets_latest_schema_and_pragmas(store: Store) -> None:
    db = store.db
    assert await db.schema_version() == len(MIGRATIONS)
    assert (await db.fetch_one("PRAGMA journal_mode"))[0] == "wal"
    assert (await db.fetch_one("PRAGMA foreign_keys"))[0] == 1
    assert (await db.fetch_one("PRAGMA synchronous"))[0] == 2  # FULL
    tables = {name for name, _ in await schema(db)}
    assert {"people", "sectors", "referents", "charter_acceptances", "reports",
            "report_events", "outbox", "audit_log"} <= tables


@pytest.mark.parametrize("start_version", range(len(MIGRATIONS)))
async def test_migrates_from_every_earlier_version(tmp_path: Path, start_version: int) -> None:
    fresh = Database(tmp_path / "fresh.db")
    await fresh.open()
    expected = await schema(fresh)
    await fresh.close()

    old = Database(tmp_path / "old.db")
    await old.open(migrate_to=start_version)
    assert await old.schema_version() == start_version
    await old.close()

    upgraded = Database(tmp_path / "old.db")
    await upgraded.open()
    assert await upgraded.schema_version() == len(MIGRATIONS)
    assert await schema(upgraded) == expected
    await upgraded.close()


async def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    db = Database(tmp_path / "v.db")
    await db.open()
    await db.conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    await db.close()
    with pytest.raises(StorageError, match="newer than this Vigie"):
        await Database(tmp_path / "v.db").open()


async def test_refuses_a_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    with pytest.raises(StorageError):
        await Database(path).open()


async def test_transaction_rolls_back_everything(store: Store) -> None:
    async def fail_half_way() -> None:
        async with store.transaction():
            await store.people.ensure(1, "fr")
            await store.audit.record(1, "x")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await fail_half_way()
    assert await store.people.get(1) is None
    assert await store.audit.entries() == []


async def test_foreign_keys_are_enforced(store: Store) -> None:
    import sqlite3

    with pytest.raises(sqlite3.IntegrityError):
        await store.referents.appoint(user_id=99, sector_id=12345, appointed_by=None)


async def test_config_changes_to_sectors_apply_and_the_bot_s_own_stay(store: Store) -> None:
    await store.sectors.apply_config([("Nord", None), ("Sud", None)])
    nord = await store.sectors.by_name("nord")
    assert nord is not None and nord.name == "Nord"
    await store.db.execute("INSERT INTO sectors (name) VALUES ('Ouest')")  # added in the bot
    await store.sectors.apply_config([("Sud", None), ("Est", None)])
    assert [s.name for s in await store.sectors.active()] == ["Est", "Ouest", "Sud"]
    assert (await store.sectors.get(nord.id)) is not None  # kept for history
    await store.db.execute("UPDATE sectors SET active = 0 WHERE name = 'Sud'")  # retired in the bot
    await store.sectors.apply_config([("Sud", None), ("Est", None)])  # the file did not change
    assert [s.name for s in await store.sectors.active()] == ["Est", "Ouest"]


async def test_config_changes_to_roles_apply_and_the_bot_s_own_stay(store: Store) -> None:
    await store.staff.apply_config([1, 2], [9], None)
    assert await store.staff.appoint(3, StaffRole.OFFICIAL, by=9)  # appointed in the bot
    await store.staff.set_liaison(-500)  # set in the bot
    await store.staff.apply_config([1, 2], [9], None)  # a restart, the file unchanged
    roles = await store.staff.load()
    assert (set(roles.officials), roles.admins, roles.liaison_chat_id) == ({1, 2, 3}, (9,), -500)
    await store.staff.apply_config([2], [9], 77)  # the file now drops 1 and names a liaison
    roles = await store.staff.load()
    assert (set(roles.officials), roles.liaison_chat_id) == ({2, 3}, 77)


async def test_outbox_dedupe_claim_and_requeue(store: Store) -> None:
    message = Message(chat_id=5, method="sendMessage", payload={"text": "x"}, purpose="t",
                      dedupe_key="k1")
    first = await store.outbox.enqueue([message])
    again = await store.outbox.enqueue([message])
    assert len(first) == 1 and again == []
    (row,) = await store.outbox.due(now=1e12, limit=10)
    assert await store.outbox.claim(row.id) is True
    assert await store.outbox.claim(row.id) is False  # nobody claims it twice
    assert await store.outbox.due(now=1e12, limit=10) == []
    assert await store.outbox.requeue_interrupted() == (1, 0)  # requeued, given up
    (again_row,) = await store.outbox.due(now=1e12, limit=10)
    assert again_row.attempts == 1 and again_row.last_error == "interrupted"
    assert again_row.uncertain == 1  # it may have arrived: retried once, counted
    assert await store.outbox.claim(again_row.id) is True
    assert await store.outbox.requeue_interrupted() == (0, 1)  # interrupted twice: given up
    assert (await store.outbox.get(again_row.id)).status == "failed"  # type: ignore[union-attr]
    assert await store.outbox.uncertain_count() == 1


async def test_settled_outbox_rows_are_forgotten_after_the_keep_period(store: Store) -> None:
    ids = await store.outbox.enqueue([
        Message(chat_id=c, method="sendMessage", payload={"text": "x"}, purpose="t")
        for c in (1, 2, 3)
    ])
    await store.outbox.delivered(ids[0], 1)
    await store.outbox.failed(ids[1], "forbidden")
    assert await store.outbox.purge_finished(before=0) == 0
    assert await store.outbox.purge_finished(before=1e12) == 2
    assert await store.outbox.get(ids[2]) is not None  # still pending: kept


async def test_retention_erases_contents_and_reporter_but_keeps_counts(store: Store) -> None:
    from storage import NewReport

    await store.sectors.apply_config([("Nord", None)])
    nord = await store.sectors.by_name("Nord")
    assert nord is not None
    await store.people.ensure(7, "fr")
    old = await store.reports.create(NewReport(7, nord.id, "vehicle", "now", "Clio AB-123-CD",
                                               48.8, 2.3, "photo-id", None, "AB123CD"),
                                     "relayed", None)
    await store.db.execute("UPDATE reports SET created_at = 0 WHERE id = ?", (old.id,))
    recent = await store.reports.create(NewReport(7, nord.id, "other", "today", "Tag"),
                                        "relayed", None)
    assert await store.reports.purge_before(1000.0) == [old.id]
    purged, kept = await store.reports.get(old.id), await store.reports.get(recent.id)
    assert purged is not None and kept is not None
    assert (purged.description, purged.latitude, purged.photo_file_id, purged.plate,
            purged.reporter_id) == (None, None, None, None, None)
    assert (purged.sector_id, purged.category, purged.status) == (nord.id, "vehicle", "relayed")
    assert kept.description == "Tag" and kept.reporter_id == 7
    assert await store.reports.purge_before(1000.0) == []  # once


async def test_chat_migration_moves_sector_and_queued_rows(store: Store) -> None:
    await store.sectors.apply_config([("Nord", None)])
    nord = await store.sectors.by_name("Nord")
    assert nord is not None
    await store.sectors.link(nord.id, -111, "https://t.me/+abc")
    ids = await store.outbox.enqueue([
        Message(chat_id=-111, method="sendMessage", payload={"text": "a"}, purpose="t"),
        Message(chat_id=-111, method="sendMessage", payload={"text": "b"}, purpose="t"),
    ])
    await store.outbox.delivered(ids[0], 10)
    await store.migrate_chat(-111, -100111)
    assert (await store.sectors.by_chat(-100111)) is not None
    rows = [await store.outbox.get(i) for i in ids]
    assert [r.chat_id for r in rows if r] == [-111, -100111]  # delivered history untouched


async def test_online_backup_is_a_readable_copy(store: Store, tmp_path: Path) -> None:
    await store.people.ensure(7, "en")
    await store.db.backup(tmp_path / "copy.db")
    copy = Store(tmp_path / "copy.db")
    await copy.open()
    person = await copy.people.get(7)
    await copy.close()
    assert person is not None and person.language == "en"
