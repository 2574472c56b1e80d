"""The inbox: every update fetched from Telegram, stored before Telegram is told it arrived.

A row is written (raw JSON, keyed by update_id) before the next getUpdates moves the offset
past it, or before the webhook request is answered. It is handled from here, then marked
done: its payload and sender are erased at once (the update holds names and texts), and
only the bare update_id stays, for `KEEP_DONE_SECONDS`, so a repeated update is recognised
and never handled twice. Rows not done when the process died are handled at the next start.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from storage.db import Database

# Telegram keeps an unconfirmed update (or retries a webhook) for at most 24 hours: past that,
# an update id cannot come back, and keeping it would serve nothing.
KEEP_DONE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class InboxRow:
    update_id: int
    payload: dict[str, Any] | None  # None: erased before it was handled (the person left)
    attempts: int


@dataclass(frozen=True)
class Incoming:
    """One update as received, with the id of the person it comes from (for erasure)."""

    update_id: int
    payload: dict[str, Any]
    user_id: int | None


class Inbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def accept(self, updates: Iterable[Incoming]) -> int:
        """Store a batch in one transaction; an update id seen before is ignored.
        Returns how many were new."""
        now = time.time()
        rows = [(update.update_id, json.dumps(update.payload, ensure_ascii=False),
                 update.user_id, now) for update in updates]
        async with self.db.transaction() as conn:
            cursor = await conn.executemany(
                "INSERT INTO inbox (update_id, payload, user_id, received_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (update_id) DO NOTHING", rows)
            return max(cursor.rowcount, 0)

    async def pending(self, limit: int, after: int | None = None) -> list[InboxRow]:
        """Updates not handled yet, in Telegram's order (only those past `after`, if given:
        the inbox reads on from what it already has in hand)."""
        rows = await self.db.fetch_all(
            "SELECT update_id, payload, attempts FROM inbox WHERE done_at IS NULL"
            " AND update_id > ? ORDER BY update_id LIMIT ?",
            (-1 if after is None else after, limit))
        return [InboxRow(row[0], json.loads(row[1]) if row[1] is not None else None, row[2])
                for row in rows]

    async def begin(self, *update_ids: int) -> None:
        """Count an attempt before handling: an update that keeps killing the process is
        recognised and skipped instead of being retried forever."""
        async with self.db.transaction() as conn:
            await conn.executemany("UPDATE inbox SET attempts = attempts + 1 WHERE update_id = ?",
                                   [(update_id,) for update_id in update_ids])

    async def done(self, *update_ids: int) -> None:
        """Handled: forget what it said and who sent it, keep the id for dedupe."""
        now = time.time()
        async with self.db.transaction() as conn:
            await conn.executemany(
                "UPDATE inbox SET payload = NULL, user_id = NULL, done_at = ? WHERE update_id = ?",
                [(now, update_id) for update_id in update_ids])

    async def prune(self, before: float) -> int:
        """Forget the ids of updates handled before `before`."""
        return await self.db.execute(
            "DELETE FROM inbox WHERE done_at IS NOT NULL AND done_at < ?", (before,))

    async def counts(self) -> dict[str, int]:
        row = await self.db.fetch_one(
            "SELECT COUNT(*) - COUNT(done_at), COUNT(done_at), COUNT(payload) FROM inbox")
        assert row is not None
        return {"pending": row[0], "done": row[1], "with_payload": row[2]}
