"""Sectors of the commune and the Telegram group each one is linked to."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass

from storage.db import Database


@dataclass(frozen=True)
class Sector:
    id: int
    name: str
    chat_id: int | None
    invite_link: str | None
    active: bool

    @property
    def linked(self) -> bool:
        return self.chat_id is not None


_COLUMNS = "id, name, chat_id, invite_link, active"


def _sector(row: sqlite3.Row) -> Sector:
    id_, name, chat_id, invite_link, active = row
    return Sector(id_, name, chat_id, invite_link, bool(active))


class Sectors:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def sync(self, names: Iterable[str]) -> None:
        """Make the table match the configuration: new names added, removed ones deactivated.

        A sector is never deleted, so reports and referents keep pointing at it.
        """
        wanted = [name.strip() for name in names]
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE sectors SET active = 0")
            for name in wanted:
                await conn.execute(
                    "INSERT INTO sectors (name) VALUES (?)"
                    " ON CONFLICT (name) DO UPDATE SET active = 1, name = excluded.name",
                    (name,),
                )

    async def active(self) -> list[Sector]:
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM sectors WHERE active = 1 ORDER BY name"
        )
        return [_sector(row) for row in rows]

    async def get(self, sector_id: int) -> Sector | None:
        row = await self.db.fetch_one(f"SELECT {_COLUMNS} FROM sectors WHERE id = ?", (sector_id,))
        return None if row is None else _sector(row)

    async def by_name(self, name: str) -> Sector | None:
        row = await self.db.fetch_one(
            f"SELECT {_COLUMNS} FROM sectors WHERE name = ? AND active = 1", (name.strip(),)
        )
        return None if row is None else _sector(row)

    async def by_chat(self, chat_id: int) -> Sector | None:
        row = await self.db.fetch_one(
            f"SELECT {_COLUMNS} FROM sectors WHERE chat_id = ?", (chat_id,)
        )
        return None if row is None else _sector(row)

    async def link(self, sector_id: int, chat_id: int, invite_link: str | None) -> None:
        await self.db.execute(
            "UPDATE sectors SET chat_id = ?, invite_link = ?, linked_at = ? WHERE id = ?",
            (chat_id, invite_link, time.time(), sector_id),
        )

    async def unlink(self, sector_id: int) -> None:
        await self.db.execute(
            "UPDATE sectors SET chat_id = NULL, invite_link = NULL, linked_at = NULL WHERE id = ?",
            (sector_id,),
        )

    async def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        await self.db.execute(
            "UPDATE sectors SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id)
        )
