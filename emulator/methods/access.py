"""Which chats and users the bot may see, write to and administer."""

from __future__ import annotations

import time

from emulator.errors import CHAT_NOT_FOUND, bad_request, chat_migrated, forbidden
from emulator.methods.base import Params
from emulator.state import Chat, State, User


def known_chat(state: State, params: Params, name: str = "chat_id") -> Chat:
    """The chat named by `name`, if the bot can know about it; else "chat not found"."""
    chat = _lookup(state, params, name)
    if chat.type == "private":
        if not _may_contact(state.users[chat.id]):
            raise bad_request(CHAT_NOT_FOUND)
    elif state.bot.id not in chat.members:
        # A chat the bot was never part of is invisible to it.
        raise bad_request(CHAT_NOT_FOUND)
    return chat


def member_chat(state: State, params: Params, name: str = "chat_id") -> Chat:
    """A group the bot is in now, or a private chat; for reading and administering."""
    chat = known_chat(state, params, name)
    if chat.is_group:
        _require_presence(state, chat)
    return chat


def writable_chat(state: State, params: Params, name: str = "chat_id") -> Chat:
    """The chat the bot wants to post into, refused with Telegram's 403s when it cannot."""
    chat = _lookup(state, params, name)
    if chat.type == "private":
        user = state.users[chat.id]
        if user.blocked:
            raise forbidden("bot was blocked by the user")
        if not _may_contact(user):
            raise forbidden("bot can't initiate conversation with a user")
        return chat
    if state.bot.id not in chat.members:
        raise bad_request(CHAT_NOT_FOUND)
    _require_presence(state, chat)
    return chat


def require_right(state: State, chat: Chat, right: str, reason: str) -> None:
    if chat.is_group and not state.bot_has_right(chat, right):
        raise bad_request(reason)


def require_supergroup(chat: Chat) -> None:
    if chat.type != "supergroup":
        raise bad_request("method is available only for supergroups")


def target_user(state: State, params: Params, name: str = "user_id") -> User:
    user = state.users.get(params.required_integer(name))
    if user is None:
        raise bad_request("user not found")
    return user


def _lookup(state: State, params: Params, name: str) -> Chat:
    value = params.raw(name)
    if value is None or value == "":
        raise bad_request(f"{name} is empty")
    if isinstance(value, str) and value.startswith("@"):
        # No public usernames are modelled, so "@name" never resolves.
        raise bad_request(CHAT_NOT_FOUND)
    chat_id = params.required_integer(name)
    chat = state.chats.get(chat_id)
    if chat is None and chat_id in state.users and chat_id != state.bot.id:
        chat = state.private_chat(chat_id)
    if chat is None:
        raise bad_request(CHAT_NOT_FOUND)
    if chat.migrated_to is not None:
        raise chat_migrated(chat.migrated_to)
    return chat


def _may_contact(user: User) -> bool:
    return user.started or time.time() < user.contact_allowed_until


def _require_presence(state: State, chat: Chat) -> None:
    standing = chat.member(state.bot.id)
    if standing.present:
        return
    if standing.status == "kicked":
        raise forbidden(f"bot was kicked from the {_kind(chat)} chat")
    raise forbidden(f"bot is not a member of the {_kind(chat)} chat")


def _kind(chat: Chat) -> str:
    return "supergroup" if chat.type == "supergroup" else "group"
