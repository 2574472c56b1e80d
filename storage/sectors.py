"""Sectors of the commune and the Telegram group each one is linked to."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from storage.db import Database
from storage.statuses import PersonStatus, RequestStatus

CONFIG_SEEN = "config.sectors"  # the sectors config.toml listed at the previous start


def _digest(area: str | None) -> str | None:
    return None if area is None else hashlib.sha256(area.encode()).hexdigest()


@dataclass(frozen=True)
class Sector:
    id: int
    name: str
    chat_id: int | None
    invite_link: str | None
    active: bool

    @property
    def linked(self) -> bool:
        return self.chat_id is not None


_COLUMNS = "id, name, chat_id, invite_link, active"


def _sector(row: sqlite3.Row) -> Sector:
    id_, name, chat_id, invite_link, active = row
    return Sector(id_, name, chat_id, invite_link, bool(active))


# --- live administration (handlers/sectors) -----------------------------------------------

NAME_MAX = 64  # characters: a sector's name as typed by the staff


class SectorRefusal(StrEnum):
    """Why a change to the sectors was not made (nothing changed)."""

    NAME_TAKEN = "name_taken"  # an active sector has this name (case-insensitively)
    NAME_RETIRED = "name_retired"  # a retired sector has it: it may come back instead
    GONE = "gone"  # the sector is retired (or never existed): a stale button
    LAST = "last"  # the last active sector cannot be retired
    SAME = "same"  # a sector merged into itself


@dataclass(frozen=True)
class SectorSummary:
    """An active sector as /secteurs lists it."""

    sector: Sector
    members: int
    referents: int
    streets: int
    has_area: bool


@dataclass(frozen=True)
class Retired:
    """What retiring (or merging away) a sector changed: `sector` as it was before (its
    group's id included), its enrolled members and its referents at that moment."""

    sector: Sector
    members: list[int]
    referents: list[int]
    target: Sector | None = None  # a merge: where they all went
    # Join requests that were waiting for the sector's group, as (user id, group id): they
    # are withdrawn here and declined on Telegram by the caller, the applicant told.
    requests: list[tuple[int, int]] = field(default_factory=list)


def _folded(name: str) -> str:
    return " ".join(name.split()).casefold()


class Sectors:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def apply_config(self, sectors: Iterable[tuple[str, str | None]]) -> None:
        """Apply what config.toml changed since the previous start (everything on the
        first start): a sector added there is added (or comes back), one removed there is
        retired, a changed area file replaces the area. Sectors added, renamed or retired
        in the bot are left as the bot has them. A sector is never deleted, so reports and
        referents keep pointing at it."""
        wanted = {name.strip(): area for name, area in sectors}
        digests = {name: _digest(area) for name, area in wanted.items()}
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "SELECT value FROM commune_state WHERE key = ?", (CONFIG_SEEN,))
            row = await cursor.fetchone()
            seen: dict[str, str | None] = json.loads(row[0]) if row is not None else {}
            folded = {name.casefold() for name in wanted}
            await conn.executemany(
                "UPDATE sectors SET active = 0 WHERE name = ?",
                [(name,) for name in seen if name.casefold() not in folded])
            for name, area in wanted.items():
                if name in seen and seen[name] == digests[name]:
                    continue
                await conn.execute(
                    "INSERT INTO sectors (name, area) VALUES (?, ?) ON CONFLICT (name) DO"
                    " UPDATE SET active = 1, area = COALESCE(excluded.area, sectors.area)",
                    (name, area))
            await conn.execute(
                "INSERT INTO commune_state (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (CONFIG_SEEN, json.dumps(digests)))

    async def areas(self) -> dict[int, str]:
        """Active sectors' areas (GeoJSON text), by sector id."""
        rows = await self.db.fetch_all(
            "SELECT id, area FROM sectors WHERE active = 1 AND area IS NOT NULL")
        return {sector_id: area for sector_id, area in rows}

    async def set_area(self, sector_id: int, area: str | None) -> None:
        await self.db.execute("UPDATE sectors SET area = ? WHERE id = ?", (area, sector_id))

    async def active(self) -> list[Sector]:
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM sectors WHERE active = 1 ORDER BY name"
        )
        return [_sector(row) for row in rows]

    async def get(self, sector_id: int) -> Sector | None:
        row = await self.db.fetch_one(f"SELECT {_COLUMNS} FROM sectors WHERE id = ?", (sector_id,))
        return None if row is None else _sector(row)

    async def by_name(self, name: str) -> Sector | None:
        row = await self.db.fetch_one(
            f"SELECT {_COLUMNS} FROM sectors WHERE name = ? AND active = 1", (name.strip(),)
        )
        return None if row is None else _sector(row)

    async def by_chat(self, chat_id: int) -> Sector | None:
        row = await self.db.fetch_one(
            f"SELECT {_COLUMNS} FROM sectors WHERE chat_id = ?", (chat_id,)
        )
        return None if row is None else _sector(row)

    async def link(self, sector_id: int, chat_id: int, invite_link: str | None) -> None:
        await self.db.execute(
            "UPDATE sectors SET chat_id = ?, invite_link = ?, linked_at = ? WHERE id = ?",
            (chat_id, invite_link, time.time(), sector_id),
        )

    async def unlink(self, sector_id: int) -> None:
        await self.db.execute(
            "UPDATE sectors SET chat_id = NULL, invite_link = NULL, linked_at = NULL WHERE id = ?",
            (sector_id,),
        )

    async def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        await self.db.execute(
            "UPDATE sectors SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id)
        )

    # -- live administration (handlers/sectors): each change one transaction -------------

    async def summaries(self) -> list[SectorSummary]:
        """Active sectors with their members, referents and streets counted."""
        rows = await self.db.fetch_all(
            f"SELECT {', '.join('s.' + c for c in _COLUMNS.split(', '))},"
            " (SELECT COUNT(*) FROM people p WHERE p.sector_id = s.id AND p.status = ?),"
            " (SELECT COUNT(*) FROM referents r WHERE r.sector_id = s.id),"
            " (SELECT COUNT(*) FROM sector_streets t WHERE t.sector_id = s.id),"
            " s.area IS NOT NULL"
            " FROM sectors s WHERE s.active = 1 ORDER BY s.name",
            (PersonStatus.ENROLLED,))
        return [SectorSummary(Sector(row[0], row[1], row[2], row[3], bool(row[4])),
                              int(row[5]), int(row[6]), int(row[7]), bool(row[8]))
                for row in rows]

    async def named(self, name: str) -> Sector | None:
        """The sector, active or retired, with this name (case, accents kept, and spacing
        ignored: "les hauts" is "Les Hauts")."""
        wanted = _folded(name)
        rows = await self.db.fetch_all(f"SELECT {_COLUMNS} FROM sectors ORDER BY active DESC")
        return next((_sector(row) for row in rows if _folded(row[1]) == wanted), None)

    async def add(self, name: str) -> Sector | SectorRefusal:
        """A new active sector, unless the name is taken (by an active or a retired one)."""
        name = " ".join(name.split())
        async with self.db.transaction() as conn:
            existing = await self.named(name)
            if existing is not None:
                return SectorRefusal.NAME_TAKEN if existing.active else SectorRefusal.NAME_RETIRED
            cursor = await conn.execute("INSERT INTO sectors (name) VALUES (?)", (name,))
            sector_id = int(cursor.lastrowid or 0)
        added = await self.get(sector_id)
        assert added is not None
        return added

    async def restore(self, sector_id: int) -> Sector | SectorRefusal:
        """A retired sector comes back (without members, referents nor group: they left
        with its retirement)."""
        changed = await self.db.execute(
            "UPDATE sectors SET active = 1 WHERE id = ? AND active = 0", (sector_id,))
        if not changed:
            return SectorRefusal.GONE
        restored = await self.get(sector_id)
        assert restored is not None
        return restored

    async def rename(self, sector_id: int, name: str) -> Sector | SectorRefusal:
        """The same sector (id, members, referents, group, reports) under a new name."""
        name = " ".join(name.split())
        async with self.db.transaction() as conn:
            current = await self.get(sector_id)
            if current is None or not current.active:
                return SectorRefusal.GONE
            existing = await self.named(name)
            if existing is not None and existing.id != sector_id:
                return SectorRefusal.NAME_TAKEN if existing.active else SectorRefusal.NAME_RETIRED
            await conn.execute("UPDATE sectors SET name = ? WHERE id = ?", (name, sector_id))
        renamed = await self.get(sector_id)
        assert renamed is not None
        return renamed

    async def retire(self, sector_id: int) -> Retired | SectorRefusal:
        """The sector is retired (never deleted: its reports keep pointing at it). Its
        members keep their charter and wait for a new sector (status new, no sector); its
        referent roles end; its group is unlinked; its pending join requests are withdrawn
        and pending referent applications declined; its streets are freed."""
        async with self.db.transaction() as conn:
            found = await self._retirable(sector_id)
            if isinstance(found, SectorRefusal):
                return found
            members, referents = await self._people_of(sector_id)
            now = time.time()
            await conn.execute(
                "UPDATE people SET sector_id = NULL, status = ?, enrolled_at = NULL,"
                " updated_at = ? WHERE sector_id = ? AND status = ?",
                (PersonStatus.NEW, now, sector_id, PersonStatus.ENROLLED))
            await conn.execute("DELETE FROM referents WHERE sector_id = ?", (sector_id,))
            await conn.execute("DELETE FROM sector_streets WHERE sector_id = ?", (sector_id,))
            requests = await self._close_requests(sector_id, now)
            await conn.execute(
                "UPDATE referent_applications SET status = ?, decided_at = ?"
                " WHERE sector_id = ? AND status = ?",
                (RequestStatus.DECLINED, now, sector_id, RequestStatus.PENDING))
            await self._deactivate(sector_id)
        return Retired(found, members, referents, requests=requests)

    async def merge(self, source_id: int, target_id: int) -> Retired | SectorRefusal:
        """`source` into `target`: its members, referents, reports, pending referent
        applications, moderation history, strikes and streets go to `target` (its area too
        when `target` has none; when both have one, the caller stores their union), then
        `source` is retired. Its pending join requests (for
        its own group) are withdrawn."""
        if source_id == target_id:
            return SectorRefusal.SAME
        async with self.db.transaction() as conn:
            source = await self.get(source_id)
            target = await self.get(target_id)
            if source is None or target is None or not source.active or not target.active:
                return SectorRefusal.GONE
            members, referents = await self._people_of(source_id)
            now = time.time()
            move = (target_id, source_id)
            await conn.execute("UPDATE people SET sector_id = ?, updated_at = ?"
                               " WHERE sector_id = ?", (target_id, now, source_id))
            await conn.execute("UPDATE people SET excluded_from = ? WHERE excluded_from = ?",
                               move)
            await conn.execute(
                "INSERT OR IGNORE INTO referents (user_id, sector_id, appointed_by,"
                " appointed_at) SELECT user_id, ?, appointed_by, appointed_at FROM referents"
                " WHERE sector_id = ?", move)
            await conn.execute("DELETE FROM referents WHERE sector_id = ?", (source_id,))
            requests = await self._close_requests(source_id, now)
            for table in ("reports", "referent_applications", "moderation_actions",
                          "strikes", "sector_streets"):
                await conn.execute(f"UPDATE {table} SET sector_id = ? WHERE sector_id = ?",
                                   move)
            await conn.execute(
                "UPDATE sectors SET area = (SELECT area FROM sectors WHERE id = ?)"
                " WHERE id = ? AND area IS NULL", (source_id, target_id))
            await self._deactivate(source_id)
        return Retired(source, members, referents, target, requests)

    async def _retirable(self, sector_id: int) -> Sector | SectorRefusal:
        sector = await self.get(sector_id)
        if sector is None or not sector.active:
            return SectorRefusal.GONE
        row = await self.db.fetch_one("SELECT COUNT(*) FROM sectors WHERE active = 1")
        if row is None or int(row[0]) <= 1:
            return SectorRefusal.LAST
        return sector

    async def _people_of(self, sector_id: int) -> tuple[list[int], list[int]]:
        members = await self.db.fetch_all(
            "SELECT user_id FROM people WHERE sector_id = ? AND status = ? ORDER BY user_id",
            (sector_id, PersonStatus.ENROLLED))
        referents = await self.db.fetch_all(
            "SELECT user_id FROM referents WHERE sector_id = ? ORDER BY appointed_at",
            (sector_id,))
        return [int(row[0]) for row in members], [int(row[0]) for row in referents]

    async def _close_requests(self, sector_id: int, now: float) -> list[tuple[int, int]]:
        rows = await self.db.fetch_all(
            "SELECT user_id, chat_id FROM join_requests WHERE sector_id = ? AND status = ?",
            (sector_id, RequestStatus.PENDING))
        await self.db.execute(
            "UPDATE join_requests SET status = ?, decided_at = ? WHERE sector_id = ?"
            " AND status = ?", (RequestStatus.WITHDRAWN, now, sector_id, RequestStatus.PENDING))
        return [(int(user_id), int(chat_id)) for user_id, chat_id in rows]

    async def _deactivate(self, sector_id: int) -> None:
        await self.db.execute(
            "UPDATE sectors SET active = 0, chat_id = NULL, invite_link = NULL,"
            " linked_at = NULL WHERE id = ?", (sector_id,))

    # --- streets (issue 15, enrolment by street; handlers/areas keeps the lists) ---------

    async def set_streets(self, sector_id: int, streets: list[tuple[str, str]]
                          ) -> list[tuple[str, int]]:
        """Replace the sector's streets with `streets` ((name, key) pairs, keys distinct).
        A key another active sector holds stops the change: those (name, sector id) are
        returned and nothing is written. A retired sector's streets give way."""
        keys = [key for _, key in streets]
        async with self.db.transaction() as conn:
            found: list[tuple[str, int, int]] = []
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ", ".join("?" * len(chunk))
                cursor = await conn.execute(
                    "SELECT st.key, st.sector_id, s.active FROM sector_streets st"
                    f" JOIN sectors s ON s.id = st.sector_id WHERE st.key IN ({marks})"
                    " AND st.sector_id != ?", (*chunk, sector_id))
                found += [(key, other, active) for key, other, active in await cursor.fetchall()]
            names = {key: name for name, key in streets}
            held = [(names[key], other) for key, other, active in found if active]
            if held:
                return held
            await conn.executemany(
                "DELETE FROM sector_streets WHERE key = ?", [(key,) for key, _, _ in found])
            await conn.execute("DELETE FROM sector_streets WHERE sector_id = ?", (sector_id,))
            await conn.executemany(
                "INSERT INTO sector_streets (sector_id, street, key) VALUES (?, ?, ?)",
                [(sector_id, name, key) for name, key in streets])
        return []

    async def streets(self, sector_id: int) -> list[str]:
        rows = await self.db.fetch_all(
            "SELECT street FROM sector_streets WHERE sector_id = ? ORDER BY key", (sector_id,))
        return [row[0] for row in rows]

    async def all_streets(self) -> list[tuple[int, str, str]]:
        """Every active sector's streets: (sector id, street, key)."""
        rows = await self.db.fetch_all(
            "SELECT st.sector_id, st.street, st.key FROM sector_streets st"
            " JOIN sectors s ON s.id = st.sector_id WHERE s.active = 1 ORDER BY st.key")
        return [(sector_id, street, key) for sector_id, street, key in rows]

    async def street_counts(self) -> dict[int, int]:
        """How many streets each active sector has (sectors without any are left out)."""
        rows = await self.db.fetch_all(
            "SELECT st.sector_id, COUNT(*) FROM sector_streets st"
            " JOIN sectors s ON s.id = st.sector_id WHERE s.active = 1 GROUP BY st.sector_id")
        return {sector_id: count for sector_id, count in rows}
