"""The enrolment flows' buttons: the charter, the sector pickers, the street (and the sector
a typed street matched), join cards, referent applications, revoking a referent, moving and
leaving.

Each kind names its prefix once (`core.buttons`); handlers match `Kind.pattern()` and read
`turn.button(Kind)`, keyboards and outbox cards call `.pack()`. Nothing else spells one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.buttons import Button


class Confirm(StrEnum):
    """The two answers of a yes/no question (leaving the scheme, erasing one's data)."""

    YES = "yes"
    NO = "no"


class CharterAnswer(StrEnum):
    ACCEPT = "accept"
    REFUSE = "refuse"


class Decision(StrEnum):
    """A referent's or an official's answer on a card (join request, application)."""

    APPROVE = "approve"
    DECLINE = "decline"


@dataclass(frozen=True)
class CharterChoice(Button, prefix="charter"):
    """Accept or refuse the charter as it was shown: `version` tells an outdated answer."""

    answer: CharterAnswer
    version: int


@dataclass(frozen=True)
class SectorPick(Button, prefix="sector_pick"):
    """Onboarding: this is my sector."""

    sector_id: int


@dataclass(frozen=True)
class SkipStreet(Button, prefix="street_skip"):
    """Onboarding: no street given."""


@dataclass(frozen=True)
class StreetConfirm(Button, prefix="street_match"):
    """Onboarding: the street I typed is in this sector (YES), or I choose myself (NO)."""

    sector_id: int
    answer: Confirm


@dataclass(frozen=True)
class JoinDecision(Button, prefix="join_request"):
    """A join card's Approve or Decline."""

    request_id: int
    decision: Decision


@dataclass(frozen=True)
class ReferentDecision(Button, prefix="referent_app"):
    """A referent application card's Approve or Decline."""

    application_id: int
    decision: Decision


@dataclass(frozen=True)
class RevokeReferent(Button, prefix="revoke_referent"):
    """/referents: take this person's referent role in this sector away."""

    user_id: int
    sector_id: int


@dataclass(frozen=True)
class AskMove(Button, prefix="move_ask"):
    """/secteur: I want to change sector (the list of sectors comes next)."""


@dataclass(frozen=True)
class MoveSector(Button, prefix="move_sector"):
    """/secteur: move me to this sector."""

    sector_id: int


@dataclass(frozen=True)
class Leave(Button, prefix="leave"):
    """/quitter: confirm or keep one's membership."""

    answer: Confirm
