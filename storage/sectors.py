"""Sectors of the commune and the Telegram group each one is linked to."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass

from storage.db import Database

CONFIG_SEEN = "config.sectors"  # the sectors config.toml listed at the previous start


def _digest(area: str | None) -> str | None:
    return None if area is None else hashlib.sha256(area.encode()).hexdigest()


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

    async def apply_config(self, sectors: Iterable[tuple[str, str | None]]) -> None:
        """Apply what config.toml changed since the previous start (everything on the
        first start): a sector added there is added (or comes back), one removed there is
        retired, a changed area file replaces the area. Sectors added, renamed or retired
        in the bot are left as the bot has them. A sector is never deleted, so reports and
        referents keep pointing at it."""
        wanted = {name.strip(): area for name, area in sectors}
        digests = {name: _digest(area) for name, area in wanted.items()}
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "SELECT value FROM commune_state WHERE key = ?", (CONFIG_SEEN,))
            row = await cursor.fetchone()
            seen: dict[str, str | None] = json.loads(row[0]) if row is not None else {}
            folded = {name.casefold() for name in wanted}
            await conn.executemany(
                "UPDATE sectors SET active = 0 WHERE name = ?",
                [(name,) for name in seen if name.casefold() not in folded])
            for name, area in wanted.items():
                if name in seen and seen[name] == digests[name]:
                    continue
                await conn.execute(
                    "INSERT INTO sectors (name, area) VALUES (?, ?) ON CONFLICT (name) DO"
                    " UPDATE SET active = 1, area = COALESCE(excluded.area, sectors.area)",
                    (name, area))
            await conn.execute(
                "INSERT INTO commune_state (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (CONFIG_SEEN, json.dumps(digests)))

    async def areas(self) -> dict[int, str]:
        """Active sectors' areas (GeoJSON text), by sector id."""
        rows = await self.db.fetch_all(
            "SELECT id, area FROM sectors WHERE active = 1 AND area IS NOT NULL")
        return {sector_id: area for sector_id, area in rows}

    async def set_area(self, sector_id: int, area: str | None) -> None:
        await self.db.execute("UPDATE sectors SET area = ? WHERE id = ?", (area, sector_id))

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
