"""Validation of what the bot posts, and the single path by which its messages are created."""

from __future__ import annotations

import time
from typing import Any

from emulator.errors import bad_request, too_many_requests
from emulator.htmltext import EntityParseError, ParsedText, parse_text
from emulator.journal import message_record
from emulator.methods.base import Params
from emulator.state import JSON, Chat, Message, State

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
_TEXT_BUTTONS_UNALLOWED = (
    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
)
_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def message_text(params: Params) -> ParsedText:
    """The `text` parameter as Telegram shows it, checked against the 1..4096 limit."""
    text = params.text("text") or ""
    parsed = _parse(params, text, "parse_mode", "entities")
    if not parsed.text.strip():
        raise bad_request("message text is empty")
    if len(parsed.text) > MAX_TEXT_LENGTH:
        raise bad_request("message is too long")
    return parsed


def caption(params: Params) -> ParsedText | None:
    text = params.text("caption")
    if text is None:
        return None
    parsed = _parse(params, text, "parse_mode", "caption_entities")
    if len(parsed.text) > MAX_CAPTION_LENGTH:
        raise bad_request("message caption is too long")
    return parsed


def _parse(params: Params, text: str, mode_field: str, entities_field: str) -> ParsedText:
    try:
        parsed = parse_text(text, params.text(mode_field))
    except EntityParseError as error:
        raise bad_request(f"can't parse entities: {error}") from None
    explicit = params.structured(entities_field)
    if not parsed.entities and isinstance(explicit, list):
        parsed.entities = explicit
    return parsed


def reply_markup(params: Params, inline_only: bool = False) -> JSON | None:
    markup = params.structured("reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        _check_inline_keyboard(markup["inline_keyboard"])
    elif inline_only:
        raise bad_request("inline keyboard expected")
    elif "keyboard" in markup:
        _check_reply_keyboard(markup["keyboard"])
    elif markup.get("remove_keyboard") is not True and markup.get("force_reply") is not True:
        raise bad_request("can't parse reply keyboard markup JSON object")
    return markup


def _rows(keyboard: Any) -> list[list[Any]]:
    if not isinstance(keyboard, list) or not all(isinstance(row, list) for row in keyboard):
        raise bad_request("can't parse reply keyboard markup JSON object")
    return keyboard


def _check_inline_keyboard(keyboard: Any) -> None:
    for row in _rows(keyboard):
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise bad_request(_TEXT_BUTTONS_UNALLOWED)
            if sum(1 for name in _INLINE_ACTIONS if name in button) != 1:
                raise bad_request(_TEXT_BUTTONS_UNALLOWED)
            if "callback_data" in button:
                _check_callback_data(button["callback_data"])


def _check_callback_data(data: Any) -> None:
    size = len(data.encode("utf-8")) if isinstance(data, str) else 0
    if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
        raise bad_request("BUTTON_DATA_INVALID")


def _check_reply_keyboard(keyboard: Any) -> None:
    for row in _rows(keyboard):
        for button in row:
            label = button if isinstance(button, str) else (button or {}).get("text")
            if not isinstance(label, str) or not label:
                raise bad_request("can't parse keyboard button: Text must be non-empty")


def reply_target(chat: Chat, params: Params) -> int | None:
    """The message being answered, from reply_parameters or the older reply_to_message_id."""
    reply = params.structured("reply_parameters")
    if isinstance(reply, dict):
        message_id = reply.get("message_id")
        allow_missing = bool(reply.get("allow_sending_without_reply"))
    else:
        message_id = params.integer("reply_to_message_id")
        allow_missing = params.boolean("allow_sending_without_reply")
    if message_id is None:
        return None
    replied = chat.messages.get(int(message_id))
    if replied is None or replied.deleted:
        if allow_missing:
            return None
        raise bad_request("message to be replied not found")
    return replied.message_id


def publish(
    state: State,
    chat: Chat,
    params: Params,
    kind: str,
    content: JSON,
    *,
    raw: str | None = None,
    markup: JSON | None = None,
    reply_to: int | None = None,
    poll_id: str | None = None,
) -> Message:
    """Create the bot's message once the flood limits allow it (the only place they apply)."""
    wait = state.limiter.acquire(chat.id, chat.type == "private", time.monotonic())
    if wait > 0:
        raise too_many_requests(wait, state.limiter.limits.scale)
    if markup is not None and "inline_keyboard" in markup:
        # Telegram echoes only inline keyboards in the Message object.
        content["reply_markup"] = markup
    visible = content.get("text", content.get("caption"))
    message = state.post(
        chat,
        state.bot.id,
        kind,
        content,
        reply_to=reply_to,
        poll_id=poll_id,
        raw=raw,
        parse_mode=params.text("parse_mode"),
        markup=markup,
        protect_content=params.boolean("protect_content"),
        disable_notification=params.boolean("disable_notification"),
        history=[visible] if visible is not None else [],
    )
    state.journal.record("sent", chat.id, message_record(message))
    return message


def text_content(parsed: ParsedText) -> JSON:
    content: JSON = {"text": parsed.text}
    if parsed.entities:
        content["entities"] = parsed.entities
    return content


def caption_content(parsed: ParsedText | None) -> JSON:
    if parsed is None or not parsed.text:
        return {}
    content: JSON = {"caption": parsed.text}
    if parsed.entities:
        content["caption_entities"] = parsed.entities
    return content
