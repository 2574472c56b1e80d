"""Who accepted which version of the charter, and when."""

from __future__ import annotations

import time

from storage.db import Database


class CharterAcceptances:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def accept(self, user_id: int, version: int, language: str) -> None:
        await self.db.execute(
            "INSERT OR IGNORE INTO charter_acceptances (user_id, version, language, accepted_at)"
            " VALUES (?, ?, ?, ?)",
            (user_id, version, language, time.time()),
        )

    async def latest_version(self, user_id: int) -> int | None:
        row = await self.db.fetch_one(
            "SELECT MAX(version) FROM charter_acceptances WHERE user_id = ?", (user_id,)
        )
        return None if row is None else row[0]
