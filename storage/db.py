"""The SQLite connection: pragmas, migrations, and one writer at a time.

One aiosqlite connection serves the whole bot. Handlers and the outbox worker are separate
asyncio tasks sharing it, so every statement runs inside `transaction()`, which holds an
asyncio lock: a task's half-finished transaction can never swallow another task's writes.
A task that is already inside a transaction re-enters it, so repository calls compose into
one atomic unit (a report and its outbox rows are committed together).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from storage.migrations import MIGRATIONS


class StorageError(Exception):
    """The database file cannot be used (corrupt, newer than this code, unreadable)."""


class Database:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None

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
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = await aiosqlite.connect(self.path, isolation_level=None)
            self._conn.row_factory = sqlite3.Row
            for pragma in (
                "PRAGMA journal_mode = WAL",
                # FULL: a committed report or outbox row survives a power cut, not just a crash.
                "PRAGMA synchronous = FULL",
                "PRAGMA foreign_keys = ON",
                "PRAGMA busy_timeout = 5000",
            ):
                await self._conn.execute(pragma)
            await self._check_integrity()
            await self.migrate(migrate_to)
        except StorageError:
            await self.close()
            raise
        except sqlite3.DatabaseError as exc:
            await self.close()
            raise StorageError(f"{self.path}: {exc}") from None

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _check_integrity(self) -> None:
        rows = await (await self.conn.execute("PRAGMA quick_check")).fetchall()
        verdict = [row[0] for row in rows]
        if verdict != ["ok"]:
            raise StorageError(f"{self.path}: integrity check failed: {'; '.join(verdict[:3])}")

    async def schema_version(self) -> int:
        row = await (await self.conn.execute("PRAGMA user_version")).fetchone()
        return int(row[0])

    async def migrate(self, target: int | None = None) -> None:
        """Apply every numbered migration above the file's user_version, each atomically."""
        target = len(MIGRATIONS) if target is None else target
        current = await self.schema_version()
        if current > len(MIGRATIONS):
            raise StorageError(
                f"{self.path}: schema version {current} is newer than this Vigie "
                f"({len(MIGRATIONS)}); upgrade Vigie"
            )
        for number in range(current + 1, target + 1):
            async with self.transaction():
                for statement in _statements(MIGRATIONS[number - 1]):
                    await self.conn.execute(statement)
                await self.conn.execute(f"PRAGMA user_version = {number:d}")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        task = asyncio.current_task()
        if self._owner is task and task is not None:
            yield self.conn
            return
        async with self._lock:
            self._owner = task
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self.conn.rollback()
                raise
            else:
                await self.conn.commit()
            finally:
                self._owner = None

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
        async with self.transaction() as conn:
            return await (await conn.execute(sql, tuple(params))).fetchone()

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        async with self.transaction() as conn:
            return list(await (await conn.execute(sql, tuple(params))).fetchall())

    async def backup(self, target: Path) -> None:
        """Online copy through SQLite's backup API: safe while the bot runs."""
        target.parent.mkdir(parents=True, exist_ok=True)
        async with self._lock:
            destination = await aiosqlite.connect(target)
            try:
                await self.conn.backup(destination)
            finally:
                await destination.close()


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
