"""The buttons of moderation: the referents' cards (Rétablir / Confirmer, Publier /
Refuser, the exclusion proposal), and the author's own (Contester, Transmettre à la
gendarmerie, which turns the removed text into a report, prefilled)."""

from __future__ import annotations

import time
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode

from core import logs
from core.buttons import ButtonError
from core.permissions import Action
from core.screening import screen
from core.turn import Turn, guarded
from handlers.moderation import domain
from handlers.moderation.buttons import (
    Contest,
    Exclusion,
    ExclusionChoice,
    ReviewCard,
    Transmit,
    TransmitCategory,
    TransmitSend,
)
from handlers.moderation.exclusion import exclude_person, is_protected
from handlers.reports import domain as reports
from handlers.reports.buttons import Category, Confirmation, When
from handlers.reports.draft import ReportDraft
from storage import ModerationAction
from storage.moderation import Strike
from storage.statuses import ModerationStatus, PersonStatus

log = logs.get("handlers.moderation.cards")


def _action_id(turn: Turn) -> int | None:
    query = turn.update.callback_query
    data = query.data if query else None
    for kind in (ReviewCard, Contest, Transmit, TransmitCategory, TransmitSend):
        try:
            return kind.parse(data).action_id
        except ButtonError:
            continue
    return None


async def pressed_action(turn: Turn) -> ModerationAction | None:
    action_id = _action_id(turn)
    return None if action_id is None else await turn.svc.store.moderation.get(action_id)


async def pressed_strike(turn: Turn) -> Strike | None:
    try:
        button = turn.button(Exclusion)
    except ButtonError:
        return None
    strike = await turn.svc.store.moderation.get_strike(button.strike_id)
    return strike if strike is not None and strike.user_id == button.user_id else None


@guarded(Action.REVIEW_REMOVAL, subject=pressed_action)
async def review(turn: Turn) -> None:
    action: ModerationAction = turn.subject
    button = turn.button(ReviewCard)
    if action.status is not ModerationStatus.PENDING or not await domain.decide(
            turn.svc, action, button.decision, turn.actor.user_id):
        await turn.answer("moderation.card.already_decided", alert=True)
        return
    await turn.answer(f"moderation.card.done_{button.decision}")


@guarded(Action.CONTEST_REMOVAL, subject=pressed_action)
async def contest(turn: Turn) -> None:
    action: ModerationAction = turn.subject
    if not await domain.contest(turn.svc, action):
        await turn.answer("moderation.contest.already", alert=True)
        return
    await turn.answer()
    await turn.reply("moderation.contest.sent")


@guarded(Action.TRANSMIT_REMOVED, subject=pressed_action)
async def transmit(turn: Turn) -> None:
    """Step 1: what kind of fact it is (the report wizard's own categories)."""
    action: ModerationAction = turn.subject
    await turn.answer()
    if action.author_text is None:
        await turn.reply("moderation.transmit.gone")
        return
    await turn.reply("moderation.transmit.ask_category", InlineKeyboardMarkup(
        [[InlineKeyboardButton(turn.t(f"reports.category.{category}"),
                               callback_data=TransmitCategory(action.id, category).pack())]
         for category in Category]))


@guarded(Action.TRANSMIT_REMOVED, subject=pressed_action)
async def transmit_category(turn: Turn) -> None:
    """Step 2: the summary of the prefilled report, sent only once confirmed."""
    action: ModerationAction = turn.subject
    button = turn.button(TransmitCategory)
    await turn.answer()
    if action.author_text is None:
        await turn.reply("moderation.transmit.gone")
        return
    sector = await turn.svc.store.sectors.get(action.sector_id or 0)
    text = turn.t("moderation.transmit.summary", sector=escape(sector.name if sector else "?"),
                  category=turn.t(f"reports.category.{button.category}"))
    quoted = escape(action.author_text[:3000])
    await turn.context.bot.send_message(
        turn.place.chat_id, f"{text}\n<blockquote>{quoted}</blockquote>",
        parse_mode=ParseMode.HTML, reply_markup=InlineKeyboardMarkup([[
            InlineKeyboardButton(turn.t(f"moderation.transmit.{answer}"),
                                 callback_data=TransmitSend(action.id, button.category,
                                                            answer).pack())
            for answer in Confirmation]]))


@guarded(Action.TRANSMIT_REMOVED, subject=pressed_action)
async def transmit_send(turn: Turn) -> None:
    action: ModerationAction = turn.subject
    button = turn.button(TransmitSend)
    await turn.answer()
    await turn.edit(None, None)
    if button.answer is Confirmation.CANCEL:
        await turn.reply("moderation.transmit.cancelled")
        return
    svc = turn.svc
    limit = svc.settings.reports.max_per_hour
    if await svc.store.reports.count_since(turn.actor.user_id, time.time() - 3600) >= limit:
        await turn.reply("reports.rate_limited", limit=limit)
        return
    text = await svc.store.moderation.take_author_text(action.id)
    if text is None or action.sector_id is None:
        await turn.reply("moderation.transmit.gone")
        return
    draft = ReportDraft(key=f"moderation-{action.id}", category=button.category,
                        occurred=When.TODAY, description=text[:svc.settings.reports.
                                                              description_max],
                        flags=[str(flag) for flag in screen(text)])
    new = draft.as_new(turn.actor.user_id, action.sector_id)
    assert new is not None
    report = await reports.submit(svc, new)
    await svc.store.audit.record(turn.actor.user_id, "moderation.transmitted",
                                 f"report:{report.id}", entry=action.id)
    log.info("moderation.transmitted", entry=action.id, report=report.id)
    await turn.reply("reports.sent", id=report.id)


@guarded(Action.DECIDE_EXCLUSION, subject=pressed_strike)
async def decide_exclusion(turn: Turn) -> None:
    strike: Strike = turn.subject
    button = turn.button(Exclusion)
    store = turn.svc.store
    person = await store.people.get(strike.user_id)
    if person is None or person.status == PersonStatus.EXCLUDED:
        await turn.answer("moderation.exclusion.already", alert=True)
        return
    await turn.answer()
    await turn.edit(None, None)
    if button.choice is ExclusionChoice.KEEP:
        await store.audit.record(turn.actor.user_id, "moderation.exclusion_declined",
                                 f"user:{strike.user_id}", strike=strike.id)
        await turn.reply("moderation.exclusion.kept")
        return
    if is_protected(turn.svc, person.user_id):
        await turn.reply("moderation.not_staff")
        return
    await exclude_person(turn.svc, turn.context.bot, turn.actor.user_id, person,
                         strike.sector_id, "ladder")
    await turn.reply("moderation.excluded")
