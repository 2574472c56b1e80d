"""The permission matrix engine, end to end: every command and every button, for every role,
in each kind of chat, sent through the emulator to the real bot, and compared with
`core.permissions.check` for the same person in the same place.

    tests/test_permission_matrix.py            asserts it
    python3 dev.py bench permission_matrix     prints the table (bench/permission_matrix.py)

The rows. One per command of `core.commands.COMMANDS`, and one per button kind: every
class of `core.buttons.Button.kinds` (each flow's module is imported, so all of them have
joined). `BUTTONS` says, for each kind, which action it asks for and how to point it at a
real subject; a kind missing from it stops the matrix before anything is played
(`MatrixError`), so a new button cannot be forgotten. So does a handler's pattern that no
kind produces (a callback string spelled by hand).

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
row is sent to all 24 cells at once and read back after a fence (a clerk's button press,
then every update handled: see `settle`). Buttons point at real stored subjects in the
referent's sector, made fresh for each cell (a pending join request, a report awaiting
triage, a referent role...). Conversation buttons (a step of /start, /signaler, /annonce)
act only for whom the conversation offered them: those rows are played as flows, and the
button is pressed on the message that offered it. After each flow, open conversations are
cancelled and any role a cell changed (the stranger who accepted the charter, the official
who chose a sector, the group an official unlinked) is put back as it was.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import pkgutil
import re
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telegram import Chat
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ConversationHandler

import handlers
from core import i18n
from core.buttons import Button
from core.commands import COMMANDS, Command
from core.permissions import RULES, Action, check
from core.runtime.application import build_application
from core.runtime.lifecycle import running
from core.screening import Finding
from core.services import Services, VigieApp, services_of
from core.settings import SUPPORTED_LANGUAGES
from core.streets import street_key
from core.turn import actor_of, resolve_place
from emulator import Group, Limits, Mark, Person, TelegramEmulator
from handlers.areas.buttons import AreaPick, StreetsClear, StreetsPick
from handlers.broadcast import domain as broadcasts
from handlers.broadcast.buttons import (
    ClosePoll,
    CloseSend,
    FlipSwitch,
    FollowUp,
    PickAllSectors,
    PickSector,
    RelayAlert,
    ShowPreview,
)
from handlers.broadcast.buttons import Confirm as BroadcastConfirm
from handlers.broadcast.buttons import Decision as BroadcastDecision
from handlers.broadcast.rules import Switch
from handlers.common import Language
from handlers.dashboard.buttons import JournalPage, PeriodChoice, StatsPeriod
from handlers.desk.buttons import (
    DeskExclude,
    DeskJoin,
    DeskReinstate,
    DeskRemind,
    ExcludedPage,
    ExcludeStep,
    MembersPage,
    RequestsPage,
)
from handlers.enrolment.buttons import (
    AskMove,
    CharterAnswer,
    CharterChoice,
    Confirm,
    Decision,
    JoinDecision,
    Leave,
    MoveSector,
    ReferentDecision,
    RevokeReferent,
    SectorPick,
    SkipStreet,
    StreetConfirm,
)
from handlers.moderation.buttons import (
    Contest,
    Exclusion,
    ExclusionChoice,
    Review,
    ReviewCard,
    Transmit,
    TransmitCategory,
    TransmitSend,
)
from handlers.privacy import Erase
from handlers.reports.buttons import (
    AddDetail,
    AskContact,
    Category,
    Confirmation,
    ContactAnswer,
    ContactReply,
    Dismiss,
    DismissReason,
    Emergency,
    KeepText,
    LiaisonStatus,
    PickCategory,
    PickWhen,
    Reopen,
    SetStatus,
    SkipPhoto,
    Triage,
    TriageDecision,
    WarnSector,
    When,
)
from handlers.reports.buttons import Confirm as ReportConfirm
from handlers.sectors.buttons import (
    MergeInto,
    SectorConfirm,
    SectorMenu,
    SectorOp,
    SectorRestore,
    SectorTarget,
)
from handlers.staff.buttons import (
    AppointAdmin,
    AppointOfficial,
    DismissStep,
    PickLiaison,
    StaffDismiss,
    StaffRefresh,
)
from handlers.tips.buttons import TipTopic
from handlers.tips.catalogue import Topic
from storage import ModerationAction, NewBroadcast, NewReport, Report
from storage.statuses import (
    BroadcastKind,
    ModerationKind,
    OutboxStatus,
    PersonStatus,
    ReportStatus,
    StaffRole,
)
from testing.local import local_settings

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
SPARE = "Q-ailleurs"  # the other sector of the "referent of another sector"
# In a group, /signaler (replying to a message) flags that message: another action.
GROUP_ACTIONS = {Action.REPORT: Action.FLAG_MESSAGE}
REFUSAL_KEYS = sorted({rule.refusal for rule in RULES.values()}
                      | {"denied.private_only", "denied.wrong_chat", "fallback.stale_button",
                         "fallback.unknown_command"})
SCREENED_TEXT = "Un homme rôde rue des Lilas, rappelez-moi au 06 12 34 56 78"
NOTICE_TEXT = "Réunion publique sur la tranquillité du quartier jeudi à 18 h."


def texts(key: str, **values: Any) -> set[str]:
    return {i18n.t(language, key, **values) for language in SUPPORTED_LANGUAGES}


REFUSALS = {i18n.t(language, key): key for language in SUPPORTED_LANGUAGES
            for key in REFUSAL_KEYS}
ERRORS = texts("errors.generic")
HELP_TITLE = i18n.t("fr", "help.title")


class MatrixError(AssertionError):
    """The matrix cannot be played as it stands: a button kind or a handler it does not
    know. Raised before anything is sent."""


def button_kinds() -> list[type[Button]]:
    """Every button kind of the bot: each module under handlers/ is imported, so every
    class has joined `Button.kinds`, even one no flow imports yet."""
    for module in pkgutil.walk_packages(handlers.__path__, "handlers."):
        importlib.import_module(module.name)
    return sorted(Button.kinds.values(), key=lambda kind: kind.prefix)


def example(kind: type[Button]) -> Button:
    """A well-formed button of this kind (ids at 1): finds the handler's pattern."""
    return kind(**kind.example_values()[0])


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


def fixed(data: Button) -> Builder:
    async def build(world: World, cell: Cell, step: int) -> Target:
        return Target(data.pack())
    return build


@dataclass
class Row:
    label: str
    action: Action
    kind: str  # "command" or "button"
    build: Builder = nothing
    sample: str = ""  # a button's well-formed callback data: finds the handler's pattern
    command: Command | None = None
    button: type[Button] | None = None
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

def join_request(data: Callable[[int], Button]) -> Builder:
    """A pending request to join the referent's sector group; `data(request id)`."""

    async def build(world: World, cell: Cell, step: int) -> Target:
        user_id = await world.dummy()
        group = world.sector_groups["referent"][0]
        request = await world.svc.store.join_requests.open(user_id, group.id,
                                                           world.subject_sector)
        return Target(data(request.id).pack(), request.sector_id)

    return build


def referent_application(data: Callable[[int], Button]) -> Builder:
    """A pending referent application; `data(application id)`."""

    async def build(world: World, cell: Cell, step: int) -> Target:
        user_id = await world.dummy(enrolled=True)
        application_id = await world.svc.store.referent_applications.submit(
            user_id, world.subject_sector, "Je connais bien le quartier")
        assert application_id is not None
        return Target(data(application_id).pack(), world.subject_sector)

    return build


def referent_role(data: Callable[[int, int], Button]) -> Builder:
    """Someone's referent role in the referent's sector; `data(user id, sector id)`."""

    async def build(world: World, cell: Cell, step: int) -> Target:
        user_id = await world.dummy(enrolled=True)
        await world.svc.store.referents.appoint(user_id, world.subject_sector, None)
        return Target(data(user_id, world.subject_sector).pack(), world.subject_sector)

    return build


async def member_to_exclude(world: World, cell: Cell, step: int) -> Target:
    user_id = await world.dummy(enrolled=True)
    return Target(str(user_id), world.subject_sector)


async def excluded_person(world: World, cell: Cell, step: int) -> Target:
    user_id = await world.dummy()
    await world.svc.store.people.set_status(user_id, PersonStatus.EXCLUDED)
    return Target(str(user_id))


def sector_member(data: Callable[[int, int], Button]) -> Builder:
    """A member of the referent's sector, as a desk list shows them; `data(user, sector)`."""

    async def build(world: World, cell: Cell, step: int) -> Target:
        user_id = await world.dummy(enrolled=True)
        return Target(data(user_id, world.subject_sector).pack(), world.subject_sector)

    return build


def excluded_button(data: Callable[[int], Button]) -> Builder:
    """Someone excluded, as /exclus lists them; `data(user id)`."""

    async def build(world: World, cell: Cell, step: int) -> Target:
        user_id = await world.dummy()
        await world.svc.store.people.set_status(user_id, PersonStatus.EXCLUDED)
        return Target(data(user_id).pack())

    return build


def report_button(data: Callable[[int], Button], status: ReportStatus, own: bool = False
                  ) -> Builder:
    """A report of the referent's sector in `status`; `own`: the presser reported it."""

    async def build(world: World, cell: Cell, step: int) -> Target:
        reporter = None
        if own and await world.svc.store.people.get(cell.person.id) is not None:
            reporter = cell.person.id
        report = await world.report(status, reporter)
        return Target(data(report.id).pack(), report.sector_id, report.owner_id)

    return build


def own_sector(data: Callable[[int], Button]) -> Builder:
    """The presser's own sector (the spare one for those without)."""

    async def build(world: World, cell: Cell, step: int) -> Target:
        person = await world.svc.store.people.get(cell.person.id)
        sector_id = person.sector_id if person and person.sector_id else world.spare_id
        return Target(data(sector_id).pack())

    return build


def spare_sector(data: Callable[[int], Button]) -> Builder:
    async def build(world: World, cell: Cell, step: int) -> Target:
        return Target(data(world.spare_id).pack())

    return build


def subject_sector(data: Callable[[int], Button]) -> Builder:
    """The referent's sector, where every subject lives."""

    async def build(world: World, cell: Cell, step: int) -> Target:
        return Target(data(world.subject_sector).pack())

    return build


# The spare sector's street list (World.setup): typed at the sector step of /start, it is
# matched there, so "Choose myself" (StreetConfirm) is offered.
MATRIX_STREET = "Rue de la Grille Témoin"
SUBJECT_STREET = "Allée du Banc d'Essai"


def sector_with_streets(data: Callable[[int], Button]) -> Builder:
    """The referent's sector, given a street first, so /rues shows its Clear button."""

    async def build(world: World, cell: Cell, step: int) -> Target:
        await world.svc.store.sectors.set_streets(
            world.subject_sector, [(SUBJECT_STREET, street_key(SUBJECT_STREET))])
        return Target(data(world.subject_sector).pack())

    return build


def current_charter(data: Callable[[int], Button]) -> Builder:
    """The answer to the charter as it is now; `data(version)`."""

    async def build(world: World, cell: Cell, step: int) -> Target:
        return Target(data(world.svc.charter.version).pack())

    return build


def moderation_action(data: Callable[[int], Button], own: bool = False) -> Builder:
    """A text the bot removed from the referent's sector group, awaiting a referent;
    `own`: the presser wrote it (when they are known to the bot). `data(action id)`."""

    async def build(world: World, cell: Cell, step: int) -> Target:
        author = None
        if own and await world.svc.store.people.get(cell.person.id) is not None:
            author = cell.person.id
        action = await world.removal(author or await world.dummy(enrolled=True))
        return Target(data(action.id).pack(), action.sector_id, action.owner_id)

    return build


def strike(data: Callable[[int, int], Button]) -> Builder:
    """A member's strike in the referent's sector, the ladder's third step proposing their
    exclusion; `data(strike id, user id)`."""

    async def build(world: World, cell: Cell, step: int) -> Target:
        user_id = await world.dummy(enrolled=True)
        action = await world.removal(user_id)
        made = await world.svc.store.moderation.add_strike(user_id, world.subject_sector,
                                                           action.id, 86400)
        return Target(data(made.id, user_id).pack(), made.sector_id)

    return build


def broadcast_button(kind: BroadcastKind, data: Callable[[int, int], Button]) -> Builder:
    """One poll or referents-only alert per row, launched as the bot launches them (closing
    or relaying twice is answered "already done", which is acting, not refusing);
    `data(broadcast id, sector id)` is the button."""

    async def build(world: World, cell: Cell, step: int) -> Target:
        key = (kind, step)
        poll = kind == BroadcastKind.POLL
        if key not in world.broadcasts:
            sector = world.subject_sector
            new = NewBroadcast(kind=kind, author_id=world.people["official"].id,
                               body="Faut-il un éclairage rue des Lilas ?" if poll
                               else "Vols de câbles signalés cette nuit.",
                               sector_ids=[sector], options=("Oui", "Non") if poll else (),
                               referents_only=kind == BroadcastKind.ALERT)
            # The progress messages go to the clerk, away from the chats being read.
            sent = await broadcasts.launch(world.svc, new, world.clerk.id, "fr")
            world.broadcasts[key] = sent.id
        return Target(data(world.broadcasts[key], world.subject_sector).pack(),
                      world.subject_sector if kind == BroadcastKind.ALERT else None)

    return build


def command_rows() -> list[Row]:
    builders: dict[Action, Builder] = {Action.EXCLUDE: member_to_exclude,
                                       Action.REINSTATE: excluded_person}
    return [Row(f"/{cmd.name}", cmd.action, "command", builders.get(cmd.action, nothing),
                command=cmd) for cmd in COMMANDS]


# Every button kind: the action its handler is guarded by, and the button a cell presses,
# pointing at a real subject. A new kind stops the matrix until it has its line here.
BUTTONS: dict[type[Button], tuple[Action, Builder]] = {
    # everyday (handlers/common.py), the dashboard, privacy
    Language: (Action.LANGUAGE, fixed(Language("fr"))),
    StatsPeriod: (Action.STATS, fixed(StatsPeriod(PeriodChoice.WEEK))),
    JournalPage: (Action.AUDIT_LOG, fixed(JournalPage(0, None, None))),
    Erase: (Action.ERASE_MY_DATA, fixed(Erase(Confirm.NO))),
    # enrolment
    CharterChoice: (Action.ACCEPT_CHARTER,
                    current_charter(lambda v: CharterChoice(CharterAnswer.ACCEPT, v))),
    SectorPick: (Action.CHOOSE_SECTOR, spare_sector(SectorPick)),
    SkipStreet: (Action.CHOOSE_SECTOR, fixed(SkipStreet())),
    # offered once the street typed at the sector step matched the spare sector's list
    StreetConfirm: (Action.CHOOSE_SECTOR, spare_sector(lambda s: StreetConfirm(s, Confirm.NO))),
    # a sector's area and streets (handlers/areas), on the referent's sector
    AreaPick: (Action.SET_AREA, subject_sector(AreaPick)),
    StreetsPick: (Action.SET_STREETS, sector_with_streets(StreetsPick)),
    StreetsClear: (Action.SET_STREETS, sector_with_streets(StreetsClear)),
    AskMove: (Action.MY_SECTOR, fixed(AskMove())),
    MoveSector: (Action.MY_SECTOR, own_sector(MoveSector)),
    Leave: (Action.LEAVE_SCHEME, fixed(Leave(Confirm.NO))),
    JoinDecision: (Action.DECIDE_JOIN,
                   join_request(lambda r: JoinDecision(r, Decision.DECLINE))),
    ReferentDecision: (Action.DECIDE_REFERENT,
                       referent_application(lambda a: ReferentDecision(a, Decision.DECLINE))),
    RevokeReferent: (Action.MANAGE_REFERENTS, referent_role(RevokeReferent)),
    # reports
    Emergency: (Action.HELP, fixed(Emergency())),
    PickCategory: (Action.REPORT, fixed(PickCategory(Category.VEHICLE))),
    PickWhen: (Action.REPORT, fixed(PickWhen(When.NOW))),
    KeepText: (Action.REPORT, fixed(KeepText())),
    SkipPhoto: (Action.REPORT, fixed(SkipPhoto())),
    ReportConfirm: (Action.REPORT, fixed(ReportConfirm(Confirmation.CANCEL))),
    Triage: (Action.TRIAGE_REPORT, report_button(
        lambda i: Triage(i, TriageDecision.DISMISS), ReportStatus.TRIAGE)),
    Dismiss: (Action.TRIAGE_REPORT, report_button(
        lambda i: Dismiss(i, DismissReason.DUPLICATE), ReportStatus.TRIAGE)),
    SetStatus: (Action.SET_REPORT_STATUS, report_button(
        lambda i: SetStatus(i, LiaisonStatus.RECEIVED), ReportStatus.RELAYED)),
    WarnSector: (Action.WARN_SECTOR, report_button(WarnSector, ReportStatus.RELAYED)),
    AskContact: (Action.ASK_CONTACT, report_button(AskContact, ReportStatus.RELAYED)),
    ContactReply: (Action.REPORTER_ANSWER, report_button(
        lambda i: ContactReply(i, ContactAnswer.NO), ReportStatus.RELAYED, own=True)),
    # after the decision: the liaison reopens a closed report, the reporter adds a detail
    Reopen: (Action.REOPEN_REPORT, report_button(Reopen, ReportStatus.CLOSED)),
    AddDetail: (Action.ADD_DETAIL, report_button(AddDetail, ReportStatus.RELAYED, own=True)),
    # going down to the sectors: the draft's steps are guarded by the weakest of the three
    PickAllSectors: (Action.ALERT, fixed(PickAllSectors())),
    PickSector: (Action.ALERT, subject_sector(PickSector)),
    FlipSwitch: (Action.ALERT, fixed(FlipSwitch(Switch.SILENT))),
    ShowPreview: (Action.ALERT, fixed(ShowPreview())),
    BroadcastConfirm: (Action.ALERT, fixed(BroadcastConfirm(BroadcastDecision.CANCEL))),
    ClosePoll: (Action.POLL, broadcast_button(BroadcastKind.POLL, lambda b, s: ClosePoll(b))),
    RelayAlert: (Action.RELAY_ALERT, broadcast_button(BroadcastKind.ALERT, RelayAlert)),
    # an alert's author (the liaison) or the staff follows it up or closes it (/annonces)
    FollowUp: (Action.BROADCAST_FOLLOWUP,
               broadcast_button(BroadcastKind.ALERT, lambda b, s: FollowUp(b))),
    CloseSend: (Action.BROADCAST_FOLLOWUP,
                broadcast_button(BroadcastKind.ALERT, lambda b, s: CloseSend(b))),
    TipTopic: (Action.TIP, fixed(TipTopic(Topic.HOLIDAYS))),
    # moderation of the sector groups
    ReviewCard: (Action.REVIEW_REMOVAL,
                 moderation_action(lambda a: ReviewCard(a, Review.CONFIRM))),
    Contest: (Action.CONTEST_REMOVAL, moderation_action(Contest, own=True)),
    Transmit: (Action.TRANSMIT_REMOVED, moderation_action(Transmit, own=True)),
    TransmitCategory: (Action.TRANSMIT_REMOVED, moderation_action(
        lambda a: TransmitCategory(a, Category.VEHICLE), own=True)),
    TransmitSend: (Action.TRANSMIT_REMOVED, moderation_action(
        lambda a: TransmitSend(a, Category.VEHICLE, Confirmation.CANCEL), own=True)),
    Exclusion: (Action.DECIDE_EXCLUSION,
                strike(lambda s, u: Exclusion(s, u, ExclusionChoice.KEEP))),
    # the staff's desk (handlers/desk): lists, and acting on a person from them
    RequestsPage: (Action.LIST_REQUESTS, fixed(RequestsPage(0))),
    MembersPage: (Action.LIST_MEMBERS, fixed(MembersPage(0))),
    ExcludedPage: (Action.LIST_EXCLUDED, fixed(ExcludedPage(0))),
    DeskJoin: (Action.DECIDE_JOIN, join_request(lambda r: DeskJoin(r, Decision.DECLINE, 0))),
    DeskRemind: (Action.REMIND_MEMBER, sector_member(lambda u, s: DeskRemind(u, s, 0))),
    DeskExclude: (Action.EXCLUDE, sector_member(
        lambda u, s: DeskExclude(u, s, ExcludeStep.KEEP, 0))),
    DeskReinstate: (Action.REINSTATE, excluded_button(lambda u: DeskReinstate(u, 0))),
    # the team (handlers/staff): a picker opened (acting), a removal changed one's mind about
    StaffRefresh: (Action.MANAGE_STAFF, fixed(StaffRefresh())),
    AppointOfficial: (Action.APPOINT_OFFICIAL, fixed(AppointOfficial())),
    AppointAdmin: (Action.APPOINT_ADMIN, fixed(AppointAdmin())),
    PickLiaison: (Action.SET_LIAISON, fixed(PickLiaison())),
    StaffDismiss: (Action.DISMISS_STAFF,
                   fixed(StaffDismiss(1, StaffRole.OFFICIAL, DismissStep.KEEP))),
    # live administration of the sectors (handlers/sectors): each button only shows the
    # next question, or says "nothing changed" (No, or a sector already active), so the
    # world's sectors stay as they are
    SectorMenu: (Action.MANAGE_SECTORS, fixed(SectorMenu(SectorOp.RETIRE))),
    SectorTarget: (Action.MANAGE_SECTORS,
                   spare_sector(lambda s: SectorTarget(SectorOp.RETIRE, s))),
    MergeInto: (Action.MANAGE_SECTORS, subject_sector(lambda s: MergeInto(s, s))),
    SectorConfirm: (Action.MANAGE_SECTORS, spare_sector(
        lambda s: SectorConfirm(SectorOp.RETIRE, s, None, Confirm.NO))),
    SectorRestore: (Action.MANAGE_SECTORS, spare_sector(SectorRestore)),
}

def button_rows() -> list[Row]:
    """One row per button kind; raises if a kind has no line in `BUTTONS`."""
    kinds = button_kinds()
    unknown = [kind for kind in kinds if kind not in BUTTONS]
    if unknown:
        raise MatrixError("button kinds the permission matrix does not know: " + ", ".join(
            f"{kind.__module__}.{kind.__name__} ({kind.prefix!r})" for kind in unknown)
            + ". Add each to BUTTONS in testing/permission_matrix.py: the action its "
            "handler is guarded by, and how to point it at a real subject.")
    return [Row(kind.prefix, *BUTTONS[kind][:1], "button", BUTTONS[kind][1],
                example(kind).pack(), button=kind) for kind in kinds]


Step = str | type[Button] | Drive
# A command and the buttons it leads to are played in order, as a person would. A step
# names a row by its command ("/start") or its button kind.
FLOWS: list[list[Step]] = [
    ["/start", CharterChoice, Drive(MATRIX_STREET), StreetConfirm, SectorPick, SkipStreet],
    ["/signaler", Emergency, PickCategory, PickWhen, Drive(SCREENED_TEXT), KeepText,
     Drive(i18n.t("fr", "reports.skip")), SkipPhoto, ReportConfirm],
    ["/secteur", AskMove, MoveSector],
    ["/quitter", Leave],
    ["/supprimer_mes_donnees", Erase],
    ["/langue", Language],
    ["/referents", RevokeReferent],
    ["/zone", AreaPick],  # the file step is left with /annuler
    ["/rues", StreetsPick, StreetsClear],
    ["/annonce", Drive(NOTICE_TEXT), PickAllSectors, PickSector, FlipSwitch, ShowPreview,
     BroadcastConfirm],
    ["/resultats", ClosePoll],
    ["/annonces", FollowUp],  # a follow-up's text step is left with /annuler
    ["/stats", StatsPeriod],
    ["/journal", JournalPage],
    ["/conseil", TipTopic],
]


def label_of(step: str | type[Button]) -> str:
    return step if isinstance(step, str) else step.prefix


# --- the application's own list of handlers ----------------------------------------------

Handler = BaseHandler[Any, Any, Any]


def _walk(found: Sequence[Handler], where: str) -> Iterator[tuple[Handler, str]]:
    for handler in found:
        if isinstance(handler, ConversationHandler):
            yield from _walk(list(handler.entry_points), "entry")
            for steps in handler.states.values():
                yield from _walk(list(steps), "state")
            yield from _walk(list(handler.fallbacks), "fallback")
        else:
            yield handler, where


def registered(app: VigieApp) -> tuple[set[str], dict[str, bool]]:
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
    app: VigieApp | None = None
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

    async def setup(self, app: VigieApp) -> None:
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
        await self.svc.store.sectors.set_streets(
            self.spare_id, [(MATRIX_STREET, street_key(MATRIX_STREET))])
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
        for linked in self.sector_groups.values():
            for group in linked:
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
            await store.people.set_status(user_id, PersonStatus.REFUSED)
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

    async def report(self, status: ReportStatus, reporter: int | None) -> Report:
        return await self.svc.store.reports.create(
            NewReport(reporter_id=reporter or await self.dummy(enrolled=True),
                      sector_id=self.subject_sector, category="vehicle", occurred="today",
                      description="Une camionnette blanche fait le tour du lotissement"),
            status, time.time() + 86400)

    async def removal(self, author_id: int) -> ModerationAction:
        """A text the bot removed from the referent's sector group, kept for the referents
        (and for its author, who may pass it on to the gendarmerie)."""
        text = "Le voisin du 12 est un voleur, tout le monde le sait"
        action = await self.svc.store.moderation.record(
            sector_id=self.subject_sector, chat_id=self.sector_groups["referent"][0].id,
            message_id=None, author_id=author_id, kind=ModerationKind.REMOVED,
            findings=[Finding.NAMED_PERSON], text=text, author_text=text)
        assert action is not None
        return action

    async def who(self, role: str) -> tuple[Any, str | None]:
        assert self.app is not None
        actor, person = await actor_of(self.svc, self.app.bot, self.people[role].id)
        return actor, person.language if person else None

    async def place(self, chat_id: int, chat_type: str) -> Any:
        return await resolve_place(self.svc, Chat(chat_id, chat_type))

    # -- reading the chats --

    def since(self, chat_id: int, mark: Mark) -> list[Any]:
        last = mark.last_message_ids.get(chat_id, 0)
        return [m for m in self.emu.sent(chat_id) if m.message_id > last]

    async def settle(self) -> None:
        """Every update sent so far has been handled (the clerk's button press, sent last,
        is answered; then Telegram holds nothing unconfirmed and the inbox nothing not done:
        chats are handled side by side, so one chat's answer alone proves nothing about
        the others), and the outbox is idle. A button's answer is free, where a message
        would count against the 30 a second PTB allows the bot."""
        if self.fence_message is None:
            mark = self.emu.mark()
            self.clerk.send_command("/aide")
            self.fence_message = (await self.clerk.wait_for(text=HELP_TITLE, since=mark,
                                                            timeout=60)).message_id
        query = self.clerk.press_data("fence", self.fence_message)["id"]
        await self.emu.wait_until(lambda: any(
            a["callback_query_id"] == query for a in reversed(self.emu.callback_answers)),
            timeout=60)
        deadline = time.monotonic() + 60
        while self.emu.pending_updates() or (await self.svc.store.inbox.counts())["pending"]:
            if time.monotonic() > deadline:
                raise TimeoutError("updates still not handled after 60 s")
            await asyncio.sleep(0.02)
        await self.drain()

    async def drain(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            counts = await self.svc.store.outbox.counts()
            if not counts.get(OutboxStatus.PENDING) and not counts.get(OutboxStatus.SENDING):
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
        found = [f"the button pattern {p!r} is spelled by hand: make it a core.buttons.Button "
                 "class, and give the class its line in BUTTONS (testing/permission_matrix.py)"
                 for p in self.uncovered_patterns]
        found += [f"button kind {r!r}: no registered handler's pattern matches its data"
                  for r in self.stale_rows]
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
            assert world.app is not None
            actor, _ = await actor_of(world.svc, world.app.bot, cell.person.id, cell.chat_id)
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
            reply = answers.get(queries[cell]) if row.kind == "button" else None
            observed, answer = self.observe(row, said, reply)
            results.append(Result(row.label, cell.role, cell.kind, expected, observed, answer,
                                  refusal, None if not row.state_only else offered_on is not None))
        self.results += results
        return results

    @staticmethod
    def observe(row: Row, said: list[str], reply: dict[str, Any] | None) -> tuple[str, str]:
        """(acted, refused, silent or error; the refusal's key or the start of the answer)
        from what the cell's chat received and, for a button, the answer to the press."""
        if any(text in ERRORS for text in said):
            return "error", "errors.generic"
        if row.kind == "button":
            if reply is None:
                return "silent", ""
            text = reply.get("text") or ""
            return ("refused" if text in REFUSALS else "acted"), REFUSALS.get(text, text[:40])
        refusals = [REFUSALS[text] for text in said if text in REFUSALS]
        if refusals:
            return "refused", refusals[0]
        return ("acted", said[0][:40]) if said else ("silent", "")

    def offered(self, cell: Cell, target: Target, start: Mark) -> int | None:
        """The newest bot message in the cell's chat, since the flow began, with this very
        button: conversation steps are pressed there."""
        for message in reversed(self.world.since(cell.chat_id, start)):
            for line in (message.reply_markup or {}).get("inline_keyboard", []):
                if any(button.get("callback_data") == target.data for button in line):
                    return int(message.message_id)
        return None


def plan(app: VigieApp) -> tuple[list[Row], list[list[str | Drive]], Matrix]:
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
        covered.update(matching)
        rows.append(row)
    by_label = {row.label: row for row in rows}
    flows: list[list[str | Drive]] = [
        [step if isinstance(step, Drive) else label_of(step) for step in flow
         if isinstance(step, Drive) or label_of(step) in by_label] for flow in FLOWS]
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
