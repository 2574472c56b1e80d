"""One person's turn: the update, who they are, where they are, in which language.

`guarded(action)` wraps every handler callback: it binds the handler name to the log
context, resolves the actor from the server's own records, asks `permissions.check`, and
answers a refusal politely instead of running the handler.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import structlog
from telegram import (
    Bot,
    Chat,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
    User,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from core import i18n, logs
from core.buttons import Button
from core.permissions import Action, Actor, ChatKind, Place, check
from core.services import Services, VigieContext
from storage import Person
from storage.people import Standing

log = logs.get("turn")
T = TypeVar("T")
B = TypeVar("B", bound=Button)
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None


# One read of the actor per update: the charter notice (group -50) reads the standing and
# leaves it here for the guard of the same update (group 0), which takes it once. Keyed by
# update id (a lane's task handles its chat's updates one after the other) and by person.
_handed: ContextVar[tuple[int, int, Standing] | None] = ContextVar("vigie_standing",
                                                                   default=None)


async def standing_of(svc: Services, user_id: int, update_id: int | None = None) -> Standing:
    """The person's standing in one query; with `update_id`, kept for that update's actor."""
    found = await svc.store.people.standing(user_id, svc.roles.liaison_chat_id)
    if update_id is not None:
        _handed.set((update_id, user_id, found))
    return found


async def actor_of(svc: Services, bot: Bot, user_id: int, chat_id: int | None = None,
                   update_id: int | None = None) -> tuple[Actor, Person | None]:
    """A person as our own records (and the configuration) know them."""
    roles, handed = svc.roles, _handed.get()
    if handed is not None and update_id is not None and handed[:2] == (update_id, user_id):
        _handed.set(None)
        found = handed[2]
    else:
        found = await svc.store.people.standing(user_id, roles.liaison_chat_id)
    person, liaison = found.person, roles.liaison_chat_id
    if liaison is not None and liaison < 0 and chat_id != liaison:
        # A liaison group, asked outside it: what storage/liaison.py knows, read above
        # (the same answer as `Services.is_liaison`, without its second read).
        if found.liaison_member is None:
            svc.want_liaison_check(user_id)
        is_liaison = bool(found.liaison_member)
    else:
        is_liaison = await svc.is_liaison(bot, user_id, chat_id)  # no read in these cases
    accepted = found.charter_accepted if person else None
    actor = Actor(
        user_id=user_id,
        status=person.status if person else "stranger",
        charter_current=(accepted or 0) >= svc.charter.version,
        sector_id=person.sector_id if person else None,
        referent_of=found.referent_of,
        is_liaison=is_liaison,
        is_official=user_id in roles.officials,
        is_admin=user_id in roles.admins,
    )
    return actor, person


async def resolve_actor(svc: Services, context: VigieContext, user: User, chat: Chat | None,
                        update_id: int | None = None) -> tuple[Actor, str]:
    """The actor, and the language to speak to them (theirs, else Telegram's guess)."""
    actor, person = await actor_of(svc, context.bot, user.id, chat.id if chat else None,
                                   update_id)
    language = person.language if person else i18n.language_for(
        user.language_code, svc.settings.commune.language
    )
    return actor, language


async def resolve_place(svc: Services, chat: Chat) -> Place:
    if chat.type == Chat.PRIVATE:
        return Place(chat.id, ChatKind.PRIVATE)
    if chat.id == svc.roles.liaison_chat_id:
        return Place(chat.id, ChatKind.LIAISON_CHAT)
    sector = await svc.store.sectors.by_chat(chat.id)
    if sector is not None:
        return Place(chat.id, ChatKind.SECTOR_GROUP, sector.id)
    return Place(chat.id, ChatKind.GROUP)


class HasSector(Protocol):
    """What a button acts on (read-only, so frozen dataclasses qualify); None: no sector."""

    @property
    def sector_id(self) -> int | None: ...


@dataclass
class Turn:
    update: Update
    context: VigieContext
    svc: Services
    actor: Actor
    place: Place
    language: str
    subject: Any = None  # what a button acts on, loaded by the guard from callback data

    @classmethod
    async def build(cls, update: Update, context: VigieContext) -> Turn:
        svc = context.svc
        user, chat = update.effective_user, update.effective_chat
        assert user is not None and chat is not None  # guarded handlers filter on both
        actor, language = await resolve_actor(svc, context, user, chat, update.update_id)
        return cls(update, context, svc, actor, await resolve_place(svc, chat), language)

    def t(self, key: str, **values: Any) -> str:
        return i18n.t(self.language, key, **values)

    @property
    def message(self) -> Message | None:
        return self.update.effective_message

    def button(self, kind: type[B]) -> B:
        """The pressed button, read back as `kind` (its handler's `kind.pattern()` matched,
        so only data forged past the pattern raises `ButtonError`)."""
        query = self.update.callback_query
        return kind.parse(query.data if query else None)

    @property
    def text(self) -> str:
        message = self.update.message
        return (message.text or "") if message else ""

    @property
    def args(self) -> list[str]:
        return list(self.context.args or [])

    async def reply(self, key: str, markup: Markup = None, **values: Any) -> Message:
        return await self.say(self.t(key, **values), markup)

    async def say(self, text: str, markup: Markup = None) -> Message:
        """Answer in the chat the turn happened in (a direct reply, not through the outbox)."""
        chat = self.update.effective_chat
        assert chat is not None
        return await self.context.bot.send_message(
            chat.id, text, reply_markup=markup, link_preview_options=NO_PREVIEW
        )

    async def edit(self, text: str | None, markup: InlineKeyboardMarkup | None) -> None:
        """Change the message whose button was pressed (its text, or only its buttons). A
        button pressed twice quickly asks for the same change twice: Telegram then answers
        "message is not modified", which is not a problem to report."""
        query = self.update.callback_query
        assert query is not None
        try:
            if text is None:
                await query.edit_message_reply_markup(markup)
            else:
                await query.edit_message_text(text, reply_markup=markup,
                                              link_preview_options=NO_PREVIEW)
        except BadRequest as error:
            if "not modified" not in error.message.lower():
                raise

    async def show(self, text: str, markup: InlineKeyboardMarkup | None) -> None:
        """A screen of the staff's desk (an HTML text and its buttons): a new message for a
        command, the pressed message changed in place for a button (a list paged or
        refreshed; pressed twice, "not modified" is no problem)."""
        query = self.update.callback_query
        if query is None:
            await self.context.bot.send_message(
                self.place.chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup,
                link_preview_options=NO_PREVIEW)
            return
        try:
            await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup,
                                          link_preview_options=NO_PREVIEW)
        except BadRequest as error:
            if "not modified" not in error.message.lower():
                raise

    async def answer(self, key: str | None = None, alert: bool = False, **values: Any) -> None:
        """Acknowledge a button press, optionally with a short toast."""
        query = self.update.callback_query
        if query is None:
            return
        try:
            await query.answer(self.t(key, **values) if key else None, show_alert=alert)
        except TelegramError as error:
            # A courtesy, never a reason to stop: Telegram refuses a second answer or one
            # past ~15 s (an update handled again after a restart, or after an outage).
            log.info("callback.answer_failed", error=type(error).__name__)

    async def refuse(self, reason: str) -> None:
        if self.update.callback_query is not None:
            await self.answer(reason, alert=True)
        elif self.update.effective_chat is not None:
            await self.reply(reason)


Callback = Callable[[Update, VigieContext], Coroutine[Any, Any, Any]]
SubjectLoader = Callable[[Turn], Awaitable[HasSector | None]]


def guarded(
    action: Action, subject: SubjectLoader | None = None
) -> Callable[[Callable[[Turn], Awaitable[T]]], Callback]:
    """Run the handler only if `permissions.check` allows it.

    With `subject`, the guard first loads what the button acts on (a join request, an
    application…) from the server's records; a forged or stale id finds nothing and is
    answered as a stale button, and the check is made against the subject's sector.
    """

    def wrap(handler: Callable[[Turn], Awaitable[T]]) -> Callback:
        @functools.wraps(handler)
        async def callback(update: Update, context: VigieContext) -> T | None:
            structlog.contextvars.bind_contextvars(handler=handler.__name__)
            turn = await Turn.build(update, context)
            sector_id = owner_id = None
            if subject is not None:
                turn.subject = await subject(turn)
                if turn.subject is None:
                    await turn.refuse("fallback.stale_button")
                    return None
                sector_id = turn.subject.sector_id
                owner_id = getattr(turn.subject, "owner_id", None)
            decision = check(turn.actor, action, turn.place, sector_id, owner_id)
            if not decision:
                log.info("permission.denied", action=str(action), reason=decision.reason,
                         roles=turn.actor.roles(), chat_kind=str(turn.place.kind))
                assert decision.reason is not None
                await turn.refuse(decision.reason)
                return None
            result = await handler(turn)
            log.info("handled", action=str(action), chat_kind=str(turn.place.kind))
            return result

        return callback

    return wrap
