"""Conversations that survive a restart: PTB's BasePersistence over the project's SQLite.

Kept: the step each person is at in every persistent ConversationHandler (keyed by chat and
user id), and `user_data`, a person's scratch space (a report draft). Both as JSON, never
pickle. Not kept: `bot_data` (it holds the services, not data), `chat_data` and callback
data (unused).

After each update, the inbox collects the writes PTB asks for (`collecting()`) and commits
them with the update's "done" mark in one transaction (core/inbox.py): after a crash, either
both are stored or neither is, and the update is handled again from the step it started in.
Writes from anywhere else (PTB's periodic run, a conversation timing out, shutdown) are
committed at once.

Privacy: a conversation's rows are deleted when it ends; rows left idle past their
conversation's timeout are not resumed at start and are purged; erasure deletes them.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from telegram.ext import BasePersistence, ConversationHandler, PersistenceInput

from core import drafts, logs
from storage import Store
from storage.conversations import ConversationKey, DataWrite, StateWrite, Write

if TYPE_CHECKING:
    from core.services import VigieApp

log = logs.get("persistence")

# PTB also writes on a timer; the inbox writes after every update, so this is a safety net.
UPDATE_INTERVAL = 60.0
# Scratch data idle for longer than the longest conversation is forgotten.
DEFAULT_DATA_EXPIRY = 3600.0

_batch: ContextVar[list[Write] | None] = ContextVar("vigie_persistence_batch", default=None)


def _is_json(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def conversation_timeouts(app: VigieApp) -> dict[str, float]:
    """Each persistent conversation's timeout in seconds, by name: how long its rows live."""
    found: dict[str, float] = {}
    for handler in itertools.chain.from_iterable(app.handlers.values()):
        if not (isinstance(handler, ConversationHandler) and handler.persistent
                and handler.name and handler.conversation_timeout):
            continue
        timeout = handler.conversation_timeout
        seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)
        found[handler.name] = seconds
    return found


class SqlitePersistence(BasePersistence[dict[str, Any], dict[Any, Any], dict[Any, Any]]):
    def __init__(self, store: Store) -> None:
        super().__init__(
            store_data=PersistenceInput(bot_data=False, chat_data=False, user_data=True,
                                        callback_data=False),
            update_interval=UPDATE_INTERVAL,
        )
        self.store = store
        # Conversation name → seconds its rows may stay idle (its conversation_timeout).
        self.expire_after: dict[str, float] = {}
        # People whose scratch data has a row: PTB hands over every person's (mostly
        # empty) data after each update, and deleting a row that is not there is a
        # database round trip per update for nothing.
        self._with_data: set[int] = set()

    @property
    def data_expiry(self) -> float:
        return max(self.expire_after.values(), default=DEFAULT_DATA_EXPIRY)

    # --- loading (PTB calls these while the Application initialises) ---------------------

    async def get_user_data(self) -> dict[int, dict[str, Any]]:
        await self.store.open()  # PTB initialises before the rest of start-up opens it
        stored = await self.store.conversations.user_data(time.time() - self.data_expiry)
        self._with_data = set(stored)
        return {user_id: drafts.decode(data) for user_id, data in stored.items()}

    async def get_conversations(self, name: str) -> dict[ConversationKey, object]:
        await self.store.open()
        limit = self.expire_after.get(name)
        return await self.store.conversations.states(
            name, time.time() - limit if limit else None)

    async def get_chat_data(self) -> dict[int, dict[Any, Any]]:
        return {}

    async def get_bot_data(self) -> dict[Any, Any]:
        return {}

    async def get_callback_data(self) -> None:
        return None

    # --- writing ---------------------------------------------------------------------------

    async def update_conversation(self, name: str, key: ConversationKey,
                                  new_state: object | None) -> None:
        if new_state is not None and not _is_json(new_state):
            log.warning("persistence.state_not_json", conversation=name)
            return
        await self._write(StateWrite(name, tuple(key), new_state))

    async def update_user_data(self, user_id: int, data: dict[str, Any]) -> None:
        data = drafts.encode(data)
        if data and not _is_json(data):
            # Kept in memory only: one bad value must not block the person's other updates.
            log.warning("persistence.user_data_not_json", user=user_id, keys=sorted(data))
            return
        if not data and user_id not in self._with_data:
            return  # nothing stored, nothing to delete
        await self._write(DataWrite(user_id, data or None))

    async def drop_user_data(self, user_id: int) -> None:
        await self._write(DataWrite(user_id, None))

    async def update_chat_data(self, chat_id: int, data: dict[Any, Any]) -> None:
        return None

    async def drop_chat_data(self, chat_id: int) -> None:
        return None

    async def update_bot_data(self, data: dict[Any, Any]) -> None:
        return None

    async def update_callback_data(self, data: Any) -> None:
        return None

    async def refresh_user_data(self, user_id: int, user_data: dict[str, Any]) -> None:
        return None  # this process is the only writer: memory is always current

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[Any, Any]) -> None:
        return None

    async def refresh_bot_data(self, bot_data: dict[Any, Any]) -> None:
        return None

    async def flush(self) -> None:
        return None  # every write is committed when it is made

    async def _write(self, write: Write) -> None:
        if isinstance(write, DataWrite):
            if write.data:
                self._with_data.add(write.user_id)
            else:
                self._with_data.discard(write.user_id)
        batch = _batch.get()
        if batch is not None:
            batch.append(write)
            return
        await self.store.conversations.apply([write])

    @asynccontextmanager
    async def collecting(self) -> AsyncIterator[list[Write]]:
        """Writes requested inside this block (and in tasks it starts, such as PTB's
        gathered writes) are collected instead of committed; the caller commits them."""
        writes: list[Write] = []
        token = _batch.set(writes)
        try:
            yield writes
        finally:
            _batch.reset(token)

    async def purge(self) -> int:
        """Delete conversations and scratch data idle past their timeout."""
        now = time.time()
        return await self.store.conversations.purge(
            {name: now - seconds for name, seconds in self.expire_after.items()},
            now - self.data_expiry)
