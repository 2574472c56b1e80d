"""A member's own membership: /secteur to see or change their sector, /quitter to leave."""

from __future__ import annotations

from html import escape

from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler, CommandHandler

from core import logs
from core.commands import command
from core.notify import mention
from core.permissions import Action
from core.services import VigieApp
from core.turn import NO_PREVIEW, Turn, guarded
from handlers.enrolment import domain
from handlers.enrolment.buttons import AskMove, Confirm, Leave, MoveSector
from handlers.enrolment.groups import remove_from_group
from handlers.enrolment.keyboards import leave_keyboard, move_keyboard, sector_keyboard

log = logs.get("handlers.enrolment.membership")


@guarded(Action.MY_SECTOR)
async def my_sector(turn: Turn) -> None:
    store = turn.svc.store
    assert turn.actor.sector_id is not None
    sector = await store.sectors.get(turn.actor.sector_id)
    assert sector is not None
    referents = await store.referents.of_sector(sector.id)
    people = ", ".join(mention(r, turn.language) for r in referents)
    lines = [
        turn.t("membership.sector", sector=escape(sector.name)),
        turn.t("membership.referents", referents=people) if referents
        else turn.t("membership.no_referent"),
        domain.invite_text(turn.language, sector),
    ]
    await turn.context.bot.send_message(turn.place.chat_id, "\n\n".join(lines),
                                        parse_mode=ParseMode.HTML,
                                        reply_markup=move_keyboard(turn.language),
                                        link_preview_options=NO_PREVIEW)


@guarded(Action.MY_SECTOR)
async def ask_move(turn: Turn) -> None:
    await turn.answer()
    await turn.reply("membership.choose_new", await sector_keyboard(turn.svc, MoveSector))


@guarded(Action.MY_SECTOR)
async def move(turn: Turn) -> None:
    await turn.answer()
    store, user_id = turn.svc.store, turn.actor.user_id
    target = await store.sectors.get(turn.button(MoveSector).sector_id)
    if target is None or not target.active:
        await turn.reply("enrolment.unknown_sector")
        return
    if target.id == turn.actor.sector_id:
        await turn.reply("membership.same_sector", sector=target.name)
        return
    previous = await store.sectors.get(turn.actor.sector_id or 0)
    await domain.move(store, user_id, target, previous, turn.actor.referent_of)
    if previous is not None and previous.chat_id is not None:
        await remove_from_group(turn.context.bot, previous.chat_id, user_id)
    await turn.reply("membership.moved", sector=target.name)
    await turn.say(domain.invite_text(turn.language, target))


@guarded(Action.LEAVE_SCHEME)
async def ask_leave(turn: Turn) -> None:
    await turn.reply("membership.leave_confirm", leave_keyboard(turn.language))


@guarded(Action.LEAVE_SCHEME)
async def leave(turn: Turn) -> None:
    await turn.answer()
    if turn.button(Leave).answer is not Confirm.YES:
        await turn.reply("membership.leave_kept")
        return
    store, user_id = turn.svc.store, turn.actor.user_id
    sector = await store.sectors.get(turn.actor.sector_id or 0)
    await domain.leave(store, user_id, turn.actor.referent_of)
    if sector is not None and sector.chat_id is not None:
        await remove_from_group(turn.context.bot, sector.chat_id, user_id)
    await turn.reply("membership.left")


def register(app: VigieApp) -> None:
    app.add_handler(CommandHandler(command(Action.MY_SECTOR).names, my_sector))
    app.add_handler(CallbackQueryHandler(ask_move, pattern=AskMove.pattern()))
    app.add_handler(CallbackQueryHandler(move, pattern=MoveSector.pattern()))
    app.add_handler(CommandHandler(command(Action.LEAVE_SCHEME).names, ask_leave))
    app.add_handler(CallbackQueryHandler(leave, pattern=Leave.pattern()))
