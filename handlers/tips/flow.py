"""/conseil: a prevention tip on demand; /conseils: officials add, edit, retire tips.
The schedule that posts tips in the sector groups is started here too."""

from __future__ import annotations

import datetime as dt
import random
from enum import StrEnum
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler, CommandHandler

from core import logs
from core.commands import command
from core.permissions import Action
from core.services import VigieApp
from core.turn import Turn, guarded
from handlers.tips import catalogue
from handlers.tips.buttons import TipTopic
from handlers.tips.catalogue import Topic
from handlers.tips.schedule import tip_text
from storage import TipOverride

log = logs.get("handlers.tips.flow")
CUSTOM_PREFIX = "mairie-"


class Verb(StrEnum):
    """What follows /conseils (the officials' command words, in French like the command)."""

    ADD = "ajouter"
    LIST = "liste"
    SHOW = "voir"
    EDIT = "modifier"
    RETIRE = "retirer"
    RESTORE = "remettre"


# Audit event of each change (the catalogue key of its answer is `tips.<verb>_done`).
EVENTS = {Verb.EDIT: "tip.edited", Verb.RETIRE: "tip.retired", Verb.RESTORE: "tip.restored"}


async def current_tips(turn: Turn) -> list[catalogue.Tip]:
    """The catalogue as officials made it, only the tips of the commune's country."""
    return catalogue.for_country(catalogue.merged(await turn.svc.store.tips.overrides()),
                                 turn.svc.settings.commune.country)


def topic_buttons(turn: Turn) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(turn.t(f"tips.topic.{topic}"),
                               callback_data=TipTopic(topic).pack())]
         for topic in Topic])


async def give_tip(turn: Turn, topic: Topic | None) -> None:
    today = dt.datetime.now(ZoneInfo(turn.svc.settings.commune.timezone)).date()
    pool = [tip for tip in await current_tips(turn) if not tip.retired and not tip.campaign
            and (topic is None or tip.topic == topic)]
    seasonal = [tip for tip in pool if tip.in_season(today)] or pool
    if not seasonal:
        await turn.reply("tips.none")
        return
    chosen = random.choice(seasonal)
    # The tip is HTML (escaped like the copies posted in the groups).
    await turn.context.bot.send_message(
        turn.place.chat_id, tip_text(chosen, turn.language) + "\n\n" + turn.t("tips.more"),
        parse_mode=ParseMode.HTML, reply_markup=topic_buttons(turn))


@guarded(Action.TIP)
async def tip_on_demand(turn: Turn) -> None:
    wanted = turn.args[0].casefold() if turn.args else None
    if wanted is not None and wanted not in catalogue.TOPICS:
        await turn.reply("tips.unknown_topic", topics=", ".join(catalogue.TOPICS))
        return
    await give_tip(turn, None if wanted is None else Topic(wanted))


@guarded(Action.TIP)
async def tip_of_topic(turn: Turn) -> None:
    await turn.answer()
    await give_tip(turn, turn.button(TipTopic).topic)


def text_after(turn: Turn, words: int) -> str:
    """The message's text after the command and its first `words` arguments."""
    parts = turn.text.split(maxsplit=words + 1)
    return parts[words + 1].strip() if len(parts) > words + 1 else ""


async def overview(turn: Turn, tips: list[catalogue.Tip]) -> None:
    lines = [turn.t("tips.manage_title")]
    for topic in catalogue.TOPICS:
        of_topic = [tip for tip in tips if tip.topic == topic]
        lines.append(turn.t("tips.manage_line", topic=turn.t(f"tips.topic.{topic}"),
                            active=sum(not tip.retired for tip in of_topic),
                            retired=sum(tip.retired for tip in of_topic),
                            custom=sum(tip.custom for tip in of_topic)))
    lines.append(turn.t("tips.manage_usage", topics=", ".join(catalogue.TOPICS)))
    await turn.say("\n".join(lines))


@guarded(Action.MANAGE_TIPS)
async def manage(turn: Turn) -> None:
    tips = {tip.id: tip for tip in await current_tips(turn)}
    word = turn.args[0].casefold() if turn.args else ""
    verb = Verb(word) if word in tuple(Verb) else None
    target = turn.args[1] if len(turn.args) > 1 else ""
    store, by = turn.svc.store.tips, turn.actor.user_id
    if verb == Verb.ADD:
        written = text_after(turn, 2)
        if target not in catalogue.TOPICS or not written:
            await turn.reply("tips.add_how", topics=", ".join(catalogue.TOPICS))
            return
        if len(written) > catalogue.TEXT_MAX:
            await turn.reply("tips.too_long", limit=catalogue.TEXT_MAX)
            return
        tip_id = f"{CUSTOM_PREFIX}{await store.custom_count(CUSTOM_PREFIX) + 1}"
        await store.save(TipOverride(tip_id, target, written, None, False), by)
        await audit(turn, "tip.added", tip_id)
        await turn.reply("tips.added", id=tip_id)
        return
    if verb == Verb.LIST and target.casefold() in catalogue.TOPICS:
        await turn.say("\n".join(
            turn.t("tips.list_line", id=tip.id, text=tip.text("fr")[:70],
                   state=turn.t("tips.retired") if tip.retired else "")
            for tip in tips.values() if tip.topic == target.casefold()))
        return
    if verb is None or verb not in (Verb.SHOW, *EVENTS):
        await overview(turn, list(tips.values()))
        return
    tip = tips.get(target)
    if tip is None:
        await turn.reply("tips.unknown_id", id=target[:40] or "—")
        return
    if verb == Verb.SHOW:
        await turn.reply("tips.shown", id=tip.id, topic=turn.t(f"tips.topic.{tip.topic}"),
                         state=turn.t("tips.retired" if tip.retired else "tips.active"),
                         fr=tip.text("fr"), en=tip.text("en"))
        return
    text = text_after(turn, 2) if verb == Verb.EDIT else None
    if verb == Verb.EDIT and not text:
        await turn.reply("tips.edit_how")
        return
    if text is not None and len(text) > catalogue.TEXT_MAX:
        await turn.reply("tips.too_long", limit=catalogue.TEXT_MAX)
        return
    await store.save(TipOverride(tip.id, tip.topic, text, None, verb == Verb.RETIRE
                                 or (verb == Verb.EDIT and tip.retired)), by)
    await audit(turn, EVENTS[verb], tip.id)
    await turn.reply(f"tips.{verb}_done", id=tip.id)


async def audit(turn: Turn, action: str, tip_id: str) -> None:
    await turn.svc.store.audit.record(turn.actor.user_id, action, f"tip:{tip_id}")


def register(app: VigieApp) -> None:
    app.add_handler(CommandHandler(command(Action.TIP).names, tip_on_demand))
    app.add_handler(CallbackQueryHandler(tip_of_topic, pattern=TipTopic.pattern()))
    app.add_handler(CommandHandler(command(Action.MANAGE_TIPS).names, manage))
