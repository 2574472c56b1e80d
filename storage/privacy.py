"""A person's data across every table: what /mes_donnees exports, what erasure removes.

Erasure deletes the person (their language, sector, street, charter acceptances, referent
roles, join requests and applications cascade with them), keeps their reports only as
anonymous counts, and removes their id wherever another row mentions it: decisions they
took, audit entries, outbox copies addressed to them or naming them (and the copies of the
details they added to a report), their conversations in progress (a report draft) and the
contents of their updates not handled yet.
"""

from __future__ import annotations

import json
import time
from typing import Any

from storage.db import Database
from storage.moderation import Moderation
from storage.reports import DETAIL_EVENT


def _rows(rows: list[Any]) -> list[dict[str, Any]]:
    return [dict(row) for row in rows]


class Privacy:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def export(self, user_id: int) -> dict[str, Any]:
        db = self.db
        person = await db.fetch_one(
            "SELECT p.user_id, p.language, s.name AS sector, p.street, p.status, p.created_at,"
            " p.enrolled_at, x.name AS excluded_from"
            " FROM people p LEFT JOIN sectors s ON s.id = p.sector_id"
            " LEFT JOIN sectors x ON x.id = p.excluded_from WHERE p.user_id = ?",
            (user_id,))
        return {
            "person": dict(person) if person else None,
            "charter_acceptances": _rows(await db.fetch_all(
                "SELECT version, language, accepted_at FROM charter_acceptances"
                " WHERE user_id = ? ORDER BY version", (user_id,))),
            "referent_of": _rows(await db.fetch_all(
                "SELECT s.name AS sector, r.appointed_at FROM referents r"
                " JOIN sectors s ON s.id = r.sector_id WHERE r.user_id = ?", (user_id,))),
            "staff_roles": _rows(await db.fetch_all(
                "SELECT role, appointed_at FROM staff WHERE user_id = ? ORDER BY role",
                (user_id,))),
            "join_requests": _rows(await db.fetch_all(
                "SELECT s.name AS sector, j.status, j.requested_at FROM join_requests j"
                " JOIN sectors s ON s.id = j.sector_id WHERE j.user_id = ?", (user_id,))),
            "referent_applications": _rows(await db.fetch_all(
                "SELECT motivation, status, created_at FROM referent_applications"
                " WHERE user_id = ?", (user_id,))),
            "reports": _rows(await db.fetch_all(
                "SELECT r.id, s.name AS sector, r.category, r.occurred, r.description,"
                " r.latitude, r.longitude, r.status, r.created_at, r.purged_at FROM reports r"
                " LEFT JOIN sectors s ON s.id = r.sector_id WHERE r.reporter_id = ?"
                " ORDER BY r.id", (user_id,))),
            # Details the person added to their reports after sending them.
            "report_details": _rows(await db.fetch_all(
                "SELECT e.report_id, e.note AS detail, e.at FROM report_events e"
                " JOIN reports r ON r.id = e.report_id WHERE r.reporter_id = ?"
                " AND e.status = ? AND e.note IS NOT NULL ORDER BY e.id",
                (user_id, DETAIL_EVENT))),
            # What a conversation in progress gathered (a report not sent yet).
            "in_progress": [json.loads(row[0]) for row in await db.fetch_all(
                "SELECT data FROM conversation_data WHERE user_id = ?", (user_id,))],
            # Whether they belong to the liaison group, as the bot learnt it.
            "liaison_group": _rows(await db.fetch_all(
                "SELECT member, source, checked_at FROM liaison_members WHERE user_id = ?",
                (user_id,))),
            # What the bot removed or held from the person's posts, and their strikes.
            **await Moderation(db).export(user_id),
            "actions": _rows(await db.fetch_all(
                "SELECT action, at FROM audit_log WHERE actor_id = ? OR subject = ?"
                " ORDER BY id", (user_id, f"user:{user_id}"))),
        }

    async def erase(self, user_id: int) -> None:
        mention = f"%id={user_id}%"
        async with self.db.transaction() as conn:
            statements: list[tuple[str, tuple[Any, ...]]] = [
                # Every copy of their reports sent to the staff (cards, their edits, the
                # details they added), while the reports still name them: what they wrote
                # must not wait for the outbox's own purge. The details go with the events.
                ("DELETE FROM outbox WHERE ref IN"
                 " (SELECT 'report:' || id FROM reports WHERE reporter_id = ?)",
                 (user_id,)),
                # Reports stay as anonymous counts: no text, no place, no photo, no author.
                ("UPDATE reports SET description = NULL, latitude = NULL, longitude = NULL,"
                 " photo_file_id = NULL, plate = NULL, screen_flags = NULL, reporter_id = NULL,"
                 " purged_at = COALESCE(purged_at, updated_at) WHERE reporter_id = ?",
                 (user_id,)),
                ("UPDATE reports SET triaged_by = NULL WHERE triaged_by = ?", (user_id,)),
                ("UPDATE report_events SET actor_id = NULL, note = NULL WHERE actor_id = ?",
                 (user_id,)),
                ("UPDATE referents SET appointed_by = NULL WHERE appointed_by = ?", (user_id,)),
                # A role they gave someone else stays, without who gave it.
                ("UPDATE staff SET appointed_by = NULL WHERE appointed_by = ?", (user_id,)),
                ("DELETE FROM staff WHERE user_id = ?", (user_id,)),
                ("UPDATE join_requests SET decided_by = NULL WHERE decided_by = ?", (user_id,)),
                ("UPDATE referent_applications SET decided_by = NULL WHERE decided_by = ?",
                 (user_id,)),
                # An official's or a referent's part in notices, alerts and tips.
                ("UPDATE broadcasts SET author_id = NULL WHERE author_id = ?", (user_id,)),
                ("UPDATE broadcasts SET progress_chat_id = NULL WHERE progress_chat_id = ?",
                 (user_id,)),
                ("UPDATE alert_relays SET referent_id = NULL WHERE referent_id = ?", (user_id,)),
                ("UPDATE tips SET updated_by = NULL WHERE updated_by = ?", (user_id,)),
                ("UPDATE audit_log SET actor_id = NULL WHERE actor_id = ?", (user_id,)),
                ("UPDATE audit_log SET subject = 'erased', details = NULL"
                 " WHERE subject = ? OR details LIKE ?", (f"user:{user_id}", f"%{user_id}%")),
                ("DELETE FROM outbox WHERE chat_id = ? OR payload LIKE ?", (user_id, mention)),
                # Conversations in progress (a draft report) and updates not handled yet.
                ("DELETE FROM conversation_states WHERE EXISTS (SELECT 1 FROM"
                 " json_each(conversation_states.key) WHERE json_each.value = ?)", (user_id,)),
                ("DELETE FROM conversation_data WHERE user_id = ?", (user_id,)),
                # Whether they belong to the liaison group (storage/liaison.py).
                ("DELETE FROM liaison_members WHERE user_id = ?", (user_id,)),
                ("UPDATE inbox SET payload = NULL, user_id = NULL WHERE user_id = ?",
                 (user_id,)),
                *Moderation(self.db).erase_statements(user_id),
                ("DELETE FROM people WHERE user_id = ?", (user_id,)),
            ]
            for sql, params in statements:
                await conn.execute(sql, params)
            await conn.execute(
                "INSERT INTO audit_log (at, actor_id, action, subject, details)"
                " VALUES (?, NULL, 'person.erased', NULL, NULL)", (time.time(),))
