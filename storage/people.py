"""People: a Telegram id, a language, a sector, an enrolment status. Nothing else."""

from __future__ import annotations

import time
from dataclasses import dataclass

from storage.db import Database
from storage.statuses import PersonStatus


@dataclass(frozen=True)
class Person:
    user_id: int
    language: str
    sector_id: int | None
    street: str | None
    status: PersonStatus
    blocked_bot: bool
    charter_notice_version: int


@dataclass(frozen=True)
class Standing:
    """What deciding an actor needs, read in one query: the person (None for a stranger),
    the latest charter version they accepted, the sectors they are referent of, and what
    is known of their membership of the liaison group (None: never learnt, or no group)."""

    person: Person | None
    charter_accepted: int | None
    referent_of: frozenset[int]
    liaison_member: bool | None


class People:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def standing(self, user_id: int, liaison_chat_id: int | None = None) -> Standing:
        """One statement for every update's actor (it was four reads, each a thread hop):
        each part a primary-key seek (people, charter_acceptances, referents,
        liaison_members)."""
        row = await self.db.fetch_one(
            "SELECT p.user_id, p.language, p.sector_id, p.street, p.status, p.blocked_bot,"
            " p.charter_notice_version,"
            " (SELECT MAX(c.version) FROM charter_acceptances c WHERE c.user_id = asked.id),"
            " (SELECT group_concat(r.sector_id) FROM referents r WHERE r.user_id = asked.id),"
            " (SELECT l.member FROM liaison_members l"
            "  WHERE l.user_id = asked.id AND l.chat_id = asked.liaison)"
            " FROM (SELECT ? AS id, ? AS liaison) AS asked"
            " LEFT JOIN people p ON p.user_id = asked.id",
            (user_id, liaison_chat_id),
        )
        assert row is not None  # the derived table always gives one row
        person = None if row[0] is None else Person(
            user_id=row[0], language=row[1], sector_id=row[2], street=row[3],
            status=PersonStatus(row[4]), blocked_bot=bool(row[5]),
            charter_notice_version=row[6])
        sectors = frozenset(int(part) for part in row[8].split(",")) if row[8] else frozenset()
        return Standing(person, row[7], sectors, None if row[9] is None else bool(row[9]))

    async def get(self, user_id: int) -> Person | None:
        row = await self.db.fetch_one(
            "SELECT user_id, language, sector_id, street, status, blocked_bot,"
            " charter_notice_version FROM people WHERE user_id = ?",
            (user_id,),
        )
        if row is None:
            return None
        return Person(**{**dict(row), "status": PersonStatus(row["status"]),
                         "blocked_bot": bool(row["blocked_bot"])})

    async def ensure(self, user_id: int, language: str) -> Person:
        """The person, created on first contact with the language Telegram reported."""
        now = time.time()
        await self.db.execute(
            "INSERT INTO people (user_id, language, created_at, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET blocked_bot = 0 WHERE blocked_bot = 1",
            (user_id, language, now, now),
        )
        person = await self.get(user_id)
        assert person is not None
        return person

    async def set_language(self, user_id: int, language: str) -> None:
        await self._update(user_id, "language = ?", language)

    async def set_status(self, user_id: int, status: PersonStatus) -> None:
        await self._update(user_id, "status = ?", status)

    async def enrol(self, user_id: int, sector_id: int, street: str | None) -> None:
        await self.db.execute(
            "UPDATE people SET status = ?, sector_id = ?, street = ?, updated_at = ?,"
            " enrolled_at = ? WHERE user_id = ?",
            (PersonStatus.ENROLLED, sector_id, street, time.time(), time.time(), user_id),
        )

    async def leave(self, user_id: int, status: PersonStatus = PersonStatus.LEFT) -> None:
        """Out of the scheme: the sector and declared street are forgotten (an excluded
        person's sector is kept as `excluded_from`, for that sector's referents' /exclus)."""
        await self.db.execute(
            "UPDATE people SET status = ?, sector_id = NULL, street = NULL, updated_at = ?,"
            " enrolled_at = NULL, excluded_from = CASE WHEN ? = 'excluded' THEN sector_id"
            " ELSE NULL END WHERE user_id = ?",
            (status, time.time(), status, user_id),
        )

    async def members(self, sector_id: int) -> list[int]:
        rows = await self.db.fetch_all(
            "SELECT user_id FROM people WHERE sector_id = ? AND status = ?",
            (sector_id, PersonStatus.ENROLLED),
        )
        return [int(row[0]) for row in rows]

    async def reachable_members(self, sector_ids: list[int]) -> list[tuple[int, str]]:
        """Enrolled residents of these sectors who have not blocked the bot, with their
        language: who gets a notice in private."""
        marks = ", ".join("?" * len(sector_ids))
        rows = await self.db.fetch_all(
            f"SELECT user_id, language FROM people WHERE status = ?"
            f" AND blocked_bot = 0 AND sector_id IN ({marks}) ORDER BY user_id",
            (PersonStatus.ENROLLED, *sector_ids),
        )
        return [(row[0], row[1]) for row in rows]

    async def mark_charter_notice(self, user_id: int, version: int) -> None:
        await self._update(user_id, "charter_notice_version = ?", version)

    async def mark_blocked(self, user_id: int) -> None:
        await self._update(user_id, "blocked_bot = ?", 1)

    async def _update(self, user_id: int, assignment: str, value: object) -> None:
        await self.db.execute(
            f"UPDATE people SET {assignment}, updated_at = ? WHERE user_id = ?",
            (value, time.time(), user_id),
        )
