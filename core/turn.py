"""One person's turn: the update, who they are, where they are, in which language.

`guarded(action)` wraps every handler callback: it binds the handler name to the log
context, resolves the actor from the server's own records, asks `permissions.check`, and
answers a refusal politely instead of running the handler.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
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
from telegram.error import BadRequest, TelegramError

from core import i18n, logs
from core.buttons import Button
from core.permissions import Action, Actor, ChatKind, Place, check
from core.services import Services, VigieContext
from storage import Person

log = logs.get("turn")
T = TypeVar("T")
B = TypeVar("B", bound=Button)
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None


async def actor_of(svc: Services, bot: Bot, user_id: int, chat_id: int | None = None
                   ) -> tuple[Actor, Person | None]:
    """A person as our own records (and the configuration) know them."""
    store, roles = svc.store, svc.roles
    person = await store.people.get(user_id)
    accepted = await store.charter.latest_version(user_id) if person else None
    actor = Actor(
        user_id=user_id,
        status=person.status if person else "stranger",
        charter_current=(accepted or 0) >= svc.charter.version,
        sector_id=person.sector_id if person else None,
        referent_of=await store.referents.sectors_of(user_id),
        is_liaison=await svc.is_liaison(bot, user_id, chat_id),
        is_official=user_id in roles.officials,
        is_admin=user_id in roles.admins,
    )
    return actor, person


async def resolve_actor(svc: Services, context: VigieContext, user: User, chat: Chat | None
                        ) -> tuple[Actor, str]:
    """The actor, and the language to speak to them (theirs, else Telegram's guess)."""
    actor, person = await actor_of(svc, context.bot, user.id, chat.id if chat else None)
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
        actor, language = await resolve_actor(svc, context, user, chat)
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
