"""Where each person is in a conversation, and what it has gathered so far.

`conversation_states` holds, per ConversationHandler name and key (the chat and user ids),
the step a person is at; `conversation_data` holds a person's scratch data (a report draft
being written). Both are JSON, both are short-lived: a row is deleted when its conversation
ends, and rows older than their conversation's timeout are deleted when read or purged.
Erasure removes every row naming the person.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from storage.db import Database

ConversationKey = tuple[int | str, ...]


@dataclass(frozen=True)
class StateWrite:
    name: str
    key: ConversationKey
    state: object | None  # None: the conversation ended


@dataclass(frozen=True)
class DataWrite:
    user_id: int
    data: dict[str, Any] | None  # None or empty: nothing to keep


Write = StateWrite | DataWrite


class Conversations:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def states(self, name: str, not_before: float | None) -> dict[ConversationKey, object]:
        """The live conversations of one handler; older ones are deleted, not resumed."""
        async with self.db.transaction() as conn:
            if not_before is not None:
                await conn.execute(
                    "DELETE FROM conversation_states WHERE name = ? AND updated_at < ?",
                    (name, not_before))
            rows = await (await conn.execute(
                "SELECT key, state FROM conversation_states WHERE name = ?", (name,)
            )).fetchall()
        return {tuple(json.loads(row[0])): json.loads(row[1]) for row in rows}

    async def user_data(self, not_before: float | None) -> dict[int, dict[str, Any]]:
        async with self.db.transaction() as conn:
            if not_before is not None:
                await conn.execute("DELETE FROM conversation_data WHERE updated_at < ?",
                                   (not_before,))
            rows = await (await conn.execute(
                "SELECT user_id, data FROM conversation_data")).fetchall()
        return {int(row[0]): json.loads(row[1]) for row in rows}

    async def apply(self, writes: Iterable[Write]) -> None:
        """Write a set of changes atomically (they belong to one handled update)."""
        now = time.time()
        async with self.db.transaction() as conn:
            for write in writes:
                if isinstance(write, StateWrite):
                    key = json.dumps(list(write.key))
                    if write.state is None:
                        await conn.execute(
                            "DELETE FROM conversation_states WHERE name = ? AND key = ?",
                            (write.name, key))
                    else:
                        await conn.execute(
                            "INSERT INTO conversation_states (name, key, state, updated_at)"
                            " VALUES (?, ?, ?, ?) ON CONFLICT (name, key) DO UPDATE"
                            " SET state = excluded.state, updated_at = excluded.updated_at",
                            (write.name, key, json.dumps(write.state), now))
                elif write.data:
                    await conn.execute(
                        "INSERT INTO conversation_data (user_id, data, updated_at)"
                        " VALUES (?, ?, ?) ON CONFLICT (user_id) DO UPDATE"
                        " SET data = excluded.data, updated_at = excluded.updated_at",
                        (write.user_id, json.dumps(write.data, ensure_ascii=False), now))
                else:
                    await conn.execute("DELETE FROM conversation_data WHERE user_id = ?",
                                       (write.user_id,))

    async def purge(self, not_before: dict[str, float], data_not_before: float) -> int:
        """Delete conversations and scratch data left idle past their timeout."""
        removed = 0
        async with self.db.transaction() as conn:
            for name, limit in not_before.items():
                cursor = await conn.execute(
                    "DELETE FROM conversation_states WHERE name = ? AND updated_at < ?",
                    (name, limit))
                removed += cursor.rowcount
            cursor = await conn.execute(
                "DELETE FROM conversation_data WHERE updated_at < ?", (data_not_before,))
            removed += cursor.rowcount
        return removed
