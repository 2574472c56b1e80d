"""The audit log: who did what to whom, when. Ids and short codes only, never free text."""

from __future__ import annotations

import json
import time
from typing import Any

from storage.db import Database


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
