"""Who may do what, where. The only place that decides; every handler and button asks it.

An `Actor` is a person as the server knows them (never as a button or a message claims);
a `Place` is the chat they act in. `RULES` maps each action to the chats where it makes
sense and the people allowed there. A refusal carries a catalogue key saying why, so the
person is told politely what to do instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

# What the bot itself must be allowed to do in a sector group (Telegram's administrator
# rights), with the catalogue key naming each: asked when a group is linked
# (handlers/enrolment/groups.py) and checked by `vigie check` (core/runtime/check.py).
BOT_RIGHTS_IN_SECTOR_GROUP = {
    "can_invite_users": "groups.right_invite",
    "can_restrict_members": "groups.right_restrict",
    "can_delete_messages": "groups.right_delete",
    "can_pin_messages": "groups.right_pin",
}


class ChatKind(StrEnum):
    PRIVATE = "private"
    GROUP = "group"  # a group that is not linked to a sector
    SECTOR_GROUP = "sector_group"
    LIAISON_CHAT = "liaison_chat"


@dataclass(frozen=True)
class Actor:
    user_id: int
    status: str  # "stranger" when the bot has never met them, else people.status
    charter_current: bool
    sector_id: int | None
    referent_of: frozenset[int]
    is_liaison: bool
    is_official: bool
    is_admin: bool

    @property
    def is_member(self) -> bool:
        return self.status == "enrolled" and self.charter_current and self.sector_id is not None

    @property
    def is_staff(self) -> bool:
        """Officials and admins run the scheme for the whole commune."""
        return self.is_official or self.is_admin

    def roles(self) -> list[str]:
        names = [self.status]
        names += ["referent"] if self.referent_of else []
        names += ["liaison"] if self.is_liaison else []
        names += ["official"] if self.is_official else []
        names += ["admin"] if self.is_admin else []
        return names


@dataclass(frozen=True)
class Place:
    chat_id: int
    kind: ChatKind
    sector_id: int | None = None
    owner_id: int | None = None  # whose thing the action is about, when it is someone's


class Action(StrEnum):
    HELP = "help"
    START = "start"
    CANCEL = "cancel"
    LANGUAGE = "language"
    ACCEPT_CHARTER = "accept_charter"
    CHOOSE_SECTOR = "choose_sector"
    MY_SECTOR = "my_sector"
    LEAVE_SCHEME = "leave_scheme"
    APPLY_REFERENT = "apply_referent"
    DECIDE_JOIN = "decide_join"
    DECIDE_REFERENT = "decide_referent"
    MANAGE_REFERENTS = "manage_referents"
    REPORT = "report"
    MY_REPORTS = "my_reports"
    TRIAGE_REPORT = "triage_report"
    SET_REPORT_STATUS = "set_report_status"
    WARN_SECTOR = "warn_sector"
    ASK_CONTACT = "ask_contact"
    REPORTER_ANSWER = "reporter_answer"
    REOPEN_REPORT = "reopen_report"
    ADD_DETAIL = "add_detail"
    FLAG_MESSAGE = "flag_message"
    PRIVACY_NOTICE = "privacy_notice"
    MY_DATA = "my_data"
    ERASE_MY_DATA = "erase_my_data"
    EXCLUDE = "exclude"
    REINSTATE = "reinstate"
    MODERATION_LOG = "moderation_log"
    REVIEW_REMOVAL = "review_removal"
    CONTEST_REMOVAL = "contest_removal"
    TRANSMIT_REMOVED = "transmit_removed"
    DECIDE_EXCLUSION = "decide_exclusion"
    LINK_SECTOR = "link_sector"
    UNLINK_SECTOR = "unlink_sector"
    BROADCAST = "broadcast"
    BROADCAST_HISTORY = "broadcast_history"
    ALERT = "alert"
    RELAY_ALERT = "relay_alert"
    POLL = "poll"
    POLL_RESULTS = "poll_results"
    BROADCAST_FOLLOWUP = "broadcast_followup"
    TIP = "tip"
    MANAGE_TIPS = "manage_tips"
    STATS = "stats"
    ANNUAL_REPORT = "annual_report"
    EXPORT = "export"
    AUDIT_LOG = "audit_log"
    PAPERWORK = "paperwork"
    LIST_REQUESTS = "list_requests"
    LIST_MEMBERS = "list_members"
    LIST_EXCLUDED = "list_excluded"
    REMIND_MEMBER = "remind_member"
    SHOW_ID = "show_id"
    SET_AREA = "set_area"
    SET_STREETS = "set_streets"
    MANAGE_STAFF = "manage_staff"
    APPOINT_OFFICIAL = "appoint_official"
    APPOINT_ADMIN = "appoint_admin"
    DISMISS_STAFF = "dismiss_staff"
    SET_LIAISON = "set_liaison"
    MANAGE_SECTORS = "manage_sectors"


Who = Callable[[Actor, Place], bool]


def anyone(actor: Actor, place: Place) -> bool:
    return True


def staff(actor: Actor, place: Place) -> bool:
    return actor.is_staff


def met(actor: Actor, place: Place) -> bool:
    """Someone who has started the bot and not been excluded."""
    return actor.status not in ("stranger", "excluded")


def known(actor: Actor, place: Place) -> bool:
    return actor.status != "stranger"


def member(actor: Actor, place: Place) -> bool:
    return actor.is_member


def referent_here_or_staff(actor: Actor, place: Place) -> bool:
    return actor.is_staff or (place.sector_id is not None and place.sector_id in actor.referent_of)


def owner(actor: Actor, place: Place) -> bool:
    return place.owner_id is not None and actor.user_id == place.owner_id


def liaison(actor: Actor, place: Place) -> bool:
    """The gendarmerie: the liaison user, or anyone acting inside the liaison chat."""
    return actor.is_liaison or place.kind is ChatKind.LIAISON_CHAT


def staff_or_liaison(actor: Actor, place: Place) -> bool:
    return actor.is_staff or liaison(actor, place)


def any_referent_or_above(actor: Actor, place: Place) -> bool:
    """Referents see their own sector's figures; the handler narrows what they get."""
    return bool(actor.referent_of) or staff_or_liaison(actor, place)


def admin(actor: Actor, place: Place) -> bool:
    return actor.is_admin


def any_referent_or_staff(actor: Actor, place: Place) -> bool:
    """Referents (the handler narrows to their sectors) and officials (every sector)."""
    return bool(actor.referent_of) or actor.is_staff


def private_or_referent_here(actor: Actor, place: Place) -> bool:
    """/id: anyone for themselves in private; in a group, its referents and the staff."""
    return place.kind is ChatKind.PRIVATE or referent_here_or_staff(actor, place)


@dataclass(frozen=True)
class Rule:
    chats: frozenset[ChatKind]
    who: Who
    refusal: str  # catalogue key shown when `who` says no


PRIVATE = frozenset({ChatKind.PRIVATE})
GROUPS = frozenset({ChatKind.GROUP, ChatKind.SECTOR_GROUP})
EVERYWHERE = frozenset(ChatKind)

RULES: dict[Action, Rule] = {
    Action.HELP: Rule(EVERYWHERE, anyone, "denied.generic"),
    Action.START: Rule(PRIVATE, anyone, "denied.generic"),
    Action.CANCEL: Rule(PRIVATE, anyone, "denied.generic"),
    Action.LANGUAGE: Rule(PRIVATE, anyone, "denied.generic"),
    Action.ACCEPT_CHARTER: Rule(PRIVATE, lambda a, p: a.status != "excluded", "denied.excluded"),
    Action.CHOOSE_SECTOR: Rule(PRIVATE, lambda a, p: a.charter_current and met(a, p),
                               "denied.charter_first"),
    Action.MY_SECTOR: Rule(PRIVATE, member, "denied.members_only"),
    Action.LEAVE_SCHEME: Rule(PRIVATE, met, "denied.not_enrolled"),
    Action.APPLY_REFERENT: Rule(PRIVATE, member, "denied.members_only"),
    # Join-request cards are pressed wherever the card was sent (a referent's private chat).
    Action.DECIDE_JOIN: Rule(EVERYWHERE, referent_here_or_staff, "denied.referents_only"),
    Action.DECIDE_REFERENT: Rule(EVERYWHERE, staff, "denied.officials_only"),
    Action.MANAGE_REFERENTS: Rule(PRIVATE, staff, "denied.officials_only"),
    Action.REPORT: Rule(PRIVATE, member, "denied.report_members_only"),
    Action.MY_REPORTS: Rule(PRIVATE, met, "denied.not_enrolled"),
    # Triage cards are pressed in the referent's private chat: the report names the sector.
    Action.TRIAGE_REPORT: Rule(EVERYWHERE, referent_here_or_staff, "denied.referents_only"),
    Action.SET_REPORT_STATUS: Rule(EVERYWHERE, liaison, "denied.liaison_only"),
    Action.WARN_SECTOR: Rule(EVERYWHERE, lambda a, p: liaison(a, p) or referent_here_or_staff(
        a, p), "denied.referents_only"),
    Action.ASK_CONTACT: Rule(EVERYWHERE, liaison, "denied.liaison_only"),
    # The reporter answers a question about their own report (contact consent, a detail).
    Action.REPORTER_ANSWER: Rule(PRIVATE, owner, "denied.not_yours"),
    # The liaison reopens a closed report (its card's Rouvrir, then the reason as a reply);
    # the reporter adds a detail to their own open report (/mes_signalements).
    Action.REOPEN_REPORT: Rule(EVERYWHERE, liaison, "denied.liaison_only"),
    Action.ADD_DETAIL: Rule(PRIVATE, owner, "denied.not_yours"),
    # A referent replies /signaler to a message in their sector group to pass it on.
    Action.FLAG_MESSAGE: Rule(frozenset({ChatKind.SECTOR_GROUP}), referent_here_or_staff,
                              "denied.referents_only"),
    Action.PRIVACY_NOTICE: Rule(PRIVATE, anyone, "denied.generic"),
    # Every person the bot knows, excluded ones included, may see and erase their data.
    Action.MY_DATA: Rule(PRIVATE, known, "denied.nothing_stored"),
    Action.ERASE_MY_DATA: Rule(PRIVATE, known, "denied.nothing_stored"),
    # In a sector group, as a reply (referents of that sector); in private, by id.
    Action.EXCLUDE: Rule(frozenset({ChatKind.PRIVATE, ChatKind.SECTOR_GROUP}),
                         referent_here_or_staff, "denied.referents_only"),
    Action.REINSTATE: Rule(PRIVATE, staff, "denied.officials_only"),
    # Moderation in the sector groups (handlers/moderation): /moderation in private for
    # referents (their sectors) and officials; the removal, media and exclusion cards are
    # pressed in a referent's private chat and name their sector; the author contests a
    # removal, or passes their removed text to the gendarmerie, from their own notice.
    Action.MODERATION_LOG: Rule(PRIVATE, lambda a, p: bool(a.referent_of) or a.is_staff,
                                "denied.referents_only"),
    Action.REVIEW_REMOVAL: Rule(EVERYWHERE, referent_here_or_staff, "denied.referents_only"),
    Action.CONTEST_REMOVAL: Rule(PRIVATE, owner, "denied.not_yours"),
    Action.TRANSMIT_REMOVED: Rule(PRIVATE, owner, "denied.not_yours"),
    Action.DECIDE_EXCLUSION: Rule(EVERYWHERE, referent_here_or_staff, "denied.referents_only"),
    Action.LINK_SECTOR: Rule(GROUPS, staff, "denied.officials_only"),
    Action.UNLINK_SECTOR: Rule(frozenset({ChatKind.SECTOR_GROUP}), staff, "denied.officials_only"),
    Action.BROADCAST: Rule(PRIVATE, staff, "denied.officials_only"),
    Action.BROADCAST_HISTORY: Rule(PRIVATE, staff_or_liaison, "denied.liaison_or_officials"),
    Action.ALERT: Rule(PRIVATE, staff_or_liaison, "denied.liaison_or_officials"),
    # Pressed in the referent's private chat: the alert's copy names the referent's sector.
    Action.RELAY_ALERT: Rule(EVERYWHERE, referent_here_or_staff, "denied.referents_only"),
    Action.POLL: Rule(PRIVATE, staff, "denied.officials_only"),
    Action.POLL_RESULTS: Rule(PRIVATE, staff_or_liaison, "denied.liaison_or_officials"),
    # A follow-up to a notice or an alert, or closing it, from /annonces: the handler asks
    # again for the kind's own action (a notice is the officials', an alert the liaison's too).
    Action.BROADCAST_FOLLOWUP: Rule(PRIVATE, staff_or_liaison, "denied.liaison_or_officials"),
    # Prevention advice is public information: anyone writing to the bot may have some.
    Action.TIP: Rule(PRIVATE, anyone, "denied.generic"),
    Action.MANAGE_TIPS: Rule(PRIVATE, staff, "denied.officials_only"),
    Action.STATS: Rule(PRIVATE, any_referent_or_above, "denied.stats_only"),
    Action.ANNUAL_REPORT: Rule(PRIVATE, staff_or_liaison, "denied.liaison_or_officials"),
    Action.EXPORT: Rule(PRIVATE, staff_or_liaison, "denied.liaison_or_officials"),
    Action.AUDIT_LOG: Rule(PRIVATE, admin, "denied.admins_only"),
    Action.PAPERWORK: Rule(PRIVATE, staff, "denied.officials_only"),
    # The staff's desk (handlers/desk): referents list their own sectors, officials all;
    # a reminder is sent to a member of the presser's sector (the button names it).
    Action.LIST_REQUESTS: Rule(PRIVATE, any_referent_or_staff, "denied.referents_only"),
    Action.LIST_MEMBERS: Rule(PRIVATE, any_referent_or_staff, "denied.referents_only"),
    Action.LIST_EXCLUDED: Rule(PRIVATE, any_referent_or_staff, "denied.referents_only"),
    Action.REMIND_MEMBER: Rule(PRIVATE, referent_here_or_staff, "denied.referents_only"),
    Action.SHOW_ID: Rule(EVERYWHERE, private_or_referent_here, "denied.referents_only"),
    # A sector's area (a GeoJSON file) and its street list (handlers/areas), in private.
    Action.SET_AREA: Rule(PRIVATE, staff, "denied.officials_only"),
    Action.SET_STREETS: Rule(PRIVATE, staff, "denied.officials_only"),
    # The commune's staff and its liaison chat (handlers/staff, /equipe): officials see it
    # and may appoint another official (the council shares the follow-up of the scheme);
    # dismissing anyone, the administrators and the liaison chat are the mairie's
    # administrator's, who answers for who holds the keys and where the reports go.
    Action.MANAGE_STAFF: Rule(PRIVATE, staff, "denied.officials_only"),
    Action.APPOINT_OFFICIAL: Rule(PRIVATE, staff, "denied.officials_only"),
    Action.APPOINT_ADMIN: Rule(PRIVATE, admin, "denied.admins_only"),
    Action.DISMISS_STAFF: Rule(PRIVATE, admin, "denied.admins_only"),
    Action.SET_LIAISON: Rule(PRIVATE, admin, "denied.admins_only"),
    # Live administration of the sectors (handlers/sectors): add, rename, retire, merge.
    Action.MANAGE_SECTORS: Rule(PRIVATE, staff, "denied.officials_only"),
}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str | None = None  # catalogue key

    def __bool__(self) -> bool:
        return self.allowed


def check(actor: Actor, action: Action, place: Place, sector_id: int | None = None,
          owner_id: int | None = None) -> Decision:
    """May `actor` do `action` in `place`? `sector_id` names the sector the action concerns
    when it is not the chat's own (a join request's card pressed in a private chat);
    `owner_id`, whose report (or other thing) it is."""
    rule = RULES[action]
    place = Place(place.chat_id, place.kind,
                  place.sector_id if sector_id is None else sector_id, owner_id)
    if place.kind not in rule.chats:
        reason = "denied.private_only" if rule.chats == PRIVATE else "denied.wrong_chat"
        return Decision(False, reason)
    if not rule.who(actor, place):
        return Decision(False, rule.refusal)
    return Decision(True)


def allowed_actions(actor: Actor, place: Place) -> list[Action]:
    """What this person may do here: drives /aide and the command menus. Without an
    owner, no rule looks at an id (they compare `user_id` with `owner_id` only), so people
    of the same standing in the same kind of chat share one answer, worked out once."""
    return list(_allowed(replace(actor, user_id=0), Place(0, place.kind, place.sector_id)))


@functools.lru_cache(maxsize=1024)
def _allowed(actor: Actor, place: Place) -> tuple[Action, ...]:
    return tuple(action for action in Action if check(actor, action, place))
