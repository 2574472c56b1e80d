"""Storage speaks the domain; SQL lives only in this package."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path

import aiosqlite

from storage.audit import Audit
from storage.broadcasts import Broadcast, Broadcasts, NewBroadcast
from storage.charter import CharterAcceptances
from storage.conversations import Conversations
from storage.db import Database, StorageError
from storage.desk import Desk
from storage.enrolment import JoinRequest, JoinRequests, ReferentApplication, ReferentApplications
from storage.inbox import Inbox
from storage.liaison import LiaisonMembers
from storage.moderation import Moderation, ModerationAction
from storage.outbox import Message, Outbox, OutboxRow
from storage.people import People, Person
from storage.privacy import Privacy
from storage.referents import ReferentRole, Referents
from storage.reports import NewReport, Report, Reports
from storage.sectors import Sector, Sectors
from storage.staff import Roles, Staff
from storage.stats import Stats
from storage.tips import TipOverride, Tips

__all__ = [
    "Broadcast",
    "JoinRequest",
    "Message",
    "ModerationAction",
    "NewBroadcast",
    "NewReport",
    "OutboxRow",
    "Person",
    "ReferentApplication",
    "ReferentRole",
    "Report",
    "Roles",
    "Sector",
    "StorageError",
    "Store",
    "TipOverride",
]


class Store:
    """The database and its repositories, opened once per process."""

    def __init__(self, path: Path | str) -> None:
        self.db = Database(path)
        self.people = People(self.db)
        self.sectors = Sectors(self.db)
        self.referents = Referents(self.db)
        self.charter = CharterAcceptances(self.db)
        self.outbox = Outbox(self.db)
        self.inbox = Inbox(self.db)
        self.moderation = Moderation(self.db)
        self.conversations = Conversations(self.db)
        self.audit = Audit(self.db)
        self.join_requests = JoinRequests(self.db)
        self.reports = Reports(self.db)
        self.privacy = Privacy(self.db)
        self.referent_applications = ReferentApplications(self.db)
        self.stats = Stats(self.db)
        self.broadcasts = Broadcasts(self.db)
        self.tips = Tips(self.db)
        self.liaison = LiaisonMembers(self.db)
        self.desk = Desk(self.db)
        self.staff = Staff(self.db)

    async def open(self) -> None:
        await self.db.open()

    async def close(self) -> None:
        await self.db.close()

    def transaction(self, durable: bool = True
                    ) -> AbstractAsyncContextManager[aiosqlite.Connection]:
        return self.db.transaction(durable)

    async def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup: its new id replaces the old one everywhere."""
        async with self.db.transaction():
            await self.sectors.migrate_chat(old_chat_id, new_chat_id)
            await self.outbox.migrate_chat(old_chat_id, new_chat_id)
            await self.join_requests.migrate_chat(old_chat_id, new_chat_id)
            await self.broadcasts.migrate_chat(old_chat_id, new_chat_id)
