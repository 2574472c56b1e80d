"""From a stranger to a member: /start, the charter, a sector, an optional street, the link.

A ConversationHandler whose states are the steps; every choice is written to the database
as it is made, so the conversation only remembers which question comes next.

The sector is a button, a shared location inside a sector's area, or, once sectors have
street lists (/rues), the street the resident types: it is matched to those lists
(`core.streets`) and the sector found is only proposed, with Yes / Choose myself; a street
close to streets of two sectors, or to none, gets the sector buttons. The typed street is
kept (as `people.street`) only when they say yes; it waits in a draft until then.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import KeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove, Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from core import geo, logs, streets
from core.commands import command
from core.drafts import draft, key_of
from core.permissions import Action
from core.services import VigieApp, VigieContext
from core.turn import Turn, guarded, standing_of
from handlers.common import cancel_conversation
from handlers.enrolment import domain
from handlers.enrolment.buttons import (
    CharterAnswer,
    CharterChoice,
    Confirm,
    SectorPick,
    SkipStreet,
    StreetConfirm,
)
from handlers.enrolment.groups import is_muted, review_join, settle_join
from handlers.enrolment.keyboards import (
    charter_screens,
    sector_keyboard,
    street_keyboard,
    street_match_keyboard,
)
from storage import Sector
from storage.statuses import PersonStatus

log = logs.get("handlers.enrolment.onboarding")

CHARTER, SECTOR, STREET = range(3)
STREET_MAX = 80


@draft("street_match")
@dataclass
class StreetDraft:
    """The street a resident typed at the sector step, and the sector it was matched to,
    until they confirm (it is then their `people.street`) or choose themselves."""

    typed: str = ""
    sector_id: int = 0


async def show_charter(turn: Turn, lead: str | None = None) -> int:
    """The charter and its question; `lead` (a text already worded) opens its first
    screen, so a turn stays within the messages Telegram lets a bot send at once."""
    for index, (text, markup) in enumerate(charter_screens(turn.svc, turn.language)):
        await turn.say(f"{lead}\n\n{text}" if lead and index == 0 else text, markup)
    return CHARTER


async def ask_sector(turn: Turn, lead: str | None = None) -> int:
    """The sector buttons, with how else to find one (a typed street) in the same message,
    and `lead` (what was just done, worded) before them: one message, not three."""
    parts = [lead] if lead else []
    parts.append(turn.t("enrolment.choose_sector"))
    if await turn.svc.store.sectors.street_counts():
        parts.append(turn.t("areas.enrolment.or_street"))
    await turn.say("\n\n".join(parts), await sector_keyboard(turn.svc, SectorPick))
    if turn.svc.sector_polygons:
        location = ReplyKeyboardMarkup(
            [[KeyboardButton(turn.t("enrolment.share_location"), request_location=True)]],
            resize_keyboard=True, one_time_keyboard=True,
        )
        await turn.reply("enrolment.or_location", location)
    return SECTOR


@guarded(Action.START)
async def start(turn: Turn) -> int:
    person = await turn.svc.store.people.ensure(turn.actor.user_id, turn.language)
    if person.status == PersonStatus.EXCLUDED:
        await turn.reply("denied.excluded")
        return ConversationHandler.END
    welcome = turn.t("start.welcome", commune=turn.svc.settings.commune.name)
    if not turn.actor.charter_current or person.status == PersonStatus.REFUSED:
        return await show_charter(turn, lead=welcome)
    if turn.actor.is_member:
        await turn.say(f"{welcome}\n\n{turn.t('start.already_member')}")
        return ConversationHandler.END
    return await ask_sector(turn, lead=welcome)


@guarded(Action.ACCEPT_CHARTER)
async def answer_charter(turn: Turn) -> int:
    choice = turn.button(CharterChoice)
    store, user_id = turn.svc.store, turn.actor.user_id
    await turn.answer()
    if choice.version != turn.svc.charter.version:
        await turn.reply("charter.outdated")
        return await show_charter(turn)
    person = await store.people.ensure(user_id, turn.language)
    if choice.answer is CharterAnswer.REFUSE:
        await domain.refuse_charter(store, person, choice.version)
        pending = await store.join_requests.pending_for(user_id)
        if pending is not None:
            await settle_join(turn.svc, turn.context.bot, pending, False, None,
                              "enrolment.join_needs_charter")
        await turn.reply("charter.refused")
        return ConversationHandler.END
    await domain.accept_charter(store, person, choice.version, turn.language)
    pending = await store.join_requests.pending_for(user_id)
    if person.status == PersonStatus.ENROLLED or pending is not None:
        await turn.reply("charter.accepted")
        if person.status != PersonStatus.ENROLLED and pending is not None:
            # They asked to join this sector's group first: that is their sector.
            await store.people.enrol(user_id, pending.sector_id, None)
        return await finish(turn)
    return await ask_sector(turn, lead=turn.t("charter.accepted"))


async def enrol_in(turn: Turn, sector: Sector, confirmation: str) -> int:
    """Record the sector, then say so (never the other way round), then ask the street."""
    if turn.context.user_data is not None:  # a street proposal left unanswered
        turn.context.user_data.pop(key_of(StreetDraft), None)
    await domain.choose_sector(turn.svc.store, turn.actor.user_id, sector)
    chosen = turn.t(confirmation, sector=sector.name)
    street = turn.t("enrolment.ask_street", limit=STREET_MAX)
    if turn.svc.sector_polygons:
        # The location button was offered: only a message of its own can take it away (a
        # message carries one keyboard, and the street question has its Skip button).
        await turn.say(chosen, ReplyKeyboardRemove())
        await turn.say(street, street_keyboard(turn.language))
    else:
        await turn.say(f"{chosen}\n\n{street}", street_keyboard(turn.language))
    return STREET


@guarded(Action.CHOOSE_SECTOR)
async def choose_sector(turn: Turn) -> int | None:
    await turn.answer()
    sector = await turn.svc.store.sectors.get(turn.button(SectorPick).sector_id)
    if sector is None or not sector.active:
        await turn.reply("enrolment.unknown_sector")
        return None
    return await enrol_in(turn, sector, "enrolment.sector_chosen")


@guarded(Action.CHOOSE_SECTOR)
async def locate(turn: Turn) -> int | None:
    location = turn.message.location if turn.message else None
    assert location is not None
    for sector in await turn.svc.store.sectors.active():
        polygons = turn.svc.sector_polygons.get(sector.id)
        if polygons and geo.contains(polygons, location.latitude, location.longitude):
            return await enrol_in(turn, sector, "enrolment.sector_found")
    sectors = await sector_keyboard(turn.svc, SectorPick)
    await turn.reply("enrolment.location_outside", sectors)
    return None


@guarded(Action.CHOOSE_SECTOR)
async def typed_street(turn: Turn) -> int | None:
    """The sector step, answered with a street: propose the sector whose list holds it."""
    store = turn.svc.store
    known = await store.sectors.all_streets()
    if not known:
        await turn.reply("enrolment.use_buttons")
        return None
    value = " ".join(turn.text.split())
    if not value or len(value) > STREET_MAX:
        await turn.reply("enrolment.street_too_long", limit=STREET_MAX)
        return None
    found = streets.match_street(value, known)
    log.info("street.matched", verdict=str(found.verdict), score=round(found.score))
    if found.verdict is streets.Verdict.MATCH and found.sector_id is not None:
        sector = await store.sectors.get(found.sector_id)
        if sector is not None and sector.active:
            if turn.context.user_data is not None:
                turn.context.user_data[key_of(StreetDraft)] = StreetDraft(value, sector.id)
            await turn.reply("areas.enrolment.match", street_match_keyboard(
                turn.language, sector.id), street=found.street, sector=sector.name)
            return None
    keyboard = await sector_keyboard(turn.svc, SectorPick)
    if found.verdict is streets.Verdict.AMBIGUOUS:
        names = [s.name for s in await store.sectors.active() if s.id in found.sectors]
        await turn.reply("areas.enrolment.ambiguous", keyboard, sectors=", ".join(names))
    else:
        await turn.reply("areas.enrolment.unknown", keyboard)
    return None


@guarded(Action.CHOOSE_SECTOR)
async def confirm_street(turn: Turn) -> int | None:
    """Yes: that sector, and the typed street kept; Choose myself: the sector buttons."""
    pressed = turn.button(StreetConfirm)
    await turn.answer()
    await turn.edit(None, None)  # the proposal is answered: its buttons go
    data = turn.context.user_data
    found = data.pop(key_of(StreetDraft), None) if data is not None else None
    sector = await turn.svc.store.sectors.get(pressed.sector_id)
    keyboard = await sector_keyboard(turn.svc, SectorPick)
    if pressed.answer is Confirm.NO:
        await turn.reply("enrolment.choose_sector", keyboard)
        return None
    if (not isinstance(found, StreetDraft) or found.sector_id != pressed.sector_id
            or sector is None or not sector.active):
        await turn.reply("areas.enrolment.stale", keyboard)
        return None
    await domain.choose_sector(turn.svc.store, turn.actor.user_id, sector)
    await turn.svc.store.people.enrol(turn.actor.user_id, sector.id, found.typed)
    await turn.reply("enrolment.sector_chosen", ReplyKeyboardRemove(), sector=sector.name)
    return await finish(turn)


@guarded(Action.CHOOSE_SECTOR)
async def street(turn: Turn) -> int | None:
    value = " ".join(turn.text.split())
    if not value or len(value) > STREET_MAX:
        await turn.reply("enrolment.street_too_long", limit=STREET_MAX)
        return None
    person = await turn.svc.store.people.get(turn.actor.user_id)
    assert person is not None and person.sector_id is not None
    await turn.svc.store.people.enrol(turn.actor.user_id, person.sector_id, value)
    return await finish(turn)


@guarded(Action.CHOOSE_SECTOR)
async def skip_street(turn: Turn) -> int:
    await turn.answer()
    return await finish(turn)


async def finish(turn: Turn) -> int:
    """Enrolled: decide a join request waiting for them, or give them the group's link."""
    store = turn.svc.store
    person = await store.people.get(turn.actor.user_id)
    assert person is not None and person.sector_id is not None
    sector = await store.sectors.get(person.sector_id)
    assert sector is not None
    pending = await store.join_requests.pending_for(person.user_id)
    if pending is None and sector.chat_id is not None and await is_muted(
        turn.context.bot, sector.chat_id, person.user_id
    ):
        # Already in the group, muted because a neighbour added them: review them as a request.
        pending = await store.join_requests.open(person.user_id, sector.chat_id, sector.id)
    if pending is not None:
        await turn.reply("enrolment.request_under_review")
        await review_join(turn.svc, turn.context.bot, pending)
        return ConversationHandler.END
    await turn.say(domain.invite_text(turn.language, sector))
    return ConversationHandler.END


@guarded(Action.START)
async def expect_choice(turn: Turn) -> None:
    await turn.reply("enrolment.use_buttons")


async def charter_notice(update: Update, context: VigieContext) -> None:
    """A member whose accepted charter is outdated is told once, at their next interaction."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None or chat.type != chat.PRIVATE:
        return
    svc = context.svc
    # One read, left for this update's guard (core.turn.actor_of) so it need not read again.
    standing = await standing_of(svc, user.id, update.update_id)
    person, version = standing.person, svc.charter.version
    if (person is None or person.status != PersonStatus.ENROLLED
            or person.charter_notice_version >= version):
        return
    if (standing.charter_accepted or 0) >= version:
        return
    await svc.store.people.mark_charter_notice(user.id, version)
    turn = await Turn.build(update, context)
    await turn.reply("charter.new_version")
    await show_charter(turn)


def register(app: VigieApp) -> None:
    private = filters.ChatType.PRIVATE
    charter_button = CallbackQueryHandler(answer_charter, pattern=CharterChoice.pattern())
    cancel_handler = CommandHandler(command(Action.CANCEL).names, cancel_conversation)
    app.add_handler(TypeHandler(Update, charter_notice), group=-50)
    app.add_handler(ConversationHandler(
        entry_points=[CommandHandler(command(Action.START).names, start),
                      charter_button],
        states={
            CHARTER: [charter_button],
            SECTOR: [CallbackQueryHandler(choose_sector, pattern=SectorPick.pattern()),
                     CallbackQueryHandler(confirm_street, pattern=StreetConfirm.pattern()),
                     MessageHandler(filters.LOCATION & private, locate),
                     MessageHandler(filters.TEXT & ~filters.COMMAND & private, typed_street)],
            STREET: [CallbackQueryHandler(skip_street, pattern=SkipStreet.pattern()),
                     MessageHandler(filters.TEXT & ~filters.COMMAND & private, street)],
        },
        fallbacks=[cancel_handler,
                   MessageHandler(private & ~filters.COMMAND, expect_choice)],
        name="onboarding",
        persistent=True,
        allow_reentry=True,
        conversation_timeout=3600,
    ))
