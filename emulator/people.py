"""The people of the emulated world: what tests make them do, and what they received.

Every action is a plain synchronous method: it changes the state and queues the updates the
bot will get, then returns at once with the Bot API dict it produced (the message, the
callback query, the join request...). Actions Telegram would not let a person do raise
PermissionError (LookupError when the thing acted upon does not exist), so a mistaken test
fails loudly instead of silently producing nothing.
"""

from __future__ import annotations

import copy
import functools
import mimetypes
import time
from collections.abc import Callable, Iterable, Mapping
from typing import ParamSpec, TypeVar

from emulator.methods.messages import photo_size
from emulator.state import (
    ADMIN_RIGHTS,
    DEFAULT_BOT_RIGHTS,
    JOIN_REQUEST_CONTACT_SECONDS,
    JSON,
    CallbackQuery,
    Chat,
    JoinRequest,
    Member,
    Message,
    Poll,
    State,
    User,
    now_timestamp,
)
from emulator.views import (
    MessageRef,
    Predicate,
    SentMessage,
    Since,
    button_labels,
    inline_buttons,
    message_id_of,
    sent_messages,
    take_mark,
    wait_for_message,
)

# A few bytes stand for a person's media; the announced size is what the limits look at.
ANONYMOUS_ADMIN_ID = 1087968824  # @GroupAnonymousBot
TELEGRAM_SERVICE_ID = 777000  # "Telegram", the sender of linked-channel posts
_FAKE_JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60 + b"\xff\xd9"
_FAKE_FILE = b"%PDF-1.4 emulated\n"
_STICKER = {"width": 512, "height": 512, "is_animated": False, "is_video": False}


P = ParamSpec("P")
R = TypeVar("R")


def _action(method: Callable[P, R]) -> Callable[P, R]:
    """A person or group doing something: waits that follow start from this moment."""

    @functools.wraps(method)
    def act(*args: P.args, **kwargs: P.kwargs) -> R:
        state = args[0]._state  # type: ignore[attr-defined]
        state.last_action = take_mark(state)
        return method(*args, **kwargs)

    return act


class _ChatReader:
    """Reading what the bot sent to one chat: shared by Person (its private chat) and Group.

    Subclasses name the chat with `_read_chat_id`.
    """

    _state: State

    @property
    def _read_chat_id(self) -> int:
        raise NotImplementedError

    def last(self) -> SentMessage | None:
        """The bot's newest message in the chat, or None if it sent nothing there."""
        messages = self._bot_messages()
        return messages[-1] if messages else None

    async def wait_for(
        self,
        predicate: Predicate | None = None,
        *,
        text: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - the test API's contract names it so
        since: Since = None,
    ) -> SentMessage:
        """The first new bot message in the chat matching `predicate` and `text`.

        A person's chat is their private chat with the bot; a group's is the group.
        """
        return await wait_for_message(
            self._state, self._read_chat_id, predicate, text, timeout, since
        )

    def _bot_messages(self) -> list[SentMessage]:
        return sent_messages(self._state, self._read_chat_id)


class Person(_ChatReader):
    """A Telegram user driven by the test. `chat` arguments default to the bot's private chat."""

    def __init__(self, state: State, user_id: int):
        self._state = state
        self.id = user_id

    def __repr__(self) -> str:
        return f"Person({self.first_name!r}, id={self.id})"

    @property
    def _user(self) -> User:
        return self._state.users[self.id]

    @property
    def first_name(self) -> str:
        return self._user.first_name

    @property
    def last_name(self) -> str | None:
        return self._user.last_name

    @property
    def username(self) -> str | None:
        return self._user.username

    @property
    def language_code(self) -> str | None:
        return self._user.language_code

    def to_api(self) -> JSON:
        """The person as a Bot API User object."""
        return self._user.to_api()

    # --- writing ----------------------------------------------------------------------------

    @_action
    def send_text(
        self, text: str, chat: Group | int | None = None, reply_to: MessageRef | None = None
    ) -> JSON:
        return self._say(chat, "text", _text_content(text), reply_to)

    @_action
    def send_command(
        self,
        command: str,
        args: str | None = None,
        chat: Group | int | None = None,
        reply_to: MessageRef | None = None,
        plain: bool = False,
    ) -> JSON:
        """Send "/command args"; in groups addressed as /command@bot unless `plain`."""
        name = command if command.startswith("/") else f"/{command}"
        with self._state.lock:
            in_group = self._target(chat).is_group
        if in_group and not plain and "@" not in name:
            name = f"{name}@{self._state.bot.username}"
        text = f"{name} {args}" if args else name
        return self._say(chat, "text", _text_content(text), reply_to)

    @_action
    def send_location(
        self, latitude: float, longitude: float, chat: Group | int | None = None
    ) -> JSON:
        location = {"latitude": latitude, "longitude": longitude}
        return self._say(chat, "location", {"location": location}, None)

    @_action
    def send_photo(
        self, chat: Group | int | None = None, caption: str | None = None, file_size: int = 50_000
    ) -> JSON:
        with self._state.lock:
            stored = self._state.store_file(_FAKE_JPEG, file_size, "photos", "jpg")
        content: JSON = {"photo": [photo_size(stored)]}
        if caption:
            content["caption"] = caption
        return self._say(chat, "photo", content, None)

    @_action
    def send_document(
        self,
        chat: Group | int | None = None,
        file_name: str = "x.pdf",
        file_size: int | None = None,
        caption: str | None = None,
        content: bytes | None = None,
    ) -> JSON:
        """A document; `content` is what getFile then serves (a few stand-in bytes when
        omitted). `file_size` is the size announced, which the limits look at (by default
        the content's length, or 100 kB for the stand-in)."""
        extension = file_name.rsplit(".", 1)[-1] if "." in file_name else "bin"
        data = _FAKE_FILE if content is None else content
        size = file_size if file_size is not None else (
            100_000 if content is None else len(content))
        with self._state.lock:
            stored = self._state.store_file(data, size, "documents", extension)
        document = {
            **stored.to_api(),
            "file_name": file_name,
            "mime_type": mimetypes.guess_type(file_name)[0] or "application/octet-stream",
        }
        sent: JSON = {"document": document}
        if caption:
            sent["caption"] = caption
        return self._say(chat, "document", sent, None)

    @_action
    def send_sticker(self, chat: Group | int | None = None, emoji: str = "👍") -> JSON:
        with self._state.lock:
            stored = self._state.store_file(_FAKE_FILE, 20_000, "stickers", "webp")
        sticker = {**stored.to_api(), **_STICKER, "type": "regular", "emoji": emoji}
        return self._say(chat, "sticker", {"sticker": sticker}, None)

    @_action
    def send_poll(self, question: str, options: Iterable[str], chat: Group | int | None = None
                  ) -> JSON:
        """Post a (regular, anonymous) poll, as a member can in a group: the bot gets a
        message with `poll` (Bot API Poll: id, question, options with text and voter_count)."""
        state = self._state
        with state.lock:
            target = self._target(chat)
            if target.type != "private" and not _can_send(target.member(self.id)):
                raise PermissionError(f"{self} cannot send messages in {target.title!r}")
            poll_id = str(5_000_000_000 + state.serial())
            message = state.post(target, self.id, "poll", {}, poll_id=poll_id)
            state.polls[poll_id] = Poll(id=poll_id, chat_id=target.id,
                                        message_id=message.message_id, question=question,
                                        options=list(options), is_anonymous=True,
                                        type="regular", allows_multiple_answers=False)
            return state.deliver(message)

    @_action
    def forward_text(
        self, text: str, chat: Group | int | None = None, origin: str = "hidden_user",
        sender_name: str = "Un inconnu",
    ) -> JSON:
        """Forward a text from outside the chat, as clients do: the message carries
        `forward_origin` (Bot API 7.0). `origin` is "hidden_user" (MessageOriginHiddenUser,
        with `sender_user_name`) or "channel" (MessageOriginChannel, a public channel)."""
        date = now_timestamp() - 3600
        if origin == "channel":
            source: JSON = {"type": "channel", "date": date, "message_id": 77,
                            "chat": {"id": -1_009_999_000_001, "type": "channel",
                                     "title": sender_name}}
        elif origin == "hidden_user":
            source = {"type": "hidden_user", "date": date, "sender_user_name": sender_name}
        else:
            raise ValueError("origin: hidden_user or channel")
        return self._say(chat, "text", {**_text_content(text), "forward_origin": source}, None)

    @_action
    def edit_text(self, message_id: int, text: str, chat: Group | int | None = None) -> JSON:
        """Edit one of the person's own text messages: the bot gets an edited_message."""
        state = self._state
        with state.lock:
            target = self._target(chat)
            message = target.messages.get(message_id)
            if message is None or message.deleted or message.sender_id != self.id:
                raise LookupError(f"{self} has no message {message_id} in chat {target.id}")
            if message.kind != "text":
                raise PermissionError("only text messages can have their text edited")
            message.content = _text_content(text)
            message.edit_date = now_timestamp()
            message.edits += 1
            return state.deliver(message, "edited_message")

    # --- buttons ----------------------------------------------------------------------------

    @_action
    def press(
        self, label: str, chat: Group | int | None = None, message_id: int | None = None
    ) -> JSON:
        """Tap the inline button `label` on the newest bot message showing it (or `message_id`).

        Raises LookupError if no such button exists, listing the buttons that do.
        """
        with self._state.lock:
            target = self._target(chat)
            candidates = self._pressable(target, message_id)
            for message in candidates:
                for button in inline_buttons(message.content.get("reply_markup")):
                    if button.get("text") != label:
                        continue
                    if "callback_data" not in button:
                        raise LookupError(f"button {label!r} has no callback_data")
                    return self._callback(target, message, button["callback_data"])
            shown = sorted(
                {
                    b.get("text", "")
                    for m in candidates
                    for b in inline_buttons(m.content.get("reply_markup"))
                }
            )
            raise LookupError(f"no inline button {label!r} in chat {target.id}; shown: {shown}")

    @_action
    def press_data(self, data: str, message_id: int, chat: Group | int | None = None) -> JSON:
        """Send arbitrary (forged or stale) callback data from any existing message."""
        with self._state.lock:
            target = self._target(chat)
            message = target.messages.get(message_id)
            if message is None or message.deleted:
                raise LookupError(f"no message {message_id} in chat {target.id}")
            return self._callback(target, message, data)

    # --- Telegram's pickers (reply-keyboard buttons asking for users or a chat) ---------------

    @_action
    def share_users(self, label: str, people: Iterable[Person]) -> JSON:
        """Tap the reply-keyboard button `label` that asks for users (`request_users`) and
        pick `people` in Telegram's picker; the bot gets a `users_shared` service message.

        Only in the private chat with the bot (Telegram offers these buttons nowhere else).
        The picker never offers what the button's criteria exclude (`user_is_bot`, more
        than `max_quantity`): trying it raises PermissionError. Names and usernames are
        shared only when the button asked for them (`request_name`, `request_username`).
        """
        state = self._state
        with state.lock:
            request = self._reply_button(label, "request_users")
            chosen = [state.users[person.id] for person in people]
            if not 1 <= len(chosen) <= int(request.get("max_quantity") or 1):
                raise PermissionError(f"the picker takes 1 to {request.get('max_quantity') or 1}")
            wanted_bot = request.get("user_is_bot")
            if wanted_bot is not None and any(user.is_bot != wanted_bot for user in chosen):
                raise PermissionError("the picker does not offer " +
                                      ("people" if wanted_bot else "bots") + " here")
            shared = []
            for user in chosen:
                entry: JSON = {"user_id": user.id}
                if request.get("request_name"):
                    entry["first_name"] = user.first_name
                    if user.last_name:
                        entry["last_name"] = user.last_name
                if request.get("request_username") and user.username:
                    entry["username"] = user.username
                shared.append(entry)
            content = {"users_shared": {"request_id": request["request_id"], "users": shared}}
            return self._say(None, "service", content, None)

    @_action
    def share_chat(self, label: str, group: Group) -> JSON:
        """Tap the reply-keyboard button `label` that asks for a chat (`request_chat`) and
        pick `group`; the bot gets a `chat_shared` service message.

        The picker offers only the person's own chats meeting the criteria (not a channel
        when `chat_is_channel` is false, the bot in it for `bot_is_member`, created by the
        person for `chat_is_created`, the rights asked for held): anything else raises
        PermissionError. The title is shared only if `request_title` asked for it.
        """
        state = self._state
        with state.lock:
            request = self._reply_button(label, "request_chat")
            chat = group.chat
            standing = chat.member(self.id)
            refusal = None
            if not standing.present:
                refusal = f"{self} is not in {chat.title!r}"
            elif request.get("chat_is_channel") is True or request.get("chat_is_forum") is True:
                refusal = "the emulator models no channels nor forums"
            elif request.get("bot_is_member") and not chat.member(state.bot.id).present:
                refusal = f"the bot is not in {chat.title!r}"
            elif request.get("chat_is_created") and standing.status != "creator":
                refusal = f"{self} did not create {chat.title!r}"
            elif not _holds(standing, request.get("user_administrator_rights")) or \
                    not _holds(chat.member(state.bot.id), request.get("bot_administrator_rights")):
                refusal = "the rights asked for are not held (promoting is not modelled)"
            if refusal is not None:
                raise PermissionError(f"the picker does not offer this chat: {refusal}")
            shared: JSON = {"request_id": request["request_id"], "chat_id": chat.id}
            if request.get("request_title") and chat.title:
                shared["title"] = chat.title
            return self._say(None, "service", {"chat_shared": shared}, None)

    def _reply_button(self, label: str, kind: str) -> JSON:
        """The `kind` part of button `label` on the reply keyboard shown now in the private
        chat: the latest bot message that set or removed one decides."""
        for message in reversed(self._state.bot_messages(self.id)):
            markup = message.markup or {}
            if markup.get("remove_keyboard"):
                break
            if "keyboard" not in markup:
                continue
            for row in markup["keyboard"]:
                for button in row:
                    if isinstance(button, dict) and button.get("text") == label:
                        if kind not in button:
                            raise LookupError(f"button {label!r} has no {kind}")
                        found: JSON = button[kind]
                        return found
            raise LookupError(f"no reply-keyboard button {label!r}; shown: "
                              f"{button_labels(markup)}")
        raise LookupError(f"no reply keyboard is shown to {self}")

    # --- relationship with the bot ------------------------------------------------------------

    @_action
    def block_bot(self) -> None:
        self._set_blocked(True)

    @_action
    def unblock_bot(self) -> None:
        self._set_blocked(False)

    # --- groups -----------------------------------------------------------------------------

    @_action
    def request_join(self, invite_link: str) -> JSON:
        """Use an invite link: a join request if the link needs approval, else join directly.

        Returns the chat_join_request payload, or the "joined" service message.
        """
        state = self._state
        with state.lock:
            link = state.find_invite_link(invite_link)
            if link is None:
                raise LookupError(f"unknown invite link {invite_link!r}")
            if refusal := link.refusal():
                raise PermissionError(refusal)
            chat = state.chats[link.chat_id]
            standing = chat.member(self.id)
            if chat.migrated_to is not None:
                raise PermissionError("the group was upgraded; the link no longer works")
            if standing.present:
                raise PermissionError(f"{self} is already a member of {chat.title!r}")
            if standing.status == "kicked":
                raise PermissionError(f"{self} is banned from {chat.title!r}")
            if link.creates_join_request:
                return self._ask_to_join(chat, link.url)
            link.joined += 1
            state.change_member(chat, self.id, Member("member"), self.id, invite_link=link)
            return state.post_service(chat, self.id, {"new_chat_members": [self.to_api()]})

    @_action
    def leave(self, group: Group) -> JSON:
        state = self._state
        with state.lock:
            chat = group.chat
            if not chat.member(self.id).present:
                raise PermissionError(f"{self} is not in {chat.title!r}")
            if chat.member(self.id).status == "creator":
                raise PermissionError("the emulator does not model the creator leaving")
            state.change_member(chat, self.id, Member("left"), self.id)
            return state.post_service(chat, self.id, {"left_chat_member": self.to_api()})

    @_action
    def vote(self, poll_message: SentMessage, option_ids: int | Iterable[int]) -> JSON:
        """Vote in a poll the bot sent ([] retracts); returns the poll's new state.

        The bot gets a poll update when counts change, and a poll_answer if not anonymous.
        """
        chosen = [option_ids] if isinstance(option_ids, int) else sorted(option_ids)
        state = self._state
        with state.lock:
            chat = state.chats[poll_message.chat_id]
            message = chat.messages.get(poll_message.message_id)
            if message is None or message.poll_id is None or message.deleted:
                raise LookupError(f"no poll in message {poll_message.message_id}")
            poll = state.polls[message.poll_id]
            if poll.is_closed:
                raise PermissionError("the poll is closed")
            if len(set(chosen)) != len(chosen) or not all(
                0 <= option < len(poll.options) for option in chosen
            ):
                raise ValueError(f"invalid option ids {chosen} for {len(poll.options)} options")
            if len(chosen) > 1 and not poll.allows_multiple_answers:
                raise PermissionError("the poll allows a single answer")
            previous = poll.votes.get(self.id, [])
            if previous == chosen:
                return poll.to_api()
            if previous and not poll.allows_revoting:
                raise PermissionError("the poll does not allow changing a vote")
            if chosen:
                poll.votes[self.id] = chosen
            else:
                poll.votes.pop(self.id, None)
            # The poll update names nobody: the journal keeps who voted, as Telegram knows.
            state.journal.record("vote", chat.id, lambda: {
                "user_id": self.id, "poll_id": poll.id, "message_id": message.message_id,
                "option_ids": list(chosen)})
            state.updates.push("poll", poll.to_api())
            if not poll.is_anonymous:
                answer = {
                    "poll_id": poll.id,
                    "user": self.to_api(),
                    "option_ids": chosen,
                    "option_persistent_ids": [poll.persistent_id(o) for o in chosen],
                }
                state.updates.push("poll_answer", answer)
            state.changed.notify_all()
            return poll.to_api()

    # --- reading ----------------------------------------------------------------------------

    def inbox(self) -> list[SentMessage]:
        """Everything the bot sent this person in private, oldest first."""
        return self._bot_messages()

    # --- internals --------------------------------------------------------------------------

    @property
    def _read_chat_id(self) -> int:
        return self.id  # a private chat has its person's id

    def _target(self, chat: Group | int | None) -> Chat:
        if chat is None:
            return self._state.private_chat(self.id)
        chat_id = chat.id if isinstance(chat, Group) else chat
        if chat_id not in self._state.chats:
            raise LookupError(f"no chat {chat_id}")
        return self._state.chats[chat_id]

    def _say(
        self, chat: Group | int | None, kind: str, content: JSON, reply_to: MessageRef | None
    ) -> JSON:
        state = self._state
        with state.lock:
            target = self._target(chat)
            if target.type == "private":
                self._open_private_chat()
            elif target.migrated_to is not None:
                raise PermissionError(f"chat {target.id} was upgraded to {target.migrated_to}")
            elif not _can_send(target.member(self.id)):
                raise PermissionError(f"{self} cannot send messages in {target.title!r}")
            replied = _reply_id(target, reply_to)
            message = state.post(target, self.id, kind, content, reply_to=replied)
            return state.deliver(message)

    def _open_private_chat(self) -> None:
        """Writing to the bot starts the chat; a blocked bot is restarted, as the app does."""
        user = self._user
        if user.blocked:
            self._set_blocked(False)
        user.started = True

    def _set_blocked(self, blocked: bool) -> None:
        state = self._state
        with state.lock:
            user = self._user
            if user.blocked == blocked:
                return
            user.blocked = blocked
            if user.started:
                standing = Member("kicked") if blocked else Member("member")
                state.change_member(state.private_chat(self.id), state.bot.id, standing, self.id)

    def _pressable(self, chat: Chat, message_id: int | None) -> list[Message]:
        if message_id is not None:
            message = chat.messages.get(message_id)
            if message is None or message.deleted:
                raise LookupError(f"no message {message_id} in chat {chat.id}")
            return [message]
        bot_messages = self._state.bot_messages(chat.id)
        return [m for m in reversed(bot_messages) if not m.deleted]

    def _callback(self, chat: Chat, message: Message, data: str) -> JSON:
        state = self._state
        query_id = str(6_000_000_000_000 + state.serial())
        state.callback_queries[query_id] = CallbackQuery(query_id, time.monotonic())
        payload = {
            "id": query_id,
            "from": self.to_api(),
            "message": state.message_json(message),
            # Stable per chat, like Telegram's, so bots can key game scores and the like on it.
            "chat_instance": str(abs(chat.id) * 7919 % 10**18),
            "data": data,
        }
        state.updates.push("callback_query", payload)
        return copy.deepcopy(payload)

    def _ask_to_join(self, chat: Chat, link_url: str) -> JSON:
        state = self._state
        if self.id in chat.join_requests:
            raise PermissionError(f"{self} already asked to join {chat.title!r}")
        request = JoinRequest(self.id, chat.id, now_timestamp(), link_url)
        chat.join_requests[self.id] = request
        self._user.contact_allowed_until = time.time() + JOIN_REQUEST_CONTACT_SECONDS
        payload = {
            "chat": state.chat_json(chat),
            "from": self.to_api(),
            "user_chat_id": self.id,
            "date": request.date,
            "invite_link": state.invite_link_json(chat.invite_links[link_url]),
        }
        if state.bot_has_right(chat, "can_invite_users"):
            # Only administrators allowed to invite users are told about join requests.
            state.updates.push("chat_join_request", payload)
        state.changed.notify_all()
        return payload


class Group(_ChatReader):
    """A basic group or supergroup. `id` follows the group through an upgrade."""

    def __init__(self, state: State, chat_id: int):
        self._state = state
        self._chat_id = chat_id

    def __repr__(self) -> str:
        return f"Group({self.title!r}, id={self.id})"

    @property
    def id(self) -> int:
        return self._chat_id

    @property
    def chat(self) -> Chat:
        return self._state.chats[self._chat_id]

    @property
    def title(self) -> str:
        return self.chat.title or ""

    @property
    def type(self) -> str:
        return self.chat.type

    # --- the bot's membership ---------------------------------------------------------------

    @_action
    def add_bot(
        self, by: Person, admin: bool = True, rights: Mapping[str, bool] | None = None
    ) -> None:
        """`by` adds the bot, as an administrator with `rights` (default: the usual six)."""
        state = self._state
        with state.lock:
            self._require_admin(by)
            if self.chat.member(state.bot.id).present:
                raise PermissionError("the bot is already in the group")
            if admin:
                granted = (
                    dict(rights) if rights is not None else dict.fromkeys(DEFAULT_BOT_RIGHTS, True)
                )
                standing = Member("administrator", rights=_checked_rights(granted))
            else:
                standing = Member("member")
            state.change_member(self.chat, state.bot.id, standing, by.id)
            state.post_service(self.chat, by.id, {"new_chat_members": [state.bot.to_api()]})

    @_action
    def set_bot_rights(self, by: Person, **rights: bool) -> None:
        """Make the bot an administrator, changing only the rights given."""
        state = self._state
        with state.lock:
            self._require_admin(by)
            current = self.chat.member(state.bot.id)
            if not current.present:
                raise PermissionError("the bot is not in the group")
            merged = dict(current.rights) if current.status == "administrator" else {}
            merged.update(_checked_rights(rights))
            standing = Member("administrator", rights=merged)
            state.change_member(self.chat, state.bot.id, standing, by.id)

    @_action
    def demote_bot(self, by: Person) -> None:
        self._set_bot_standing(by, Member("member"))

    @_action
    def remove_bot(self, by: Person) -> None:
        self._set_bot_standing(by, Member("kicked"))

    # --- people -----------------------------------------------------------------------------

    @_action
    def add_member(self, person: Person, by: Person | None = None) -> JSON:
        """`by` adds `person` (or they join by themselves): service message + chat_member."""
        state = self._state
        actor = by or person
        with state.lock:
            chat = self.chat
            if by is not None and not chat.member(by.id).present:
                raise PermissionError(f"{by} is not in {chat.title!r}")
            standing = chat.member(person.id)
            if standing.present:
                raise PermissionError(f"{person} is already in {chat.title!r}")
            if standing.status == "kicked" and by is None:
                raise PermissionError(f"{person} is banned from {chat.title!r}")
            state.change_member(chat, person.id, Member("member"), actor.id)
            return state.post_service(chat, actor.id, {"new_chat_members": [person.to_api()]})

    @_action
    def ban_member(self, person: Person, by: Person) -> JSON:
        """The administrator `by` removes `person` from a supergroup in the app, which bans
        them ("kicked"): chat_member update, then the "left" service message."""
        state = self._state
        with state.lock:
            self._require_admin(by)
            chat = self.chat
            if not chat.member(person.id).present:
                raise PermissionError(f"{person} is not in {chat.title!r}")
            if chat.member(person.id).status == "creator":
                raise PermissionError("the creator cannot be removed")
            state.change_member(chat, person.id, Member("kicked"), by.id)
            return state.post_service(chat, by.id, {"left_chat_member": person.to_api()})

    @_action
    def post_as_group(self, by: Person, text: str) -> JSON:
        """An administrator with "remain anonymous" posts: Telegram sends the message from
        @GroupAnonymousBot (id 1087968824) with `sender_chat` = the group itself."""
        state = self._state
        with state.lock:
            self._require_admin(by)
            anonymous = state.users.get(ANONYMOUS_ADMIN_ID)
            if anonymous is None:
                anonymous = User(id=ANONYMOUS_ADMIN_ID, first_name="Group",
                                 username="GroupAnonymousBot", is_bot=True)
                state.users[anonymous.id] = anonymous
            content = {**_text_content(text), "sender_chat": state.chat_json(self.chat)}
            message = state.post(self.chat, anonymous.id, "text", content)
            return state.deliver(message)

    @_action
    def post_from_linked_channel(self, text: str, title: str = "Canal de la commune") -> JSON:
        """A post of the group's linked channel, copied in automatically: from Telegram
        (id 777000), `sender_chat` = the channel, `is_automatic_forward` = true."""
        state = self._state
        with state.lock:
            service = state.users.get(TELEGRAM_SERVICE_ID)
            if service is None:
                service = User(id=TELEGRAM_SERVICE_ID, first_name="Telegram")
                state.users[service.id] = service
            channel = {"id": -1_009_999_000_002, "type": "channel", "title": title}
            content = {**_text_content(text), "sender_chat": channel,
                       "is_automatic_forward": True,
                       "forward_origin": {"type": "channel", "chat": channel,
                                          "message_id": 12, "date": now_timestamp()}}
            message = state.post(self.chat, service.id, "text", content)
            return state.deliver(message)

    def member_status(self, person: Person) -> str:
        with self._state.lock:
            return self.chat.member(person.id).status

    def can_send(self, person: Person) -> bool:
        with self._state.lock:
            return self.chat.migrated_to is None and _can_send(self.chat.member(person.id))

    @_action
    def upgrade_to_supergroup(self) -> int:
        """Turn the basic group into a supergroup with a new id, as Telegram does."""
        state = self._state
        with state.lock:
            old = self.chat
            if old.type != "group":
                raise PermissionError("only basic groups can be upgraded")
            new = state.add_group(old.title or "", supergroup=True)
            new.members = {uid: copy.copy(member) for uid, member in old.members.items()}
            creator = next(uid for uid, m in old.members.items() if m.status == "creator")
            state.post_service(old, creator, {"migrate_to_chat_id": new.id})
            old.migrated_to = new.id
            state.post_service(new, creator, {"migrate_from_chat_id": old.id})
            self._chat_id = new.id
            return new.id

    # --- reading ----------------------------------------------------------------------------

    def pending_requests(self) -> list[JSON]:
        with self._state.lock:
            return [
                {
                    "user_id": r.user_id,
                    "chat_id": r.chat_id,
                    "date": r.date,
                    "invite_link": r.invite_link,
                }
                for r in self.chat.join_requests.values()
            ]

    def invite_links(self) -> list[JSON]:
        with self._state.lock:
            state = self._state
            return [state.invite_link_json(link) for link in self.chat.invite_links.values()]

    def sent(self) -> list[SentMessage]:
        """Everything the bot sent in the group, oldest first."""
        return self._bot_messages()

    # --- internals --------------------------------------------------------------------------

    @property
    def _read_chat_id(self) -> int:
        return self.id  # the current chat, after an upgrade to a supergroup

    def _require_admin(self, person: Person) -> None:
        if self.chat.member(person.id).status not in ("creator", "administrator"):
            raise PermissionError(f"{person} is not an administrator of {self.title!r}")

    def _set_bot_standing(self, by: Person, standing: Member) -> None:
        state = self._state
        with state.lock:
            self._require_admin(by)
            if not self.chat.member(state.bot.id).present:
                raise PermissionError("the bot is not in the group")
            state.change_member(self.chat, state.bot.id, standing, by.id)


def _can_send(standing: Member) -> bool:
    if standing.status == "restricted":
        return standing.is_member and standing.rights.get("can_send_messages", False)
    return standing.present


def _checked_rights(rights: Mapping[str, bool]) -> dict[str, bool]:
    unknown = set(rights) - set(ADMIN_RIGHTS)
    if unknown:
        raise ValueError(f"unknown administrator rights: {sorted(unknown)}")
    return dict(rights)


def _holds(standing: Member, rights: JSON | None) -> bool:
    """Administrator rights asked for by a chat picker: held by this member?"""
    if not rights:
        return True
    if standing.status == "creator":
        return True
    if standing.status != "administrator":
        return False
    return all(standing.rights.get(name, False) for name, wanted in rights.items()
               if wanted and name != "is_anonymous")


def _text_content(text: str) -> JSON:
    content: JSON = {"text": text}
    if text.startswith("/"):
        command = text.split(maxsplit=1)[0]
        content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return content


def _reply_id(chat: Chat, reply_to: MessageRef | None) -> int | None:
    if reply_to is None:
        return None
    message_id = message_id_of(reply_to)
    if message_id not in chat.messages:
        raise LookupError(f"no message {message_id} to reply to in chat {chat.id}")
    return message_id
