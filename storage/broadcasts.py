"""Notices, alerts and polls sent down to the sectors, with their delivery figures.

A broadcast's copies are outbox rows (purpose `Purpose.BROADCAST`, ref `bc:<id>`): while it is
being sent, its progress is read from them; once they are all settled, the figures are
written here, since outbox rows are forgotten after a few days.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from storage.db import Database
from storage.statuses import BroadcastKind, BroadcastStatus

REF = "bc"  # a broadcast's outbox rows are tagged "bc:<id>"


def broadcast_id(ref: str | None) -> int | None:
    """The broadcast an outbox ref names (`bc:12` → 12), None for any other ref."""
    prefix, _, number = (ref or "").partition(":")
    return int(number) if prefix == REF and number.isdigit() else None


@dataclass(frozen=True)
class Broadcast:
    id: int
    kind: BroadcastKind
    author_id: int | None
    body: str
    photo_file_id: str | None
    options: list[str]
    sector_ids: list[int]
    to_residents: bool
    referents_only: bool
    pin: bool
    silent: bool
    status: BroadcastStatus
    recipients: int
    delivered: int
    failed: int
    progress_chat_id: int | None
    progress_outbox_id: int | None
    created_at: float

    @property
    def ref(self) -> str:
        return f"{REF}:{self.id}"


@dataclass(frozen=True)
class NewBroadcast:
    kind: BroadcastKind
    author_id: int
    body: str
    sector_ids: list[int]
    photo_file_id: str | None = None
    options: tuple[str, ...] = ()
    to_residents: bool = False
    referents_only: bool = False
    pin: bool = False
    silent: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", BroadcastKind(self.kind))


@dataclass(frozen=True)
class PollCopy:
    poll_id: str
    broadcast_id: int
    chat_id: int
    message_id: int
    counts: list[int]
    closed: bool


_COLUMNS = ("id, kind, author_id, body, photo_file_id, options, sector_ids, to_residents,"
            " referents_only, pin, silent, status, recipients, delivered, failed,"
            " progress_chat_id, progress_outbox_id, created_at")


def _broadcast(row: Any) -> Broadcast:
    values = dict(row)
    values["kind"] = BroadcastKind(values["kind"])
    values["status"] = BroadcastStatus(values["status"])
    values["options"] = json.loads(values["options"] or "[]")
    values["sector_ids"] = json.loads(values["sector_ids"])
    for flag in ("to_residents", "referents_only", "pin", "silent"):
        values[flag] = bool(values[flag])
    return Broadcast(**values)


def _poll_copy(row: Any) -> PollCopy:
    values = dict(row)
    values["counts"] = json.loads(values["counts"])
    values["closed"] = bool(values["closed"])
    return PollCopy(**values)


class Broadcasts:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, new: NewBroadcast, recipients: int, progress_chat_id: int) -> int:
        return await self.db.insert(
            "INSERT INTO broadcasts (kind, author_id, body, photo_file_id, options, sector_ids,"
            " to_residents, referents_only, pin, silent, recipients, progress_chat_id,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (new.kind, new.author_id, new.body, new.photo_file_id,
             json.dumps(list(new.options), ensure_ascii=False), json.dumps(new.sector_ids),
             new.to_residents, new.referents_only, new.pin, new.silent, recipients,
             progress_chat_id, time.time()),
        )

    async def set_progress_message(self, broadcast_id: int, outbox_id: int) -> None:
        await self.db.execute("UPDATE broadcasts SET progress_outbox_id = ? WHERE id = ?",
                              (outbox_id, broadcast_id))

    async def add_recipients(self, broadcast_id: int, count: int) -> None:
        await self.db.execute("UPDATE broadcasts SET recipients = recipients + ? WHERE id = ?",
                              (count, broadcast_id))

    async def get(self, broadcast_id: int) -> Broadcast | None:
        row = await self.db.fetch_one(f"SELECT {_COLUMNS} FROM broadcasts WHERE id = ?",
                                      (broadcast_id,))
        return None if row is None else _broadcast(row)

    async def sending(self) -> list[Broadcast]:
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM broadcasts WHERE status = ? ORDER BY id",
            (BroadcastStatus.SENDING,))
        return [_broadcast(row) for row in rows]

    async def recent(self, kinds: Iterable[BroadcastKind], limit: int = 10
                     ) -> list[Broadcast]:
        kinds = tuple(kinds)
        marks = ", ".join("?" * len(kinds))
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM broadcasts WHERE kind IN ({marks})"
            " ORDER BY id DESC LIMIT ?", (*kinds, limit))
        return [_broadcast(row) for row in rows]

    async def finish(self, broadcast_id: int, delivered: int, failed: int) -> bool:
        """Record the final figures; False if another sweep already did."""
        return await self.db.execute(
            "UPDATE broadcasts SET status = ?, delivered = ?, failed = ?, finished_at = ?"
            " WHERE id = ? AND status = ?",
            (BroadcastStatus.SENT, delivered, failed, time.time(), broadcast_id,
             BroadcastStatus.SENDING)) == 1

    async def close_poll(self, broadcast_id: int) -> bool:
        return await self.db.execute(
            "UPDATE broadcasts SET status = ? WHERE id = ? AND kind = ? AND status != ?",
            (BroadcastStatus.CLOSED, broadcast_id, BroadcastKind.POLL,
             BroadcastStatus.CLOSED)) == 1

    async def close(self, broadcast_id: int) -> bool:
        """A notice or an alert closed by its author: once (False if already closed, still
        being sent, or a poll, which `close_poll` closes)."""
        return await self.db.execute(
            "UPDATE broadcasts SET status = ? WHERE id = ? AND kind != ? AND status = ?",
            (BroadcastStatus.CLOSED, broadcast_id, BroadcastKind.POLL,
             BroadcastStatus.SENT)) == 1

    async def record_relay(self, broadcast_id: int, sector_id: int, referent_id: int) -> bool:
        """An alert relayed by a referent into their group: once per sector."""
        return await self.db.execute(
            "INSERT INTO alert_relays (broadcast_id, sector_id, referent_id, relayed_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (broadcast_id, sector_id, referent_id, time.time())) == 1

    async def relays(self, broadcast_id: int) -> int:
        row = await self.db.fetch_one(
            "SELECT COUNT(*) FROM alert_relays WHERE broadcast_id = ?", (broadcast_id,))
        return int(row[0]) if row else 0

    async def add_poll_copy(self, poll_id: str, broadcast_id: int, chat_id: int,
                            message_id: int, options: int) -> None:
        await self.db.execute(
            "INSERT INTO poll_copies (poll_id, broadcast_id, chat_id, message_id, counts)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (poll_id) DO NOTHING",
            (poll_id, broadcast_id, chat_id, message_id, json.dumps([0] * options)))

    async def update_poll_counts(self, poll_id: str, counts: list[int], closed: bool) -> bool:
        """Telegram's latest counts for one copy; False for a poll that is not ours."""
        return await self.db.execute(
            "UPDATE poll_copies SET counts = ?, closed = MAX(closed, ?) WHERE poll_id = ?",
            (json.dumps(counts), closed, poll_id)) == 1

    async def poll_copies(self, broadcast_id: int) -> list[PollCopy]:
        rows = await self.db.fetch_all(
            "SELECT poll_id, broadcast_id, chat_id, message_id, counts, closed"
            " FROM poll_copies WHERE broadcast_id = ? ORDER BY chat_id", (broadcast_id,))
        return [_poll_copy(row) for row in rows]

    async def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        await self.db.execute("UPDATE poll_copies SET chat_id = ? WHERE chat_id = ?",
                              (new_chat_id, old_chat_id))
