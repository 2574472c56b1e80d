"""What every handler needs, built once per process and kept in `application.bot_data`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from telegram import Bot
from telegram.error import TelegramError
from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot, JobQueue

from core.charter import Charter
from core.geo import Polygon
from core.runtime.outbox import OutboxWorker
from core.settings import Settings
from storage import Store

KEY = "vigie"
LIAISON_CACHE_SECONDS = 300
MEMBER_STATUSES = {"creator", "administrator", "member", "restricted"}


@dataclass
class Services:
    settings: Settings
    store: Store
    outbox: OutboxWorker
    charter: Charter
    # Sector name (casefolded) → its GeoJSON polygons, for sectors that have a file.
    sector_polygons: dict[str, list[Polygon]] = field(default_factory=dict)
    _liaison_cache: dict[int, tuple[float, bool]] = field(default_factory=dict)

    async def is_liaison(self, bot: Bot, user_id: int, chat_id: int | None) -> bool:
        """The liaison is a user id, or every member of the gendarmerie's liaison group."""
        liaison = self.settings.roles.liaison_chat_id
        if liaison is None:
            return False
        if liaison > 0 or chat_id == liaison:
            return user_id == liaison or chat_id == liaison
        cached = self._liaison_cache.get(user_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        try:
            member = await bot.get_chat_member(liaison, user_id)
            answer = member.status in MEMBER_STATUSES
        except TelegramError:
            answer = False
        self._liaison_cache[user_id] = (time.monotonic() + LIAISON_CACHE_SECONDS, answer)
        return answer


class VigieContext(CallbackContext[ExtBot[int], dict[str, Any], dict[Any, Any],
                                   dict[str, Any]]):
    """The context every callback gets (PTB's `contexttypesbot.py` pattern): `context.svc`
    is the process's services, typed, instead of a lookup in `bot_data`."""

    @property
    def svc(self) -> Services:
        return services_of(self.application)


VigieApp: TypeAlias = Application[ExtBot[int], VigieContext, dict[str, Any], dict[Any, Any],
                                  dict[str, Any], JobQueue[VigieContext]]
CONTEXT_TYPES = ContextTypes(context=VigieContext, bot_data=dict, chat_data=dict,
                             user_data=dict)


def services_of(app: Application[Any, Any, Any, Any, Any, Any]) -> Services:
    services: Services = app.bot_data[KEY]
    return services
