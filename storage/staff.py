"""The commune's staff and its liaison chat, as the bot currently knows them.

Both `config.toml` and the bot can change them, and the latest change wins: at each start,
what the configuration changed since the previous start (a person added to or removed
from `officials`, a new `liaison_chat_id`) is applied; what it did not change stays as the
bot last set it (an official appointed in the bot stays until dismissed there or listed
and then removed in the file). `Roles` is the snapshot handlers read via `Services.roles`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass

from storage.db import Database
from storage.statuses import StaffRole

CONFIG_SEEN = "config.roles"  # the roles config.toml held at the previous start
LIAISON = "liaison_chat_id"


@dataclass(frozen=True)
class Roles:
    officials: tuple[int, ...] = ()
    admins: tuple[int, ...] = ()
    # A user id (a single gendarme), a group id (every member of it), or None.
    liaison_chat_id: int | None = None


class Staff:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def apply_config(self, officials: Iterable[int], admins: Iterable[int],
                           liaison_chat_id: int | None) -> None:
        """Apply what the configuration changed since the previous start (everything on
        the first start)."""
        now = time.time()
        wanted = {StaffRole.OFFICIAL: sorted(set(officials)),
                  StaffRole.ADMIN: sorted(set(admins))}
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "SELECT value FROM commune_state WHERE key = ?", (CONFIG_SEEN,))
            row = await cursor.fetchone()
            seen = json.loads(row[0]) if row is not None else None
            for role, people in wanted.items():
                before = set(seen[role]) if seen is not None else set()
                await conn.executemany(
                    "INSERT OR IGNORE INTO staff (user_id, role, appointed_at) VALUES (?, ?, ?)",
                    [(user_id, str(role), now) for user_id in set(people) - before])
                await conn.executemany(
                    "DELETE FROM staff WHERE user_id = ? AND role = ?",
                    [(user_id, str(role)) for user_id in before - set(people)])
            if seen is None or seen[LIAISON] != liaison_chat_id:
                await conn.execute(
                    "INSERT INTO commune_state (key, value) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (LIAISON, None if liaison_chat_id is None else str(liaison_chat_id)))
            await conn.execute(
                "INSERT INTO commune_state (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (CONFIG_SEEN, json.dumps({**wanted, LIAISON: liaison_chat_id})))
    async def load(self) -> Roles:
        rows = await self.db.fetch_all(
            "SELECT user_id, role FROM staff ORDER BY appointed_at, user_id")
        liaison = await self.db.fetch_one(
            "SELECT value FROM commune_state WHERE key = ?", (LIAISON,))
        return Roles(
            officials=tuple(user for user, role in rows if role == StaffRole.OFFICIAL),
            admins=tuple(user for user, role in rows if role == StaffRole.ADMIN),
            liaison_chat_id=None if liaison is None or liaison[0] is None else int(liaison[0]),
        )

    async def appoint(self, user_id: int, role: StaffRole, by: int | None) -> bool:
        """True if the person did not hold the role yet."""
        changed = await self.db.execute(
            "INSERT INTO staff (user_id, role, appointed_by, appointed_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (user_id, role) DO NOTHING",
            (user_id, str(role), by, time.time()))
        return changed > 0

    async def dismiss(self, user_id: int, role: StaffRole) -> bool:
        """True if the person held the role."""
        changed = await self.db.execute(
            "DELETE FROM staff WHERE user_id = ? AND role = ?", (user_id, str(role)))
        return changed > 0

    async def holds(self, user_id: int, role: StaffRole) -> bool:
        row = await self.db.fetch_one(
            "SELECT 1 FROM staff WHERE user_id = ? AND role = ?", (user_id, str(role)))
        return row is not None

    async def count(self, role: StaffRole) -> int:
        row = await self.db.fetch_one("SELECT COUNT(*) FROM staff WHERE role = ?", (str(role),))
        return int(row[0]) if row else 0

    async def set_liaison(self, chat_id: int | None) -> None:
        await self.db.execute(
            "INSERT INTO commune_state (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (LIAISON, None if chat_id is None else str(chat_id)))
