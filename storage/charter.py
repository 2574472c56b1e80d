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

    async def register_version(self, digest: str, at_least: int, source: str) -> int:
        """The version number of a charter text (its digest): the known one, or a new one
        above every version registered or accepted so far (and at least `at_least`)."""
        async with self.db.transaction():
            row = await self.db.fetch_one(
                "SELECT version FROM charter_versions WHERE digest = ?", (digest,))
            if row is not None:
                return int(row[0])
            row = await self.db.fetch_one(
                "SELECT MAX(version) FROM charter_versions")
            registered = row[0] if row is not None and row[0] is not None else 0
            row = await self.db.fetch_one("SELECT MAX(version) FROM charter_acceptances")
            accepted = row[0] if row is not None and row[0] is not None else 0
            version = max(at_least, registered + 1, accepted + 1)
            await self.db.execute(
                "INSERT INTO charter_versions (version, digest, source, registered_at)"
                " VALUES (?, ?, ?, ?)", (version, digest, source, time.time()))
            return version
