"""Command menus that follow the role: each person sees the commands they may use.

Telegram picks the narrowest scope that exists: a person's own chat scope (officials,
admins, the liaison, referents), then all private chats (residents), all group
administrators, all groups. The lists are derived from the permission rules, so a menu
never offers what the person would be refused.
"""

from __future__ import annotations

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


async def publish(svc: Services, bot: Bot) -> None:
    """At start: the menus of every scope, and of every person with a role."""
    default = svc.settings.commune.language
    await _set(bot, RESIDENT, (PRIVATE,), BotCommandScopeAllPrivateChats(), default)
    await _set(bot, RESIDENT, GROUP_PLACES, BotCommandScopeAllGroupChats(), default)
    await _set(bot, STAFF, GROUP_PLACES, BotCommandScopeAllChatAdministrators(), default)
    roles = svc.roles
    people = {*roles.officials, *roles.admins, *await svc.store.referents.all_referents()}
    if roles.liaison_chat_id is not None and roles.liaison_chat_id > 0:
        people.add(roles.liaison_chat_id)
    for user_id in sorted(people):
        await publish_for(svc, bot, user_id)


async def publish_for(svc: Services, bot: Bot, user_id: int) -> None:
    """One person's own menu, after their role changed."""
    actor, _ = await actor_of(svc, bot, user_id)
    scope = BotCommandScopeChat(user_id)
    if not (actor.referent_of or actor.is_staff or actor.is_liaison):
        try:
            await bot.delete_my_commands(scope=scope)
        except TelegramError as error:
            log.info("menus.not_deleted", error=error.message)
        return
    await _set(bot, actor, (PRIVATE,), scope, svc.settings.commune.language)
