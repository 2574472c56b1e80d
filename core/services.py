"""What every handler needs, built once per process and kept in `application.bot_data`."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from telegram import Bot
from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot, JobQueue

from core import geo
from core.charter import Charter
from core.geo import Polygon
from core.runtime.outbox import OutboxWorker
from core.settings import Settings
from storage import Store
from storage.staff import Roles

KEY = "vigie"
# People waiting for the background getChatMember (handlers/liaison.py), at most this many.
LIAISON_QUEUE_MAX = 10_000


@dataclass
class Services:
    settings: Settings
    store: Store
    outbox: OutboxWorker
    charter: Charter
    # The staff and the liaison chat as the database has them (storage/staff.py): seeded
    # from config.toml on the first start, changed in the bot since. Read this, never
    # `settings.roles`, which is only the seed.
    roles: Roles = field(default_factory=Roles)
    # Told the new roles after each reload (the liaison group's check runs only while the
    # liaison is a group: core/runtime/application.py).
    roles_listeners: list[Callable[[Roles], None]] = field(default_factory=list)
    # Active sector id → its polygons, for sectors that have an area.
    sector_polygons: dict[int, list[Polygon]] = field(default_factory=dict)
    # People the liaison group's membership is not known for, to ask Telegram about in the
    # background (handlers/liaison.LiaisonCheck), the latest asker first (at the end).
    liaison_pending: OrderedDict[int, None] = field(default_factory=OrderedDict)

    async def reload_roles(self) -> None:
        """Read the staff again after a change: applied from the next update on."""
        self.roles = await self.store.staff.load()
        for listener in self.roles_listeners:
            listener(self.roles)

    async def reload_areas(self) -> None:
        """Read the sectors' areas again after a change (an area kept in the database has
        been checked when it was stored; one that no longer parses is left out)."""
        polygons: dict[int, list[Polygon]] = {}
        for sector_id, area in (await self.store.sectors.areas()).items():
            try:
                polygons[sector_id] = geo.parse_polygons(area)
            except geo.GeoError:
                continue
        self.sector_polygons = polygons

    async def is_liaison(self, bot: Bot, user_id: int, chat_id: int | None) -> bool:
        """The liaison is a user id, or every member of the gendarmerie's liaison group.

        For a group, the answer comes from the database only (storage/liaison.py, kept by
        handlers/liaison.py), never from Telegram in the update's path: acting inside the
        group makes one a member; a person never seen is not one until the background
        check says so. `bot` is kept for the callers' sake and not used."""
        liaison = self.roles.liaison_chat_id
        if liaison is None:
            return False
        if liaison > 0 or chat_id == liaison:
            return user_id == liaison or chat_id == liaison
        known = await self.store.liaison.is_member(liaison, user_id)
        if known is None:
            self.want_liaison_check(user_id)
            return False
        return known

    def want_liaison_check(self, user_id: int) -> None:
        """Ask Telegram about this person in the background, before older requests."""
        self.liaison_pending.pop(user_id, None)
        if len(self.liaison_pending) >= LIAISON_QUEUE_MAX:
            # The oldest is forgotten; their next update asks again.
            self.liaison_pending.popitem(last=False)
        self.liaison_pending[user_id] = None


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
