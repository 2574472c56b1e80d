"""Referents: volunteers appointed by an official to look after one or more sectors."""

from __future__ import annotations

import time
from dataclasses import dataclass

from storage.db import Database


@dataclass(frozen=True)
class ReferentRole:
    user_id: int
    sector_id: int


class Referents:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def sectors_of(self, user_id: int) -> frozenset[int]:
        rows = await self.db.fetch_all(
            "SELECT sector_id FROM referents WHERE user_id = ?", (user_id,)
        )
        return frozenset(row[0] for row in rows)

    async def role(self, user_id: int, sector_id: int) -> ReferentRole | None:
        row = await self.db.fetch_one(
            "SELECT user_id, sector_id FROM referents WHERE user_id = ? AND sector_id = ?",
            (user_id, sector_id),
        )
        return None if row is None else ReferentRole(*row)

    async def all_referents(self) -> list[int]:
        rows = await self.db.fetch_all("SELECT DISTINCT user_id FROM referents")
        return [row[0] for row in rows]

    async def of_sector(self, sector_id: int) -> list[int]:
        rows = await self.db.fetch_all(
            "SELECT user_id FROM referents WHERE sector_id = ? ORDER BY appointed_at", (sector_id,)
        )
        return [row[0] for row in rows]

    async def appoint(self, user_id: int, sector_id: int, appointed_by: int | None) -> bool:
        changed = await self.db.execute(
            "INSERT OR IGNORE INTO referents (user_id, sector_id, appointed_by, appointed_at)"
            " VALUES (?, ?, ?, ?)",
            (user_id, sector_id, appointed_by, time.time()),
        )
        return changed > 0

    async def revoke(self, user_id: int, sector_id: int) -> bool:
        changed = await self.db.execute(
            "DELETE FROM referents WHERE user_id = ? AND sector_id = ?", (user_id, sector_id)
        )
        return changed > 0

    async def appointment_dates(self) -> list[tuple[str, float]]:
        """Each referent's sector and appointment time, without who they are: the register
        the protocol kit prints (names are written in by hand at the mairie)."""
        rows = await self.db.fetch_all(
            "SELECT s.name, r.appointed_at FROM referents r JOIN sectors s ON s.id = r.sector_id"
            " ORDER BY s.name, r.appointed_at")
        return [(str(row[0]), float(row[1])) for row in rows]
