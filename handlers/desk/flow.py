"""The staff's desk: /demandes, /membres, /exclus and /id.

Referents see their own sectors, officials and admins every sector. Every action on a
person starts from a list (or, for /id, a reply): nobody types an id. A button pressed
after the presser lost the role is refused by its guard; one naming a person who left,
erased their data or was never a member is answered so, and nothing changes. The list is
then shown again in place.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, MessageOriginUser, User
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler, CommandHandler

from core.commands import command
from core.notify import mention_now, named
from core.permissions import Action, ChatKind
from core.services import VigieApp
from core.turn import NO_PREVIEW, Turn, guarded
from handlers.desk import domain
from handlers.desk.buttons import (
    DeskExclude,
    DeskJoin,
    DeskReinstate,
    DeskRemind,
    ExcludedPage,
    ExcludeStep,
    MembersPage,
    RequestsPage,
)
from handlers.desk.domain import Listed
from handlers.desk.lists import excluded_screen, members_screen, requests_screen
from handlers.enrolment.buttons import Decision
from handlers.enrolment.groups import settle_join
from handlers.moderation.exclusion import exclude_person, is_protected, reinstate_person
from storage import JoinRequest

# --- the lists ---------------------------------------------------------------------------


@guarded(Action.LIST_REQUESTS)
async def requests_list(turn: Turn) -> None:
    await turn.show(*await requests_screen(turn, 0))


@guarded(Action.LIST_REQUESTS)
async def requests_page(turn: Turn) -> None:
    await turn.answer()
    await turn.show(*await requests_screen(turn, turn.button(RequestsPage).page))


@guarded(Action.LIST_MEMBERS)
async def members_list(turn: Turn) -> None:
    await turn.show(*await members_screen(turn, 0))


@guarded(Action.LIST_MEMBERS)
async def members_page(turn: Turn) -> None:
    await turn.answer()
    await turn.show(*await members_screen(turn, turn.button(MembersPage).page))


@guarded(Action.LIST_EXCLUDED)
async def excluded_list(turn: Turn) -> None:
    await turn.show(*await excluded_screen(turn, 0))


@guarded(Action.LIST_EXCLUDED)
async def excluded_page(turn: Turn) -> None:
    await turn.answer()
    await turn.show(*await excluded_screen(turn, turn.button(ExcludedPage).page))


# --- acting from a list ------------------------------------------------------------------


async def load_request(turn: Turn) -> JoinRequest | None:
    return await turn.svc.store.join_requests.get(turn.button(DeskJoin).request_id)


@guarded(Action.DECIDE_JOIN, subject=load_request)
async def decide_join(turn: Turn) -> None:
    """Approuver / Refuser from /demandes: the join cards' own path, so two referents
    deciding the same request at once decide it once."""
    request: JoinRequest = turn.subject
    button = turn.button(DeskJoin)
    approve = button.decision is Decision.APPROVE
    if await settle_join(turn.svc, turn.context.bot, request, approve, turn.actor.user_id):
        await turn.answer("enrolment.decided_approved" if approve
                          else "enrolment.decided_declined")
    else:
        await turn.answer("enrolment.already_decided", alert=True)
    await turn.show(*await requests_screen(turn, button.page))


async def load_to_remind(turn: Turn) -> Listed:
    button = turn.button(DeskRemind)
    return await domain.listed(turn.svc, button.user_id, button.sector_id)


@guarded(Action.REMIND_MEMBER, subject=load_to_remind)
async def remind(turn: Turn) -> None:
    member: Listed = turn.subject
    if not member.is_member:
        await turn.answer("desk.not_member", alert=True)
    else:
        await domain.remind(turn.svc, turn.actor.user_id, member)
        await turn.answer("desk.reminded")
    await turn.show(*await members_screen(turn, turn.button(DeskRemind).page))


async def load_to_exclude(turn: Turn) -> Listed:
    button = turn.button(DeskExclude)
    return await domain.listed(turn.svc, button.user_id, button.sector_id)


@guarded(Action.EXCLUDE, subject=load_to_exclude)
async def exclude(turn: Turn) -> None:
    """Exclure from /membres: asked, then confirmed; the exclusion's own path."""
    member: Listed = turn.subject
    button = turn.button(DeskExclude)
    if button.step is not ExcludeStep.KEEP:
        refusal = ("desk.not_member" if not member.is_member
                   else "moderation.not_staff" if is_protected(turn.svc, member.user_id)
                   else None)
        if refusal is not None:
            await turn.answer(refusal, alert=True)
        elif button.step is ExcludeStep.ASK:
            await turn.answer()
            await turn.show(*await _confirm_exclusion(turn, member, button.page))
            return
        else:
            assert member.person is not None
            await exclude_person(turn.svc, turn.context.bot, turn.actor.user_id,
                                 member.person, member.sector_id, "desk")
            await turn.answer("moderation.excluded")
    else:
        await turn.answer()
    await turn.show(*await members_screen(turn, button.page))


async def _confirm_exclusion(turn: Turn, member: Listed, page: int
                             ) -> tuple[str, InlineKeyboardMarkup]:
    sector = await turn.svc.store.sectors.get(member.sector_id or 0)
    person = await mention_now(turn.context.bot, member.user_id, turn.language,
                               sector.chat_id if sector else None)
    assert member.sector_id is not None
    buttons = [[InlineKeyboardButton(turn.t("desk.exclude_yes"), callback_data=DeskExclude(
                    member.user_id, member.sector_id, ExcludeStep.CONFIRM, page).pack()),
                InlineKeyboardButton(turn.t("desk.exclude_no"), callback_data=DeskExclude(
                    member.user_id, member.sector_id, ExcludeStep.KEEP, page).pack())]]
    return turn.t("desk.exclude_confirm", person=person), InlineKeyboardMarkup(buttons)


async def load_to_reinstate(turn: Turn) -> Listed:
    return await domain.listed(turn.svc, turn.button(DeskReinstate).user_id, None)


@guarded(Action.REINSTATE, subject=load_to_reinstate)
async def reinstate(turn: Turn) -> None:
    excluded: Listed = turn.subject
    if not excluded.is_excluded:
        await turn.answer("desk.not_excluded", alert=True)
    else:
        assert excluded.person is not None
        await reinstate_person(turn.svc, turn.context.bot, turn.actor.user_id,
                               excluded.person, "desk")
        await turn.answer("moderation.reinstated")
    await turn.show(*await excluded_screen(turn, turn.button(DeskReinstate).page))


# --- /id ---------------------------------------------------------------------------------


def _replied_person(turn: Turn) -> User | None:
    """The author of the message /id replies to (or of the message it forwarded)."""
    message = turn.message
    replied = message.reply_to_message if message else None
    if replied is None:
        return None
    origin = replied.forward_origin
    if isinstance(origin, MessageOriginUser):
        return origin.sender_user
    author = replied.from_user
    return author if author is not None and not author.is_bot else None


@guarded(Action.SHOW_ID)
async def show_id(turn: Turn) -> None:
    """For set-up: the chat's id in a group, the person's own in private, and as a reply,
    the author's (named as the update gives it, never stored)."""
    lines = []
    if turn.place.kind is not ChatKind.PRIVATE:
        lines.append(turn.t("desk.id_chat", chat_id=turn.place.chat_id))
    person = _replied_person(turn)
    if person is not None:
        lines.append(turn.t("desk.id_person", user_id=person.id,
                            person=named(person.id, person.full_name, turn.language)))
    else:
        if turn.place.kind is ChatKind.PRIVATE:
            lines.append(turn.t("desk.id_yours", user_id=turn.actor.user_id))
        lines.append(turn.t("desk.id_hint"))
    await turn.context.bot.send_message(turn.place.chat_id, "\n".join(lines),
                                        parse_mode=ParseMode.HTML,
                                        link_preview_options=NO_PREVIEW)


def register(app: VigieApp) -> None:
    app.add_handler(CommandHandler(command(Action.LIST_REQUESTS).names, requests_list))
    app.add_handler(CommandHandler(command(Action.LIST_MEMBERS).names, members_list))
    app.add_handler(CommandHandler(command(Action.LIST_EXCLUDED).names, excluded_list))
    app.add_handler(CommandHandler(command(Action.SHOW_ID).names, show_id))
    for handler, kind in ((requests_page, RequestsPage), (members_page, MembersPage),
                          (excluded_page, ExcludedPage), (decide_join, DeskJoin),
                          (remind, DeskRemind), (exclude, DeskExclude),
                          (reinstate, DeskReinstate)):
        app.add_handler(CallbackQueryHandler(handler, pattern=kind.pattern()))
