"""A member's own membership: /secteur to see or change their sector, /quitter to leave."""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from core import logs
from core.commands import command
from core.permissions import Action
from core.turn import NO_PREVIEW, Turn, guarded
from handlers.enrolment import rules as enrolment

log = logs.get("handlers.enrolment.membership")


@guarded(Action.MY_SECTOR)
async def my_sector(turn: Turn) -> None:
    store = turn.svc.store
    assert turn.actor.sector_id is not None
    sector = await store.sectors.get(turn.actor.sector_id)
    assert sector is not None
    referents = await store.referents.of_sector(sector.id)
    people = ", ".join(enrolment.mention(r, turn.language) for r in referents)
    lines = [
        turn.t("membership.sector", sector=escape(sector.name)),
        turn.t("membership.referents", referents=people) if referents
        else turn.t("membership.no_referent"),
        await enrolment.invite_text(turn.svc, turn.language, sector),
    ]
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton(turn.t("membership.move"), callback_data="move:ask")]]
    )
    await turn.context.bot.send_message(turn.place.chat_id, "\n\n".join(lines),
                                        parse_mode=ParseMode.HTML, reply_markup=markup,
                                        link_preview_options=NO_PREVIEW)


@guarded(Action.MY_SECTOR)
async def ask_move(turn: Turn) -> None:
    await turn.answer()
    await turn.reply("membership.choose_new", await enrolment.sector_keyboard(turn.svc, "move"))


@guarded(Action.MY_SECTOR)
async def move(turn: Turn) -> None:
    await turn.answer()
    store, user_id = turn.svc.store, turn.actor.user_id
    target = await store.sectors.get(int(turn.data[1]))
    if target is None or not target.active:
        await turn.reply("enrolment.unknown_sector")
        return
    if target.id == turn.actor.sector_id:
        await turn.reply("membership.same_sector", sector=target.name)
        return
    previous = await store.sectors.get(turn.actor.sector_id or 0)
    async with store.transaction():
        await store.people.enrol(user_id, target.id, None)
        for sector_id in turn.actor.referent_of:
            await store.referents.revoke(user_id, sector_id)
        await store.audit.record(user_id, "sector.moved", f"sector:{target.id}",
                                 previous=previous.id if previous else None)
    if previous is not None and previous.chat_id is not None:
        await enrolment.remove_from_group(turn.context.bot, previous.chat_id, user_id)
    await turn.reply("membership.moved", sector=target.name)
    await turn.say(await enrolment.invite_text(turn.svc, turn.language, target))


@guarded(Action.LEAVE_SCHEME)
async def ask_leave(turn: Turn) -> None:
    await turn.reply("membership.leave_confirm", InlineKeyboardMarkup([[
        InlineKeyboardButton(turn.t("membership.leave_yes"), callback_data="leave:yes"),
        InlineKeyboardButton(turn.t("membership.leave_no"), callback_data="leave:no"),
    ]]))


@guarded(Action.LEAVE_SCHEME)
async def leave(turn: Turn) -> None:
    await turn.answer()
    if turn.data[1] != "yes":
        await turn.reply("membership.leave_kept")
        return
    store, user_id = turn.svc.store, turn.actor.user_id
    sector = await store.sectors.get(turn.actor.sector_id or 0)
    async with store.transaction():
        for sector_id in turn.actor.referent_of:
            await store.referents.revoke(user_id, sector_id)
        await store.people.leave(user_id)
        await store.audit.record(user_id, "scheme.left")
    if sector is not None and sector.chat_id is not None:
        await enrolment.remove_from_group(turn.context.bot, sector.chat_id, user_id)
    await turn.reply("membership.left")


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler(command(Action.MY_SECTOR).names, my_sector))
    app.add_handler(CallbackQueryHandler(ask_move, pattern=r"^move:ask$"))
    app.add_handler(CallbackQueryHandler(move, pattern=r"^move:\d{1,9}$"))
    app.add_handler(CommandHandler(command(Action.LEAVE_SCHEME).names, ask_leave))
    app.add_handler(CallbackQueryHandler(leave, pattern=r"^leave:(yes|no)$"))
