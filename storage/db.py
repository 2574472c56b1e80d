"""The SQLite connection: pragmas, migrations, and one writer at a time.

One aiosqlite connection serves the whole bot. Handlers and the outbox worker are separate
asyncio tasks sharing it, so every write runs inside `transaction()`, which holds an
asyncio lock: a task's half-finished transaction can never swallow another task's writes.
A read outside a transaction takes the same lock (it must not see another task's
uncommitted rows) but no BEGIN: one SELECT is its own consistent snapshot.
A task that is already inside a transaction re-enters it, so repository calls compose into
one atomic unit (a report and its outbox rows are committed together).

Backups (`vigie backup`, and the copy taken before any migration) go through SQLite's online
backup API into a temporary file, are integrity-checked, then renamed into place; `prune`
keeps the newest copy of each recent day and week. `inspect` reads a file's integrity and
schema version without changing it (`vigie check`, `vigie restore`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite

from storage.migrations import MIGRATIONS

SCHEMA_VERSION = len(MIGRATIONS)
BACKUP_PREFIX = "vigie-"
BACKUP_STAMP = "%Y%m%d-%H%M%S"
INCREMENTAL = 2  # PRAGMA auto_vacuum's value for incremental mode
RECLAIM_PAGES = 256  # pages (4 KiB each) freed per step of `reclaim`
CHECKPOINT_AT = 4 * 1024 * 1024  # WAL bytes (SQLite's own default is 1,000 pages)
# A table every Vigie database has had since the first migration.
_VIGIE_TABLE = "sectors"


class StorageError(Exception):
    """The database file cannot be used (corrupt, newer than this code, unreadable)."""


@dataclass(frozen=True)
class FileFacts:
    """What `inspect` found in a database file, without changing it."""

    path: Path
    exists: bool
    problem: str | None = None  # why it cannot be used: corrupt, not Vigie's, newer, unreadable
    version: int = 0

    @property
    def pending(self) -> int:
        """Migrations the next start applies."""
        return max(0, SCHEMA_VERSION - self.version) if self.problem is None else 0


def inspect(path: Path, full: bool = False) -> FileFacts:
    """Integrity and schema version of a database file, opened read-only: SQLite's
    quick_check, or with `full` its integrity_check (also indexes against their tables:
    `vigie check`, or a start after an unclean stop)."""
    if not path.exists():
        return FileFacts(path, exists=False)
    if path.is_dir():
        return FileFacts(path, True, f"{path} is a folder, not a database file")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            pragma = "PRAGMA integrity_check" if full else "PRAGMA quick_check"
            verdict = [row[0] for row in conn.execute(pragma)]
            if verdict != ["ok"]:
                return FileFacts(path, True, f"{path}: integrity check failed: "
                                             f"{'; '.join(verdict[:3])}")
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            tables = {row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        return FileFacts(path, True, f"{path}: not a usable SQLite database ({exc})")
    if version == 0 and not tables:
        return FileFacts(path, True, version=0)  # empty: created by a start that failed
    if _VIGIE_TABLE not in tables or version < 1:
        return FileFacts(path, True, f"{path} is not a Vigie database")
    if version > SCHEMA_VERSION:
        return FileFacts(path, True, f"{path}: schema version {version} is newer than this "
                                     f"Vigie ({SCHEMA_VERSION}); upgrade Vigie", version)
    return FileFacts(path, True, version=version)


def backup_name(moment: datetime, note: str = "") -> str:
    """vigie-YYYYMMDD-HHMMSS[note].db, in UTC (the rotation's days and weeks are UTC's)."""
    return f"{BACKUP_PREFIX}{moment.astimezone(UTC).strftime(BACKUP_STAMP)}{note}.db"


def backup_file(source: Path, target: Path) -> Path:
    """Online copy of `source` to `target`, verified before it takes the name `target`.

    Safe while the bot runs (SQLite's backup API copies a consistent snapshot). A target
    that exists is replaced only by a copy that passed the integrity check."""
    facts = inspect(source)
    if not facts.exists:
        raise StorageError(f"{source}: no database to back up")
    if facts.problem is not None:
        raise StorageError(facts.problem)
    partial = target.with_name(f".{target.name}.partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy(source, partial)
    except OSError as exc:
        _discard(partial)
        raise StorageError(f"cannot write the backup to {target.parent}: "
                           f"{exc.strerror or exc}") from None
    except sqlite3.DatabaseError as exc:
        _discard(partial)
        raise StorageError(f"cannot write the backup to {target}: {exc}") from None
    copy = inspect(partial)
    if copy.problem is not None or copy.version != facts.version:
        _discard(partial)
        raise StorageError(f"the copy of {source} failed its check; nothing was written")
    os.replace(partial, target)
    return target


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def _copy(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    with contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src, \
            contextlib.closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file


def compact_file(path: Path) -> tuple[int, int]:
    """VACUUM the database (the bot must be stopped), switching it to incremental
    auto-vacuum on the way, so later purges give their pages back without another one.
    Returns the file's size in bytes (before, after)."""
    facts = inspect(path)
    if not facts.exists:
        raise StorageError(f"{path}: no database to compact")
    if facts.problem is not None:
        raise StorageError(facts.problem)
    before = path.stat().st_size
    try:
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"cannot compact {path}: {exc}") from None
    return before, path.stat().st_size


def restore_file(source: Path, database: Path) -> FileFacts:
    """Replace the database's contents with a checked backup (the bot must be stopped:
    the caller holds the lock beside the database)."""
    facts = inspect(source)
    if not facts.exists:
        raise StorageError(f"{source}: no such file")
    if facts.problem is not None:
        raise StorageError(facts.problem)
    if facts.version == 0:
        raise StorageError(f"{source} is not a Vigie database")
    if database.is_dir():
        raise StorageError(f"{database} is a folder, not a database file")
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src, \
                contextlib.closing(sqlite3.connect(database)) as dst:
            src.backup(dst)
    except OSError as exc:
        raise StorageError(f"cannot write {database}: {exc.strerror or exc}") from None
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"cannot write {database}: {exc}") from None
    return facts


def backup_files(folder: Path) -> list[tuple[datetime, Path]]:
    """The backups in `folder` (named by `backup_name`), oldest first."""
    found: list[tuple[datetime, Path]] = []
    if not folder.is_dir():
        return found
    for path in folder.glob(f"{BACKUP_PREFIX}*.db"):
        stamp = path.stem.removeprefix(BACKUP_PREFIX)[:15]
        try:
            found.append((datetime.strptime(stamp, BACKUP_STAMP).replace(tzinfo=UTC), path))
        except ValueError:
            continue
    return sorted(found)


def prune(folder: Path, keep_daily: int, keep_weekly: int, now: datetime,
          max_age_days: int | None = None) -> list[Path]:
    """Keep the newest backup of each of the last `keep_daily` days (today included) and of
    each of the last `keep_weekly` weeks (this one included); delete every other one, and
    any older than `max_age_days` (what the privacy notice promises). So no copy is older
    than the longer of the two windows, nor than that limit. Returns what was deleted."""
    today = now.astimezone(UTC).date()
    monday = today - timedelta(days=today.weekday())
    newest_of: dict[tuple[str, date], Path] = {}
    for moment, path in backup_files(folder):  # oldest first: the last one wins
        if max_age_days is not None and now - moment > timedelta(days=max_age_days):
            continue
        day = moment.date()
        if (today - day).days < keep_daily:
            newest_of[("day", day)] = path
        week = day - timedelta(days=day.weekday())
        if (monday - week).days // 7 < keep_weekly:
            newest_of[("week", week)] = path
    keep = set(newest_of.values())
    removed = []
    for _, path in backup_files(folder):
        if path not in keep:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


class Database:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        # Where the copy taken before a migration goes (None: "backups" beside the file).
        self.backup_folder: Path | None = None
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        # Optional: told how long each transaction held the lock, in seconds (bench/retention).
        self.lock_recorder: Callable[[float], None] | None = None
        self._wal: Path | None = None  # the WAL file, watched for `_after_commit`
        self._checkpointing: asyncio.Task[None] | None = None

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("database is not open")
        return self._conn

    async def open(self, migrate_to: int | None = None) -> None:
        """Connect, check integrity, migrate (to the latest schema unless told otherwise).

        Opening an open database does nothing: the conversation persistence reads its state
        while PTB initialises, before the rest of the start-up opens the store."""
        if self._conn is not None:
            return
        if self.path != Path(":memory:"):
            # Refused before connecting: a failed aiosqlite connect leaves its thread behind.
            facts = await asyncio.to_thread(inspect, self.path)
            if facts.problem is not None:
                raise StorageError(facts.problem)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot create {self.path.parent}: "
                                   f"{exc.strerror or exc}") from None
        try:
            self._conn = await aiosqlite.connect(self.path, isolation_level=None)
            self._conn.row_factory = sqlite3.Row
            # A new file frees erased pages step by step (`reclaim`); this must come before
            # WAL and the first table. An older file switches with `vigie backup --compact`.
            await self._conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            for pragma in (
                "PRAGMA journal_mode = WAL",
                # FULL: a committed report or outbox row survives a power cut, not just a crash.
                "PRAGMA synchronous = FULL",
                "PRAGMA foreign_keys = ON",
                "PRAGMA busy_timeout = 5000",
            ):
                await self._conn.execute(pragma)
            if self.path != Path(":memory:"):
                # Checkpoints run on a connection of their own, off the lock (`_checkpoint`):
                # inside a commit, one would hold every other update up (85 ms, not 14).
                await self._conn.execute("PRAGMA wal_autocheckpoint = 0")
                self._wal = Path(f"{self.path}-wal")
            if self.path == Path(":memory:"):
                await self._check_integrity()  # a file was checked by `inspect`, above
            await self.migrate(migrate_to)
        except StorageError:
            await self.close()
            raise
        except sqlite3.DatabaseError as exc:
            await self.close()
            raise StorageError(f"{self.path}: {exc}") from None

    async def close(self) -> None:
        if self._checkpointing is not None:
            with contextlib.suppress(Exception):
                await self._checkpointing
            self._checkpointing = None
        if self._conn is not None:
            await self._conn.close()  # the last connection's close checkpoints the WAL
            self._conn = None

    def _after_commit(self) -> None:
        """Start a checkpoint in the background once the WAL has grown past CHECKPOINT_AT."""
        if self._wal is None or self._checkpointing is not None:
            return
        try:
            size = self._wal.stat().st_size
        except OSError:
            return
        if size >= CHECKPOINT_AT:
            self._checkpointing = asyncio.get_running_loop().create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        """The bulk of the copy off the lock, then the few frames written meanwhile under
        it (milliseconds), so the checkpoint completes and the WAL starts over instead of
        growing through a long burst of writes (a purge's catch-up)."""
        try:
            await asyncio.to_thread(_passive_checkpoint, self.path)
            async with self._lock:
                taken = time.perf_counter()
                await (await self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")).fetchall()
                if self.lock_recorder is not None:
                    self.lock_recorder(time.perf_counter() - taken)
        except (sqlite3.Error, ValueError):
            pass  # busy, or the store closed meanwhile: the next commit past the mark retries
        finally:
            self._checkpointing = None

    async def _check_integrity(self, pragma: str = "quick_check") -> None:
        rows = await (await self.conn.execute(f"PRAGMA {pragma}")).fetchall()
        verdict = [row[0] for row in rows]
        if verdict != ["ok"]:
            raise StorageError(f"{self.path}: integrity check failed: {'; '.join(verdict[:3])}")

    async def full_check(self) -> None:
        """SQLite's integrity_check (open checks only quick_check): after an unclean stop.
        Raises StorageError when the file is damaged."""
        async with self._lock:
            await self._check_integrity("integrity_check")

    async def schema_version(self) -> int:
        row = await (await self.conn.execute("PRAGMA user_version")).fetchone()
        return int(row[0]) if row is not None else 0

    async def migrate(self, target: int | None = None) -> None:
        """Apply every numbered migration above the file's user_version, each atomically."""
        target = len(MIGRATIONS) if target is None else target
        current = await self.schema_version()
        if current > len(MIGRATIONS):
            raise StorageError(
                f"{self.path}: schema version {current} is newer than this Vigie "
                f"({len(MIGRATIONS)}); upgrade Vigie"
            )
        if 0 < current < target and self.path != Path(":memory:"):
            await self._backup_before_migrating(current)
        for number in range(current + 1, target + 1):
            async with self.transaction():
                for statement in _statements(MIGRATIONS[number - 1]):
                    await self.conn.execute(statement)
                await self.conn.execute(f"PRAGMA user_version = {number:d}")

    @asynccontextmanager
    async def transaction(self, durable: bool = True) -> AsyncIterator[aiosqlite.Connection]:
        """One writer at a time. `durable=False` commits without waiting for the disk
        (SQLite's synchronous=NORMAL in WAL mode): the commit survives a crash of the
        process, not a power cut, and the next durable commit makes it durable too. Only
        for bookkeeping whose loss in a power cut harms nobody (an attempt count)."""
        task = asyncio.current_task()
        if self._owner is task and task is not None:
            yield self.conn
            return
        async with self._lock:
            self._owner = task
            taken = time.perf_counter()
            if not durable:
                await self.conn.execute("PRAGMA synchronous = NORMAL")
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self.conn.rollback()
                raise
            else:
                await self.conn.commit()
                self._after_commit()
            finally:
                if not durable:
                    await self.conn.execute("PRAGMA synchronous = FULL")
                self._owner = None
                if self.lock_recorder is not None:
                    self.lock_recorder(time.perf_counter() - taken)

    async def reclaim(self, pages: int = RECLAIM_PAGES) -> int:
        """Give the pages freed by the purge back to the file system, `pages` at a time,
        each step a short hold of the lock; only for a file in incremental auto-vacuum
        mode (new files, or after `compact_file`). Returns how many pages went."""
        mode = await self.fetch_one("PRAGMA auto_vacuum")
        if mode is None or int(mode[0]) != INCREMENTAL:
            return 0
        freed = 0
        while True:
            async with self._lock:
                free = await (await self.conn.execute("PRAGMA freelist_count")).fetchone()
                left = int(free[0]) if free is not None else 0
                if left == 0:
                    return freed
                taken = time.perf_counter()
                # executescript steps the pragma to its end (execute frees one page).
                await self.conn.executescript(f"PRAGMA incremental_vacuum({pages:d})")
                if self.lock_recorder is not None:
                    self.lock_recorder(time.perf_counter() - taken)
            freed += min(left, pages)
            await asyncio.sleep(0)

    async def insert(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run one INSERT; return the new row's id."""
        async with self.transaction() as conn:
            cursor = await conn.execute(sql, tuple(params))
            return int(cursor.lastrowid or 0)

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run one write; return the number of rows it changed."""
        async with self.transaction() as conn:
            cursor = await conn.execute(sql, tuple(params))
            return cursor.rowcount

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        """The first row (callers ask for one: a key, an aggregate, or LIMIT 1)."""
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        # One trip to the database's thread: no BEGIN and COMMIT around a single SELECT
        # (SQLite reads one consistent snapshot per statement), and execute and fetch
        # together. It is paid on every update handled. Inside a caller's transaction it
        # reads that transaction; otherwise it waits for the writer in progress, whose
        # uncommitted rows the shared connection would see.
        task = asyncio.current_task()
        if self._owner is task and task is not None:
            return list(await self.conn.execute_fetchall(sql, tuple(params)))
        async with self._lock:
            taken = time.perf_counter()
            try:
                return list(await self.conn.execute_fetchall(sql, tuple(params)))
            finally:
                if self.lock_recorder is not None:
                    self.lock_recorder(time.perf_counter() - taken)

    async def backup(self, target: Path) -> None:
        """Online copy through SQLite's backup API: safe while the bot runs."""
        target.parent.mkdir(parents=True, exist_ok=True)
        async with self._lock:
            destination = await aiosqlite.connect(target)
            try:
                await self.conn.backup(destination)
            finally:
                await destination.close()

    async def _backup_before_migrating(self, version: int) -> None:
        """A verified copy of the file as it is, before the first migration touches it."""
        folder = self.backup_folder or self.path.parent / "backups"
        target = folder / backup_name(datetime.now(UTC), f"-before-v{version + 1}")
        try:
            await asyncio.to_thread(backup_file, self.path, target)
        except StorageError as exc:
            raise StorageError(f"no migration without a backup: {exc}") from None

    async def get_meta(self, key: str) -> str | None:
        """A value the bot keeps about itself (the last start's checklist digest…)."""
        row = await self.fetch_one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    async def set_meta(self, key: str, value: str) -> None:
        await self.execute(
            "INSERT INTO meta (key, value, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at", (key, value, time.time()))


def _passive_checkpoint(path: Path) -> None:
    """Copy the WAL back into the database from a second connection: PASSIVE never waits
    for, nor blocks, the bot's writer (SQLite's WAL lets both run at once)."""
    with contextlib.closing(sqlite3.connect(path, timeout=5.0)) as conn:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _statements(script: str) -> list[str]:
    """Split a migration into statements (sqlite3 executes one at a time inside our BEGIN)."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
