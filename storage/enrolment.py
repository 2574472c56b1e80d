"""Decisions waiting on a person: join requests to sector groups, referent applications.

Both are small state machines (pending → approved | declined) whose transition is a single
conditional UPDATE: a card pressed twice, or by two referents at once, decides once.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from storage.db import Database
from storage.statuses import RequestStatus


@dataclass(frozen=True)
class JoinRequest:
    id: int
    user_id: int
    chat_id: int
    sector_id: int
    status: RequestStatus

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> JoinRequest:
        id_, user_id, chat_id, sector_id, status = row
        return cls(id_, user_id, chat_id, sector_id, RequestStatus(status))


@dataclass(frozen=True)
class ReferentApplication:
    id: int
    user_id: int
    sector_id: int
    motivation: str
    status: RequestStatus

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ReferentApplication:
        id_, user_id, sector_id, motivation, status = row
        return cls(id_, user_id, sector_id, motivation, RequestStatus(status))


class JoinRequests:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def open(self, user_id: int, chat_id: int, sector_id: int) -> JoinRequest:
        """The pending request of this person for this group, created if needed."""
        await self.db.execute(
            "INSERT INTO join_requests (user_id, chat_id, sector_id, requested_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (user_id, chat_id, sector_id, time.time()),
        )
        request = await self.pending_for(user_id, chat_id)
        assert request is not None
        return request

    async def pending_for(self, user_id: int, chat_id: int | None = None) -> JoinRequest | None:
        row = await self.db.fetch_one(
            "SELECT id, user_id, chat_id, sector_id, status FROM join_requests"
            " WHERE user_id = ? AND (? IS NULL OR chat_id = ?) AND status = ?"
            " ORDER BY id DESC LIMIT 1",
            (user_id, chat_id, chat_id, RequestStatus.PENDING),
        )
        return None if row is None else JoinRequest.from_row(row)

    async def get(self, request_id: int) -> JoinRequest | None:
        row = await self.db.fetch_one(
            "SELECT id, user_id, chat_id, sector_id, status FROM join_requests WHERE id = ?",
            (request_id,),
        )
        return None if row is None else JoinRequest.from_row(row)

    async def decide(self, request_id: int, status: RequestStatus, decided_by: int | None
                     ) -> bool:
        """Settle a pending request; False if it was already settled."""
        changed = await self.db.execute(
            "UPDATE join_requests SET status = ?, decided_by = ?, decided_at = ?"
            " WHERE id = ? AND status = ?",
            (status, decided_by, time.time(), request_id, RequestStatus.PENDING),
        )
        return changed == 1

    async def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        await self.db.execute(
            "UPDATE join_requests SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id)
        )


class ReferentApplications:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def submit(self, user_id: int, sector_id: int, motivation: str) -> int | None:
        """A new application, or None when this person already has one pending."""
        changed = await self.db.execute(
            "INSERT INTO referent_applications (user_id, sector_id, motivation, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (user_id, sector_id, motivation, time.time()),
        )
        if not changed:
            return None
        row = await self.db.fetch_one(
            "SELECT id FROM referent_applications WHERE user_id = ? AND status = ?",
            (user_id, RequestStatus.PENDING),
        )
        return None if row is None else int(row[0])

    async def get(self, application_id: int) -> ReferentApplication | None:
        row = await self.db.fetch_one(
            "SELECT id, user_id, sector_id, motivation, status FROM referent_applications"
            " WHERE id = ?",
            (application_id,),
        )
        return None if row is None else ReferentApplication.from_row(row)

    async def pending(self) -> list[ReferentApplication]:
        rows = await self.db.fetch_all(
            "SELECT id, user_id, sector_id, motivation, status FROM referent_applications"
            " WHERE status = ? ORDER BY id",
            (RequestStatus.PENDING,),
        )
        return [ReferentApplication.from_row(row) for row in rows]

    async def decide(self, application_id: int, status: RequestStatus, decided_by: int
                     ) -> bool:
        changed = await self.db.execute(
            "UPDATE referent_applications SET status = ?, decided_by = ?, decided_at = ?"
            " WHERE id = ? AND status = ?",
            (status, decided_by, time.time(), application_id, RequestStatus.PENDING),
        )
        return changed == 1
