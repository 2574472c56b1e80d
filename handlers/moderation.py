"""Exclusion from the scheme, the charter's last step after a reminder and a suspension.

`/exclure` replying to someone's message in a sector group (a referent of that sector or
an official), or `/exclure ID` in private (officials): the person is banned from the group,
loses any referent role, cannot rejoin, and is told. `/reintegrer ID` lifts it.
"""

from __future__ import annotations

from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler

from core import logs, menus
from core.commands import command
from core.permissions import Action
from core.turn import Turn, guarded
from handlers.enrolment import rules as enrolment
from storage import Person

log = logs.get("handlers.moderation")


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


@guarded(Action.EXCLUDE, subject=target_person)
async def exclude(turn: Turn) -> None:
    person: Person = turn.subject
    store, bot = turn.svc.store, turn.context.bot
    if person.status == "excluded":
        await turn.reply("moderation.already_excluded")
        return
    if person.user_id in (*turn.svc.settings.roles.officials, *turn.svc.settings.roles.admins):
        await turn.reply("moderation.not_staff")
        return
    sector = await store.sectors.get(person.sector_id or turn.place.sector_id or 0)
    async with store.transaction():
        for sector_id in await store.referents.sectors_of(person.user_id):
            await store.referents.revoke(person.user_id, sector_id)
        await store.people.leave(person.user_id, status="excluded")
        await store.audit.record(turn.actor.user_id, "member.excluded", f"user:{person.user_id}",
                                 sector=sector.id if sector else None)
    if sector is not None and sector.chat_id is not None:
        try:
            await bot.ban_chat_member(sector.chat_id, person.user_id)
        except TelegramError as error:
            log.info("moderation.ban_failed", error=error.message)
    await enrolment.notify(turn.svc, person.user_id, "moderation.excluded_dm", "moderation")
    await menus.publish_for(turn.svc, bot, person.user_id)
    await turn.reply("moderation.excluded")


async def excluded_person(turn: Turn) -> Person | None:
    person = await target_person(turn)
    return person if person is not None and person.status == "excluded" else None


@guarded(Action.REINSTATE, subject=excluded_person)
async def reinstate(turn: Turn) -> None:
    person: Person = turn.subject
    store, bot = turn.svc.store, turn.context.bot
    async with store.transaction():
        await store.people.set_status(person.user_id, "left")
        await store.audit.record(turn.actor.user_id, "member.reinstated",
                                 f"user:{person.user_id}")
    for sector in await store.sectors.active():
        if sector.chat_id is not None:
            try:
                await bot.unban_chat_member(sector.chat_id, person.user_id, only_if_banned=True)
            except TelegramError as error:
                log.info("moderation.unban_failed", error=error.message)
    await enrolment.notify(turn.svc, person.user_id, "moderation.reinstated_dm", "moderation")
    await turn.reply("moderation.reinstated")


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler(command(Action.EXCLUDE).names, exclude))
    app.add_handler(CommandHandler(command(Action.REINSTATE).names, reinstate))
