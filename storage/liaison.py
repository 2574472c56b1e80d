"""Who belongs to the liaison group (a gendarmerie or police group), as the bot learnt it.

One row per (group, person): a member or not, how the bot knows (`LiaisonSource`) and
when. The group's own `chat_member` updates and people acting in it keep it current; the
bot's background `getChatMember` fills in people it never saw there. A row is only
replaced by a fact at least as recent, so a background answer that left Telegram before a
person was removed never gives the role back. No row: never seen, not a member yet.
"""

from __future__ import annotations

import time

from storage.db import Database
from storage.statuses import LiaisonSource


class LiaisonMembers:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def is_member(self, chat_id: int, user_id: int) -> bool | None:
        """True or False as last learnt; None for a person the bot never learnt about."""
        row = await self.db.fetch_one(
            "SELECT member FROM liaison_members WHERE chat_id = ? AND user_id = ?",
            (chat_id, user_id))
        return None if row is None else bool(row[0])

    async def record(self, chat_id: int, user_id: int, member: bool, source: LiaisonSource,
                     at: float | None = None) -> bool:
        """Keep what was learnt at `at` (default now), unless a later fact is already kept.
        True if the row changed."""
        changed = await self.db.execute(
            "INSERT INTO liaison_members (chat_id, user_id, member, source, checked_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, chat_id) DO UPDATE SET"
            " member = excluded.member, source = excluded.source,"
            " checked_at = excluded.checked_at"
            " WHERE excluded.checked_at >= liaison_members.checked_at",
            (chat_id, user_id, int(member), str(source), time.time() if at is None else at))
        return changed > 0

    async def stalest(self, chat_id: int, members_before: float,
                      others_before: float) -> int | None:
        """Whom to ask again: the member learnt longest ago, if before `members_before`,
        else the non-member learnt longest ago, if before `others_before`."""
        for member, before in ((1, members_before), (0, others_before)):
            row = await self.db.fetch_one(
                "SELECT user_id FROM liaison_members WHERE chat_id = ? AND member = ?"
                " AND checked_at < ? ORDER BY checked_at LIMIT 1", (chat_id, member, before))
            if row is not None:
                return int(row[0])
        return None

    async def members(self, chat_id: int) -> list[int]:
        """Everyone last learnt to be a member of the group (their menus follow)."""
        rows = await self.db.fetch_all(
            "SELECT user_id FROM liaison_members WHERE chat_id = ? AND member = 1"
            " ORDER BY user_id", (chat_id,))
        return [int(row[0]) for row in rows]

    async def count(self, chat_id: int) -> int:
        row = await self.db.fetch_one(
            "SELECT COUNT(*) FROM liaison_members WHERE chat_id = ? AND member = 1", (chat_id,))
        return int(row[0]) if row else 0
