"""Prevention tips: officials' own tips and edits, which groups had which tip, and which
scheduled runs already happened (so a run is never posted twice, even across restarts)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from storage.db import Database


@dataclass(frozen=True)
class TipOverride:
    """A tip written or changed by an official; `id` may also name a shipped tip."""

    id: str
    topic: str
    text_fr: str | None
    text_en: str | None
    retired: bool


class Tips:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def overrides(self) -> list[TipOverride]:
        rows = await self.db.fetch_all(
            "SELECT id, topic, text_fr, text_en, retired FROM tips ORDER BY updated_at, id")
        return [TipOverride(row[0], row[1], row[2], row[3], bool(row[4])) for row in rows]

    async def save(self, tip: TipOverride, by: int) -> None:
        await self.db.execute(
            "INSERT INTO tips (id, topic, text_fr, text_en, retired, updated_by, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET topic = excluded.topic,"
            " text_fr = excluded.text_fr, text_en = excluded.text_en,"
            " retired = excluded.retired, updated_by = excluded.updated_by,"
            " updated_at = excluded.updated_at",
            (tip.id, tip.topic, tip.text_fr, tip.text_en, tip.retired, by, time.time()))

    async def custom_count(self, prefix: str) -> int:
        row = await self.db.fetch_one("SELECT COUNT(*) FROM tips WHERE id LIKE ?",
                                      (f"{prefix}%",))
        return int(row[0]) if row else 0

    async def last_posted(self, sector_id: int) -> dict[str, float]:
        """Each tip this sector's group had, and when it last had it."""
        rows = await self.db.fetch_all(
            "SELECT tip_id, MAX(posted_at) FROM tip_posts WHERE sector_id = ? GROUP BY tip_id",
            (sector_id,))
        return {row[0]: row[1] for row in rows}

    async def record_post(self, sector_id: int, tip_id: str) -> None:
        await self.db.execute(
            "INSERT INTO tip_posts (sector_id, tip_id, posted_at) VALUES (?, ?, ?)",
            (sector_id, tip_id, time.time()))

    async def claim_run(self, job: str, slot: float) -> bool:
        """Mark a scheduled run as done; False if it already was (by this or an earlier
        process)."""
        return await self.db.execute(
            "INSERT INTO schedule_runs (job, slot, ran_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING", (job, slot, time.time())) == 1

    async def runs(self, job: str) -> list[dict[str, Any]]:
        rows = await self.db.fetch_all(
            "SELECT slot, ran_at FROM schedule_runs WHERE job = ? ORDER BY slot", (job,))
        return [dict(row) for row in rows]
