"""Moderation in the sector groups: what the bot removed or held, strikes, rights told.

A removed text is kept for the referents' decision only (`text`), and the author's own
copy only until they pass it to the gendarmerie (`author_text`); both are erased when done
or after `keep_hours` (`purge`). Strikes expire and are then deleted. Deciding is one
conditional UPDATE, so a card pressed twice, or by two referents, decides once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from storage.db import Database
from storage.statuses import ModerationKind, ModerationStatus

_COLUMNS = ("id, sector_id, chat_id, message_id, author_id, kind, findings, text, author_text,"
            " media, status, contested, strike_id, notice_failed, created_at, decided_at,"
            " decided_by")


@dataclass(frozen=True)
class ModerationAction:
    id: int
    sector_id: int | None
    chat_id: int
    message_id: int | None
    author_id: int | None
    kind: ModerationKind
    findings: str  # comma-separated core.screening.Finding names
    text: str | None
    author_text: str | None
    media: str | None  # JSON: {"type": "photo", "file_id": ..., "caption": ...}
    status: ModerationStatus
    contested: int
    strike_id: int | None
    notice_failed: int
    created_at: float
    decided_at: float | None
    decided_by: int | None

    @property
    def owner_id(self) -> int | None:
        """Whose message it was: the permission rules' `owner`."""
        return self.author_id

    @property
    def finding_list(self) -> list[str]:
        return [name for name in self.findings.split(",") if name]


def _action(row: Any) -> ModerationAction:
    values = dict(row)
    values["kind"] = ModerationKind(values["kind"])
    values["status"] = ModerationStatus(values["status"])
    return ModerationAction(**values)


@dataclass(frozen=True)
class Strike:
    id: int
    user_id: int
    sector_id: int | None
    action_id: int | None
    step: int
    created_at: float
    expires_at: float


class Moderation:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- actions ---------------------------------------------------------------------------

    async def record(self, *, sector_id: int | None, chat_id: int, message_id: int | None,
                     author_id: int | None, kind: ModerationKind, findings: list[str],
                     text: str | None, author_text: str | None = None,
                     media: str | None = None) -> ModerationAction | None:
        """A new action; None when this message was already acted on (an edit, a replay)."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO moderation_actions (sector_id, chat_id, message_id, author_id,"
                " kind, findings, text, author_text, media, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (chat_id, message_id) WHERE message_id IS NOT NULL DO NOTHING",
                (sector_id, chat_id, message_id, author_id, str(kind), ",".join(findings),
                 text, author_text, media, time.time()))
            if cursor.rowcount == 0 or cursor.lastrowid is None:
                return None
            row_id = cursor.lastrowid
        return await self.get(row_id)

    async def acted_on(self, chat_id: int, message_id: int) -> bool:
        row = await self.db.fetch_one(
            "SELECT 1 FROM moderation_actions WHERE chat_id = ? AND message_id = ?",
            (chat_id, message_id))
        return row is not None

    async def get(self, action_id: int) -> ModerationAction | None:
        row = await self.db.fetch_one(
            f"SELECT {_COLUMNS} FROM moderation_actions WHERE id = ?", (action_id,))
        return None if row is None else _action(row)

    async def decide(self, action_id: int, status: ModerationStatus,
                     decided_by: int | None) -> bool:
        """Pending → `status`, once; the referents' copy of the text is erased with it."""
        changed = await self.db.execute(
            "UPDATE moderation_actions SET status = ?, decided_at = ?, decided_by = ?,"
            " text = NULL, media = NULL WHERE id = ? AND status = ?",
            (str(status), time.time(), decided_by, action_id, str(ModerationStatus.PENDING)))
        return changed > 0

    async def contest(self, action_id: int) -> bool:
        changed = await self.db.execute(
            "UPDATE moderation_actions SET contested = 1 WHERE id = ? AND contested = 0"
            " AND status = ?", (action_id, str(ModerationStatus.PENDING)))
        return changed > 0

    async def take_author_text(self, action_id: int) -> str | None:
        """The author's copy, handed over once (to the report it becomes) and erased."""
        async with self.db.transaction():
            row = await self.db.fetch_one(
                "SELECT author_text FROM moderation_actions WHERE id = ?", (action_id,))
            if row is None or row[0] is None:
                return None
            await self.db.execute(
                "UPDATE moderation_actions SET author_text = NULL WHERE id = ?", (action_id,))
            return str(row[0])

    async def notice_failed(self, action_id: int) -> None:
        await self.db.execute(
            "UPDATE moderation_actions SET notice_failed = 1 WHERE id = ?", (action_id,))

    async def set_strike(self, action_id: int, strike_id: int) -> None:
        await self.db.execute(
            "UPDATE moderation_actions SET strike_id = ? WHERE id = ?", (strike_id, action_id))

    async def recent(self, sector_ids: list[int] | None, since: float,
                     limit: int = 30) -> list[ModerationAction]:
        """A sector's (or every sector's, with None) actions since `since`, newest first."""
        if sector_ids is None:
            rows = await self.db.fetch_all(
                f"SELECT {_COLUMNS} FROM moderation_actions WHERE created_at >= ?"
                " ORDER BY id DESC LIMIT ?", (since, limit))
        else:
            marks = ",".join("?" * len(sector_ids)) or "NULL"
            rows = await self.db.fetch_all(
                f"SELECT {_COLUMNS} FROM moderation_actions WHERE created_at >= ?"
                f" AND sector_id IN ({marks}) ORDER BY id DESC LIMIT ?",
                (since, *sector_ids, limit))
        return [_action(row) for row in rows]

    # --- strikes ---------------------------------------------------------------------------

    async def add_strike(self, user_id: int, sector_id: int | None, action_id: int,
                         lifetime: float) -> Strike:
        """A strike; its step is the count of the member's live strikes, this one included."""
        now = time.time()
        async with self.db.transaction():
            row = await self.db.fetch_one(
                "SELECT COUNT(*) FROM strikes WHERE user_id = ? AND cancelled = 0"
                " AND expires_at > ?", (user_id, now))
            step = (row[0] if row else 0) + 1
            strike_id = await self.db.insert(
                "INSERT INTO strikes (user_id, sector_id, action_id, step, created_at,"
                " expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (user_id, sector_id, action_id, step, now, now + lifetime))
            await self.set_strike(action_id, strike_id)
        return Strike(strike_id, user_id, sector_id, action_id, step, now, now + lifetime)

    async def cancel_strike(self, strike_id: int) -> bool:
        changed = await self.db.execute(
            "UPDATE strikes SET cancelled = 1 WHERE id = ? AND cancelled = 0", (strike_id,))
        return changed > 0

    async def live_strikes(self, user_id: int) -> int:
        row = await self.db.fetch_one(
            "SELECT COUNT(*) FROM strikes WHERE user_id = ? AND cancelled = 0"
            " AND expires_at > ?", (user_id, time.time()))
        return int(row[0]) if row else 0

    async def get_strike(self, strike_id: int) -> Strike | None:
        row = await self.db.fetch_one(
            "SELECT id, user_id, sector_id, action_id, step, created_at, expires_at"
            " FROM strikes WHERE id = ?", (strike_id,))
        return None if row is None else Strike(*row)

    # --- the group's reminders and the cards' copies ---------------------------------------

    async def claim_reminder(self, chat_id: int, key: str, every_seconds: float) -> bool:
        """True if this group may get this reminder now (not within `every_seconds`)."""
        now = time.time()
        changed = await self.db.execute(
            "INSERT INTO meta (key, value, updated_at) VALUES (?, '1', ?)"
            " ON CONFLICT (key) DO UPDATE SET updated_at = excluded.updated_at"
            " WHERE meta.updated_at <= ?", (f"moderation.reminder:{chat_id}:{key}", now,
                                           now - every_seconds))
        return changed > 0

    async def scrub_cards(self, action_id: int) -> int:
        """Decided: the outbox's copies of the referents' cards lose the removed text too
        (delivered or failed ones; a pending one is about to be edited anyway)."""
        return await self.db.execute(
            "UPDATE outbox SET payload = json_remove(json_remove(payload, '$.text'),"
            " '$.caption') WHERE purpose = 'mod_card' AND ref = ?"
            " AND status IN ('delivered', 'failed')", (f"moderation:{action_id}",))

    # --- rights ----------------------------------------------------------------------------

    async def first_time_missing(self, chat_id: int, right: str) -> bool:
        """True once per (group, right): the referents are told a right is missing once."""
        changed = await self.db.execute(
            "INSERT OR IGNORE INTO moderation_rights_told (chat_id, missing, told_at)"
            " VALUES (?, ?, ?)", (chat_id, right, time.time()))
        return changed > 0

    async def right_restored(self, chat_id: int, right: str) -> None:
        """The bot has this right again: losing it later is told again."""
        await self.db.execute(
            "DELETE FROM moderation_rights_told WHERE chat_id = ? AND missing = ?",
            (chat_id, right))

    # --- retention and the person's data ---------------------------------------------------

    async def purge(self, keep_seconds: float) -> int:
        """Texts older than `keep_seconds` are erased (an undecided one expires), and
        expired or cancelled strikes are deleted."""
        cutoff, now = time.time() - keep_seconds, time.time()
        async with self.db.transaction():
            expired = await self.db.execute(
                "UPDATE moderation_actions SET status = ?, text = NULL, media = NULL,"
                " author_text = NULL, decided_at = ? WHERE status = ? AND created_at < ?",
                (str(ModerationStatus.EXPIRED), now, str(ModerationStatus.PENDING), cutoff))
            await self.db.execute(
                "UPDATE moderation_actions SET author_text = NULL WHERE created_at < ?",
                (cutoff,))
            await self.db.execute(
                "DELETE FROM strikes WHERE expires_at <= ? OR cancelled = 1", (now,))
        return expired

    async def export(self, user_id: int) -> dict[str, Any]:
        actions = await self.db.fetch_all(
            "SELECT s.name AS sector, m.kind, m.findings, m.text, m.author_text, m.status,"
            " m.contested, m.created_at, m.decided_at FROM moderation_actions m"
            " LEFT JOIN sectors s ON s.id = m.sector_id WHERE m.author_id = ? ORDER BY m.id",
            (user_id,))
        strikes = await self.db.fetch_all(
            "SELECT step, created_at, expires_at, cancelled FROM strikes WHERE user_id = ?"
            " ORDER BY id", (user_id,))
        return {"moderation": [dict(row) for row in actions],
                "strikes": [dict(row) for row in strikes]}

    def erase_statements(self, user_id: int) -> list[tuple[str, tuple[Any, ...]]]:
        """What erasure runs (in storage/privacy.py's transaction): the person's removed
        texts and strikes go; the actions stay as anonymous counts."""
        return [
            ("UPDATE moderation_actions SET text = NULL, author_text = NULL, media = NULL,"
             " author_id = NULL WHERE author_id = ?", (user_id,)),
            ("UPDATE moderation_actions SET decided_by = NULL WHERE decided_by = ?", (user_id,)),
            ("DELETE FROM strikes WHERE user_id = ?", (user_id,)),
        ]
