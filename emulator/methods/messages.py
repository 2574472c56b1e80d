"""Methods that post messages: the ones subject to flood limits, plus sendChatAction."""

from __future__ import annotations

import copy
import mimetypes
from collections.abc import Callable

from emulator.errors import ApiError, bad_request
from emulator.htmltext import ParsedText
from emulator.methods.access import known_chat, writable_chat
from emulator.methods.base import Params, method
from emulator.methods.content import (
    caption,
    caption_content,
    message_text,
    publish,
    reply_markup,
    reply_target,
    text_content,
)
from emulator.state import JSON, Chat, Message, Poll, State, StoredFile

PHOTO_UPLOAD_LIMIT = 10 * 1024 * 1024
DOCUMENT_UPLOAD_LIMIT = 50 * 1024 * 1024
MAX_POLL_OPTIONS = 12  # Bot API 10.0; it was 10 before
MAX_POLL_QUESTION = 300
MAX_POLL_OPTION = 100
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_MEDIA_KINDS = ("photo", "document")


@method("sendMessage", sends=True)
def send_message(state: State, params: Params) -> JSON:
    chat = writable_chat(state, params)
    parsed = message_text(params)
    message = _send(
        state, params, chat, "text", lambda: text_content(parsed), raw=params.text("text")
    )
    return state.message_json(message)


@method("sendPhoto", sends=True)
def send_photo(state: State, params: Params) -> JSON:
    return _send_with_caption(state, params, "photo", _photo_content)


@method("sendDocument", sends=True)
def send_document(state: State, params: Params) -> JSON:
    return _send_with_caption(state, params, "document", _document_content)


@method("sendLocation", sends=True)
def send_location(state: State, params: Params) -> JSON:
    chat = writable_chat(state, params)
    message = _send(state, params, chat, "location", lambda: {"location": _location(params)})
    return state.message_json(message)


@method("sendVenue", sends=True)
def send_venue(state: State, params: Params) -> JSON:
    chat = writable_chat(state, params)
    message = _send(state, params, chat, "venue", lambda: _venue_content(params))
    return state.message_json(message)


@method("sendPoll", sends=True)
def send_poll(state: State, params: Params) -> JSON:
    chat = writable_chat(state, params)
    question = params.text("question") or ""
    options = _poll_options(params)
    if not question.strip():
        raise bad_request("poll question must be non-empty")
    if len(question) > MAX_POLL_QUESTION:
        raise bad_request("poll question length must not exceed 300")
    poll_type = params.text("type") or "regular"
    if poll_type not in ("regular", "quiz"):
        raise bad_request("poll type is invalid")
    correct = _correct_options(params, len(options)) if poll_type == "quiz" else []
    # The poll is stored only once the flood limits have let the message through.
    message = _send(state, params, chat, "poll", lambda: {}, new_poll=True)
    assert message.poll_id is not None  # new_poll=True always gives the message one
    state.polls[message.poll_id] = Poll(
        id=message.poll_id,
        chat_id=chat.id,
        message_id=message.message_id,
        question=question,
        options=options,
        is_anonymous=params.boolean("is_anonymous", default=True),
        type=poll_type,
        allows_multiple_answers=params.boolean("allows_multiple_answers"),
        allows_revoting=params.boolean("allows_revoting", default=poll_type == "regular"),
        correct_option_ids=correct,
        is_closed=params.boolean("is_closed"),
    )
    return state.message_json(message)


@method("copyMessage", sends=True)
def copy_message(state: State, params: Params) -> JSON:
    source, chat, content = _resent(
        state, params, "message to copy not found", "message can't be copied"
    )
    new_caption = caption(params)
    if source.kind in _MEDIA_KINDS and new_caption is not None:
        content.pop("caption", None)
        content.pop("caption_entities", None)
        content.update(caption_content(new_caption))
    message = _send(
        state,
        params,
        chat,
        source.kind,
        lambda: content,
        raw=content.get("text", content.get("caption")),
        new_poll=bool(source.poll_id),
    )
    _copy_poll(state, source, message)
    return {"message_id": message.message_id}


@method("forwardMessage", sends=True)
def forward_message(state: State, params: Params) -> JSON:
    source, chat, content = _resent(
        state, params, "message to forward not found", "message can't be forwarded"
    )
    content["forward_origin"] = {
        "type": "user",
        "sender_user": state.user_json(source.sender_id),
        "date": source.date,
    }
    message = publish(
        state,
        chat,
        params,
        source.kind,
        content,
        raw=content.get("text", content.get("caption")),
        poll_id=_new_poll_id(state) if source.poll_id else None,
    )
    _copy_poll(state, source, message)
    return state.message_json(message)


@method("sendChatAction")
def send_chat_action(state: State, params: Params) -> bool:
    writable_chat(state, params)
    if params.text("action") not in _CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    return True


def _send(
    state: State,
    params: Params,
    chat: Chat,
    kind: str,
    content: Callable[[], JSON],
    *,
    raw: str | None = None,
    new_poll: bool = False,
) -> Message:
    """The path the send* methods share, once each has resolved the chat and its own text.

    `content` is built only after the markup and reply checks pass, so that a refused request
    stores no upload; a new poll's id is drawn then too, so that refusals use up no ids.
    """
    markup = reply_markup(params)
    reply_to = reply_target(chat, params)
    built = content()
    poll_id = _new_poll_id(state) if new_poll else None
    return publish(
        state,
        chat,
        params,
        kind,
        built,
        raw=raw,
        markup=markup,
        reply_to=reply_to,
        poll_id=poll_id,
    )


def _send_with_caption(
    state: State,
    params: Params,
    kind: str,
    content: Callable[[State, Params, ParsedText | None], JSON],
) -> JSON:
    """sendPhoto and sendDocument: media content, plus the optional caption checked first."""
    chat = writable_chat(state, params)
    parsed = caption(params)
    message = _send(
        state,
        params,
        chat,
        kind,
        lambda: content(state, params, parsed),
        raw=params.text("caption"),
    )
    return state.message_json(message)


def photo_size(stored: StoredFile) -> JSON:
    return {**stored.to_api(), "width": 1280, "height": 960}


def _photo_content(state: State, params: Params, parsed: ParsedText | None) -> JSON:
    stored = _media(state, params, "photo", PHOTO_UPLOAD_LIMIT)
    return {"photo": [photo_size(stored)], **caption_content(parsed)}


def _document_content(state: State, params: Params, parsed: ParsedText | None) -> JSON:
    stored = _media(state, params, "document", DOCUMENT_UPLOAD_LIMIT)
    upload = params.upload("document")
    document = stored.to_api()
    if upload is not None:
        document["file_name"] = upload.filename
        document["mime_type"] = upload.content_type
    return {"document": document, **caption_content(parsed)}


def _venue_content(params: Params) -> JSON:
    location = _location(params)
    title, address = params.text("title"), params.text("address")
    if not title or not address:
        raise bad_request("venue title and address must be non-empty")
    venue = {"location": location, "title": title, "address": address}
    return {"venue": venue, "location": location}


def _media(state: State, params: Params, field: str, upload_limit: int) -> StoredFile:
    upload = params.upload(field)
    if upload is not None:
        if field == "photo" and len(upload.content) > upload_limit:
            raise bad_request("file is too big")
        if len(upload.content) > upload_limit:
            raise ApiError(413, "Request Entity Too Large")
        extension = _extension(upload.filename, upload.content_type, field)
        return state.store_file(upload.content, len(upload.content), f"{field}s", extension)
    reference = params.text(field)
    if not reference:
        raise bad_request(f"there is no {field} in the request")
    if reference in state.files:
        return state.files[reference]
    if reference.startswith(("http://", "https://")):
        # Telegram would fetch the URL; a placeholder is enough for a test double.
        placeholder = b"emulated download of " + reference.encode()
        return state.store_file(placeholder, len(placeholder), f"{field}s", "bin")
    raise bad_request("wrong file identifier/HTTP URL specified")


def _extension(filename: str, content_type: str, field: str) -> str:
    if "." in filename:
        return filename.rsplit(".", 1)[1].lower()
    guessed = mimetypes.guess_extension(content_type or "")
    return guessed.lstrip(".") if guessed else ("jpg" if field == "photo" else "bin")


def _location(params: Params) -> JSON:
    latitude = params.number("latitude", default=float("nan"))
    longitude = params.number("longitude", default=float("nan"))
    if not -90 <= latitude <= 90 or not -180 <= longitude <= 180:
        raise bad_request("wrong coordinates")
    location: JSON = {"latitude": latitude, "longitude": longitude}
    for name in ("horizontal_accuracy", "live_period", "heading", "proximity_alert_radius"):
        if params.raw(name) is not None:
            location[name] = params.number(name)
    return location


def _poll_options(params: Params) -> list[str]:
    raw_options = params.structured("options")
    if not isinstance(raw_options, list):
        raise bad_request("poll options must be an array")
    options = [o.get("text", "") if isinstance(o, dict) else str(o) for o in raw_options]
    if len(options) < 2:
        raise bad_request("poll must have at least 2 option")
    if len(options) > MAX_POLL_OPTIONS:
        raise bad_request(f"poll can't have more than {MAX_POLL_OPTIONS} options")
    if any(not option.strip() or len(option) > MAX_POLL_OPTION for option in options):
        raise bad_request("poll options length must not exceed 100")
    return options


def _correct_options(params: Params, option_count: int) -> list[int]:
    """A quiz's right answers: correct_option_ids, or the older single correct_option_id."""
    chosen = params.structured("correct_option_ids")
    if chosen is None and params.raw("correct_option_id") is not None:
        chosen = [params.integer("correct_option_id")]
    if not isinstance(chosen, list) or not chosen:
        raise bad_request("wrong correct option ID")
    if any(not isinstance(o, int) or not 0 <= o < option_count for o in chosen):
        raise bad_request("wrong correct option ID")
    return sorted(set(chosen))


def _source_message(state: State, params: Params, missing: str) -> Message:
    source_chat = known_chat(state, params, "from_chat_id")
    message = source_chat.messages.get(params.required_integer("message_id"))
    if message is None or message.deleted:
        raise bad_request(missing)
    if message.protect_content:
        raise bad_request("message has protected content and can't be forwarded")
    return message


def _resent(state: State, params: Params, missing: str, refused: str) -> tuple[Message, Chat, JSON]:
    """What copyMessage and forwardMessage start from: source, target chat, copied content.

    The content loses its keyboard; copyMessage may attach a new one from reply_markup.
    """
    source = _source_message(state, params, missing)
    if source.kind == "service":
        raise bad_request(refused)
    chat = writable_chat(state, params)
    content = copy.deepcopy(source.content)
    content.pop("reply_markup", None)
    return source, chat, content


def _new_poll_id(state: State) -> str:
    return str(5_000_000_000 + state.serial())


def _copy_poll(state: State, source: Message, copied: Message) -> None:
    """Give a copied or forwarded poll message its own fresh poll, without the votes."""
    if source.poll_id is None or copied.poll_id is None:
        return
    original = state.polls[source.poll_id]
    state.polls[copied.poll_id] = Poll(
        id=copied.poll_id,
        chat_id=copied.chat_id,
        message_id=copied.message_id,
        question=original.question,
        options=list(original.options),
        is_anonymous=original.is_anonymous,
        type=original.type,
        allows_multiple_answers=original.allows_multiple_answers,
        allows_revoting=original.allows_revoting,
        correct_option_ids=list(original.correct_option_ids),
    )
