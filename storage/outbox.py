"""The outbox: one row per (message, recipient) that must reach Telegram.

A row moves pending → sending → delivered, or back to pending with a later
`next_attempt_at`, or to failed with the reason. A send whose fate is unknown (timed out
after the request left, or `sending` rows found at start: a process that died mid-send) may
have arrived: the row is marked `uncertain` and retried once; a second uncertain attempt
gives it up rather than risk a third copy. That is the only way a message can be doubled,
and the `uncertain` column counts it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from storage.db import Database

PENDING, SENDING, DELIVERED, FAILED = "pending", "sending", "delivered", "failed"


@dataclass(frozen=True)
class OutboxRow:
    id: int
    chat_id: int
    method: str
    payload: dict[str, Any]
    purpose: str
    ref: str | None
    status: str
    attempts: int
    message_id: int | None
    last_error: str | None
    uncertain: int = 0  # 1: an earlier attempt may have arrived; this is its one retry
    priority: int = 0  # BULK (-1) rows go after everything else that is due


@dataclass(frozen=True)
class Message:
    """What to send to one chat: a Bot API method and its parameters (chat_id excluded)."""

    chat_id: int
    method: str
    payload: dict[str, Any]
    purpose: str
    ref: str | None = None
    dedupe_key: str | None = None
    # BULK rows (a notice's copies, tips) go after everything else that is due, so a
    # report, a card or a progress edit never waits behind a 2,000-chat notice.
    priority: int = 0


BULK = -1


_COLUMNS = ("id, chat_id, method, payload, purpose, ref, status, attempts, message_id,"
            " last_error, uncertain, priority")


def _row(row: Any) -> OutboxRow:
    values = dict(row)
    values["payload"] = json.loads(values["payload"])
    return OutboxRow(**values)


_INSERT = ("INSERT INTO outbox (dedupe_key, chat_id, method, payload, purpose, ref, priority,"
           " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
           " ON CONFLICT (dedupe_key) DO NOTHING")


def _values(message: Message, now: float) -> tuple[Any, ...]:
    return (message.dedupe_key, message.chat_id, message.method,
            json.dumps(message.payload, ensure_ascii=False), message.purpose, message.ref,
            message.priority, now, now)


class Outbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def enqueue(self, messages: Iterable[Message]) -> list[int]:
        """Queue messages in one transaction; a repeated dedupe_key is queued only once."""
        now = time.time()
        ids: list[int] = []
        async with self.db.transaction() as conn:
            for message in messages:
                cursor = await conn.execute(_INSERT, _values(message, now))
                if cursor.rowcount:
                    ids.append(int(cursor.lastrowid or 0))
        return ids

    async def enqueue_many(self, messages: Iterable[Message]) -> int:
        """Queue many messages (a notice's copies) in one statement; how many were new."""
        now = time.time()
        async with self.db.transaction() as conn:
            cursor = await conn.executemany(_INSERT, [_values(m, now) for m in messages])
            return cursor.rowcount

    async def due(self, now: float, limit: int) -> list[OutboxRow]:
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM outbox WHERE status = ? AND next_attempt_at <= ?"
            " ORDER BY priority DESC, next_attempt_at, id LIMIT ?",
            (PENDING, now, limit),
        )
        return [_row(row) for row in rows]

    async def waiting_retries(self, now: float) -> dict[int, int]:
        """Chat → the oldest of its rows that was tried, put back and is not due yet: its
        later rows wait behind it, so a retry never lets a newer message overtake it."""
        rows = await self.db.fetch_all(
            "SELECT chat_id, MIN(id) FROM outbox WHERE status = ? AND next_attempt_at > ?"
            " AND last_error IS NOT NULL GROUP BY chat_id", (PENDING, now))
        return {chat_id: row_id for chat_id, row_id in rows}

    async def next_due_at(self) -> float | None:
        row = await self.db.fetch_one(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE status = ?", (PENDING,)
        )
        return None if row is None else row[0]

    async def claim(self, row_id: int) -> bool:
        """Take a pending row for sending; False if someone else already did."""
        changed = await self.db.execute(
            "UPDATE outbox SET status = ?, attempts = attempts + 1 WHERE id = ? AND status = ?",
            (SENDING, row_id, PENDING),
        )
        return changed == 1

    async def delivered(self, row_id: int, message_id: int | None) -> None:
        await self.db.execute(
            "UPDATE outbox SET status = ?, message_id = ?, last_error = NULL, finished_at = ?"
            " WHERE id = ?",
            (DELIVERED, message_id, time.time(), row_id),
        )

    async def retry_at(
        self, row_id: int, at: float, error: str, count_attempt: bool = True
    ) -> None:
        await self.db.execute(
            "UPDATE outbox SET status = ?, next_attempt_at = ?, last_error = ?,"
            " attempts = attempts - ? WHERE id = ?",
            (PENDING, at, error, 0 if count_attempt else 1, row_id),
        )

    async def failed(self, row_id: int, error: str) -> None:
        await self.db.execute(
            "UPDATE outbox SET status = ?, last_error = ?, finished_at = ? WHERE id = ?",
            (FAILED, error, time.time(), row_id),
        )

    async def retry_uncertain(self, row_id: int, at: float, error: str) -> None:
        """The send may have arrived (its answer was lost): mark it, retry it once."""
        await self.db.execute(
            "UPDATE outbox SET status = ?, next_attempt_at = ?, last_error = ?, uncertain = 1"
            " WHERE id = ?",
            (PENDING, at, error, row_id),
        )

    async def requeue_interrupted(self) -> tuple[int, int]:
        """Settle rows claimed but never settled (a process died mid-send, or a send was cut
        short at shutdown): each may have arrived, so it becomes uncertain and is retried
        once; one that was already its retry is given up. Returns (requeued, given up)."""
        now = time.time()
        async with self.db.transaction() as conn:
            given_up = (await conn.execute(
                "UPDATE outbox SET status = ?, last_error = 'interrupted twice, may have"
                " arrived: not sent again', finished_at = ? WHERE status = ? AND uncertain = 1",
                (FAILED, now, SENDING),
            )).rowcount
            requeued = (await conn.execute(
                "UPDATE outbox SET status = ?, uncertain = 1, last_error = 'interrupted'"
                " WHERE status = ?",
                (PENDING, SENDING),
            )).rowcount
        return requeued, given_up

    async def uncertain_count(self) -> int:
        """Rows whose send may have arrived more than once: the only possible duplicates."""
        row = await self.db.fetch_one("SELECT COUNT(*) FROM outbox WHERE uncertain = 1")
        return 0 if row is None else int(row[0])

    async def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> int:
        return await self.db.execute(
            "UPDATE outbox SET chat_id = ? WHERE chat_id = ? AND status IN (?, ?)",
            (new_chat_id, old_chat_id, PENDING, SENDING),
        )

    async def get(self, row_id: int) -> OutboxRow | None:
        row = await self.db.fetch_one(f"SELECT {_COLUMNS} FROM outbox WHERE id = ?", (row_id,))
        return None if row is None else _row(row)

    async def sent_as(self, chat_id: int, message_id: int) -> OutboxRow | None:
        """The row that became this Telegram message (someone replied to it): the send,
        never a later edit of it, which carries the same message id."""
        row = await self.db.fetch_one(
            f"SELECT {_COLUMNS} FROM outbox WHERE chat_id = ? AND message_id = ?"
            " AND status = ? AND method NOT LIKE 'edit%' ORDER BY id LIMIT 1",
            (chat_id, message_id, DELIVERED),
        )
        return None if row is None else _row(row)

    async def by_ref(self, purpose: str, ref: str) -> list[OutboxRow]:
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM outbox WHERE purpose = ? AND ref = ? ORDER BY id",
            (purpose, ref),
        )
        return [_row(row) for row in rows]

    async def purge_finished(self, before: float) -> int:
        """Forget settled rows: they hold copies of what was sent (streets, cards)."""
        return await self.db.execute(
            "DELETE FROM outbox WHERE status IN (?, ?) AND finished_at < ?",
            (DELIVERED, FAILED, before),
        )

    async def tally(self, purpose: str, ref: str) -> dict[str, int]:
        """How many copies of one thing (a notice, an alert) are in each status."""
        rows = await self.db.fetch_all(
            "SELECT status, COUNT(*) FROM outbox WHERE purpose = ? AND ref = ? GROUP BY status",
            (purpose, ref))
        return {row[0]: row[1] for row in rows}

    async def counts(self) -> dict[str, int]:
        rows = await self.db.fetch_all("SELECT status, COUNT(*) FROM outbox GROUP BY status")
        return {row[0]: row[1] for row in rows}
