"""The emulated Telegram world as the bot's server sees it.

Everything here is guarded by `State.lock` (an RLock, with `State.changed` its Condition).
The HTTP threads and the test's "people" both mutate it; nothing here blocks except
long polls waiting on `changed`, which releases the lock while waiting.
"""

from __future__ import annotations

import copy
import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from emulator.journal import Journal, chat_of_update
from emulator.limits import Limits, RateLimiter

JSON = dict[str, Any]

ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_pin_messages",
    "can_manage_topics",
)
# The rights a bot gets from Group.add_bot(admin=True) when none are given.
DEFAULT_BOT_RIGHTS = (
    "can_invite_users",
    "can_restrict_members",
    "can_delete_messages",
    "can_pin_messages",
    "can_promote_members",
    "can_manage_chat",
)
PERMISSIONS = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
    "can_edit_tag",
    "can_react_to_messages",
)
UPDATE_TYPES = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
)
# Telegram delivers these only to bots that list them in allowed_updates.
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
DEFAULT_ALLOWED_UPDATES = frozenset(UPDATE_TYPES) - OPT_IN_UPDATES
PRESENT_STATUSES = ("creator", "administrator", "member")
# Telegram lets a bot write to someone who asked to join a chat for this long.
JOIN_REQUEST_CONTACT_SECONDS = 300.0


def now_timestamp() -> int:
    return int(time.time())


@dataclass
class User:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False
    # Has written to the bot in private, which is what allows the bot to write back.
    started: bool = False
    blocked: bool = False
    contact_allowed_until: float = 0.0

    def to_api(self) -> JSON:
        data: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for name in ("last_name", "username", "language_code"):
            if getattr(self, name):
                data[name] = getattr(self, name)
        return data

    @property
    def display_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


@dataclass
class Member:
    """A user's standing in a chat; `rights` are admin rights, or permissions if restricted."""

    status: str
    rights: dict[str, bool] = field(default_factory=dict)
    until_date: int = 0
    is_member: bool = True
    custom_title: str | None = None
    promoted_by_bot: bool = False

    @property
    def present(self) -> bool:
        return self.status in PRESENT_STATUSES or (self.status == "restricted" and self.is_member)


LEFT = Member("left")


@dataclass
class InviteLink:
    url: str
    chat_id: int
    creator_id: int
    creates_join_request: bool
    is_primary: bool
    is_revoked: bool = False
    name: str | None = None
    expire_date: int | None = None
    member_limit: int | None = None
    joined: int = 0

    def refusal(self) -> str | None:
        """Why a person cannot use the link now, or None if they can."""
        if self.is_revoked:
            return "the invite link was revoked"
        if self.expire_date is not None and self.expire_date <= now_timestamp():
            return "the invite link has expired"
        if self.member_limit is not None and self.joined >= self.member_limit:
            return "the invite link reached its member limit"
        return None


@dataclass
class JoinRequest:
    user_id: int
    chat_id: int
    date: int
    invite_link: str | None


@dataclass
class Message:
    """A message in a chat. `content` holds its Bot API fields (text, entities, photo, ...)."""

    chat_id: int
    message_id: int
    sender_id: int
    date: int
    kind: str
    content: JSON
    reply_to: int | None = None
    poll_id: str | None = None
    edit_date: int | None = None
    # What the bot asked for, kept for assertions; Telegram does not echo most of it.
    raw: str | None = None
    parse_mode: str | None = None
    markup: JSON | None = None
    protect_content: bool = False
    disable_notification: bool = False
    pinned: bool = False
    deleted: bool = False
    edits: int = 0
    history: list[str] = field(default_factory=list)

    @property
    def visible_text(self) -> str | None:
        return self.content.get("text", self.content.get("caption"))


@dataclass
class Chat:
    id: int
    type: str
    title: str | None = None
    members: dict[int, Member] = field(default_factory=dict)
    messages: dict[int, Message] = field(default_factory=dict)
    last_message_id: int = 0
    migrated_to: int | None = None
    invite_links: dict[str, InviteLink] = field(default_factory=dict)
    join_requests: dict[int, JoinRequest] = field(default_factory=dict)

    @property
    def is_group(self) -> bool:
        return self.type in ("group", "supergroup")

    def member(self, user_id: int) -> Member:
        return self.members.get(user_id, LEFT)


@dataclass
class Poll:
    id: str
    chat_id: int
    message_id: int
    question: str
    options: list[str]
    is_anonymous: bool
    type: str
    allows_multiple_answers: bool
    allows_revoting: bool = True
    correct_option_ids: list[int] = field(default_factory=list)
    is_closed: bool = False
    votes: dict[int, list[int]] = field(default_factory=dict)

    @staticmethod
    def persistent_id(option: int) -> str:
        """Bot API 9.6 names options by stable ids; an option's index serves here."""
        return str(option)

    def to_api(self) -> JSON:
        counts = [0] * len(self.options)
        for chosen in self.votes.values():
            for option in chosen:
                counts[option] += 1
        data: JSON = {
            "id": self.id,
            "question": self.question,
            "options": [
                {"persistent_id": self.persistent_id(index), "text": text, "voter_count": count}
                for index, (text, count) in enumerate(zip(self.options, counts, strict=True))
            ],
            "total_voter_count": sum(1 for chosen in self.votes.values() if chosen),
            "is_closed": self.is_closed,
            "is_anonymous": self.is_anonymous,
            "type": self.type,
            "allows_multiple_answers": self.allows_multiple_answers,
            "allows_revoting": self.allows_revoting,
            "members_only": False,
        }
        if self.correct_option_ids:
            data["correct_option_ids"] = list(self.correct_option_ids)
        return data


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    size: int
    content: bytes
    path: str

    def to_api(self) -> JSON:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
        }


@dataclass
class CallbackQuery:
    id: str
    created: float  # time.monotonic()
    answered: bool = False


@dataclass
class Webhook:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


class UpdateQueue:
    """Updates waiting for the bot, filtered by its subscription when they are created."""

    def __init__(self, changed: threading.Condition, journal: Journal | None = None):
        self._changed = changed
        self.journal = journal or Journal()
        self._pending: list[JSON] = []
        self._ids = itertools.count(1)
        self.allowed: frozenset[str] = DEFAULT_ALLOWED_UPDATES
        self.webhook: Webhook | None = None
        # Each getUpdates takes a new number; a long poll seeing a newer one yields to it.
        self.poll_generation = 0
        # getUpdates calls waiting for an update right now (emulator.long_polls_open).
        self.waiting_polls = 0

    def push(self, kind: str, payload: JSON) -> bool:
        if kind not in self.allowed:
            return False
        body = copy.deepcopy(payload)
        update = {"update_id": next(self._ids), kind: body}
        self._pending.append(update)
        if self.journal.enabled:
            self.journal.record("update", chat_of_update(body), lambda: update)
        self._changed.notify_all()
        return True

    def subscribe(self, allowed_updates: object) -> None:
        """Apply allowed_updates as Telegram's server does.

        Absent (None) or not a list of strings: keep the current subscription. A list with
        no known type, including [], restores the default; otherwise exactly the known types.
        """
        if not isinstance(allowed_updates, list):
            return
        if not all(isinstance(name, str) for name in allowed_updates):
            return
        known = frozenset(name.lower() for name in allowed_updates) & frozenset(UPDATE_TYPES)
        self.allowed = known or DEFAULT_ALLOWED_UPDATES

    def confirm(self, offset: int) -> None:
        """Forget updates before `offset`; a negative offset keeps only the last -offset."""
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]

    def pending(self) -> list[JSON]:
        return list(self._pending)

    def remove(self, update_id: int) -> None:
        self._pending = [u for u in self._pending if u["update_id"] != update_id]

    def drop_all(self) -> None:
        self._pending.clear()

    def reset(self) -> None:
        """A new bot's queue: nothing pending, default subscription, no webhook. Update ids
        keep counting, and a long poll still open (a previous bot's) answers 409 and ends."""
        self._pending.clear()
        self.allowed = DEFAULT_ALLOWED_UPDATES
        self.webhook = None
        self.poll_generation += 1
        self._changed.notify_all()


class State:
    """Users, chats and everything in them, plus the bot's pending updates."""

    def __init__(self, token: str, bot_username: str, limits: Limits, privacy_mode: bool,
                 journal: bool = False):
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.token = token
        self.privacy_mode = privacy_mode
        # What happened, in time order (emulator/journal.py); recording only if asked for.
        self.journal = Journal(journal)
        self.updates = UpdateQueue(self.changed, self.journal)
        self.stopped = False
        self._bot_username = bot_username
        with self.lock:
            self.reset(limits)

    def reset(self, limits: Limits) -> None:
        """The world of a new emulator with the same token, bot and privacy mode: no users,
        chats, files, polls, commands or pending updates, fresh limits. The caller holds
        the lock."""
        self.bot = User(
            id=int(self.token.split(":", 1)[0]),
            first_name="Vigie",
            username=self._bot_username,
            is_bot=True,
        )
        self.users: dict[int, User] = {self.bot.id: self.bot}
        self.chats: dict[int, Chat] = {}
        self.polls: dict[str, Poll] = {}
        self.files: dict[str, StoredFile] = {}
        self.callback_queries: dict[str, CallbackQuery] = {}
        self.callback_answers: list[JSON] = []
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.menu_buttons: dict[int | None, JSON] = {}
        self.updates.reset()
        self.journal.clear()
        self.limiter = RateLimiter(limits)
        # Where every chat stood when a person last acted (views.Mark): waits start there.
        self.last_action: object | None = None
        self._user_ids = itertools.count(1_000_000_001)
        self._group_ids = itertools.count(4_000_001)
        self._supergroup_ids = itertools.count(1_002_000_000_001)
        self._serials = itertools.count(1)
        self.changed.notify_all()

    # --- identities -----------------------------------------------------------------------

    def serial(self) -> int:
        """A number unique within this emulator, for ids that only need to be distinct."""
        return next(self._serials)

    def add_user(self, **fields: Any) -> User:
        user = User(id=next(self._user_ids), **fields)
        self.users[user.id] = user
        return user

    def add_group(self, title: str, supergroup: bool) -> Chat:
        if supergroup:
            chat = Chat(id=-next(self._supergroup_ids), type="supergroup", title=title)
        else:
            chat = Chat(id=-next(self._group_ids), type="group", title=title)
        self.chats[chat.id] = chat
        return chat

    def private_chat(self, user_id: int) -> Chat:
        if user_id not in self.chats:
            both = {user_id: Member("member"), self.bot.id: Member("member")}
            self.chats[user_id] = Chat(id=user_id, type="private", members=both)
        return self.chats[user_id]

    def store_file(self, content: bytes, size: int, folder: str, extension: str) -> StoredFile:
        number = self.serial()
        stored = StoredFile(
            file_id=f"EMU{folder[:3].upper()}{number:08d}{secrets.token_hex(4)}",
            file_unique_id=f"EMUU{number:08d}",
            size=size,
            content=content,
            path=f"{folder}/file_{number}.{extension}",
        )
        self.files[stored.file_id] = stored
        return stored

    # --- Bot API views ----------------------------------------------------------------------

    def user_json(self, user_id: int) -> JSON:
        return self.users[user_id].to_api()

    def chat_json(self, chat: Chat) -> JSON:
        if chat.type != "private":
            return {"id": chat.id, "type": chat.type, "title": chat.title}
        data = {"id": chat.id, "type": "private"}
        user = self.users[chat.id].to_api()
        data.update({k: v for k, v in user.items() if k in ("first_name", "last_name", "username")})
        return data

    def member_json(self, user_id: int, member: Member) -> JSON:
        data: JSON = {"status": member.status, "user": self.user_json(user_id)}
        if member.status == "creator":
            data["is_anonymous"] = False
        elif member.status == "administrator":
            data["can_be_edited"] = member.promoted_by_bot
            data["is_anonymous"] = False
            data.update({right: member.rights.get(right, False) for right in ADMIN_RIGHTS})
        elif member.status == "restricted":
            data["is_member"] = member.is_member
            data.update({name: member.rights.get(name, False) for name in PERMISSIONS})
            data["until_date"] = member.until_date
        elif member.status == "kicked":
            data["until_date"] = member.until_date
        if member.custom_title and member.status in ("creator", "administrator"):
            data["custom_title"] = member.custom_title
        return data

    def message_json(self, message: Message, with_reply: bool = True) -> JSON:
        chat = self.chats[message.chat_id]
        data: JSON = {
            "message_id": message.message_id,
            "date": message.date,
            "chat": self.chat_json(chat),
            "from": self.user_json(message.sender_id),
        }
        data.update(copy.deepcopy(message.content))
        if message.poll_id is not None:
            data["poll"] = self.polls[message.poll_id].to_api()
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        if message.protect_content:
            data["has_protected_content"] = True
        replied = chat.messages.get(message.reply_to) if message.reply_to else None
        if with_reply and replied is not None and not replied.deleted:
            data["reply_to_message"] = self.message_json(replied, with_reply=False)
        return data

    # --- messages ---------------------------------------------------------------------------

    def post(
        self,
        chat: Chat,
        sender_id: int,
        kind: str,
        content: JSON,
        reply_to: int | None = None,
        **bookkeeping: Any,
    ) -> Message:
        chat.last_message_id += 1
        message = Message(
            chat_id=chat.id,
            message_id=chat.last_message_id,
            sender_id=sender_id,
            date=now_timestamp(),
            kind=kind,
            content=content,
            reply_to=reply_to,
            **bookkeeping,
        )
        chat.messages[message.message_id] = message
        self.changed.notify_all()
        return message

    def deliver(self, message: Message, kind: str = "message") -> JSON:
        """Hand a person's (new or edited) message to the bot if Telegram would; return it."""
        data = self.message_json(message)
        if self._bot_receives(self.chats[message.chat_id], message):
            self.updates.push(kind, data)
        return data

    def post_service(self, chat: Chat, sender_id: int, content: JSON) -> JSON:
        """A service message ("X joined", "Y left", migrations), always shown to member bots."""
        return self.deliver(self.post(chat, sender_id, "service", content))

    def bot_messages(self, chat_id: int) -> list[Message]:
        chat = self.chats.get(chat_id)
        if chat is None:
            return []
        return [m for m in chat.messages.values() if m.sender_id == self.bot.id]

    def _bot_receives(self, chat: Chat, message: Message) -> bool:
        if chat.type == "private":
            return True
        bot = chat.member(self.bot.id)
        if not bot.present:
            return False
        if message.kind == "service" or not self.privacy_mode or bot.status == "administrator":
            return True
        # Privacy mode: commands for this bot and replies to it, as Telegram documents.
        text = message.content.get("text", "")
        if text.startswith("/"):
            target = text.split(maxsplit=1)[0].partition("@")[2]
            return bool(target == "" or target.lower() == (self.bot.username or "").lower())
        replied = chat.messages.get(message.reply_to) if message.reply_to else None
        return replied is not None and replied.sender_id == self.bot.id

    # --- membership -------------------------------------------------------------------------

    def change_member(
        self,
        chat: Chat,
        user_id: int,
        new: Member,
        actor_id: int,
        invite_link: InviteLink | None = None,
        via_join_request: bool = False,
    ) -> None:
        """Set a member's standing and emit my_chat_member / chat_member as Telegram would."""
        old = chat.member(user_id)
        chat.members[user_id] = new
        payload: JSON = {
            "chat": self.chat_json(chat),
            "from": self.user_json(actor_id),
            "date": now_timestamp(),
            "old_chat_member": self.member_json(user_id, old),
            "new_chat_member": self.member_json(user_id, new),
        }
        if invite_link is not None:
            payload["invite_link"] = self.invite_link_json(invite_link)
        if via_join_request:
            payload["via_join_request"] = True
        if user_id == self.bot.id:
            self.updates.push("my_chat_member", payload)
        elif self.bot_is_admin(chat):
            # chat_member updates reach administrator bots only.
            self.updates.push("chat_member", payload)
        self.changed.notify_all()

    def bot_is_admin(self, chat: Chat) -> bool:
        return chat.member(self.bot.id).status == "administrator"

    def bot_has_right(self, chat: Chat, right: str) -> bool:
        bot = chat.member(self.bot.id)
        return bot.status == "administrator" and bot.rights.get(right, False)

    def invite_link_json(self, link: InviteLink) -> JSON:
        data: JSON = {
            "invite_link": link.url,
            "creator": self.user_json(link.creator_id),
            "creates_join_request": link.creates_join_request,
            "is_primary": link.is_primary,
            "is_revoked": link.is_revoked,
        }
        for name in ("name", "expire_date", "member_limit"):
            if getattr(link, name) is not None:
                data[name] = getattr(link, name)
        if link.creates_join_request:
            chat = self.chats[link.chat_id]
            data["pending_join_request_count"] = sum(
                1 for request in chat.join_requests.values() if request.invite_link == link.url
            )
        return data

    def find_invite_link(self, url: str) -> InviteLink | None:
        for chat in self.chats.values():
            if url in chat.invite_links:
                return chat.invite_links[url]
        return None
