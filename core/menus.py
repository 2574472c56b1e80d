"""Command menus that follow the role: each person sees the commands they may use.

Telegram picks the narrowest scope that exists: a person's own chat scope (officials,
admins, the liaison, referents), then all private chats (residents), all group
administrators, all groups. The lists are derived from the permission rules, so a menu
never offers what the person would be refused.

A liaison group gets its own chat scope (what anyone may do inside the liaison chat), and
each member the bot knows of (storage/liaison.py) their private menu as the liaison: set
at start, and in the background (`refresh`) when a membership, a role or the liaison chat
changes, never on the path of an update.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any, Protocol

from telegram import (
    Bot,
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
)
from telegram.error import TelegramError

from core import i18n, logs
from core.commands import COMMANDS
from core.permissions import Actor, ChatKind, Place, check
from core.services import Services
from core.settings import SUPPORTED_LANGUAGES
from core.turn import actor_of

log = logs.get("menus")

RESIDENT = Actor(0, "enrolled", True, 1, frozenset(), False, False, False)
STAFF = Actor(0, "enrolled", True, 1, frozenset(), False, True, True)
# Anyone acting inside the liaison chat is the liaison there (permissions.liaison).
LIAISON = Actor(0, "new", False, None, frozenset(), True, False, False)
PRIVATE = Place(1, ChatKind.PRIVATE)
GROUP_PLACES = (Place(-1, ChatKind.GROUP), Place(-1, ChatKind.SECTOR_GROUP, 1))


def menu(actor: Actor, places: tuple[Place, ...], language: str) -> list[BotCommand]:
    return [
        BotCommand(cmd.name, i18n.t(language, f"commands.{cmd.name}"))
        for cmd in COMMANDS
        if any(check(actor, cmd.action, place) for place in places)
    ]


async def _set(bot: Bot, actor: Actor, places: tuple[Place, ...], scope: BotCommandScope,
               default_language: str) -> None:
    for language in SUPPORTED_LANGUAGES:
        code = "" if language == default_language else language
        try:
            await bot.set_my_commands(menu(actor, places, language), scope=scope,
                                      language_code=code or None)
        except TelegramError as error:
            # Typically someone with a role who never started the bot: Telegram knows no
            # chat with them yet, and will not deliver their cards either.
            log.warning("menus.not_set", scope=scope.type, user_id=actor.user_id or None,
                        error=error.message)
            return


async def _delete(bot: Bot, scope: BotCommandScope, default_language: str) -> None:
    """Every language's list of the scope (one set per language by `_set`)."""
    for language in SUPPORTED_LANGUAGES:
        code = "" if language == default_language else language
        try:
            await bot.delete_my_commands(scope=scope, language_code=code or None)
        except TelegramError as error:
            log.info("menus.not_deleted", scope=scope.type, error=error.message)
            return


async def publish(svc: Services, bot: Bot) -> None:
    """At start: the menus of every scope, and of every person with a role."""
    default = svc.settings.commune.language
    await _set(bot, RESIDENT, (PRIVATE,), BotCommandScopeAllPrivateChats(), default)
    await _set(bot, RESIDENT, GROUP_PLACES, BotCommandScopeAllGroupChats(), default)
    await _set(bot, STAFF, GROUP_PLACES, BotCommandScopeAllChatAdministrators(), default)
    roles = svc.roles
    people = {*roles.officials, *roles.admins, *await svc.store.referents.all_referents()}
    liaison = roles.liaison_chat_id
    if liaison is not None and liaison > 0:
        people.add(liaison)
    elif liaison is not None:
        await publish_liaison_group(svc, bot, liaison)
        people.update(await svc.store.liaison.members(liaison))
    for user_id in sorted(people):
        await publish_for(svc, bot, user_id)


async def publish_liaison_group(svc: Services, bot: Bot, chat_id: int) -> None:
    """The liaison group's own menu: what the liaison may do inside the liaison chat."""
    await _set(bot, LIAISON, (Place(chat_id, ChatKind.LIAISON_CHAT),),
               BotCommandScopeChat(chat_id), svc.settings.commune.language)


async def liaison_changed(svc: Services, bot: Bot, before: int | None) -> None:
    """After the liaison chat changed from `before`: the old group's menu goes, the new
    one's is set, and every person concerned, before or now, gets their menu again."""
    default = svc.settings.commune.language
    people: set[int] = set()
    after = svc.roles.liaison_chat_id
    for chat_id in (before, after):
        if chat_id is None:
            continue
        if chat_id > 0:
            people.add(chat_id)
            continue
        if chat_id == after:
            await publish_liaison_group(svc, bot, chat_id)
        else:
            await _delete(bot, BotCommandScopeChat(chat_id), default)
        people.update(await svc.store.liaison.members(chat_id))
    for user_id in sorted(people):
        await publish_for(svc, bot, user_id)


async def publish_for(svc: Services, bot: Bot, user_id: int) -> None:
    """One person's own menu, after their role changed."""
    actor, _ = await actor_of(svc, bot, user_id)
    scope = BotCommandScopeChat(user_id)
    if not (actor.referent_of or actor.is_staff or actor.is_liaison):
        await _delete(bot, scope, svc.settings.commune.language)
        return
    await _set(bot, actor, (PRIVATE,), scope, svc.settings.commune.language)


class TaskRunner(Protocol):
    """PTB's `Application.create_task`: a task the application awaits when it stops."""

    def create_task(self, coroutine: Coroutine[Any, Any, Any], update: object = None, *,
                    name: str | None = None) -> asyncio.Task[Any]: ...


async def _safely(work: Coroutine[Any, Any, None]) -> None:
    try:
        await work
    except Exception:
        # A menu is a convenience: set again, whole, at the next start.
        log.exception("menus.not_refreshed")


def refresh(app: TaskRunner, svc: Services, bot: Bot, user_ids: Iterable[int]) -> None:
    """These people's own menus, again, in the background (never blocking an update)."""
    people = sorted(set(user_ids))
    if not people:
        return

    async def work() -> None:
        for user_id in people:
            await publish_for(svc, bot, user_id)

    app.create_task(_safely(work()), name="menus.refresh")


def refresh_liaison(app: TaskRunner, svc: Services, bot: Bot, before: int | None) -> None:
    """`liaison_changed`, in the background."""
    app.create_task(_safely(liaison_changed(svc, bot, before)), name="menus.liaison")
