"""The authority table itself: every action, for every role, in every kind of chat.

A pure check of core.permissions (the handlers all ask it; the flows are tested end to end
elsewhere). The expected table is written out by hand, so a change to a rule must change
this file too.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.permissions import RULES, Action, Actor, ChatKind, Place, check

STRANGER = Actor(1, "stranger", False, None, frozenset(), False, False, False)
REFUSED = replace(STRANGER, status="refused")
NEWCOMER = replace(STRANGER, status="new", charter_current=True)
RESIDENT = replace(NEWCOMER, status="enrolled", sector_id=1)
REFERENT_ELSEWHERE = replace(RESIDENT, referent_of=frozenset({2}))
REFERENT = replace(RESIDENT, referent_of=frozenset({1}))
STARTED = replace(STRANGER, status="new")  # has talked to the bot, not enrolled
LIAISON = replace(STARTED, is_liaison=True)
OFFICIAL = replace(STARTED, is_official=True)
ADMIN = replace(STARTED, is_admin=True)
EXCLUDED = replace(RESIDENT, status="excluded", sector_id=None)
ROLES = {
    "stranger": STRANGER, "refused": REFUSED, "newcomer": NEWCOMER, "resident": RESIDENT,
    "referent_elsewhere": REFERENT_ELSEWHERE, "referent": REFERENT, "liaison": LIAISON,
    "official": OFFICIAL, "admin": ADMIN, "excluded": EXCLUDED,
}
PLACES = {
    "private": Place(1, ChatKind.PRIVATE),
    "group": Place(-5, ChatKind.GROUP),
    "sector_group": Place(-1, ChatKind.SECTOR_GROUP, 1),
    "liaison_chat": Place(-9, ChatKind.LIAISON_CHAT),
}
EVERYONE = set(ROLES)
STAFF = {"official", "admin"}
MET = EVERYONE - {"stranger", "excluded"}
MEMBERS = {"resident", "referent_elsewhere", "referent"}
LIAISON_ONLY = frozenset({"liaison"})

# action -> place -> who may
EXPECTED: dict[Action, dict[str, set[str]]] = {
    Action.HELP: dict.fromkeys(PLACES, EVERYONE),
    Action.START: {"private": EVERYONE},
    Action.CANCEL: {"private": EVERYONE},
    Action.LANGUAGE: {"private": EVERYONE},
    Action.ACCEPT_CHARTER: {"private": EVERYONE - {"excluded"}},
    Action.CHOOSE_SECTOR: {"private": {"newcomer", *MEMBERS}},
    Action.MY_SECTOR: {"private": MEMBERS},
    Action.LEAVE_SCHEME: {"private": MET},
    Action.APPLY_REFERENT: {"private": MEMBERS},
    Action.DECIDE_JOIN: dict.fromkeys(PLACES, STAFF) | {"sector_group": {"referent", *STAFF}},
    Action.DECIDE_REFERENT: dict.fromkeys(PLACES, STAFF),
    Action.MANAGE_REFERENTS: {"private": STAFF},
    Action.REPORT: {"private": MEMBERS},
    Action.MY_REPORTS: {"private": MET},
    Action.TRIAGE_REPORT: dict.fromkeys(PLACES, STAFF) | {"sector_group": {"referent", *STAFF}},
    Action.SET_REPORT_STATUS: dict.fromkeys(PLACES, LIAISON_ONLY) | {"liaison_chat": EVERYONE},
    Action.WARN_SECTOR: dict.fromkeys(PLACES, STAFF | LIAISON_ONLY)
    | {"sector_group": {"referent", "liaison", *STAFF}, "liaison_chat": EVERYONE},
    Action.ASK_CONTACT: dict.fromkeys(PLACES, LIAISON_ONLY) | {"liaison_chat": EVERYONE},
    Action.REPORTER_ANSWER: {"private": set()},  # only with a subject: see below
    Action.REOPEN_REPORT: dict.fromkeys(PLACES, LIAISON_ONLY) | {"liaison_chat": EVERYONE},
    Action.ADD_DETAIL: {"private": set()},  # only the reporter, with a subject: see below
    Action.FLAG_MESSAGE: {"sector_group": {"referent", *STAFF}},
    Action.PRIVACY_NOTICE: {"private": EVERYONE},
    Action.MY_DATA: {"private": EVERYONE - {"stranger"}},
    Action.ERASE_MY_DATA: {"private": EVERYONE - {"stranger"}},
    Action.EXCLUDE: {"private": STAFF, "sector_group": {"referent", *STAFF}},
    Action.REINSTATE: {"private": STAFF},
    Action.MODERATION_LOG: {"private": {"referent", "referent_elsewhere", *STAFF}},
    Action.REVIEW_REMOVAL: dict.fromkeys(PLACES, STAFF) | {"sector_group": {"referent", *STAFF}},
    Action.CONTEST_REMOVAL: {"private": set()},  # only the author, with a subject
    Action.TRANSMIT_REMOVED: {"private": set()},  # only the author, with a subject
    Action.DECIDE_EXCLUSION: dict.fromkeys(PLACES, STAFF)
    | {"sector_group": {"referent", *STAFF}},
    Action.LINK_SECTOR: {"group": STAFF, "sector_group": STAFF},
    Action.UNLINK_SECTOR: {"sector_group": STAFF},
    Action.BROADCAST: {"private": STAFF},
    Action.BROADCAST_HISTORY: {"private": STAFF | LIAISON_ONLY},
    Action.ALERT: {"private": STAFF | LIAISON_ONLY},
    Action.RELAY_ALERT: dict.fromkeys(PLACES, STAFF) | {"sector_group": {"referent", *STAFF}},
    Action.POLL: {"private": STAFF},
    Action.POLL_RESULTS: {"private": STAFF | LIAISON_ONLY},
    Action.BROADCAST_FOLLOWUP: {"private": STAFF | LIAISON_ONLY},
    Action.TIP: {"private": EVERYONE},
    Action.MANAGE_TIPS: {"private": STAFF},
    Action.STATS: {"private": {"referent", "referent_elsewhere", "liaison", *STAFF}},
    Action.ANNUAL_REPORT: {"private": STAFF | LIAISON_ONLY},
    Action.EXPORT: {"private": STAFF | LIAISON_ONLY},
    Action.AUDIT_LOG: {"private": {"admin"}},
    Action.PAPERWORK: {"private": STAFF},
    Action.LIST_REQUESTS: {"private": {"referent", "referent_elsewhere", *STAFF}},
    Action.LIST_MEMBERS: {"private": {"referent", "referent_elsewhere", *STAFF}},
    Action.LIST_EXCLUDED: {"private": {"referent", "referent_elsewhere", *STAFF}},
    Action.REMIND_MEMBER: {"private": STAFF},  # a referent, with a subject of their sector
    Action.SHOW_ID: {"private": EVERYONE, "group": STAFF, "liaison_chat": STAFF,
                     "sector_group": {"referent", *STAFF}},
    Action.SET_AREA: {"private": STAFF},
    Action.SET_STREETS: {"private": STAFF},
    Action.MANAGE_STAFF: {"private": STAFF},
    Action.APPOINT_OFFICIAL: {"private": STAFF},
    Action.APPOINT_ADMIN: {"private": {"admin"}},
    Action.DISMISS_STAFF: {"private": {"admin"}},
    Action.SET_LIAISON: {"private": {"admin"}},
    Action.MANAGE_SECTORS: {"private": STAFF},
}


def test_every_action_has_a_rule_and_an_expectation() -> None:
    assert set(RULES) == set(Action) == set(EXPECTED)


@pytest.mark.parametrize("action", list(Action))
def test_exactly_the_allowed_roles_act(action: Action) -> None:
    for place_name, place in PLACES.items():
        allowed = {name for name, actor in ROLES.items() if check(actor, action, place)}
        assert allowed == EXPECTED[action].get(place_name, set()), (action, place_name)


def test_a_subject_sector_overrides_the_chat() -> None:
    private = PLACES["private"]
    assert check(REFERENT, Action.DECIDE_JOIN, private, sector_id=1)
    assert not check(REFERENT, Action.DECIDE_JOIN, private, sector_id=2)
    assert check(REFERENT_ELSEWHERE, Action.DECIDE_JOIN, private, sector_id=2)


def test_only_the_reporter_answers_a_contact_request() -> None:
    private = PLACES["private"]
    assert check(RESIDENT, Action.REPORTER_ANSWER, private, owner_id=RESIDENT.user_id)
    assert not check(RESIDENT, Action.REPORTER_ANSWER, private, owner_id=999)
    assert not check(OFFICIAL, Action.REPORTER_ANSWER, private, owner_id=999)
    assert check(RESIDENT, Action.ADD_DETAIL, private, owner_id=RESIDENT.user_id)
    assert not check(RESIDENT, Action.ADD_DETAIL, private, owner_id=999)
    assert not check(LIAISON, Action.ADD_DETAIL, private, owner_id=999)


def test_refusals_name_a_reason() -> None:
    decision = check(RESIDENT, Action.LINK_SECTOR, PLACES["sector_group"])
    assert not decision and decision.reason == "denied.officials_only"
    decision = check(OFFICIAL, Action.LINK_SECTOR, PLACES["private"])
    assert not decision and decision.reason == "denied.wrong_chat"
    decision = check(RESIDENT, Action.MY_SECTOR, PLACES["group"])
    assert not decision and decision.reason == "denied.private_only"

