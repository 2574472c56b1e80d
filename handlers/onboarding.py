"""/start: welcome, then the charter "vigilant mais pas vigile" to accept or refuse."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from core import logs
from core.commands import command
from core.permissions import Action
from core.turn import Turn, guarded

log = logs.get("handlers.onboarding")


def charter_keyboard(turn: Turn) -> InlineKeyboardMarkup:
    version = turn.svc.charter.version
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(turn.t("charter.accept"), callback_data=f"charter:yes:{version}"),
        InlineKeyboardButton(turn.t("charter.refuse"), callback_data=f"charter:no:{version}"),
    ]])


async def show_charter(turn: Turn) -> None:
    text = turn.svc.charter.current(turn.language)
    await turn.say(f"{text.title}\n\n{text.body}")
    await turn.say(turn.t("charter.question", summary=text.summary), charter_keyboard(turn))


@guarded(Action.START)
async def start(turn: Turn) -> None:
    await turn.svc.store.people.ensure(turn.actor.user_id, turn.language)
    await turn.reply("start.welcome", commune=turn.svc.settings.commune.name)
    if turn.actor.charter_current:
        await turn.reply("start.already_accepted")
        return
    await show_charter(turn)


@guarded(Action.ACCEPT_CHARTER)
async def answer_charter(turn: Turn) -> None:
    query = turn.update.callback_query
    assert query is not None and query.data is not None
    _, verdict, version = query.data.split(":")
    store, user_id = turn.svc.store, turn.actor.user_id
    if int(version) != turn.svc.charter.version:
        await turn.answer("charter.outdated", alert=True)
        await show_charter(turn)
        return
    await store.people.ensure(user_id, turn.language)
    if verdict == "yes":
        async with store.transaction():
            await store.charter.accept(user_id, int(version), turn.language)
            await store.audit.record(user_id, "charter.accepted", version=int(version))
        await turn.answer()
        await turn.reply("charter.accepted")
    else:
        async with store.transaction():
            await store.people.set_status(user_id, "refused")
            await store.audit.record(user_id, "charter.refused", version=int(version))
        await turn.answer()
        await turn.reply("charter.refused")


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler(command(Action.START).names, start))
    app.add_handler(CallbackQueryHandler(answer_charter, pattern=r"^charter:(yes|no):\d{1,4}$"))
