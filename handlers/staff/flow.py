"""/equipe: the commune's officials, administrators and liaison chat, changed live.

Officials see the team and may appoint another official; administrators also appoint
administrators, dismiss, and set the liaison chat (core/permissions.py says why). A person
or a group is chosen with Telegram's own pickers, never by typing an id: the button opens
a reply keyboard whose `request_users` / `request_chat` button answers with a
`users_shared` / `chat_shared` message. That answer is checked by the guard of what it is
for (the picker's request id), so someone who lost the role while the picker was open is
refused, and nothing changes. A refused choice (see handlers/staff/domain.py) is answered
with the picker again; "Annuler" or /annuler closes it.
"""

from __future__ import annotations

from html import escape
from typing import Any

from telegram import (
    ChatMember,
    KeyboardButton,
    KeyboardButtonRequestChat,
    KeyboardButtonRequestUsers,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from core import i18n
from core.commands import command
from core.notify import mention_now
from core.permissions import Action
from core.services import VigieApp, VigieContext
from core.settings import SUPPORTED_LANGUAGES
from core.turn import NO_PREVIEW, Markup, Turn, guarded
from handlers.common import cancel_conversation
from handlers.staff import domain
from handlers.staff.buttons import (
    AppointAdmin,
    AppointOfficial,
    DismissStep,
    PickLiaison,
    Request,
    StaffDismiss,
    StaffRefresh,
)
from handlers.staff.screen import dismiss_screen, team_screen
from storage.statuses import StaffRole

PICKING = 0
PROMPTS = {Request.OFFICIAL: "staff.pick_official", Request.ADMIN: "staff.pick_admin",
           Request.LIAISON_GROUP: "staff.pick_liaison",
           Request.LIAISON_PERSON: "staff.pick_liaison"}


async def say_html(turn: Turn, key: str, markup: Markup = None, **values: Any) -> None:
    await turn.context.bot.send_message(turn.place.chat_id, turn.t(key, **values),
                                        parse_mode=ParseMode.HTML, reply_markup=markup,
                                        link_preview_options=NO_PREVIEW)


# --- the list ----------------------------------------------------------------------------


@guarded(Action.MANAGE_STAFF)
async def team(turn: Turn) -> None:
    await turn.show(*await team_screen(turn))


@guarded(Action.MANAGE_STAFF)
async def refresh(turn: Turn) -> None:
    await turn.answer()
    await turn.show(*await team_screen(turn))


@guarded(Action.DISMISS_STAFF)
async def dismiss(turn: Turn) -> None:
    """Retirer: asked, then confirmed; the list is shown again in place."""
    button = turn.button(StaffDismiss)
    svc = turn.svc
    if button.step is DismissStep.ASK:
        if await svc.store.staff.holds(button.user_id, button.role):
            await turn.answer()
            await turn.show(*await dismiss_screen(turn, button.user_id, button.role))
            return
        await turn.answer("staff.not_in_role", alert=True)
    elif button.step is DismissStep.CONFIRM:
        refusal = await domain.dismiss(svc, turn.context.application, turn.context.bot,
                                       turn.actor.user_id, button.user_id, button.role)
        if refusal is not None:
            await turn.answer(refusal, alert=True)
        else:
            await turn.answer()
            person = await mention_now(turn.context.bot, button.user_id, turn.language)
            await say_html(turn, "staff.dismissed", person=person,
                           role=turn.t(f"staff.role_{button.role}"))
    else:
        await turn.answer()
    await turn.show(*await team_screen(turn))


# --- Telegram's pickers ------------------------------------------------------------------


def picker(turn: Turn, request: Request) -> ReplyKeyboardMarkup:
    def person(request: Request, key: str) -> list[KeyboardButton]:
        return [KeyboardButton(turn.t(key), request_users=KeyboardButtonRequestUsers(
            request_id=int(request), user_is_bot=False, max_quantity=1))]

    if request in (Request.OFFICIAL, Request.ADMIN):
        rows = [person(request, "staff.pick_person_button")]
    else:
        group = KeyboardButton(turn.t("staff.pick_group_button"),
                               request_chat=KeyboardButtonRequestChat(
                                   request_id=int(Request.LIAISON_GROUP), chat_is_channel=False,
                                   bot_is_member=True, request_title=True))
        rows = [[group], person(Request.LIAISON_PERSON, "staff.pick_officer_button")]
    rows.append([KeyboardButton(turn.t("staff.cancel_button"))])
    return ReplyKeyboardMarkup(rows, resize_keyboard=True, one_time_keyboard=True)


async def open_picker(turn: Turn, request: Request) -> int:
    await turn.answer()
    await turn.reply(PROMPTS[request], picker(turn, request))
    return PICKING


@guarded(Action.APPOINT_OFFICIAL)
async def pick_official(turn: Turn) -> int:
    return await open_picker(turn, Request.OFFICIAL)


@guarded(Action.APPOINT_ADMIN)
async def pick_admin(turn: Turn) -> int:
    return await open_picker(turn, Request.ADMIN)


@guarded(Action.SET_LIAISON)
async def pick_liaison(turn: Turn) -> int:
    return await open_picker(turn, Request.LIAISON_GROUP)


@guarded(Action.CANCEL)
async def cancelled(turn: Turn) -> int:
    await turn.reply("staff.cancelled", ReplyKeyboardRemove())
    return ConversationHandler.END


# --- the pickers' answers ----------------------------------------------------------------


def shared_id(turn: Turn) -> tuple[int | None, int | None]:
    """The picker's request id and the chosen user's or chat's id."""
    message = turn.message
    if message is not None and message.users_shared is not None:
        users = message.users_shared.users
        return message.users_shared.request_id, users[0].user_id if users else None
    if message is not None and message.chat_shared is not None:
        return message.chat_shared.request_id, message.chat_shared.chat_id
    return None, None


async def settled(turn: Turn, request: Request, refusal: str | None, done: str,
                  **values: Any) -> int:
    """A refusal: said, and the picker offered again. Done: said, the picker closed, and
    the team shown as it is now."""
    if refusal is not None:
        await say_html(turn, refusal, picker(turn, request), bot=turn.context.bot.username,
                       **values)
        return PICKING
    await say_html(turn, done, ReplyKeyboardRemove(), **values)
    await turn.show(*await team_screen(turn))
    return ConversationHandler.END


async def appoint_chosen(turn: Turn, request: Request, role: StaffRole) -> int:
    _, user_id = shared_id(turn)
    assert user_id is not None  # the request id said a user picker
    refusal = await domain.appoint(turn.svc, turn.context.application, turn.context.bot,
                                   turn.actor.user_id, user_id, role)
    person = await mention_now(turn.context.bot, user_id, turn.language)
    return await settled(turn, request, refusal, "staff.appointed", person=person,
                         role=turn.t(f"staff.role_{role}"))


@guarded(Action.APPOINT_OFFICIAL)
async def official_chosen(turn: Turn) -> int:
    return await appoint_chosen(turn, Request.OFFICIAL, StaffRole.OFFICIAL)


@guarded(Action.APPOINT_ADMIN)
async def admin_chosen(turn: Turn) -> int:
    return await appoint_chosen(turn, Request.ADMIN, StaffRole.ADMIN)


async def _group_title(turn: Turn, chat_id: int) -> str:
    message = turn.message
    shared = message.chat_shared if message is not None else None
    if shared is not None and shared.title:
        return shared.title
    try:
        return (await turn.context.bot.get_chat(chat_id)).title or str(chat_id)
    except TelegramError:
        return str(chat_id)


async def _bot_is_admin(turn: Turn, chat_id: int) -> bool:
    try:
        member = await turn.context.bot.get_chat_member(chat_id, turn.context.bot.id)
    except TelegramError:
        return False
    return member.status in (ChatMember.ADMINISTRATOR, ChatMember.OWNER)


@guarded(Action.SET_LIAISON)
async def liaison_chosen(turn: Turn) -> int:
    request, chat_id = shared_id(turn)
    assert chat_id is not None
    if request == Request.LIAISON_GROUP and chat_id > 0:
        return await settled(turn, Request.LIAISON_GROUP, "staff.liaison_not_group", "")
    refusal = await domain.set_liaison(turn.svc, turn.context.application, turn.context.bot,
                                       turn.actor.user_id, chat_id)
    if chat_id > 0:
        person = await mention_now(turn.context.bot, chat_id, turn.language)
        return await settled(turn, Request.LIAISON_PERSON, refusal, "staff.liaison_set_person",
                             person=person)
    title = escape(await _group_title(turn, chat_id))
    step = await settled(turn, Request.LIAISON_GROUP, refusal, "staff.liaison_set_group",
                         title=title)
    if refusal is None and not await _bot_is_admin(turn, chat_id):
        await turn.reply("staff.liaison_not_admin")
    return step


@guarded(Action.MANAGE_STAFF)
async def stale_picker(turn: Turn) -> int:
    """A picker this version of the bot never offered."""
    await turn.reply("fallback.stale_button", ReplyKeyboardRemove())
    return ConversationHandler.END


ANSWERS = {Request.OFFICIAL: official_chosen, Request.ADMIN: admin_chosen,
           Request.LIAISON_GROUP: liaison_chosen, Request.LIAISON_PERSON: liaison_chosen}


async def chosen(update: Update, context: VigieContext) -> int:
    """A picker's answer, handed to the guarded handler of what it is for (a refusal by
    its guard leaves the picker open: /annuler closes it)."""
    message = update.effective_message
    shared = (message.users_shared or message.chat_shared) if message is not None else None
    request = shared.request_id if shared is not None else None
    handler = next((answer for kind, answer in ANSWERS.items() if kind == request),
                   stale_picker)
    result: int | None = await handler(update, context)
    return PICKING if result is None else result


def register(app: VigieApp) -> None:
    private = filters.ChatType.PRIVATE
    answers: MessageHandler[VigieContext, object] = MessageHandler(
        private & (filters.StatusUpdate.USERS_SHARED | filters.StatusUpdate.CHAT_SHARED), chosen)
    cancel_labels = sorted({i18n.t(language, "staff.cancel_button")
                            for language in SUPPORTED_LANGUAGES})
    app.add_handler(ConversationHandler(
        entry_points=[CallbackQueryHandler(pick_official, pattern=AppointOfficial.pattern()),
                      CallbackQueryHandler(pick_admin, pattern=AppointAdmin.pattern()),
                      CallbackQueryHandler(pick_liaison, pattern=PickLiaison.pattern())],
        states={PICKING: [answers, MessageHandler(private & filters.Text(cancel_labels),
                                                  cancelled)]},
        fallbacks=[CommandHandler(command(Action.CANCEL).names, cancel_conversation)],
        name="staff",
        persistent=True,  # a picker left open survives a restart
        allow_reentry=True,  # another picker's button replaces the open one
        conversation_timeout=3600,
    ))
    app.add_handler(CommandHandler(command(Action.MANAGE_STAFF).names, team))
    app.add_handler(CallbackQueryHandler(refresh, pattern=StaffRefresh.pattern()))
    app.add_handler(CallbackQueryHandler(dismiss, pattern=StaffDismiss.pattern()))
    # A picker answered once its conversation ended (/annuler elsewhere, a timeout) still
    # acts: its request id says what it is for, and the guard decides.
    app.add_handler(answers)
