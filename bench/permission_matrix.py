"""The permission matrix, end to end: every command and every button, for every role, in
each kind of chat, sent through the emulator to the real bot, and compared with
`core.permissions.check` for the same person in the same place.

    python3 dev.py bench permission_matrix      prints the table (tests/test_permission_matrix.py
                                                asserts it)

How a cell is decided. The person sends the command (in a group, as /cmd@bot) or presses the
button from a bot message in their own chat, then the bot's answer is read back: a refusal
is one of the texts `permissions` names (`RULES[action].refusal`, "denied.private_only",
"denied.wrong_chat") or the stale-button / unknown-command answer; anything else is "acted".
The expectation is `check(actor, action, place, subject's sector, subject's owner)` with the
actor read from the bot's own records (`core.turn.actor_of`) and the place from the chat.

The world. Eight roles, each one Telegram user: a stranger, a resident who refused the
charter, a resident, a referent of another sector, a referent of this sector, the liaison,
an official and an admin. Each has its own private chat, sector groups and unlinked groups
(two of each, used in turn: PTB lets the bot send 20 messages a minute to a group), so one
row is sent to all 24 cells at once and read back after a fence (a clerk's /aide: updates
are handled one at a time, in order). Buttons point at real stored subjects in the
referent's sector, made fresh for each cell (a pending join request, a report awaiting
triage, a referent role...). Conversation buttons (a step of /start, /signaler, /annonce)
act only for whom the conversation offered them: those rows are played as flows, and the
button is pressed on the message that offered it. After each flow, open conversations are
cancelled and any role a cell changed (the stranger who accepted the charter, the official
who chose a sector, the group an official unlinked) is put back as it was.
"""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telegram import Chat
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
)

from core import i18n, logs
from core.commands import COMMANDS, Command
from core.permissions import RULES, Action, check
from core.runtime.application import build_application
from core.runtime.lifecycle import running, services_of
from core.services import Services
from core.turn import actor_of, resolve_place
from demo.local import local_settings
from emulator import Group, Limits, Mark, Person, TelegramEmulator
from handlers.broadcast import domain as broadcasts
from storage import NewBroadcast, NewReport, Report
from storage.reports import RELAYED, TRIAGE

ROLES = ("stranger", "refused", "resident", "referent_elsewhere", "referent", "liaison",
         "official", "admin")
CODES = {"stranger": "st", "refused": "rf", "resident": "rs", "referent_elsewhere": "ra",
         "referent": "rh", "liaison": "li", "official": "of", "admin": "ad"}
ROLE_NAMES = {"stranger": "stranger", "refused": "resident who refused the charter",
              "resident": "resident", "referent_elsewhere": "referent of another sector",
              "referent": "referent of this sector", "liaison": "liaison",
              "official": "official", "admin": "admin"}
KINDS = ("private", "sector_group", "group")
KIND_TITLES = {"private": "private chat", "sector_group": "sector group",
               "group": "unlinked group"}
MEMBERS = ("resident", "referent_elsewhere", "referent")
ROTATION = 2  # groups per role and kind, used in turn (20 bot messages a minute per group)
LANGUAGES = ("fr", "en")
SPARE = "Q-ailleurs"  # the other sector of the "referent of another sector"
# In a group, /signaler (replying to a message) flags that message: another action.
GROUP_ACTIONS = {Action.REPORT: Action.FLAG_MESSAGE}
REFUSAL_KEYS = sorted({rule.refusal for rule in RULES.values()}
                      | {"denied.private_only", "denied.wrong_chat", "fallback.stale_button",
                         "fallback.unknown_command"})
SCREENED_TEXT = "Un homme rôde rue des Lilas, rappelez-moi au 06 12 34 56 78"
NOTICE_TEXT = "Réunion publique sur la tranquillité du quartier jeudi à 18 h."


def texts(key: str, **values: Any) -> set[str]:
    return {i18n.t(language, key, **values) for language in LANGUAGES}


REFUSALS = {i18n.t(language, key): key for language in LANGUAGES for key in REFUSAL_KEYS}
ERRORS = texts("errors.generic")
HELP_TITLE = i18n.t("fr", "help.title")


# --- rows -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """What one cell sends: command arguments or callback data, and what it points at (the
    subject's sector and owner, as `core.turn.guarded` passes them to `check`)."""

    data: str = ""
    sector_id: int | None = None
    owner_id: int | None = None


Builder = Callable[["World", "Cell", int], Awaitable[Target]]


async def nothing(world: World, cell: Cell, step: int) -> Target:
    return Target()


def fixed(data: str) -> Builder:
    async def build(world: World, cell: Cell, step: int) -> Target:
        return Target(data)
    return build


@dataclass
class Row:
    label: str
    action: Action
    kind: str  # "command" or "button"
    build: Builder = nothing
    sample: str = ""  # a button's well-formed callback data: finds the handler's pattern
    command: Command | None = None
    pattern: str | None = None  # filled in from the running application
    state_only: bool = False  # a button that only exists inside a conversation step
    registered: bool = True


@dataclass(frozen=True)
class Drive:
    """A step of a flow that only moves the conversation on (text sent in private)."""

    text: str

    @property
    def label(self) -> str:
        return f"(text) {self.text[:20]}…"


# --- subjects: fresh for each cell, in the referent's sector ----------------------------

async def join_request(world: World, cell: Cell, step: int) -> Target:
    user_id = await world.dummy()
    group = world.sector_groups["referent"][0]
    request = await world.svc.store.join_requests.open(user_id, group.id, world.subject_sector)
    return Target(f"join:no:{request.id}", request.sector_id)


async def referent_application(world: World, cell: Cell, step: int) -> Target:
    user_id = await world.dummy(enrolled=True)
    application_id = await world.svc.store.referent_applications.submit(
        user_id, world.subject_sector, "Je connais bien le quartier")
    assert application_id is not None
    return Target(f"refapp:no:{application_id}", world.subject_sector)


async def referent_role(world: World, cell: Cell, step: int) -> Target:
    user_id = await world.dummy(enrolled=True)
    await world.svc.store.referents.appoint(user_id, world.subject_sector, None)
    return Target(f"revoke:{user_id}:{world.subject_sector}", world.subject_sector)


async def member_to_exclude(world: World, cell: Cell, step: int) -> Target:
    user_id = await world.dummy(enrolled=True)
    return Target(str(user_id), world.subject_sector)


async def excluded_person(world: World, cell: Cell, step: int) -> Target:
    user_id = await world.dummy()
    await world.svc.store.people.set_status(user_id, "excluded")
    return Target(str(user_id))


def report_button(template: str, status: str, own: bool = False) -> Builder:
    """A report of the referent's sector in `status`; `own`: the presser reported it."""

    async def build(world: World, cell: Cell, step: int) -> Target:
        reporter = None
        if own and await world.svc.store.people.get(cell.person.id) is not None:
            reporter = cell.person.id
        report = await world.report(status, reporter)
        return Target(template.format(id=report.id), report.sector_id, report.owner_id)

    return build


async def own_sector(world: World, cell: Cell, step: int) -> Target:
    person = await world.svc.store.people.get(cell.person.id)
    sector_id = person.sector_id if person and person.sector_id else world.spare_id
    return Target(f"move:{sector_id}")


async def spare_sector(world: World, cell: Cell, step: int) -> Target:
    return Target(f"sector:{world.spare_id}")


async def current_charter(world: World, cell: Cell, step: int) -> Target:
    return Target(f"charter:yes:{world.svc.charter.version}")


def broadcast_button(kind: str, template: str) -> Builder:
    """One poll or referents-only alert per row, launched as the bot launches them (closing
    or relaying twice is answered "already done", which is acting, not refusing)."""

    async def build(world: World, cell: Cell, step: int) -> Target:
        key = (kind, step)
        if key not in world.broadcasts:
            sector = world.subject_sector
            new = NewBroadcast(kind=kind, author_id=world.people["official"].id,
                               body="Faut-il un éclairage rue des Lilas ?" if kind == "poll"
                               else "Vols de câbles signalés cette nuit.",
                               sector_ids=[sector], options=("Oui", "Non") if kind == "poll"
                               else (), referents_only=kind == "alert")
            # The progress messages go to the clerk, away from the chats being read.
            sent = await broadcasts.launch(world.svc, new, world.clerk.id, "fr")
            world.broadcasts[key] = sent.id
        return Target(template.format(id=world.broadcasts[key], sector=world.subject_sector),
                      world.subject_sector if kind == "alert" else None)

    return build


def command_rows() -> list[Row]:
    builders: dict[Action, Builder] = {Action.EXCLUDE: member_to_exclude,
                                       Action.REINSTATE: excluded_person}
    return [Row(f"/{cmd.name}", cmd.action, "command", builders.get(cmd.action, nothing),
                command=cmd) for cmd in COMMANDS]


def button_rows() -> list[Row]:
    """One row per button pattern. A new button (a new CallbackQueryHandler pattern) makes
    the matrix fail until it has a row here: a well-formed sample and its subject."""
    b = Row
    return [
        b("lang", Action.LANGUAGE, "button", fixed("lang:fr"), "lang:fr"),
        b("charter", Action.ACCEPT_CHARTER, "button", current_charter, "charter:yes:1"),
        b("sector", Action.CHOOSE_SECTOR, "button", spare_sector, "sector:1"),
        b("street", Action.CHOOSE_SECTOR, "button", fixed("street:skip"), "street:skip"),
        b("move:ask", Action.MY_SECTOR, "button", fixed("move:ask"), "move:ask"),
        b("move", Action.MY_SECTOR, "button", own_sector, "move:1"),
        b("leave", Action.LEAVE_SCHEME, "button", fixed("leave:no"), "leave:no"),
        b("erase", Action.ERASE_MY_DATA, "button", fixed("erase:no"), "erase:no"),
        b("join", Action.DECIDE_JOIN, "button", join_request, "join:no:1"),
        b("refapp", Action.DECIDE_REFERENT, "button", referent_application, "refapp:no:1"),
        b("revoke", Action.MANAGE_REFERENTS, "button", referent_role, "revoke:1:1"),
        b("rep:sos", Action.HELP, "button", fixed("rep:sos"), "rep:sos"),
        b("rep:cat", Action.REPORT, "button", fixed("rep:cat:vehicle"), "rep:cat:vehicle"),
        b("rep:when", Action.REPORT, "button", fixed("rep:when:now"), "rep:when:now"),
        b("rep:keep", Action.REPORT, "button", fixed("rep:keep"), "rep:keep"),
        b("rep:photo", Action.REPORT, "button", fixed("rep:skip:photo"), "rep:skip:photo"),
        b("rep:confirm", Action.REPORT, "button", fixed("rep:no"), "rep:no"),
        b("tri", Action.TRIAGE_REPORT, "button", report_button("tri:{id}:d", TRIAGE),
          "tri:1:d"),
        b("dis", Action.TRIAGE_REPORT, "button", report_button("dis:{id}:duplicate", TRIAGE),
          "dis:1:duplicate"),
        b("st", Action.SET_REPORT_STATUS, "button", report_button("st:{id}:r", RELAYED),
          "st:1:r"),
        b("wn", Action.WARN_SECTOR, "button", report_button("wn:{id}", RELAYED), "wn:1"),
        b("ct", Action.ASK_CONTACT, "button", report_button("ct:{id}", RELAYED), "ct:1"),
        b("ctr", Action.REPORTER_ANSWER, "button",
          report_button("ctr:{id}:n", RELAYED, own=True), "ctr:1:n"),
        b("bct", Action.ALERT, "button", fixed("bct:all"), "bct:all"),
        b("bct:next", Action.ALERT, "button", fixed("bct:next"), "bct:next"),
        b("bcc", Action.ALERT, "button", fixed("bcc:cancel"), "bcc:cancel"),
        b("bpc", Action.POLL, "button", broadcast_button("poll", "bpc:{id}"), "bpc:1"),
        b("ar", Action.RELAY_ALERT, "button", broadcast_button("alert", "ar:{id}:{sector}"),
          "ar:1:1"),
        b("stats", Action.STATS, "button", fixed("stats:7"), "stats:7"),
        b("jr", Action.AUDIT_LOG, "button", fixed("jr:0::"), "jr:0::"),
        b("tip", Action.TIP, "button", fixed("tip:vacances"), "tip:vacances"),
    ]


# A command and the buttons it leads to are played in order, as a person would.
FLOWS: list[list[str | Drive]] = [
    ["/start", "charter", "sector", "street"],
    ["/signaler", "rep:sos", "rep:cat", "rep:when", Drive(SCREENED_TEXT), "rep:keep",
     Drive(i18n.t("fr", "reports.skip")), "rep:photo", "rep:confirm"],
    ["/secteur", "move:ask", "move"],
    ["/quitter", "leave"],
    ["/supprimer_mes_donnees", "erase"],
    ["/langue", "lang"],
    ["/referents", "revoke"],
    ["/annonce", Drive(NOTICE_TEXT), "bct", "bct:next", "bcc"],
    ["/resultats", "bpc"],
    ["/stats", "stats"],
    ["/journal", "jr"],
    ["/conseil", "tip"],
]


# --- the application's own list of handlers ----------------------------------------------

def _walk(handlers: list[BaseHandler], where: str  # type: ignore[type-arg]
          ) -> Iterator[tuple[BaseHandler, str]]:  # type: ignore[type-arg]
    for handler in handlers:
        if isinstance(handler, ConversationHandler):
            yield from _walk(list(handler.entry_points), "entry")
            for steps in handler.states.values():
                yield from _walk(list(steps), "state")
            yield from _walk(list(handler.fallbacks), "fallback")
        else:
            yield handler, where


def registered(app: Application) -> tuple[set[str], dict[str, bool]]:  # type: ignore[type-arg]
    """Command names with a handler, and each button pattern → is it a conversation step
    only (neither an entry point, a fallback nor a handler of its own)."""
    commands: set[str] = set()
    places: dict[str, set[str]] = {}
    for group in app.handlers.values():
        for handler, where in _walk(list(group), "top"):
            if isinstance(handler, CommandHandler):
                commands |= set(handler.commands)
            elif isinstance(handler, CallbackQueryHandler) and handler.pattern is not None:
                pattern = handler.pattern
                text = pattern.pattern if isinstance(pattern, re.Pattern) else str(pattern)
                places.setdefault(text, set()).add(where)
    return commands, {text: wheres == {"state"} for text, wheres in places.items()}


# --- the world ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    role: str
    kind: str
    person: Person
    group: Group | None

    @property
    def chat_id(self) -> int:
        return self.group.id if self.group is not None else self.person.id


@dataclass
class Result:
    row: str
    role: str
    kind: str
    expected: bool
    observed: str  # acted, refused, silent, error
    answer: str  # the refusal's catalogue key, or the start of what the bot said
    expected_refusal: str | None
    offered: bool | None = None

    @property
    def mismatch(self) -> bool:
        return self.observed not in ("acted", "refused") or (
            (self.observed == "acted") != self.expected)

    @property
    def wrong_refusal(self) -> bool:
        return (self.observed == "refused" and not self.expected
                and self.expected_refusal is not None and self.answer != self.expected_refusal)


class ErrorLog(logging.Handler):
    """Every ERROR record while the matrix runs (the bot's error handler logs at ERROR)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        details = record.msg if isinstance(record.msg, dict) else {}
        event = details.get("event") or record.getMessage()
        # structlog has already turned the exception into text: keep its last lines.
        trace = str(details.get("exception") or "").strip().splitlines()
        self.records.append(" | ".join([f"{record.name}: {event}", *trace[-3:]]))


@dataclass
class World:
    emu: TelegramEmulator
    people: dict[str, Person]
    clerk: Person
    sector_groups: dict[str, list[Group]] = field(default_factory=dict)
    other_groups: dict[str, list[Group]] = field(default_factory=dict)
    app: Application | None = None  # type: ignore[type-arg]
    baseline: dict[str, Any] = field(default_factory=dict)
    places: dict[int, Any] = field(default_factory=dict)
    anchors: dict[int, int] = field(default_factory=dict)
    broadcasts: dict[tuple[str, int], int] = field(default_factory=dict)
    repairs: list[str] = field(default_factory=list)
    subject_sector: int = 0  # the referent's sector: every subject a button points at
    spare_id: int = 0
    fence_message: int | None = None

    # -- names and ids --

    @staticmethod
    def sector_name(role: str, index: int) -> str:
        return f"Q-{role}-{index + 1}"

    @classmethod
    def sector_names(cls) -> list[str]:
        return [cls.sector_name(r, i) for r in ROLES for i in range(ROTATION)] + [SPARE]

    @property
    def svc(self) -> Services:
        assert self.app is not None
        return services_of(self.app)

    async def sector_id(self, name: str) -> int:
        sector = await self.svc.store.sectors.by_name(name)
        assert sector is not None
        return sector.id

    def cells(self, step: int, kinds: tuple[str, ...] = KINDS) -> list[Cell]:
        """Every role in every kind of chat, for this step (groups are used in turn)."""
        index = step % ROTATION
        found = []
        for kind in kinds:
            for role in ROLES:
                group = None if kind == "private" else (
                    self.sector_groups if kind == "sector_group" else self.other_groups
                )[role][index]
                found.append(Cell(role, kind, self.people[role], group))
        return found

    # -- building it --

    async def setup(self, app: Application) -> None:  # type: ignore[type-arg]
        self.app = app
        official = self.people["official"]
        for role in ROLES:
            person = self.people[role]
            members = [] if person is official else [person]
            self.sector_groups[role], self.other_groups[role] = [], []
            for index in range(ROTATION):
                for kind, groups in (("sector", self.sector_groups), ("other", self.other_groups)):
                    group = self.emu.create_group(f"{kind} {role} {index + 1}", creator=official,
                                                  members=members, supergroup=True)
                    group.add_bot(by=official)
                    groups[role].append(group)
                official.send_command("/lier_secteur", args=self.sector_name(role, index),
                                      chat=self.sector_groups[role][index])
        self.subject_sector = await self.sector_id(self.sector_name("referent", 0))
        self.spare_id = await self.sector_id(SPARE)
        for role in ROLES:
            await self.recipe(role)
        mark = self.emu.mark()
        for cell in self.cells(0) + self.cells(1, ("sector_group", "group")):
            cell.person.send_command("/aide", chat=cell.group)  # also opens the private chat
        await self.settle()
        for cell in self.cells(0) + self.cells(1, ("sector_group", "group")):
            answers = self.since(cell.chat_id, mark)
            assert answers, f"no anchor message in {cell}"
            self.anchors[cell.chat_id] = answers[-1].message_id
        for role in ROLES:
            self.baseline[role] = await self.who(role)
        for groups in self.sector_groups.values():
            for group in groups:
                self.places[group.id] = await self.place(group.id, "supergroup")
                assert self.places[group.id].sector_id is not None, "a sector group is unlinked"

    async def recipe(self, role: str) -> None:
        """The role, written in the bot's records (the flows that make it are tested
        elsewhere: test_enrolment, test_reports)."""
        store, user_id = self.svc.store, self.people[role].id
        if role == "stranger":
            return
        await store.people.ensure(user_id, "fr")
        if role == "refused":
            await store.people.set_status(user_id, "refused")
        if role in MEMBERS:
            await store.charter.accept(user_id, self.svc.charter.version, "fr")
            await store.people.enrol(user_id, await self.sector_id(self.sector_name(role, 0)),
                                     None)
        if role == "referent":
            for index in range(ROTATION):
                await store.referents.appoint(
                    user_id, await self.sector_id(self.sector_name(role, index)), None)
        if role == "referent_elsewhere":
            await store.referents.appoint(user_id, self.spare_id, None)

    async def dummy(self, enrolled: bool = False) -> int:
        """Someone a subject belongs to: a requester, an applicant, a member to exclude."""
        person = self.emu.create_user("Voisin", language_code="fr")
        store = self.svc.store
        await store.people.ensure(person.id, "fr")
        if enrolled:
            await store.charter.accept(person.id, self.svc.charter.version, "fr")
            await store.people.enrol(person.id, self.subject_sector, None)
        return person.id

    async def report(self, status: str, reporter: int | None) -> Report:
        return await self.svc.store.reports.create(
            NewReport(reporter_id=reporter or await self.dummy(enrolled=True),
                      sector_id=self.subject_sector, category="vehicle", occurred="today",
                      description="Une camionnette blanche fait le tour du lotissement"),
            status, time.time() + 86400)

    async def who(self, role: str) -> tuple[Any, str | None]:
        actor, person = await actor_of(self.svc, self.app.bot, self.people[role].id)  # type: ignore[union-attr]
        return actor, person.language if person else None

    async def place(self, chat_id: int, chat_type: str) -> Any:
        return await resolve_place(self.svc, Chat(chat_id, chat_type))

    # -- reading the chats --

    def since(self, chat_id: int, mark: Mark) -> list[Any]:
        last = mark.last_message_ids.get(chat_id, 0)
        return [m for m in self.emu.sent(chat_id) if m.message_id > last]

    async def settle(self) -> None:
        """Every update sent so far has been handled (the bot takes them one at a time, in
        order: the clerk's button press, sent last, is answered last), and the outbox is
        idle. A button's answer is free, where a message would count against the 30 a
        second PTB allows the bot."""
        if self.fence_message is None:
            mark = self.emu.mark()
            self.clerk.send_command("/aide")
            self.fence_message = (await self.clerk.wait_for(text=HELP_TITLE, since=mark,
                                                            timeout=60)).message_id
        query = self.clerk.press_data("fence", self.fence_message)["id"]
        await self.emu.wait_until(lambda: any(
            a["callback_query_id"] == query for a in reversed(self.emu.callback_answers)),
            timeout=60)
        await self.drain()

    async def drain(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            counts = await self.svc.store.outbox.counts()
            if not counts.get("pending") and not counts.get("sending"):
                return
            await asyncio.sleep(0.02)

    # -- putting it back --

    async def cancel_conversations(self, roles: set[str]) -> None:
        done = texts("cancel.done")
        for _ in range(5):
            if not roles:
                return
            mark = self.emu.mark()
            for role in roles:
                self.people[role].send_command("/annuler")
            await self.settle()
            roles = {role for role in roles if any(
                m.content in done for m in self.since(self.people[role].id, mark))}
        raise AssertionError(f"conversations still open for {sorted(roles)}")

    async def repair(self, after: str) -> None:
        for role in ROLES:
            if await self.who(role) != self.baseline[role]:
                self.repairs.append(f"{after}: {role}")
                await self.svc.store.privacy.erase(self.people[role].id)
                await self.recipe(role)
                assert await self.who(role) == self.baseline[role], f"cannot restore {role}"
        for role, groups in self.sector_groups.items():
            for index, group in enumerate(groups):
                if await self.place(group.id, "supergroup") != self.places[group.id]:
                    self.repairs.append(f"{after}: sector group of {role}")
                    mark = self.emu.mark()
                    self.people["official"].send_command(
                        "/lier_secteur", args=self.sector_name(role, index), chat=group)
                    await group.wait_for(text=self.sector_name(role, index), since=mark)
                    assert await self.place(group.id, "supergroup") == self.places[group.id]


# --- playing the rows ------------------------------------------------------------------------

@dataclass
class Matrix:
    rows: list[Row]
    results: list[Result]
    unregistered: list[str]
    uncovered_patterns: list[str]
    stale_rows: list[str]
    errors: list[str]
    repairs: list[str]
    emulator_errors: list[str]
    updates: int
    seconds: float
    messages: int = 0  # sent by the bot, through PTB's limiter of 30 a second (and the outbox)

    def problems(self) -> list[str]:
        found = [f"no matrix row for the button pattern {p!r}: add one to button_rows() in "
                 f"bench/permission_matrix.py" for p in self.uncovered_patterns]
        found += [f"row {r!r} matches no registered button pattern" for r in self.stale_rows]
        found += [f"{r.row} by {ROLE_NAMES[r.role]} in a {KIND_TITLES[r.kind]}: expected "
                  f"{'to act' if r.expected else 'a refusal'}, got {r.observed} ({r.answer})"
                  + ("" if r.offered is None else f", button offered: {r.offered}")
                  for r in self.results if r.mismatch]
        found += [f"{r.row} by {ROLE_NAMES[r.role]} in a {KIND_TITLES[r.kind]}: refused with "
                  f"{r.answer}, permissions say {r.expected_refusal}"
                  for r in self.results if r.wrong_refusal]
        found += [f"logged error: {e}" for e in self.errors]
        found += [f"emulator error: {e}" for e in self.emulator_errors]
        return found

    def table(self) -> str:
        width = 3 * len(ROLES)
        head = "".join(f"{KIND_TITLES[k]:<{width + 2}}" for k in KINDS)
        codes = "  ".join("".join(f"{CODES[r]:<3}" for r in ROLES) for _ in KINDS)
        label = max(len(row.label) for row in self.rows) + 2
        lines = [
            "Permission matrix: ✓ acted, · refused; ✗ differs from permissions.check, "
            "∅ no answer, ! error",
            "  " + ", ".join(f"{CODES[r]} {ROLE_NAMES[r]}" for r in ROLES),
            "",
            " " * label + head,
            " " * label + codes,
        ]
        by_row: dict[str, dict[tuple[str, str], Result]] = {}
        for result in self.results:
            by_row.setdefault(result.row, {})[(result.kind, result.role)] = result
        for row in self.rows:
            cells = by_row.get(row.label, {})
            parts = []
            for kind in KINDS:
                parts.append("".join(f"{self.mark(cells.get((kind, role))):<3}"
                                     for role in ROLES))
            note = "" if row.registered else "   (no handler yet: unknown command)"
            lines.append(f"{row.label:<{label}}" + "  ".join(parts) + note)
        lines.append("")
        acted = sum(r.observed == "acted" for r in self.results)
        lines.append(f"{len(self.results)} cells ({len(self.rows)} rows × {len(ROLES)} roles × "
                     f"{len(KINDS)} chat kinds): {acted} acted, {len(self.results) - acted} "
                     f"refused; {len(self.problems())} problem(s); {self.updates} updates in "
                     f"{self.seconds:.1f} s; the bot sent {self.messages} messages, "
                     f"{self.messages / 30:.0f} s at the 30 a second PTB allows it")
        return "\n".join(lines)

    @staticmethod
    def mark(result: Result | None) -> str:
        if result is None:
            return "?"
        if result.observed == "error":
            return "!"
        if result.observed == "silent":
            return "∅"
        if result.mismatch or result.wrong_refusal:
            return "✗"
        return "✓" if result.observed == "acted" else "·"


class Player:
    def __init__(self, world: World, rows: dict[str, Row]) -> None:
        self.world = world
        self.rows = rows
        self.results: list[Result] = []
        self.step = 0
        self.updates = 0

    async def flow(self, steps: list[str | Drive]) -> None:
        world = self.world
        start = world.emu.mark()
        in_private: set[str] = set()
        for item in steps:
            if isinstance(item, Drive):
                for role in ROLES:
                    world.people[role].send_text(item.text)
                self.updates += len(ROLES)
                await world.settle()
                continue
            results = await self.row(self.rows[item], start)
            in_private |= {r.role for r in results if r.kind == "private"
                           and r.observed == "acted"}
        await world.cancel_conversations(in_private)
        await world.repair(after=str(steps[0]))

    async def row(self, row: Row, start: Mark) -> list[Result]:
        world, step = self.world, self.step
        self.step += 1
        cells = world.cells(step)
        targets = {cell: await row.build(world, cell, step) for cell in cells}
        await world.drain()  # a subject launched as a broadcast sends its copies first
        plans = []
        for cell in cells:
            target = targets[cell]
            actor, _ = await actor_of(world.svc, world.app.bot, cell.person.id, cell.chat_id)  # type: ignore[union-attr]
            chat_type = "private" if cell.group is None else "supergroup"
            place = await world.place(cell.chat_id, chat_type)
            action = GROUP_ACTIONS.get(row.action, row.action) if cell.group else row.action
            decision = check(actor, action, place, target.sector_id, target.owner_id)
            offered_on = self.offered(cell, target, start) if row.state_only else None
            expected, refusal = decision.allowed, decision.reason
            if not row.registered:
                expected, refusal = False, "fallback.unknown_command"
            elif row.state_only and offered_on is None:
                expected, refusal = False, "fallback.stale_button"
            plans.append((cell, target, expected, refusal, offered_on))
        mark = world.emu.mark()
        queries: dict[Cell, str] = {}
        # Groups first: a cell in private may change the person (the stranger who accepts
        # the charter), and each row's expectations were read before any cell was sent.
        for cell, target, _, _, offered_on in sorted(plans, key=lambda p: p[0].group is None):
            if row.kind == "command":
                assert row.command is not None
                cell.person.send_command(f"/{row.command.name}", args=target.data or None,
                                         chat=cell.group)
            else:
                message_id = offered_on or world.anchors[cell.chat_id]
                queries[cell] = cell.person.press_data(target.data, message_id,
                                                       chat=cell.group)["id"]
        self.updates += len(plans)
        await world.settle()
        answers = {a["callback_query_id"]: a for a in world.emu.callback_answers}
        results = []
        for cell, _target, expected, refusal, offered_on in plans:
            said = [m.content for m in world.since(cell.chat_id, mark)]  # one read per cell
            observed, answer = "silent", ""
            if any(text in ERRORS for text in said):
                observed, answer = "error", "errors.generic"
            elif row.kind == "button":
                reply = answers.get(queries[cell])
                if reply is not None:
                    text = reply.get("text") or ""
                    observed = "refused" if text in REFUSALS else "acted"
                    answer = REFUSALS.get(text, text[:40])
            else:
                refusals = [REFUSALS[text] for text in said if text in REFUSALS]
                if refusals:
                    observed, answer = "refused", refusals[0]
                elif said:
                    observed, answer = "acted", said[0][:40]
            results.append(Result(row.label, cell.role, cell.kind, expected, observed, answer,
                                  refusal, None if not row.state_only else offered_on is not None))
        self.results += results
        return results

    def offered(self, cell: Cell, target: Target, start: Mark) -> int | None:
        """The newest bot message in the cell's chat, since the flow began, with this very
        button: conversation steps are pressed there."""
        for message in reversed(self.world.since(cell.chat_id, start)):
            for line in (message.reply_markup or {}).get("inline_keyboard", []):
                if any(button.get("callback_data") == target.data for button in line):
                    return int(message.message_id)
        return None


def plan(app: Application) -> tuple[list[Row], list[list[str | Drive]], Matrix]:  # type: ignore[type-arg]
    commands, patterns = registered(app)
    rows = command_rows()
    for row in rows:
        assert row.command is not None
        row.registered = bool(set(row.command.names) & commands)
    stale: list[str] = []
    covered: set[str] = set()
    for row in button_rows():
        matching = [p for p in patterns if re.fullmatch(p, row.sample)]
        if not matching:
            stale.append(row.label)
            continue
        row.pattern = matching[0]
        row.state_only = patterns[row.pattern]
        covered.add(row.pattern)
        rows.append(row)
    by_label = {row.label: row for row in rows}
    flows = [[step for step in flow if isinstance(step, Drive) or step in by_label]
             for flow in FLOWS]
    in_flows = {step for flow in flows for step in flow if isinstance(step, str)}
    ordered: list[list[str | Drive]] = []
    for row in rows:
        if row.label in in_flows:
            ordered += [flow for flow in flows if flow and flow[0] == row.label]
        else:
            ordered.append([row.label])
    order = [s for flow in ordered for s in flow if isinstance(s, str)]
    rows.sort(key=lambda r: order.index(r.label))
    unregistered = [row.label for row in rows if not row.registered]
    empty = Matrix(rows, [], unregistered, sorted(set(patterns) - covered), stale, [], [], [],
                   0, 0.0)
    return rows, ordered, empty


async def run_matrix(folder: Path) -> Matrix:
    """Build the commune, play every row, and return the matrix (nothing asserted here)."""
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    began = time.monotonic()
    try:
        with TelegramEmulator(limits=Limits.off()) as emu:
            people = {role: emu.create_user(role.replace("_", " ").title(), language_code="fr")
                      for role in ROLES}
            world = World(emu, people, emu.create_user("Greffier", language_code="fr"))
            settings = local_settings(emu, folder / "matrix.db", 100.0, {
                "commune": {"name": "Saint-Exemple"},
                "sectors": [{"name": name} for name in World.sector_names()],
                "roles": {"officials": [people["official"].id],
                          "admins": [people["admin"].id],
                          "liaison_chat_id": people["liaison"].id},
                "outbox": {"poll_interval_seconds": 0.02, "base_backoff_seconds": 0.1},
            })
            async with running(build_application(settings)) as app:
                rows, flows, matrix = plan(app)
                await world.setup(app)
                player = Player(world, {row.label: row for row in rows})
                for flow in flows:
                    await player.flow(flow)
                matrix.results = player.results
                matrix.updates = player.updates
                matrix.repairs = world.repairs
            matrix.messages = sum(count for method, count in emu.stats.calls.items()
                                  if method.startswith("send") and method != "sendChatAction")
            matrix.emulator_errors = emu.internal_errors
    finally:
        logging.getLogger().removeHandler(errors)
    matrix.errors = errors.records
    matrix.seconds = time.monotonic() - began
    if matrix.unregistered:
        warnings.warn(f"commands without a handler yet (every cell must answer 'unknown "
                      f"command'): {', '.join(matrix.unregistered)}", stacklevel=2)
    return matrix


async def main() -> None:
    logs.configure("ERROR", "console")
    with tempfile.TemporaryDirectory() as folder:
        matrix = await run_matrix(Path(folder))
    print(matrix.table())
    for problem in matrix.problems():
        print(f"  ✗ {problem}")
