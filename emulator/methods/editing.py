"""Methods that change existing messages or answer people's taps: never flood-limited."""

from __future__ import annotations

import time
from functools import partial

from emulator.errors import NOT_MODIFIED, QUERY_TOO_OLD, bad_request
from emulator.htmltext import ParsedText
from emulator.journal import message_record
from emulator.methods.access import member_chat, require_right, writable_chat
from emulator.methods.base import Params, method
from emulator.methods.content import (
    caption,
    caption_content,
    message_text,
    reply_markup,
    text_content,
)
from emulator.state import JSON, Chat, Message, State, now_timestamp

# Telegram refuses answers to callback queries older than about this many seconds.
CALLBACK_QUERY_TTL = 15.0
_TEXT_FIELDS = ("text", "entities", "reply_markup")
_CAPTION_FIELDS = ("caption", "caption_entities", "reply_markup")
_PIN_RIGHTS = "not enough rights to manage pinned messages in the chat"


@method("editMessageText")
def edit_message_text(state: State, params: Params) -> JSON:
    message = _editable(state, params)
    if message.kind != "text":
        raise bad_request("there is no text in the message to edit")
    parsed = message_text(params)
    return _edit_text(state, params, message, _TEXT_FIELDS, text_content(parsed), "text")


@method("editMessageCaption")
def edit_message_caption(state: State, params: Params) -> JSON:
    message = _editable(state, params)
    if message.kind not in ("photo", "document"):
        raise bad_request("there is no caption in the message to edit")
    parsed = caption(params) or ParsedText("")
    return _edit_text(state, params, message, _CAPTION_FIELDS, caption_content(parsed), "caption")


@method("editMessageReplyMarkup")
def edit_message_reply_markup(state: State, params: Params) -> JSON:
    message = _editable(state, params)
    markup = reply_markup(params, inline_only=True)
    _apply_edit(state, message, ("reply_markup",), {}, markup)
    return state.message_json(message)


@method("deleteMessage")
def delete_message(state: State, params: Params) -> bool:
    chat = member_chat(state, params)
    message = _existing(chat, params, "message to delete not found")
    others = message.sender_id != state.bot.id
    if others and chat.is_group and not state.bot_has_right(chat, "can_delete_messages"):
        raise bad_request("message can't be deleted")
    message.deleted = True
    state.journal.record("deleted", chat.id, message_record(message))
    state.changed.notify_all()
    return True


@method("pinChatMessage")
def pin_chat_message(state: State, params: Params) -> bool:
    chat = member_chat(state, params)
    require_right(state, chat, "can_pin_messages", _PIN_RIGHTS)
    message = _existing(chat, params, "message to pin not found")
    message.pinned = True
    state.journal.record("pinned", chat.id, partial(_message_id, message))
    state.changed.notify_all()
    return True


@method("unpinChatMessage")
def unpin_chat_message(state: State, params: Params) -> bool:
    chat = member_chat(state, params)
    require_right(state, chat, "can_pin_messages", _PIN_RIGHTS)
    if params.raw("message_id") is not None:
        pinned = [_existing(chat, params, "message to unpin not found")]
    else:
        pinned = [m for m in chat.messages.values() if m.pinned][-1:]
    for message in pinned:
        message.pinned = False
        state.journal.record("unpinned", chat.id, partial(_message_id, message))
    state.changed.notify_all()
    return True


@method("stopPoll")
def stop_poll(state: State, params: Params) -> JSON:
    chat = writable_chat(state, params)
    message = _existing(chat, params, "message with poll to stop not found")
    if message.poll_id is None or message.sender_id != state.bot.id:
        raise bad_request("message with poll to stop not found")
    poll = state.polls[message.poll_id]
    if poll.is_closed:
        raise bad_request("poll has already been closed")
    markup = reply_markup(params, inline_only=True)
    poll.is_closed = True
    if markup is not None:
        message.content["reply_markup"] = markup
        message.markup = markup
    state.journal.record("edited", chat.id, message_record(message))
    # Telegram tells the bot about polls it stops, as about votes on its polls.
    state.updates.push("poll", poll.to_api())
    return poll.to_api()


@method("answerCallbackQuery")
def answer_callback_query(state: State, params: Params) -> bool:
    query_id = params.text("callback_query_id") or ""
    query = state.callback_queries.get(query_id)
    if query is None or query.answered or time.monotonic() - query.created > CALLBACK_QUERY_TTL:
        raise bad_request(QUERY_TOO_OLD)
    query.answered = True
    answer = {
        "callback_query_id": query_id,
        "text": params.text("text"),
        "show_alert": params.boolean("show_alert"),
        "url": params.text("url"),
        "cache_time": params.integer("cache_time", 0),
    }
    state.callback_answers.append(answer)
    state.journal.record("answered", None, lambda: dict(answer))
    state.changed.notify_all()
    return True


def _message_id(message: Message) -> JSON:
    return {"message_id": message.message_id}


def _existing(chat: Chat, params: Params, missing: str) -> Message:
    message = chat.messages.get(params.required_integer("message_id"))
    if message is None or message.deleted:
        raise bad_request(missing)
    return message


def _editable(state: State, params: Params) -> Message:
    if params.raw("inline_message_id") is not None:
        raise bad_request("MESSAGE_ID_INVALID")  # the emulated bot has no inline mode
    chat = writable_chat(state, params)
    message = _existing(chat, params, "message to edit not found")
    if message.sender_id != state.bot.id:
        raise bad_request("message can't be edited")
    return message


def _edit_text(
    state: State,
    params: Params,
    message: Message,
    replaced: tuple[str, ...],
    new_fields: JSON,
    raw_field: str,
) -> JSON:
    """editMessageText and editMessageCaption, once the new text is parsed.

    As for a sent message, the text and parse mode the bot asked for are kept for assertions.
    """
    markup = reply_markup(params, inline_only=True)
    _apply_edit(state, message, replaced, new_fields, markup)
    message.raw, message.parse_mode = params.text(raw_field), params.text("parse_mode")
    return state.message_json(message)


def _apply_edit(
    state: State,
    message: Message,
    replaced: tuple[str, ...],
    new_fields: JSON,
    markup: JSON | None,
) -> None:
    """Replace `replaced` fields; like Telegram, an edit without markup drops the keyboard."""
    content = {k: v for k, v in message.content.items() if k not in replaced}
    content.update(new_fields)
    if markup is not None:
        content["reply_markup"] = markup
    if content == message.content:
        raise bad_request(NOT_MODIFIED)
    old_visible = message.visible_text
    message.content = content
    message.markup = markup
    message.edits += 1
    message.edit_date = now_timestamp()
    if message.visible_text != old_visible and message.visible_text is not None:
        message.history.append(message.visible_text)
    state.journal.record("edited", message.chat_id, message_record(message))
    state.changed.notify_all()
