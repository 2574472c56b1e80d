"""/annonce, /alerte, /sondage: write, choose the sectors, preview, confirm; then
/annonces (past sends and their figures), /resultats (polls added up, closing them) and the
referent's "relay in my sector" button on an alert sent to referents only.

The three share one conversation: the kind is in the draft (`draft.BroadcastDraft`), and
the last step asks the permissions module again for that kind's action before anything
is sent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    BaseHandler,
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
from core.services import VigieApp, VigieContext
from core.turn import Turn, guarded
from handlers.broadcast import domain, draft, rules
from handlers.broadcast.buttons import (
    ClosePoll,
    CloseSend,
    Confirm,
    Decision,
    FlipSwitch,
    FollowUp,
    PickAllSectors,
    PickSector,
    RelayAlert,
    ShowPreview,
)
from handlers.broadcast.draft import BroadcastDraft
from handlers.common import cancel_conversation
from storage import Broadcast
from storage.statuses import BroadcastKind, BroadcastStatus, OutboxStatus, Purpose

log = logs.get("handlers.broadcast.flow")

COMPOSE, TARGETS, CONFIRM, FOLLOWUP = range(4)
FOLLOWUP_LIMIT = 3500  # characters: the header and HTML escaping must fit Telegram's 4096
ACTIONS = {BroadcastKind.NOTICE: Action.BROADCAST, BroadcastKind.ALERT: Action.ALERT,
           BroadcastKind.POLL: Action.POLL}


async def begin(turn: Turn, kind: BroadcastKind) -> int:
    draft.begin(turn.context.user_data, kind)
    await turn.reply(f"broadcast.ask.{kind}")
    return COMPOSE


@guarded(Action.BROADCAST)
async def start_notice(turn: Turn) -> int:
    return await begin(turn, BroadcastKind.NOTICE)


@guarded(Action.ALERT)
async def start_alert(turn: Turn) -> int:
    return await begin(turn, BroadcastKind.ALERT)


@guarded(Action.POLL)
async def start_poll(turn: Turn) -> int:
    return await begin(turn, BroadcastKind.POLL)


@guarded(Action.ALERT)  # the weakest of the three; the kind's own action is asked at the end
async def compose(turn: Turn) -> int:
    values, message = draft.current(turn.context.user_data), turn.message
    assert message is not None
    if values is None:
        return ConversationHandler.END
    text = (message.text or message.caption or "").strip()
    if values.kind == BroadcastKind.POLL:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if message.photo or not lines:
            await turn.reply("broadcast.poll_format")
            return COMPOSE
        values.body, values.answers = lines[0], lines[1:]
    elif not text:
        await turn.reply("broadcast.text_or_photo")
        return COMPOSE
    else:
        values.body = text
        values.photo = message.photo[-1].file_id if message.photo else None
    trouble = rules.problem(turn.svc.settings.commune, values.as_new(turn.actor.user_id))
    if trouble is not None:
        key, details = trouble
        await turn.reply(key, **details)
        return COMPOSE
    await turn.say(turn.t("broadcast.ask_targets"), await targets_keyboard(turn, values))
    return TARGETS


@guarded(Action.ALERT)
async def stray_content(turn: Turn) -> int:
    values = draft.current(turn.context.user_data)
    polling = values is not None and values.kind == BroadcastKind.POLL
    await turn.reply("broadcast.poll_format" if polling else "broadcast.text_or_photo")
    return COMPOSE


async def targets_keyboard(turn: Turn, values: BroadcastDraft) -> InlineKeyboardMarkup:
    rows = []
    for sector in await turn.svc.store.sectors.active():
        mark = "on" if sector.id in values.sectors else "off"
        name = sector.name if sector.linked else turn.t("broadcast.sector_unlinked",
                                                         sector=sector.name)
        rows.append([InlineKeyboardButton(turn.t(f"broadcast.sector_{mark}", sector=name),
                                          callback_data=PickSector(sector.id).pack())])
    rows.append([InlineKeyboardButton(turn.t("broadcast.all_sectors"),
                                      callback_data=PickAllSectors().pack())])
    for switch in rules.SWITCHES[values.kind]:
        mark = "on" if values.is_on(switch) else "off"
        rows.append([InlineKeyboardButton(
            turn.t(f"broadcast.switch_{mark}", label=turn.t(f"broadcast.option.{switch}")),
            callback_data=FlipSwitch(switch).pack())])
    rows.append([InlineKeyboardButton(turn.t("broadcast.preview_button"),
                                      callback_data=ShowPreview().pack())])
    return InlineKeyboardMarkup(rows)


async def retick(turn: Turn, values: BroadcastDraft | None) -> int:
    """After a sector or switch was pressed: show the keyboard as the draft now is."""
    if values is None:
        await turn.refuse("fallback.stale_button")
        return ConversationHandler.END
    await turn.answer()
    await turn.edit(None, await targets_keyboard(turn, values))
    return TARGETS


async def active_sectors(turn: Turn) -> list[int]:
    return [sector.id for sector in await turn.svc.store.sectors.active()]


@guarded(Action.ALERT)
async def pick_sector(turn: Turn) -> int:
    values = draft.current(turn.context.user_data)
    if values is not None:
        values.pick(turn.button(PickSector).sector_id, await active_sectors(turn))
    return await retick(turn, values)


@guarded(Action.ALERT)
async def pick_all_sectors(turn: Turn) -> int:
    values = draft.current(turn.context.user_data)
    if values is not None:
        values.pick_all(await active_sectors(turn))
    return await retick(turn, values)


@guarded(Action.ALERT)
async def flip_switch(turn: Turn) -> int:
    values = draft.current(turn.context.user_data)
    if values is not None:
        values.flip(turn.button(FlipSwitch).switch)
    return await retick(turn, values)


@guarded(Action.ALERT)
async def preview(turn: Turn) -> int:
    await turn.answer()
    values = draft.current(turn.context.user_data)
    if values is None:
        return ConversationHandler.END
    if not values.sectors:
        await turn.reply("broadcast.no_sector")
        return TARGETS
    new = values.as_new(turn.actor.user_id)
    chosen = await domain.targets(turn.svc, new)
    if not chosen:
        await turn.reply("broadcast.no_recipients")
        return TARGETS
    groups = sum(1 for target in chosen if target.chat_id < 0)
    commune = turn.svc.settings.commune
    method, payload = rules.copy_payload(commune, new, commune.language)
    if new.kind == BroadcastKind.POLL:  # a poll in the author's chat would be a real poll
        method, payload = "sendMessage", {"text": turn.t(
            "broadcast.poll_preview", question=new.body,
            options="\n".join(f"• {option}" for option in new.options))}
    await turn.reply("broadcast.preview_intro")
    await turn.context.bot.do_api_request(
        method, api_kwargs={"chat_id": turn.place.chat_id, **payload})
    flags = [turn.t(f"broadcast.option.{switch}") for switch in rules.SWITCHES[new.kind]
             if values.is_on(switch)]
    await turn.reply("broadcast.confirm", InlineKeyboardMarkup([[
        InlineKeyboardButton(turn.t("broadcast.send"),
                             callback_data=Confirm(Decision.SEND).pack()),
        InlineKeyboardButton(turn.t("broadcast.cancel"),
                             callback_data=Confirm(Decision.CANCEL).pack())]]),
        groups=groups, people=len(chosen) - groups, options=", ".join(flags) or "—")
    return CONFIRM


@guarded(Action.ALERT)
async def confirm(turn: Turn) -> int:
    await turn.answer()
    values = draft.take(turn.context.user_data)
    if turn.button(Confirm).decision != Decision.SEND or values is None:
        await turn.reply("broadcast.cancelled")
        return ConversationHandler.END
    decision = check(turn.actor, ACTIONS[values.kind], turn.place)
    if not decision:
        assert decision.reason is not None
        await turn.refuse(decision.reason)
        return ConversationHandler.END
    await turn.edit(None, None)  # the card's buttons go: it is sent, or being sent
    # No reply here: the progress message (queued with the copies) is the first and only
    # thing the author is shown, and it becomes the delivery report at the end.
    await domain.launch(turn.svc, values.as_new(turn.actor.user_id), turn.place.chat_id,
                        turn.language)
    return ConversationHandler.END


@guarded(Action.ALERT)
async def use_buttons(turn: Turn) -> None:
    await turn.reply("broadcast.use_buttons")


def when(timestamp: float) -> str:
    return time.strftime("%d/%m %H:%M", time.localtime(timestamp))


@guarded(Action.BROADCAST_HISTORY)
async def history(turn: Turn) -> None:
    past = await turn.svc.store.broadcasts.recent(BroadcastKind, limit=15)
    if not past:
        await turn.reply("broadcast.history_empty")
        return
    lines = [turn.t("broadcast.history_title")]
    rows: list[list[InlineKeyboardButton]] = []
    for item in past:
        delivered, failed = item.delivered, item.failed
        if item.status == BroadcastStatus.SENDING:
            tally = await turn.svc.store.outbox.tally(Purpose.BROADCAST, item.ref)
            delivered = tally.get(OutboxStatus.DELIVERED, 0)
            failed = tally.get(OutboxStatus.FAILED, 0)
        lines.append(turn.t("broadcast.history_line", id=item.id, date=when(item.created_at),
                            kind=turn.t(f"broadcast.kind.{item.kind}"),
                            total=item.recipients, delivered=delivered, failed=failed,
                            status=turn.t(f"broadcast.status.{item.status}")))
        rows += follow_up_buttons(turn, item)
    await turn.say("\n".join(lines), InlineKeyboardMarkup(rows) if rows else None)


def follow_up_buttons(turn: Turn, item: Broadcast) -> list[list[InlineKeyboardButton]]:
    """A follow-up and a close button for an open notice or alert the reader may act on."""
    if (item.kind == BroadcastKind.POLL or item.status != BroadcastStatus.SENT
            or not check(turn.actor, ACTIONS[item.kind], turn.place)):
        return []
    return [[InlineKeyboardButton(turn.t("broadcast.followup_button", id=item.id),
                                  callback_data=FollowUp(item.id).pack()),
             InlineKeyboardButton(turn.t("broadcast.close_send_button", id=item.id),
                                  callback_data=CloseSend(item.id).pack())]]


@guarded(Action.POLL_RESULTS)
async def results(turn: Turn) -> None:
    polls = await turn.svc.store.broadcasts.recent((BroadcastKind.POLL,), limit=5)
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
        if poll.status != BroadcastStatus.CLOSED and check(turn.actor, Action.POLL, turn.place):
            markup = InlineKeyboardMarkup([[InlineKeyboardButton(
                turn.t("broadcast.close_button"), callback_data=ClosePoll(poll.id).pack())]])
        await turn.say("\n".join(lines), markup)


@dataclass(frozen=True)
class Subject:
    """What a broadcast button acts on: the broadcast, and the sector when it names one."""

    broadcast: Broadcast
    sector_id: int | None = None


async def load_poll(turn: Turn) -> Subject | None:
    found = await turn.svc.store.broadcasts.get(turn.button(ClosePoll).broadcast_id)
    return Subject(found) if found is not None and found.kind == BroadcastKind.POLL else None


async def load_send(turn: Turn, broadcast_id: int) -> Subject | None:
    """The notice or alert a follow-up or close button names (never a poll)."""
    found = await turn.svc.store.broadcasts.get(broadcast_id)
    return Subject(found) if found is not None and found.kind != BroadcastKind.POLL else None


async def load_follow_up(turn: Turn) -> Subject | None:
    return await load_send(turn, turn.button(FollowUp).broadcast_id)


async def load_close(turn: Turn) -> Subject | None:
    return await load_send(turn, turn.button(CloseSend).broadcast_id)


async def may_follow_up(turn: Turn, broadcast: Broadcast) -> bool:
    """The kind's own action: a notice is the officials', an alert the liaison's too."""
    decision = check(turn.actor, ACTIONS[broadcast.kind], turn.place)
    if not decision:
        assert decision.reason is not None
        await turn.refuse(decision.reason)
    return bool(decision)


async def not_open(turn: Turn, outcome: domain.Outcome, broadcast: Broadcast) -> bool:
    """Answer a follow-up or a closing that cannot happen; True if so (nothing changed)."""
    if outcome is domain.Outcome.DONE:
        return False
    await turn.answer(f"broadcast.send_{outcome}", alert=True, id=broadcast.id)
    return True


@guarded(Action.BROADCAST_FOLLOWUP, subject=load_follow_up)
async def start_follow_up(turn: Turn) -> int:
    broadcast: Broadcast = turn.subject.broadcast
    if not await may_follow_up(turn, broadcast):
        return ConversationHandler.END
    if await not_open(turn, domain.open_for_follow_up(broadcast), broadcast):
        return ConversationHandler.END
    await turn.answer()
    draft.begin_follow_up(turn.context.user_data, broadcast.id)
    await turn.reply("broadcast.ask_followup", id=broadcast.id,
                     kind=turn.t(f"broadcast.kind.{broadcast.kind}"))
    return FOLLOWUP


@guarded(Action.BROADCAST_FOLLOWUP)
async def follow_up_text(turn: Turn) -> int:
    pending = draft.follow_up_of(turn.context.user_data)
    broadcast = None if pending is None else await turn.svc.store.broadcasts.get(
        pending.broadcast_id)
    if broadcast is None or not await may_follow_up(turn, broadcast):
        draft.take_follow_up(turn.context.user_data)
        return ConversationHandler.END
    text = turn.text.strip()
    if len(text) > FOLLOWUP_LIMIT:
        await turn.reply("broadcast.too_long", limit=FOLLOWUP_LIMIT, length=len(text))
        return FOLLOWUP
    outcome, chats = await domain.follow_up(turn.svc, broadcast, text, turn.actor.user_id)
    draft.take_follow_up(turn.context.user_data)
    if outcome is not domain.Outcome.DONE:  # closed or changed meanwhile: handed back
        await turn.reply(f"broadcast.followup_not_sent_{outcome}", id=broadcast.id,
                         body=text)
        return ConversationHandler.END
    await turn.reply("broadcast.followup_sent", id=broadcast.id, chats=chats)
    return ConversationHandler.END


@guarded(Action.BROADCAST_FOLLOWUP)
async def follow_up_stray(turn: Turn) -> int:
    await turn.reply("broadcast.followup_text_only")
    return FOLLOWUP


@guarded(Action.BROADCAST_FOLLOWUP, subject=load_close)
async def close_send(turn: Turn) -> None:
    broadcast: Broadcast = turn.subject.broadcast
    if not await may_follow_up(turn, broadcast):
        return
    outcome = await domain.close(turn.svc, broadcast, turn.actor.user_id)
    if await not_open(turn, outcome, broadcast):
        return
    await turn.answer("broadcast.send_closed_now", id=broadcast.id)
    await turn.reply("broadcast.send_closed_now", id=broadcast.id)


@guarded(Action.BROADCAST_FOLLOWUP)
async def follow_up_busy(turn: Turn) -> None:
    """A follow-up button pressed while a notice is being written: one thing at a time."""
    await turn.answer("broadcast.finish_first", alert=True)


async def load_alert_relay(turn: Turn) -> Subject | None:
    pressed = turn.button(RelayAlert)
    found = await turn.svc.store.broadcasts.get(pressed.broadcast_id)
    if found is None or not found.referents_only or pressed.sector_id not in found.sector_ids:
        return None
    return Subject(found, pressed.sector_id)


@guarded(Action.POLL, subject=load_poll)
async def close_poll(turn: Turn) -> None:
    subject: Subject = turn.subject
    closed = await domain.close_poll(turn.svc, subject.broadcast, turn.actor.user_id)
    await turn.answer("broadcast.closed" if closed else "broadcast.already_closed",
                      alert=not closed)


@guarded(Action.RELAY_ALERT, subject=load_alert_relay)
async def relay_alert(turn: Turn) -> None:
    subject: Subject = turn.subject
    assert subject.sector_id is not None
    if subject.broadcast.status == BroadcastStatus.CLOSED:  # its author closed it
        await turn.answer("broadcast.send_closed", alert=True, id=subject.broadcast.id)
        return
    relayed = await domain.relay_alert(turn.svc, subject.broadcast, subject.sector_id,
                                       turn.actor.user_id)
    await turn.answer("broadcast.relayed" if relayed else "broadcast.already_relayed",
                      alert=not relayed)


async def poll_update(update: Update, context: VigieContext) -> None:
    """Telegram's running counts for one of our polls (anonymous: counts, never voters)."""
    poll = update.poll
    if poll is None:
        return
    known = await context.svc.store.broadcasts.update_poll_counts(
        poll.id, [option.voter_count for option in poll.options], poll.is_closed)
    if not known:
        log.info("broadcast.unknown_poll")


async def poll_answer(update: Update, context: VigieContext) -> None:
    # Our polls are anonymous; an answer naming a voter is not ours to keep.
    log.info("broadcast.poll_answer_ignored")


def register(app: VigieApp) -> None:
    private = filters.ChatType.PRIVATE
    content = (filters.TEXT | filters.PHOTO) & ~filters.COMMAND & private
    entry: list[BaseHandler[Update, VigieContext, object]] = [
        CallbackQueryHandler(start_follow_up, pattern=FollowUp.pattern()),
        CommandHandler(command(Action.BROADCAST).names, start_notice, filters=private),
        CommandHandler(command(Action.ALERT).names, start_alert, filters=private),
        CommandHandler(command(Action.POLL).names, start_poll, filters=private)]
    app.add_handler(ConversationHandler(
        entry_points=entry,
        states={
            COMPOSE: [MessageHandler(content, compose),
                      MessageHandler(private & ~filters.COMMAND, stray_content)],
            TARGETS: [CallbackQueryHandler(pick_sector, pattern=PickSector.pattern()),
                      CallbackQueryHandler(pick_all_sectors, pattern=PickAllSectors.pattern()),
                      CallbackQueryHandler(flip_switch, pattern=FlipSwitch.pattern()),
                      CallbackQueryHandler(preview, pattern=ShowPreview.pattern())],
            CONFIRM: [CallbackQueryHandler(confirm, pattern=Confirm.pattern())],
            FOLLOWUP: [*entry,  # another send's button, or a new notice, replaces it
                       MessageHandler(filters.TEXT & ~filters.COMMAND & private,
                                      follow_up_text),
                       MessageHandler(private & ~filters.COMMAND, follow_up_stray)],
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
    app.add_handler(CallbackQueryHandler(close_poll, pattern=ClosePoll.pattern()))
    app.add_handler(CallbackQueryHandler(close_send, pattern=CloseSend.pattern()))
    app.add_handler(CallbackQueryHandler(follow_up_busy, pattern=FollowUp.pattern()))
    app.add_handler(CallbackQueryHandler(relay_alert, pattern=RelayAlert.pattern()))
    app.add_handler(PollHandler(poll_update))
    app.add_handler(PollAnswerHandler(poll_answer))
