"""Exclusion from the scheme, the charter's last step after a reminder and a suspension.

`/exclure` replying to someone's message in a sector group (a referent of that sector or
an official), or `/exclure ID` in private (officials): the person is banned from the group,
loses any referent role, cannot rejoin, and is told. `/reintegrer ID` lifts it. The ladder's
exclusion card (handlers/moderation/cards.py) decides through `exclude_person` too.
"""

from __future__ import annotations

from telegram import Bot
from telegram.error import TelegramError

from core import logs, menus
from core.notify import notify
from core.permissions import Action
from core.services import Services
from core.turn import Turn, guarded
from storage import Person
from storage.statuses import PersonStatus, Purpose

log = logs.get("handlers.moderation.exclusion")


async def target_person(turn: Turn) -> Person | None:
    """Whom the command names: the author of the replied message, or an id argument."""
    message = turn.message
    replied = message.reply_to_message if message else None
    if replied is not None and replied.from_user is not None and not replied.from_user.is_bot:
        user_id = replied.from_user.id
    elif turn.args and turn.args[0].isascii() and turn.args[0].isdigit() \
            and len(turn.args[0]) <= 16:  # a Telegram id (52 bits); not "²", not 10**30
        user_id = int(turn.args[0])
    else:
        return None
    return await turn.svc.store.people.get(user_id)


def is_protected(svc: Services, user_id: int) -> bool:
    """Officials and admins are named in the configuration: not excluded by a command."""
    return user_id in (*svc.roles.officials, *svc.roles.admins)


async def exclude_person(svc: Services, bot: Bot, actor_id: int, person: Person,
                         sector_id: int | None, via: str) -> None:
    """Exclude: referent roles revoked, status excluded, banned from the group, told."""
    store = svc.store
    sector = await store.sectors.get(person.sector_id or sector_id or 0)
    async with store.transaction():
        for referent_sector in await store.referents.sectors_of(person.user_id):
            await store.referents.revoke(person.user_id, referent_sector)
        await store.people.leave(person.user_id, status=PersonStatus.EXCLUDED)
        await store.audit.record(actor_id, "member.excluded", f"user:{person.user_id}",
                                 sector=sector.id if sector else None, via=via)
    if sector is not None and sector.chat_id is not None:
        try:
            await bot.ban_chat_member(sector.chat_id, person.user_id)
        except TelegramError as error:
            log.info("moderation.ban_failed", error=error.message)
    await notify(svc, person.user_id, "moderation.excluded_dm", Purpose.MODERATION)
    await menus.publish_for(svc, bot, person.user_id)


@guarded(Action.EXCLUDE, subject=target_person)
async def exclude(turn: Turn) -> None:
    person: Person = turn.subject
    if person.status == PersonStatus.EXCLUDED:
        await turn.reply("moderation.already_excluded")
        return
    if is_protected(turn.svc, person.user_id):
        await turn.reply("moderation.not_staff")
        return
    await exclude_person(turn.svc, turn.context.bot, turn.actor.user_id, person,
                         turn.place.sector_id, "command")
    await turn.reply("moderation.excluded")


async def excluded_person(turn: Turn) -> Person | None:
    person = await target_person(turn)
    return person if person is not None and person.status == PersonStatus.EXCLUDED else None


async def reinstate_person(svc: Services, bot: Bot, actor_id: int, person: Person,
                           via: str = "command") -> None:
    """Lift an exclusion: status back to "left" (they may enrol again), unbanned, told."""
    store = svc.store
    async with store.transaction():
        await store.people.set_status(person.user_id, PersonStatus.LEFT)
        await store.audit.record(actor_id, "member.reinstated", f"user:{person.user_id}",
                                 via=via)
    for sector in await store.sectors.active():
        if sector.chat_id is not None:
            try:
                await bot.unban_chat_member(sector.chat_id, person.user_id, only_if_banned=True)
            except TelegramError as error:
                log.info("moderation.unban_failed", error=error.message)
    await notify(svc, person.user_id, "moderation.reinstated_dm", Purpose.MODERATION)


@guarded(Action.REINSTATE, subject=excluded_person)
async def reinstate(turn: Turn) -> None:
    person: Person = turn.subject
    await reinstate_person(turn.svc, turn.context.bot, turn.actor.user_id, person)
    await turn.reply("moderation.reinstated")
