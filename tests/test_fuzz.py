"""Fuzz: hypothesis throws thousands of odd updates at the real bot through the emulator.

Texts in every script (right-to-left marks, zero-width joiners, emoji, 4,097 to 12,000
characters), commands with random arguments (huge numbers, digits of other scripts),
forged and stale buttons (random or empty callback data up to 64 bytes and beyond,
well-formed data of every button kind in `core.buttons.Button.kinds` with random ids, and
each kind with each of its choices pointing at real pending join requests, reports,
applications, polls and alerts), photos
announced at a terabyte, locations off the globe, messages whose chat type lies, known
update types with garbage inside and messages missing fields; and, every run, every
command with id-like arguments that are not ids (explicit examples). They go through
getUpdates and the inbox to the real Application, in batches; after each batch a fence
(the bot handles updates one at a time, in order) tells the batch is done. After every
batch:

* nothing reached the error handler (no ERROR log line);
* for the unprivileged casts, nobody's data changed but the senders' own (the invariant
  below); the privileged casts (official, admin, liaison, a referent) may change things
  they have the right to, so for them only the first point is checked;

and at the end the bot still answers /aide, and the emulator met no internal error.

The invariant, for a batch sent by a set F of people none of whom is staff or the liaison
(a stranger, a resident who refused the charter, a resident, an excluded resident, the
referent of a sector where nothing of anyone else lives, strangers who never wrote to the
bot): they may do to themselves what the bot lets anyone do (start, accept the charter,
choose a sector, apply, report, leave, erase themselves...). So, comparing the database
before and after:

* a row that existed before and was not theirs (people, charter acceptances, referent
  roles, join requests, applications, reports and their events, sectors, broadcasts, poll
  copies, alert relays, tips) is unchanged and still there;
* a new row is theirs (their person, their application, their report, or a report of the
  sector they are referent of, what the bot removed or held of their messages and their
  strikes; the bot's one-time note that it lacks a right in a group);
* a new outbox row is addressed to one of them, or is about their report, application or
  removed message;
  outbox rows of others are still there, unchanged but for the delivery columns;
* a new audit entry has one of them as actor, or is about them, their report or their
  removed message, or records an erasure; older entries are unchanged unless they name one
  of them.

    VIGIE_FUZZ_EXAMPLES=400 python3 dev.py test tests/test_fuzz.py -s   (default 60 batches)
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from core import i18n
from core.buttons import field_names
from core.commands import COMMANDS
from core.runtime.application import build_application
from core.runtime.lifecycle import running
from core.screening import Finding
from core.services import VigieApp, services_of
from core.settings import SUPPORTED_LANGUAGES, Settings
from emulator import Group, Limits, Person, TelegramEmulator
from handlers.broadcast import domain as broadcasts
from storage import NewBroadcast, NewReport
from storage.statuses import BroadcastKind, ModerationKind, PersonStatus, ReportStatus
from testing.fences import quiescent
from testing.local import local_settings
from testing.permission_matrix import ErrorLog, button_kinds, registered

EXAMPLES = int(os.environ.get("VIGIE_FUZZ_EXAMPLES", "60"))
BATCH = (20, 80)  # updates per example
SECTORS = ("Centre", "Hauts", "Vallée")
# The fuzz may have switched a sender's language with /langue: any language will do.
HELP_TITLES = tuple(i18n.t(language, "help.title") for language in SUPPORTED_LANGUAGES)
T = TypeVar("T")


# --- the bot, in a thread of its own: hypothesis drives the test synchronously -----------

class BotThread:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.app: VigieApp | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="vigie-bot", daemon=True)

    def __enter__(self) -> BotThread:
        self._thread.start()
        if not self._ready.wait(60) or self._failure is not None:
            raise RuntimeError("the bot did not start") from self._failure
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as error:
            self._failure = error
            self._ready.set()
        finally:
            self.loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with running(build_application(self.settings)) as app:
            self.app = app
            self._ready.set()
            await self._stop.wait()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine in the bot's loop (the store belongs to it)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)


def wait_until(condition: Callable[[], Any], what: str | Callable[[], str],
               timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.005)
    raise AssertionError(f"timed out after {timeout:g} s waiting for "
                         f"{what() if callable(what) else what}")


# --- the commune ---------------------------------------------------------------------------

UNPRIVILEGED = ("stranger", "refused", "resident", "excluded", "referent_elsewhere")
PRIVILEGED = ("official", "admin", "liaison", "referent")


@dataclass
class Commune:
    emu: TelegramEmulator
    db_path: Path
    people: dict[str, Person]
    clerk: Person
    groups: list[Group] = field(default_factory=list)
    anchors: dict[int, int] = field(default_factory=dict)  # chat id → a bot message in it
    real_data: list[str] = field(default_factory=list)  # buttons pointing at real things
    ids: list[int] = field(default_factory=list)  # people and subjects worth naming
    patterns: list[str] = field(default_factory=list)
    updates: int = 0

    def fence(self) -> None:
        """Returns once the bot has handled everything sent before (a free button answer:
        messages would count against PTB's 30 a second)."""
        query = self.clerk.press_data("fence", self.anchors[self.clerk.id])["id"]
        wait_until(lambda: any(a["callback_query_id"] == query
                               for a in reversed(self.emu.callback_answers)),
                   lambda: f"the batch to be handled ({len(self.emu.pending_updates())} "
                   "updates not even fetched)")


def settle(commune: Commune, bot: BotThread) -> None:
    """Every update of the batch handled, then the outbox quiet. The clerk's answered press
    alone is not enough: chats are handled side by side, so a group's update may still be
    in hand; and a notice that fails afterwards (noted in the audit) belongs to this batch,
    not to the next one's reading."""
    commune.fence()
    assert bot.app is not None
    bot.run(quiescent(bot.app, commune.emu))


def settings_for(emu: TelegramEmulator, folder: Path, people: dict[str, Person]) -> Settings:
    return local_settings(emu, folder / "fuzz.db", 100.0, {
        "commune": {"name": "Saint-Exemple"},
        "sectors": [{"name": name} for name in SECTORS],
        "roles": {"officials": [people["official"].id], "admins": [people["admin"].id],
                  "liaison_chat_id": people["liaison"].id},
        "outbox": {"poll_interval_seconds": 0.02, "base_backoff_seconds": 0.1},
    })


async def prepare(app: VigieApp, commune: Commune) -> None:
    """Roles and real subjects, written as the flows would write them (those flows are
    tested end to end in test_enrolment, test_reports, test_broadcast)."""
    svc = services_of(app)
    store, version, people = svc.store, svc.charter.version, commune.people
    sector = {s.name: s.id for s in await store.sectors.active()}

    async def person(role: str, status: PersonStatus | None = None, home: str | None = None
                     ) -> int:
        user_id = people[role].id
        await store.people.ensure(user_id, "fr")
        if home is not None:
            await store.charter.accept(user_id, version, "fr")
            await store.people.enrol(user_id, sector[home], None)
        if status is not None:
            await store.people.set_status(user_id, status)
        return user_id

    for role in ("official", "admin", "liaison"):
        await person(role)
    await person("refused", PersonStatus.REFUSED)
    await person("excluded", PersonStatus.EXCLUDED)
    await person("resident", home="Hauts")
    await store.referents.appoint(await person("referent", home="Centre"), sector["Centre"],
                                  people["official"].id)
    await store.referents.appoint(await person("referent_elsewhere", home="Vallée"),
                                  sector["Vallée"], people["official"].id)
    neighbour = await person("neighbour", home="Centre")
    applicant = await person("applicant", home="Centre")
    await person("excluded_neighbour", PersonStatus.EXCLUDED)
    application = await store.referent_applications.submit(applicant, sector["Centre"],
                                                           "Je connais le quartier")
    assert application is not None
    centre_chat = commune.groups[0].id
    requests = [await store.join_requests.open(await person(f"requester{n}"), centre_chat,
                                               sector["Centre"]) for n in range(3)]

    async def report(reporter: int, home: str, status: ReportStatus) -> int:
        made = await store.reports.create(
            NewReport(reporter_id=reporter, sector_id=sector[home], category="vehicle",
                      occurred="today", description="Camionnette blanche qui tourne"),
            status, time.time() + 86400)
        return made.id

    triage = await report(neighbour, "Centre", ReportStatus.TRIAGE)
    relayed = await report(neighbour, "Centre", ReportStatus.RELAYED)
    # the fuzzing resident's own report:
    own = await report(people["resident"].id, "Hauts", ReportStatus.RELAYED)
    poll = await broadcasts.launch(svc, NewBroadcast(
        kind=BroadcastKind.POLL, author_id=people["official"].id,
        body="Un éclairage rue des Lilas ?",
        sector_ids=[sector["Centre"]], options=("Oui", "Non")), people["official"].id, "fr")
    alert = await broadcasts.launch(svc, NewBroadcast(
        kind=BroadcastKind.ALERT, author_id=people["liaison"].id,
        body="Vols de câbles cette nuit",
        sector_ids=[sector["Centre"]], referents_only=True), people["liaison"].id, "fr")
    async def removal(author: int, home: str, chat_id: int) -> int:
        text = "Le voisin du 12 est un voleur, tout le monde le sait"
        made = await store.moderation.record(
            sector_id=sector[home], chat_id=chat_id, message_id=None, author_id=author,
            kind=ModerationKind.REMOVED, findings=[Finding.NAMED_PERSON], text=text,
            author_text=text)
        assert made is not None
        return made.id

    removed = await removal(neighbour, "Centre", centre_chat)
    own_removal = await removal(people["resident"].id, "Hauts", commune.groups[1].id)
    strike = await store.moderation.add_strike(neighbour, sector["Centre"], removed, 86400)
    commune.real_data = real_buttons({
        "report_id": [triage, relayed, own], "request_id": [r.id for r in requests],
        "application_id": [application], "broadcast_id": [poll.id, alert.id],
        "sector_id": list(sector.values()), "version": [version],
        "user_id": [people["referent"].id, people["referent_elsewhere"].id],
        "page": [0, 1], "person": [None, people["resident"].id],
        "action_id": [removed, own_removal], "strike_id": [strike.id],
        # /secteurs: a merge names the sector that goes and the one that receives it
        "source_id": list(sector.values()), "target_id": list(sector.values()),
    })
    commune.ids = [*(p.id for p in people.values()), *sector.values(), triage, relayed, own,
                   poll.id, alert.id, application, removed, own_removal, strike.id]
    # Well-formed data of every kind with random values; and any pattern a handler still
    # spells by hand (no Button class yet).
    _, patterns = registered(app)
    kinds = {kind.pattern().pattern for kind in button_kinds()}
    commune.patterns = sorted(kinds | set(patterns))


def real_buttons(subjects: dict[str, list[int | None]]) -> list[str]:
    """Every button kind (`Button.kinds`), with each of its choices, pointing at real
    subjects: a pending join request, a report awaiting triage, a poll... `subjects` names
    what an id field holds, by the field's name; a kind with an id field of another name
    stops the fuzz until prepare() names it."""
    data: list[str] = []
    for kind in button_kinds():
        for values in kind.example_values():
            ids = [name for name in field_names(kind) if values[name] == 1]
            unknown = [name for name in ids if name not in subjects]
            assert not unknown, (f"{kind.__name__}: the fuzz does not know what {unknown} "
                                 "point at; name them in prepare()'s `subjects`")
            for chosen in itertools.product(*(subjects[name] for name in ids)):
                data.append(kind(**{**values, **dict(zip(ids, chosen, strict=True))}).pack())
    return sorted(set(data))


def build(emu: TelegramEmulator, folder: Path, bot_factory: Callable[[Settings], BotThread]
          ) -> tuple[Commune, BotThread]:
    roles = (*UNPRIVILEGED, *PRIVILEGED, "neighbour", "applicant", "excluded_neighbour",
             "requester0", "requester1", "requester2")
    people = {role: emu.create_user(role.title(), language_code="fr") for role in roles}
    commune = Commune(emu, folder / "fuzz.db", people, emu.create_user("Greffier"))
    bot = bot_factory(settings_for(emu, folder, people))
    official = people["official"]
    members = [people[role] for role in (*UNPRIVILEGED, *PRIVILEGED) if role != "official"]
    for title in (*SECTORS, *(f"Groupe {n}" for n in range(9))):
        group = emu.create_group(title, creator=official, members=members, supergroup=True)
        group.add_bot(by=official)
        commune.groups.append(group)
    return commune, bot


def open_chats(commune: Commune, bot: BotThread) -> None:
    """Everyone who fuzzes has started the bot (Telegram delivers a private message only
    from someone who did); each chat gets a bot message to press buttons on."""
    emu, official = commune.emu, commune.people["official"]
    mark = emu.mark()
    for index, group in enumerate(commune.groups):
        if index < len(SECTORS):
            official.send_command("/lier_secteur", args=SECTORS[index], chat=group)
        else:
            official.send_command("/aide", chat=group)
    for role in (*UNPRIVILEGED, *PRIVILEGED):
        commune.people[role].send_command("/aide")
    commune.clerk.send_command("/aide")
    chats = [g.id for g in commune.groups] + [commune.people[r].id for r in
                                             (*UNPRIVILEGED, *PRIVILEGED)] + [commune.clerk.id]
    for chat_id in chats:
        last = mark.last_message_ids.get(chat_id, 0)
        found = wait_until(lambda chat_id=chat_id, last=last: [
            m for m in emu.sent(chat_id) if m.message_id > last], f"an answer in {chat_id}")
        commune.anchors[chat_id] = found[-1].message_id
    assert bot.app is not None
    bot.run(prepare(bot.app, commune))
    # Copies of the poll and the alert go out; their progress is settled before reading.
    store = services_of(bot.app).store
    wait_until(lambda: not bot.run(store.broadcasts.sending()), "the broadcasts to be sent")


# --- what hypothesis draws -------------------------------------------------------------------

ODD = ["\u202e", "\u200b", "\u200d", "\ufeff", "\u2066", "\u0301", "👨‍👩‍👧", "🚨", "ﷺ", "𝕍𝕚𝕘𝕚𝕖",
       "\x00", "\n", "<b>", "</a>", "&amp;", "{commune}", "%s", "'; DROP TABLE people;--",
       "@vigie_test_bot", "tg://user?id=1", "06 12 34 56 78", "connard", "arme", "AB-123-CD",
       "Monsieur Dupont", "\u0663\u0664", "²", "٫", "∞"]
NUMBERS = st.one_of(st.integers(-2**70, 2**70).map(str), st.integers(10**15, 10**40).map(str),
                    st.sampled_from(["²", "١٢٣", "0", "-1", "1e9", "0x10", "٣", "99999999999",
                                     "९९", "𝟗", "-0", "+5"]))


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}…({len(text)} chars)"


@dataclass(frozen=True, repr=False)
class Say:
    """A message (or an edit) `sender` sends in `chat` ("private" or a group's index)."""

    sender: str | int  # a role, or the id of someone the emulator does not know
    chat: str | int
    text: str
    edited: bool = False
    chat_type: str | None = None  # a lie about the chat's type
    drop: str | None = None  # a field left out
    reply_to_anchor: bool = False
    extra: tuple[tuple[str, Any], ...] = ()  # media, or fields of a future Bot API

    def __repr__(self) -> str:
        fields = [f"{k}={short(v)}" for k, v in vars(self).items() if v or k == "text"]
        return f"Say({', '.join(fields)})"


def nasty_commands(sender: str) -> list[Say]:
    """Every command, in private, with arguments that look like numbers but are not ids:
    each run, not left to chance."""
    return [Say(sender, "private", f"/{cmd.name} {args}") for cmd in COMMANDS
            for args in ("²", "9" * 30, "nommer ² Centre", "nommer " + "9" * 30 + " Centre")]


@dataclass(frozen=True, repr=False)
class Press:
    sender: str
    chat: str | int
    data: str

    def __repr__(self) -> str:
        return f"Press({self.sender!r}, {self.chat!r}, {short(self.data)})"


@dataclass(frozen=True, repr=False)
class Raw:
    kind: str
    payload: Any

    def __repr__(self) -> str:
        return f"Raw({self.kind!r}, {short(self.payload)})"


def strategies(commune: Commune, cast: tuple[str, ...]) -> st.SearchStrategy[Any]:
    names = [name for cmd in COMMANDS for name in cmd.names]
    text = st.one_of(
        st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200),
        st.lists(st.one_of(st.sampled_from(ODD), st.text(max_size=20)), max_size=8)
        .map("".join),
        st.tuples(st.sampled_from(["x", "é", "🚨", "\u200b", "a b ", "\u202e٣"]),
                  st.integers(4097, 12_000)).map(lambda t: (t[0] * t[1])[:t[1]]),
    )
    arguments = st.lists(st.one_of(NUMBERS, NUMBERS, st.sampled_from([str(i) for i in commune.ids]),
                                   st.sampled_from([*SECTORS, "nommer", "appoint", "type:a"]),
                                   text), max_size=4).map(" ".join)
    command = st.builds(
        lambda name, at, args: f"/{name}{at} {args}".rstrip(),
        st.one_of(*[st.sampled_from(names)] * 4,
                  st.text("abcdefghijklmnopqrstuvwxyz_", max_size=40)),
        st.sampled_from(["", "", "@vigie_test_bot", "@autre_bot", "@"]), arguments)
    senders = st.sampled_from(cast)
    strangers = st.integers(5_000_000_000, 2**52)  # never wrote to the bot: groups only
    groups = st.integers(0, len(commune.groups) - 1)
    # One message in eight in a group: PTB lets the bot answer 20 times a minute per group,
    # and waits (holding up every update behind) once a group's allowance is spent.
    chats = st.one_of(*[st.just("private")] * 7, groups)
    media = st.sampled_from([
        (("photo", [{"file_id": "AgAD", "file_unique_id": "u", "width": 1, "height": 1,
                     "file_size": 2**40}]),),
        (("location", {"latitude": 1e308, "longitude": -999.0}),),
        (("location", {"latitude": 48.85, "longitude": 2.35}),),
        (("sticker", {"file_id": "s", "file_unique_id": "u", "width": 1, "height": 1,
                      "is_animated": False, "is_video": False, "type": "regular"}),),
        (("document", {"file_id": "d", "file_unique_id": "u", "file_size": 2**40}),),
        (("brand_new_field", {"from": "a future Bot API"}),),
        (("contact", {"phone_number": "+33612345678", "first_name": "X"}),),
    ])
    data = st.one_of(
        st.text(max_size=64).filter(lambda s: len(s.encode()) <= 64),
        st.sampled_from(commune.patterns).flatmap(lambda p: st.from_regex(p, fullmatch=True)),
        st.sampled_from(commune.real_data),
        st.sampled_from(commune.real_data),
        st.text(min_size=65, max_size=300),
    )
    json_values = st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(-2**64, 2**64), st.text(max_size=30),
                  st.floats(allow_nan=False)),
        lambda inner: st.one_of(st.lists(inner, max_size=4),
                                st.dictionaries(st.text(max_size=10), inner, max_size=4)),
        max_leaves=12)
    kinds = st.sampled_from(["message", "edited_message", "callback_query", "channel_post",
                             "chat_member", "my_chat_member", "chat_join_request", "poll",
                             "poll_answer", "message_reaction", "inline_query",
                             "business_message", "chat_boost", "purchased_paid_media"])
    return st.one_of(
        st.builds(Say, senders, chats, st.one_of(text, command)),
        st.builds(Say, senders, chats, command),
        st.builds(Say, senders, chats, command, edited=st.just(True)),
        st.builds(Say, strangers, groups, st.one_of(text, text, text, command)),
        st.builds(Say, senders, chats, st.one_of(text, command),
                  chat_type=st.sampled_from(["private", "group", "supergroup", "channel"])),
        st.builds(Say, senders, chats, command,
                  drop=st.sampled_from(["from", "date", "chat", "message_id", "text"])),
        st.builds(Say, senders, st.just("private"), text, reply_to_anchor=st.just(True)),
        st.builds(Say, senders, chats, st.just(""), extra=media),
        st.builds(Press, senders, chats, data),
        st.builds(Press, senders, chats, data),
        st.builds(Press, senders, chats, st.sampled_from(commune.real_data)),
        st.builds(Press, senders, chats, st.sampled_from(commune.real_data)),
        st.builds(Raw, kinds, json_values),
    )


def send(commune: Commune, op: Say | Press | Raw) -> None:
    emu = commune.emu
    if isinstance(op, Raw):
        commune.updates += bool(emu.inject_update(op.kind, op.payload))
        return
    group = commune.groups[op.chat] if isinstance(op.chat, int) else None
    if isinstance(op, Press):
        person = commune.people[op.sender]
        chat_id = group.id if group else person.id
        person.press_data(op.data, commune.anchors[chat_id], chat=group)
        commune.updates += 1
        return
    user = (commune.people[op.sender].to_api() if isinstance(op.sender, str)
            else {"id": op.sender, "is_bot": False, "first_name": "Inconnu"})
    chat: dict[str, Any] = ({"id": group.id, "type": "supergroup", "title": group.title}
                            if group else {"id": user["id"], "type": "private",
                                           "first_name": user["first_name"]})
    if op.chat_type:
        chat["type"] = op.chat_type
    message: dict[str, Any] = {"message_id": random.randint(1, 2**31), "date": int(time.time()),
                               "chat": chat, "from": user}
    if op.text:
        message["text"] = op.text
        if op.text.startswith("/"):
            length = len(op.text.split(maxsplit=1)[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    if op.reply_to_anchor:
        anchor = commune.anchors[chat["id"]]
        message["reply_to_message"] = {"message_id": anchor, "date": int(time.time()),
                                       "chat": chat, "text": "…",
                                       "from": {"id": emu.bot_id, "is_bot": True,
                                                "first_name": "Vigie",
                                                "username": emu.bot_username}}
    message.update(dict(op.extra))
    if op.drop:
        message.pop(op.drop, None)
    commune.updates += bool(emu.inject_update("edited_message" if op.edited else "message",
                                              message))


# --- the database, before and after ----------------------------------------------------------

Snapshot = dict[str, list[dict[str, Any]]]
VOLATILE = {  # columns the bot's own background work changes: the outbox delivering
    "outbox": {"status", "attempts", "next_attempt_at", "message_id", "last_error",
               "finished_at"},
}


def snapshot(path: Path) -> Snapshot:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        connection.row_factory = sqlite3.Row
        tables = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {table: [{k: row[k] for k in row.keys() if k not in VOLATILE.get(table, ())}  # noqa: SIM118
                        for row in connection.execute(f"SELECT * FROM {table}")]
                for table in tables}


def key(table: str, row: dict[str, Any]) -> Any:
    """A row's identity: its id, a person's user id, else the whole row."""
    if "id" in row:
        return row["id"]
    if table in ("people", "conversation_data"):
        return row["user_id"]
    return tuple(sorted(row.items()))


OWNERS = {"people": "user_id", "charter_acceptances": "user_id", "referents": "user_id",
          "join_requests": "user_id", "referent_applications": "user_id",
          "reports": "reporter_id", "conversation_data": "user_id",
          # what the bot removed or held of their own messages, and their strikes
          "moderation_actions": "author_id", "strikes": "user_id"}
# The inbox holds the updates themselves (erased once handled): it is not compared.
NOT_COMPARED = {"inbox"}


@dataclass
class Rights:
    """What a batch's senders may change: their own rows, their reports (and those of the
    sector they are referent of), and what those point at."""

    senders: set[int]
    reports_ok: set[int]
    refs_ok: set[str]

    @classmethod
    def of(cls, before: Snapshot, after: Snapshot, senders: set[int]) -> Rights:
        old_reports = {r["id"] for r in before.get("reports", [])}
        led = {r["sector_id"] for r in before.get("referents", []) if r["user_id"] in senders}
        reports_ok = {r["id"] for r in before.get("reports", []) if r["reporter_id"] in senders}
        reports_ok |= {r["id"] for r in after.get("reports", []) if r["id"] not in old_reports
                       and (r["reporter_id"] in senders or r["sector_id"] in led
                            or (r["reporter_id"] is None and r["purged_at"] is not None))}
        # (the last: theirs, then erased)
        applications = [*before.get("referent_applications", []),
                        *after.get("referent_applications", [])]
        removals = [*before.get("moderation_actions", []),
                    *after.get("moderation_actions", [])]
        refs_ok = ({f"report:{i}" for i in reports_ok}
                   | {f"refapp:{r['id']}" for r in applications if r["user_id"] in senders}
                   | {f"moderation:{r['id']}" for r in removals if r["author_id"] in senders}
                   | {f"user:{sender}" for sender in senders})
        # A removal erased with its author's data in the same batch (its outbox notice may
        # still fail afterwards and be noted): theirs, then erased, as for reports.
        known = {r["id"] for r in removals}
        seen = {row["subject"] for row in after.get("audit_log", [])}
        refs_ok |= {subject for subject in seen if isinstance(subject, str)
                    and subject.startswith("moderation:")
                    and subject.partition(":")[2].isdigit()
                    and int(subject.partition(":")[2]) not in known}
        return cls(senders, reports_ok, refs_ok)

    def about_them(self, row: dict[str, Any]) -> bool:
        blob = " ".join(str(value) for value in row.values())
        return any(str(sender) in blob for sender in self.senders)

    def theirs(self, table: str, row: dict[str, Any], new: bool) -> bool:
        if table in OWNERS:
            return row[OWNERS[table]] in self.senders or (table == "reports" and row["id"] in
                                                          self.reports_ok)
        if table == "report_events":
            return row["report_id"] in self.reports_ok
        if table == "outbox":
            return row["chat_id"] in self.senders or row["ref"] in self.refs_ok or (
                not new and self.about_them(row))  # an erasure removes what names them
        if table == "audit_log":
            if new:
                return (row["actor_id"] in self.senders or row["subject"] in self.refs_ok
                        or row["action"] == "person.erased")
            return self.about_them(row) or row["subject"] in self.refs_ok
        if table == "conversation_states":
            return self.about_them(row)  # its key is (chat id, user id)
        if table == "moderation_rights_told":
            return new  # the bot's note that it lacks a right in a group, told there once
        return False  # sectors, broadcasts, polls, alerts, tips: nobody here may touch them


def violations(before: Snapshot, after: Snapshot, senders: set[int]) -> list[str]:
    """What changed that the senders had no right to change (see the module's docstring)."""
    found: list[str] = []
    rights = Rights.of(before, after, senders)
    for table in sorted((set(before) | set(after)) - NOT_COMPARED):
        old = {key(table, r): r for r in before.get(table, [])}
        new = {key(table, r): r for r in after.get(table, [])}
        for k, row in old.items():
            if new.get(k) != row and not rights.theirs(table, row, new=False):
                found.append(f"{table}: {row} became {new.get(k)}")
        for k, row in new.items():
            if k not in old and not rights.theirs(table, row, new=True):
                found.append(f"{table}: new row {row}")
    return found


# --- the test ----------------------------------------------------------------------------------

def senders_of(batch: list[Any], commune: Commune) -> set[int]:
    return {commune.people[op.sender].id if isinstance(op.sender, str) else op.sender
            for op in batch if isinstance(op, Say | Press)}


@pytest.mark.timeout(600)
def test_fuzzed_updates_crash_nothing_and_touch_only_their_senders_data(tmp_path: Path) -> None:
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    began = time.monotonic()
    try:
        with TelegramEmulator(limits=Limits.off()) as emu:
            commune, bot = build(emu, tmp_path, BotThread)
            with bot:
                open_chats(commune, bot)
                commune.fence()
                assert not errors.records, errors.records
                counts = {"unprivileged": 0, "privileged": 0}

                def batch_of(cast: tuple[str, ...]) -> st.SearchStrategy[list[Any]]:
                    return st.lists(strategies(commune, cast), min_size=BATCH[0],
                                    max_size=BATCH[1])

                fuzz = settings(max_examples=max(1, EXAMPLES * 3 // 4), deadline=None,
                                database=None, phases=[Phase.explicit, Phase.generate],
                                suppress_health_check=list(HealthCheck))

                @fuzz
                @given(batch_of(UNPRIVILEGED))
                @example(nasty_commands("stranger"))
                def unprivileged(batch: list[Any]) -> None:
                    before = snapshot(commune.db_path)
                    seen = len(errors.records)
                    for op in batch:
                        send(commune, op)
                    settle(commune, bot)
                    counts["unprivileged"] += 1
                    assert errors.records[seen:] == []
                    changed = violations(before, snapshot(commune.db_path),
                                         senders_of(batch, commune))
                    assert not changed, "\n".join(changed)

                @settings(fuzz, max_examples=max(1, EXAMPLES // 4))
                @given(batch_of(PRIVILEGED + UNPRIVILEGED))
                @example(nasty_commands("official"))
                def privileged(batch: list[Any]) -> None:
                    seen = len(errors.records)
                    for op in batch:
                        send(commune, op)
                    settle(commune, bot)
                    counts["privileged"] += 1
                    assert errors.records[seen:] == []

                unprivileged()
                privileged()
                mark = emu.mark()
                commune.people["resident"].send_command("/aide")
                wait_until(lambda: any(title in m.content for title in HELP_TITLES for m in
                                       emu.sent(commune.people["resident"].id)
                                       if m.message_id > mark.last_message_ids.get(
                                           commune.people["resident"].id, 0)),
                           "the answer to a last /aide")
            assert not emu.internal_errors, emu.internal_errors
    finally:
        logging.getLogger().removeHandler(errors)
    print(f"fuzz: {commune.updates} updates sent in {counts['unprivileged']} unprivileged and "
          f"{counts['privileged']} privileged batches, {time.monotonic() - began:.1f} s")
    assert not errors.records, errors.records
    assert commune.updates >= BATCH[0] * sum(counts.values())
