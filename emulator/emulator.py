"""TelegramEmulator: a stateful Bot API server on 127.0.0.1 plus the test API around it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from emulator.faults import Faults
from emulator.journal import Event
from emulator.limits import Limits, RateLimiter
from emulator.methods.bot import scope_key
from emulator.people import Group, Person
from emulator.server import BotApiServer, Call, CallLog, Stats
from emulator.state import JSON, Member, State
from emulator.views import (
    Mark,
    Predicate,
    SentMessage,
    Since,
    sent_messages,
    take_mark,
    wait_for_message,
    wait_until,
)
from emulator.webhook import WebhookPusher

DEFAULT_TOKEN = "123456:TEST-TOKEN-never-logged"
T = TypeVar("T")


class TelegramEmulator:
    """The Telegram Bot API as one bot sees it, with people the test can make act.

    The server runs in background threads and keeps all state, so a bot may talk to it
    from this process (PTB pointed at `base_url`/`base_file_url`) or from another one that
    gets killed and restarted. Reading and acting methods are synchronous and never block;
    waiting helpers are async so a bot in the same event loop keeps running meanwhile.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "vigie_test_bot",
        limits: Limits | None = None,
        *,
        privacy_mode: bool = True,
        port: int = 0,
        webhook_retry_delay: float = 0.5,
        journal: bool = False,
    ):
        if ":" not in token or not token.split(":", 1)[0].isdigit():
            raise ValueError("a bot token looks like '<bot id>:<secret>'")
        self.token = token
        self.faults = Faults()
        self._limits = limits or Limits()
        self._state = State(token, bot_username, self._limits, privacy_mode, journal)
        self._log = CallLog()
        self._port = port
        self._webhook_retry_delay = webhook_retry_delay
        self._server: BotApiServer | None = None
        self._pusher: WebhookPusher | None = None

    def __repr__(self) -> str:
        # Never show the token: the test logs are checked for it.
        return f"TelegramEmulator(@{self.bot_username}, base_url={self._base('bot')!r})"

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> TelegramEmulator:
        self._server = BotApiServer(self._state, self.faults, self._log, self._port)
        self._server.start()
        self._pusher = WebhookPusher(self._state, self._webhook_retry_delay)
        self._pusher.start()
        return self

    def stop(self) -> None:
        state = self._state
        with state.lock:
            state.stopped = True
            state.changed.notify_all()
        self.faults.release()
        if self._server is not None:
            self._server.stop()
        if self._pusher is not None:
            self._pusher.join()

    def reset(self) -> None:
        """Back to the world of a freshly started emulator, without restarting its server:
        no users, chats, updates, files, commands, webhook, faults or recorded calls, and the
        limits it was created with (counting afresh). Same token, bot and port. A long poll
        a previous bot left open answers 409 and ends. For a test run sharing one emulator
        between tests (tests/conftest.py)."""
        self.faults.reset()
        with self._state.lock:
            self._state.reset(self._limits)
        self._log.reset()
        if self._server is not None:
            self._server.internal_errors.clear()

    def __enter__(self) -> TelegramEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- identity -----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self._base("bot")

    @property
    def base_file_url(self) -> str:
        return self._base("file/bot")

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        return self._server.port

    @property
    def bot_id(self) -> int:
        return self._state.bot.id

    @property
    def bot_username(self) -> str:
        return self._state.bot.username or ""

    @property
    def limits(self) -> Limits:
        return self._state.limiter.limits

    @limits.setter
    def limits(self, limits: Limits) -> None:
        """Switch limits at any time; counting starts afresh under the new ones."""
        with self._state.lock:
            self._state.limiter = RateLimiter(limits)

    def _base(self, prefix: str) -> str:
        port = self._server.port if self._server is not None else self._port
        return f"http://127.0.0.1:{port}/{prefix}"

    # --- the world ----------------------------------------------------------------------------

    def create_user(
        self,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "fr",
        is_bot: bool = False,
    ) -> Person:
        """A Telegram account; `is_bot` for another bot (which pickers may refuse to offer)."""
        with self._state.lock:
            user = self._state.add_user(
                first_name=first_name,
                last_name=last_name,
                username=username,
                language_code=language_code,
                is_bot=is_bot,
            )
        return Person(self._state, user.id)

    def create_group(
        self,
        title: str,
        creator: Person,
        members: Iterable[Person] = (),
        supergroup: bool = False,
    ) -> Group:
        """A group that `creator` owns with `members` in it; the bot is not in it yet."""
        state = self._state
        with state.lock:
            chat = state.add_group(title, supergroup)
            chat.members[creator.id] = Member("creator")
            for person in members:
                chat.members.setdefault(person.id, Member("member"))
        return Group(state, chat.id)

    # --- what the bot did ---------------------------------------------------------------------

    def sent(self, chat_id: int) -> list[SentMessage]:
        """Everything the bot sent to the chat, oldest first, each as it is now."""
        return sent_messages(self._state, chat_id)

    @property
    def callback_answers(self) -> list[JSON]:
        with self._state.lock:
            return [dict(answer) for answer in self._state.callback_answers]

    def join_requests(self, group: Group) -> list[JSON]:
        return group.pending_requests()

    def my_commands(
        self, scope: Mapping[str, Any] | None = None, language_code: str = ""
    ) -> list[tuple[str, str]]:
        with self._state.lock:
            stored = self._state.commands.get((scope_key(scope), language_code), [])
            return [(command["command"], command["description"]) for command in stored]

    def menu_button(self, chat_id: int | None = None) -> JSON:
        with self._state.lock:
            buttons = self._state.menu_buttons
            return dict(buttons.get(chat_id, buttons.get(None, {"type": "default"})))

    def pending_updates(self) -> list[JSON]:
        """Updates the bot has not confirmed yet (getUpdates offset) or the webhook not taken."""
        with self._state.lock:
            return self._state.updates.pending()

    def long_polls_open(self) -> int:
        """getUpdates requests waiting for an update at this moment (a bot is listening)."""
        with self._state.lock:
            return self._state.updates.waiting_polls

    def webhook_url(self) -> str | None:
        with self._state.lock:
            webhook = self._state.updates.webhook
            return webhook.url if webhook else None

    @property
    def stats(self) -> Stats:
        return self._log.stats()

    @property
    def calls(self) -> list[Call]:
        return self._log.calls()

    @property
    def internal_errors(self) -> list[str]:
        """Tracebacks of emulator bugs hit while serving requests (answered with 500)."""
        return list(self._server.internal_errors) if self._server else []

    def journal(self) -> list[Event]:
        """What happened so far, in time order across chats (emulator/journal.py); empty
        unless the emulator was created with journal=True."""
        with self._state.lock:
            return self._state.journal.events()

    def poll_json(self, poll_id: str) -> JSON | None:
        """A poll as the Bot API shows it now (question, options, counts), if it exists."""
        with self._state.lock:
            poll = self._state.polls.get(poll_id)
            return poll.to_api() if poll is not None else None

    def user_json(self, user_id: int) -> JSON | None:
        """A user (a person or the bot) as a Bot API User object, if they exist."""
        with self._state.lock:
            user = self._state.users.get(user_id)
            return user.to_api() if user is not None else None

    def chat_title(self, chat_id: int) -> str | None:
        """A group's title (None for a private chat or an unknown one)."""
        with self._state.lock:
            chat = self._state.chats.get(chat_id)
            return chat.title if chat is not None else None

    def file_content(self, file_id: str) -> bytes:
        """The bytes of a file the bot uploaded or a person sent (a document, a photo)."""
        with self._state.lock:
            return self._state.files[file_id].content

    def inject_update(self, kind: str, payload: Any) -> bool:
        """Queue a raw update exactly as given, malformed or of an unknown type: what a
        broken or newer Telegram might send. False if the bot's allowed_updates drop it."""
        with self._state.lock:
            return self._state.updates.push(kind, payload)

    # --- waiting ------------------------------------------------------------------------------

    def mark(self) -> Mark:
        """Now, as a `since=` for wait_for in any chat: later messages count even if early."""
        return take_mark(self._state)

    async def wait_for(
        self,
        chat_id: int,
        predicate: Predicate | None = None,
        *,
        text: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - the test API's contract names it so
        since: Since = None,
    ) -> SentMessage:
        return await wait_for_message(self._state, chat_id, predicate, text, timeout, since)

    async def wait_until(
        self,
        condition: Callable[[], T],
        timeout: float = 5.0,  # noqa: ASYNC109 - the test API's contract names it so
    ) -> T:
        """Poll `condition` until it returns something truthy, and return that."""
        return await wait_until(condition, timeout)
