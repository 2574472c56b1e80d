"""Everyday commands available to everyone: /aide, /annuler, /langue, and the error handler."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, ReplyKeyboardRemove, Update
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    TypeHandler,
)

from core import i18n, logs
from core.buttons import Button
from core.commands import COMMANDS, command
from core.permissions import Action, ChatKind, allowed_actions
from core.services import VigieApp, VigieContext
from core.settings import LANGUAGES_BY_COUNTRY
from core.turn import Turn, guarded

log = logs.get("handlers.common")


@dataclass(frozen=True)
class Language(Button, prefix="language"):
    """/langue: speak to me in `code`, one of `SUPPORTED_LANGUAGES` (checked on press)."""

    code: str


def incomplete(update: Update) -> bool:
    """Fields the Bot API always sends are missing: no handler (nor PTB's filters) can read
    such an update, and Telegram never sends one (tests/test_fuzz.py does)."""
    message, query = update.effective_message, update.callback_query
    if message is not None and message.chat is None:
        return True
    if query is not None and (query.from_user is None or query.message is None):
        return True  # without a message it is an inline-mode button: this bot has none
    if (update.message or update.edited_message) is not None and message is not None \
            and message.from_user is None and message.chat.type != Chat.CHANNEL:
        return True
    change = update.my_chat_member or update.chat_member
    if change is not None and None in (change.chat, change.from_user, change.old_chat_member,
                                       change.new_chat_member):
        return True
    request = update.chat_join_request
    return request is not None and None in (request.chat, request.from_user)


async def bind_update(update: Update, context: VigieContext) -> None:
    """Every log line of this update carries its id; names and texts are never bound.
    An incomplete update, or a button without data, stops here."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(update_id=update.update_id)
    if incomplete(update):
        log.warning("update.incomplete")
        raise ApplicationHandlerStop
    query = update.callback_query
    if query is not None and not query.data and not query.game_short_name:
        # PTB lets a button without data through every pattern: answer it as stale here.
        turn = await Turn.build(update, context)
        await turn.answer("fallback.stale_button", alert=True)
        raise ApplicationHandlerStop


@guarded(Action.HELP)
async def show_help(turn: Turn) -> None:
    lines = [turn.t("help.title")]
    if not turn.actor.is_member and turn.place.kind is ChatKind.PRIVATE:
        lines.append(f"/start — {turn.t('help.start_hint')}")
    allowed = set(allowed_actions(turn.actor, turn.place))
    lines += [f"/{cmd.name} — {turn.t(f'commands.{cmd.name}')}" for cmd in COMMANDS
              if cmd.action in allowed and cmd.action is not Action.START]
    lines.append(turn.t("help.emergency"))
    await turn.say("\n".join(lines))


@guarded(Action.CANCEL)
async def nothing_to_cancel(turn: Turn) -> None:
    await turn.reply("cancel.nothing")


@guarded(Action.CANCEL)
async def cancel_conversation(turn: Turn) -> int:
    """The /annuler fallback of every conversation: leave it, nothing half-done is kept."""
    await turn.reply("cancel.done", ReplyKeyboardRemove())
    return ConversationHandler.END


def language_keyboard(country: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(i18n.t(code, "language.name"), callback_data=Language(code).pack())
          for code in LANGUAGES_BY_COUNTRY[country]]]
    )


@guarded(Action.LANGUAGE)
async def ask_language(turn: Turn) -> None:
    await turn.reply("language.ask", language_keyboard(turn.svc.settings.commune.country))


@guarded(Action.LANGUAGE)
async def set_language(turn: Turn) -> None:
    code = turn.button(Language).code
    if code not in LANGUAGES_BY_COUNTRY[turn.svc.settings.commune.country]:
        # never offered: forged, or a language this commune does not offer
        await turn.answer("fallback.stale_button", alert=True)
        return
    await turn.svc.store.people.ensure(turn.actor.user_id, code)
    await turn.svc.store.people.set_language(turn.actor.user_id, code)
    turn.language = code
    await turn.answer()
    await turn.reply("language.set")


async def on_error(update: object, context: VigieContext) -> None:
    """Log the failure (ids only) and apologise to the person, in private only."""
    log.error("handler.failed", exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    chat, user = update.effective_chat, update.effective_user
    if chat.type != chat.PRIVATE:
        return
    language: str = context.svc.settings.commune.language
    if user is not None:
        person = await context.svc.store.people.get(user.id)
        language = person.language if person else i18n.language_for(user.language_code, language)
    try:
        await context.bot.send_message(chat.id, i18n.t(language, "errors.generic"))
    except Exception:
        log.warning("handler.apology_failed")


def register(app: VigieApp) -> None:
    app.add_handler(TypeHandler(Update, bind_update), group=-100)
    app.add_handler(CommandHandler(command(Action.HELP).names, show_help))
    app.add_handler(CommandHandler(command(Action.CANCEL).names, nothing_to_cancel))
    app.add_handler(CommandHandler(command(Action.LANGUAGE).names, ask_language))
    app.add_handler(CallbackQueryHandler(set_language, pattern=Language.pattern()))
    app.add_error_handler(on_error)
