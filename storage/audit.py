"""The audit log: who did what to whom, when. Ids and short codes only, never free text."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from storage.db import Database

PURGE_BATCH = 500  # entries deleted per transaction by the retention purge


@dataclass(frozen=True)
class AuditEntry:
    """One line of the log as /journal shows it."""

    id: int
    at: float
    actor_id: int | None  # None: the bot itself
    action: str
    subject: str | None
    details: str | None  # JSON of ids and short codes




class Audit:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(
        self, actor_id: int | None, action: str, subject: str | None = None, **details: Any
    ) -> None:
        await self.db.insert(
            "INSERT INTO audit_log (at, actor_id, action, subject, details) VALUES (?, ?, ?, ?, ?)",
            (time.time(), actor_id, action, subject, json.dumps(details) if details else None),
        )

    async def entries(self, action: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        rows = await self.db.fetch_all(
            "SELECT at, actor_id, action, subject, details FROM audit_log"
            " WHERE (? IS NULL OR action = ?) ORDER BY id DESC LIMIT ?",
            (action, action, limit),
        )
        return [dict(row) for row in rows]

    async def page(self, actor_id: int | None, action_prefix: str | None, offset: int,
                   limit: int) -> tuple[list[AuditEntry], int]:
        """Entries for /journal, most recent first, and how many match in all. The prefix
        is compared with substr, not LIKE, so "_" in action names is not a wildcard."""
        where = (" WHERE (? IS NULL OR actor_id = ?)"
                 " AND (? IS NULL OR substr(action, 1, length(?)) = ?)")
        params = (actor_id, actor_id, action_prefix, action_prefix, action_prefix)
        rows = await self.db.fetch_all(
            "SELECT id, at, actor_id, action, subject, details FROM audit_log"
            f"{where} ORDER BY id DESC LIMIT ? OFFSET ?", (*params, limit, offset))
        total = await self.db.fetch_one(f"SELECT COUNT(*) FROM audit_log{where}", params)
        entries = [AuditEntry(row[0], float(row[1]), row[2], row[3], row[4], row[5])
                   for row in rows]
        return entries, int(total[0]) if total else 0

    async def purge_before(self, before: float) -> int:
        """Forget entries older than the audit retention; returns how many went."""
        total = 0
        while gone := await self.purge_batch(before):
            total += gone
        return total

    async def purge_batch(self, before: float, limit: int = PURGE_BATCH) -> int:
        """Up to `limit` entries older than `before`, in one short transaction (through
        the index `audit_by_at`); 0 once none is left."""
        return await self.db.execute(
            "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < ?"
            " ORDER BY at LIMIT ?)", (before, limit))
