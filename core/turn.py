"""One person's turn: the update, who they are, where they are, in which language.

`guarded(action)` wraps every handler callback: it binds the handler name to the log
context, resolves the actor from the server's own records, asks `permissions.check`, and
answers a refusal politely instead of running the handler.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from telegram import Chat, InlineKeyboardMarkup, Message, ReplyKeyboardMarkup, Update, User
from telegram.ext import CallbackContext

from core import i18n, logs
from core.permissions import Action, Actor, ChatKind, Place, check
from core.services import Services, services

log = logs.get("turn")
T = TypeVar("T")
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | None


async def resolve_actor(svc: Services, context: CallbackContext, user: User, chat: Chat | None
                        ) -> tuple[Actor, str]:  # type: ignore[type-arg]
    """The actor as our records know them, and the language to speak to them."""
    store, settings = svc.store, svc.settings
    person = await store.people.get(user.id)
    accepted = await store.charter.latest_version(user.id) if person else None
    actor = Actor(
        user_id=user.id,
        status=person.status if person else "stranger",
        charter_current=(accepted or 0) >= svc.charter.version,
        sector_id=person.sector_id if person else None,
        referent_of=await store.referents.sectors_of(user.id),
        is_liaison=await svc.is_liaison(context.bot, user.id, chat.id if chat else None),
        is_official=user.id in settings.roles.officials,
        is_admin=user.id in settings.roles.admins,
    )
    language = person.language if person else i18n.language_for(
        user.language_code, settings.commune.language
    )
    return actor, language


async def resolve_place(svc: Services, chat: Chat) -> Place:
    if chat.type == Chat.PRIVATE:
        return Place(chat.id, ChatKind.PRIVATE)
    if chat.id == svc.settings.roles.liaison_chat_id:
        return Place(chat.id, ChatKind.LIAISON_CHAT)
    sector = await svc.store.sectors.by_chat(chat.id)
    if sector is not None:
        return Place(chat.id, ChatKind.SECTOR_GROUP, sector.id)
    return Place(chat.id, ChatKind.GROUP)


@dataclass
class Turn:
    update: Update
    context: CallbackContext  # type: ignore[type-arg]
    svc: Services
    actor: Actor
    place: Place
    language: str

    @classmethod
    async def build(cls, update: Update, context: CallbackContext) -> Turn:  # type: ignore[type-arg]
        svc = services(context)
        user, chat = update.effective_user, update.effective_chat
        assert user is not None and chat is not None  # guarded handlers filter on both
        actor, language = await resolve_actor(svc, context, user, chat)
        return cls(update, context, svc, actor, await resolve_place(svc, chat), language)

    def t(self, key: str, **values: Any) -> str:
        return i18n.t(self.language, key, **values)

    @property
    def message(self) -> Message | None:
        return self.update.effective_message

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
            chat.id, text, reply_markup=markup, disable_web_page_preview=True
        )

    async def answer(self, key: str | None = None, alert: bool = False, **values: Any) -> None:
        """Acknowledge a button press, optionally with a short toast."""
        query = self.update.callback_query
        if query is not None:
            await query.answer(self.t(key, **values) if key else None, show_alert=alert)

    async def refuse(self, reason: str) -> None:
        if self.update.callback_query is not None:
            await self.answer(reason, alert=True)
        elif self.update.effective_chat is not None:
            await self.reply(reason)


Callback = Callable[[Update, CallbackContext], Awaitable[Any]]  # type: ignore[type-arg]


def guarded(action: Action) -> Callable[[Callable[[Turn], Awaitable[T]]], Callback]:
    def wrap(handler: Callable[[Turn], Awaitable[T]]) -> Callback:
        @functools.wraps(handler)
        async def callback(update: Update, context: CallbackContext) -> T | None:  # type: ignore[type-arg]
            structlog.contextvars.bind_contextvars(handler=handler.__name__)
            turn = await Turn.build(update, context)
            decision = check(turn.actor, action, turn.place)
            if not decision:
                log.info("permission.denied", action=str(action), reason=decision.reason,
                         roles=turn.actor.roles(), chat_kind=str(turn.place.kind))
                assert decision.reason is not None
                await turn.refuse(decision.reason)
                return None
            return await handler(turn)

        return callback

    return wrap
