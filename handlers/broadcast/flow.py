"""/annonce, /alerte, /sondage: write, choose the sectors, preview, confirm; then
/annonces (past sends and their figures), /resultats (polls added up, closing them) and the
referent's "relay in my sector" button on an alert sent to referents only.

The three share one conversation: the kind is in the draft, and the last step asks the
permissions module again for that kind's action before anything is sent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    PollAnswerHandler,
    PollHandler,
    filters,
)

from core import logs
from core.commands import command
from core.permissions import Action, check
from core.services import KEY, Services
from core.turn import Turn, guarded
from handlers.broadcast import domain
from handlers.common import cancel_conversation
from storage import Broadcast, NewBroadcast

log = logs.get("handlers.broadcast.flow")

COMPOSE, TARGETS, CONFIRM = range(3)
ACTIONS = {"notice": Action.BROADCAST, "alert": Action.ALERT, "poll": Action.POLL}
# Switches offered under the sector list, per kind.
OPTIONS = {"notice": ("to_residents", "pin", "silent"), "alert": ("referents_only", "silent"),
           "poll": ("silent",)}


def draft(turn: Turn) -> dict[str, Any]:
    return turn.context.user_data.setdefault("broadcast", {})  # type: ignore[union-attr]


async def begin(turn: Turn, kind: str) -> int:
    turn.context.user_data["broadcast"] = {  # type: ignore[index]
        "kind": kind, "sectors": [], **dict.fromkeys(OPTIONS[kind], False)}
    await turn.reply(f"broadcast.ask.{kind}")
    return COMPOSE


@guarded(Action.BROADCAST)
async def start_notice(turn: Turn) -> int:
    return await begin(turn, "notice")


@guarded(Action.ALERT)
async def start_alert(turn: Turn) -> int:
    return await begin(turn, "alert")


@guarded(Action.POLL)
async def start_poll(turn: Turn) -> int:
    return await begin(turn, "poll")


def as_new(turn: Turn, values: dict[str, Any]) -> NewBroadcast:
    return NewBroadcast(
        kind=values["kind"], author_id=turn.actor.user_id, body=values.get("body", ""),
        sector_ids=list(values["sectors"]), photo_file_id=values.get("photo"),
        options=tuple(values.get("options", ())),
        to_residents=values.get("to_residents", False),
        referents_only=values.get("referents_only", False),
        pin=values.get("pin", False), silent=values.get("silent", False))


@guarded(Action.ALERT)  # the weakest of the three; the kind's own action is asked at the end
async def compose(turn: Turn) -> int:
    values, message = draft(turn), turn.message
    assert message is not None
    if values.get("kind") is None:
        return ConversationHandler.END
    text = (message.text or message.caption or "").strip()
    if values["kind"] == "poll":
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if message.photo or not lines:
            await turn.reply("broadcast.poll_format")
            return COMPOSE
        values["body"], values["options"] = lines[0], lines[1:]
    elif not text:
        await turn.reply("broadcast.text_or_photo")
        return COMPOSE
    else:
        values["body"] = text
        values["photo"] = message.photo[-1].file_id if message.photo else None
    trouble = domain.problem(turn.svc, as_new(turn, values))
    if trouble is not None:
        key, details = trouble
        await turn.reply(key, **details)
        return COMPOSE
    await turn.say(turn.t("broadcast.ask_targets"), await targets_keyboard(turn))
    return TARGETS


@guarded(Action.ALERT)
async def stray_content(turn: Turn) -> int:
    await turn.reply("broadcast.poll_format" if draft(turn).get("kind") == "poll"
                     else "broadcast.text_or_photo")
    return COMPOSE


async def targets_keyboard(turn: Turn) -> InlineKeyboardMarkup:
    values = draft(turn)
    rows = []
    for sector in await turn.svc.store.sectors.active():
        mark = "on" if sector.id in values["sectors"] else "off"
        name = sector.name if sector.linked else turn.t("broadcast.sector_unlinked",
                                                         sector=sector.name)
        rows.append([InlineKeyboardButton(turn.t(f"broadcast.sector_{mark}", sector=name),
                                          callback_data=f"bct:s:{sector.id}")])
    rows.append([InlineKeyboardButton(turn.t("broadcast.all_sectors"),
                                      callback_data="bct:all")])
    for option in OPTIONS[values["kind"]]:
        mark = "on" if values.get(option) else "off"
        rows.append([InlineKeyboardButton(
            turn.t(f"broadcast.switch_{mark}", label=turn.t(f"broadcast.option.{option}")),
            callback_data=f"bct:o:{option}")])
    rows.append([InlineKeyboardButton(turn.t("broadcast.preview_button"),
                                      callback_data="bct:next")])
    return InlineKeyboardMarkup(rows)


@guarded(Action.ALERT)
async def toggle(turn: Turn) -> int:
    values, (_, what, *rest) = draft(turn), turn.data
    if "kind" not in values:
        await turn.refuse("fallback.stale_button")
        return ConversationHandler.END
    active = [sector.id for sector in await turn.svc.store.sectors.active()]
    chosen: list[int] = values["sectors"]
    if what == "all":
        values["sectors"] = [] if set(chosen) == set(active) else active
    elif what == "s" and int(rest[0]) in active:
        sector_id = int(rest[0])
        values["sectors"] = [s for s in chosen if s != sector_id] if sector_id in chosen \
            else [*chosen, sector_id]
    elif what == "o" and rest[0] in OPTIONS[values["kind"]]:
        values[rest[0]] = not values.get(rest[0])
    await turn.answer()
    await turn.edit(None, await targets_keyboard(turn))
    return TARGETS


@guarded(Action.ALERT)
async def preview(turn: Turn) -> int:
    await turn.answer()
    values = draft(turn)
    if "kind" not in values:
        return ConversationHandler.END
    if not values["sectors"]:
        await turn.reply("broadcast.no_sector")
        return TARGETS
    new = as_new(turn, values)
    chosen = await domain.targets(turn.svc, new)
    if not chosen:
        await turn.reply("broadcast.no_recipients")
        return TARGETS
    groups = sum(1 for target in chosen if target.chat_id < 0)
    method, payload = domain.copy_payload(turn.svc, new, turn.svc.settings.commune.language)
    if new.kind == "poll":  # a poll in the author's chat would be a real, votable poll
        method, payload = "sendMessage", {"text": turn.t(
            "broadcast.poll_preview", question=new.body,
            options="\n".join(f"• {option}" for option in new.options))}
    await turn.reply("broadcast.preview_intro")
    await turn.context.bot.do_api_request(
        method, api_kwargs={"chat_id": turn.place.chat_id, **payload})
    flags = [turn.t(f"broadcast.option.{name}") for name in OPTIONS[new.kind] if values[name]]
    await turn.reply("broadcast.confirm", InlineKeyboardMarkup([[
        InlineKeyboardButton(turn.t("broadcast.send"), callback_data="bcc:send"),
        InlineKeyboardButton(turn.t("broadcast.cancel"), callback_data="bcc:cancel")]]),
        groups=groups, people=len(chosen) - groups, options=", ".join(flags) or "—")
    return CONFIRM


@guarded(Action.ALERT)
async def confirm(turn: Turn) -> int:
    await turn.answer()
    values = turn.context.user_data.pop("broadcast", {})  # type: ignore[union-attr]
    if turn.data[1] != "send" or "kind" not in values:
        await turn.reply("broadcast.cancelled")
        return ConversationHandler.END
    decision = check(turn.actor, ACTIONS[values["kind"]], turn.place)
    if not decision:
        assert decision.reason is not None
        await turn.refuse(decision.reason)
        return ConversationHandler.END
    sent = await domain.launch(turn.svc, as_new(turn, values), turn.place.chat_id,
                               turn.language)
    await turn.reply("broadcast.launched", id=sent.id, total=sent.recipients)
    return ConversationHandler.END


@guarded(Action.ALERT)
async def use_buttons(turn: Turn) -> None:
    await turn.reply("broadcast.use_buttons")


def when(timestamp: float) -> str:
    return time.strftime("%d/%m %H:%M", time.localtime(timestamp))


@guarded(Action.BROADCAST_HISTORY)
async def history(turn: Turn) -> None:
    past = await turn.svc.store.broadcasts.recent(domain.KINDS, limit=15)
    if not past:
        await turn.reply("broadcast.history_empty")
        return
    lines = [turn.t("broadcast.history_title")]
    for item in past:
        delivered, failed = item.delivered, item.failed
        if item.status == "sending":
            tally = await turn.svc.store.outbox.tally(domain.COPY, item.ref)
            delivered, failed = tally.get("delivered", 0), tally.get("failed", 0)
        lines.append(turn.t("broadcast.history_line", id=item.id, date=when(item.created_at),
                            kind=turn.t(f"broadcast.kind.{item.kind}"),
                            total=item.recipients, delivered=delivered, failed=failed,
                            status=turn.t(f"broadcast.status.{item.status}")))
    await turn.say("\n".join(lines))


@guarded(Action.POLL_RESULTS)
async def results(turn: Turn) -> None:
    polls = await turn.svc.store.broadcasts.recent(("poll",), limit=5)
    if not polls:
        await turn.reply("broadcast.results_empty")
        return
    for poll in polls:
        tally = await domain.poll_results(turn.svc, poll)
        lines = [turn.t("broadcast.results_title", id=poll.id, question=poll.body,
                        date=when(poll.created_at), groups=tally.groups,
                        voters=tally.voters, status=turn.t(f"broadcast.status.{poll.status}"))]
        for option, count in zip(poll.options, tally.counts, strict=True):
            share = round(100 * count / tally.voters) if tally.voters else 0
            lines.append(turn.t("broadcast.results_option", option=option, count=count,
                                share=share))
        markup = None
        if poll.status != "closed" and check(turn.actor, Action.POLL, turn.place):
            markup = InlineKeyboardMarkup([[InlineKeyboardButton(
                turn.t("broadcast.close_button"), callback_data=f"bpc:{poll.id}")]])
        await turn.say("\n".join(lines), markup)


@dataclass(frozen=True)
class Subject:
    """What a broadcast button acts on: the broadcast, and the sector when it names one."""

    broadcast: Broadcast
    sector_id: int | None = None


async def load_poll(turn: Turn) -> Subject | None:
    found = await turn.svc.store.broadcasts.get(int(turn.data[1]))
    return Subject(found) if found is not None and found.kind == "poll" else None


async def load_alert_relay(turn: Turn) -> Subject | None:
    found = await turn.svc.store.broadcasts.get(int(turn.data[1]))
    sector_id = int(turn.data[2])
    if found is None or not found.referents_only or sector_id not in found.sector_ids:
        return None
    return Subject(found, sector_id)


@guarded(Action.POLL, subject=load_poll)
async def close_poll(turn: Turn) -> None:
    closed = await domain.close_poll(turn.svc, turn.subject.broadcast, turn.actor.user_id)
    await turn.answer("broadcast.closed" if closed else "broadcast.already_closed",
                      alert=not closed)


@guarded(Action.RELAY_ALERT, subject=load_alert_relay)
async def relay_alert(turn: Turn) -> None:
    subject: Subject = turn.subject
    assert subject.sector_id is not None
    relayed = await domain.relay_alert(turn.svc, subject.broadcast, subject.sector_id,
                                       turn.actor.user_id)
    await turn.answer("broadcast.relayed" if relayed else "broadcast.already_relayed",
                      alert=not relayed)


async def poll_update(svc: Services, update: Any, context: object) -> None:
    """Telegram's running counts for one of our polls (anonymous: counts, never voters)."""
    poll = update.poll
    known = await svc.store.broadcasts.update_poll_counts(
        poll.id, [option.voter_count for option in poll.options], poll.is_closed)
    if not known:
        log.info("broadcast.unknown_poll")


async def poll_answer(update: Any, context: object) -> None:
    # Our polls are anonymous; an answer naming a voter is not ours to keep.
    log.info("broadcast.poll_answer_ignored")


def register(app: Application) -> None:  # type: ignore[type-arg]
    svc: Services = app.bot_data[KEY]
    private = filters.ChatType.PRIVATE
    content = (filters.TEXT | filters.PHOTO) & ~filters.COMMAND & private
    entry = [CommandHandler(command(Action.BROADCAST).names, start_notice, filters=private),
             CommandHandler(command(Action.ALERT).names, start_alert, filters=private),
             CommandHandler(command(Action.POLL).names, start_poll, filters=private)]
    app.add_handler(ConversationHandler(
        entry_points=entry,
        states={
            COMPOSE: [MessageHandler(content, compose),
                      MessageHandler(private & ~filters.COMMAND, stray_content)],
            TARGETS: [CallbackQueryHandler(toggle, pattern=r"^bct:(all|s:\d{1,9}|o:[a-z_]+)$"),
                      CallbackQueryHandler(preview, pattern=r"^bct:next$")],
            CONFIRM: [CallbackQueryHandler(confirm, pattern=r"^bcc:(send|cancel)$")],
        },
        fallbacks=[CommandHandler(command(Action.CANCEL).names, cancel_conversation),
                   MessageHandler(private & ~filters.COMMAND, use_buttons)],
        name="broadcast",
        persistent=True,  # a notice half-written survives a restart
        conversation_timeout=3600,
    ))
    # Outside a conversation (a wrong chat, a resident) the commands still get an answer.
    for action, callback in ((Action.BROADCAST, start_notice), (Action.ALERT, start_alert),
                             (Action.POLL, start_poll)):
        app.add_handler(CommandHandler(command(action).names, callback))
    app.add_handler(CommandHandler(command(Action.BROADCAST_HISTORY).names, history))
    app.add_handler(CommandHandler(command(Action.POLL_RESULTS).names, results))
    app.add_handler(CallbackQueryHandler(close_poll, pattern=r"^bpc:\d{1,9}$"))
    app.add_handler(CallbackQueryHandler(relay_alert, pattern=r"^ar:\d{1,9}:\d{1,9}$"))
    app.add_handler(PollHandler(partial(poll_update, svc)))
    app.add_handler(PollAnswerHandler(poll_answer))
