"""Every inline button of the reports flow, and the choices they carry.

Each class builds its own callback data (`pack`), its handler's pattern (`pattern`) and
reads the data back (`parse`): see core/buttons.py. Nothing else spells a callback string,
tests included. The choices are StrEnums: a value that is not a member never matches a
pattern, so a forged one falls through to the fallback's "stale button" answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.buttons import Button
from storage.statuses import ReportStatus

# --- the choices --------------------------------------------------------------------------


class Category(StrEnum):
    """What the resident saw. Predefined choices before free text (CNIL's advice)."""

    VEHICLE = "vehicle"
    BEHAVIOUR = "behaviour"
    DOORSTEP = "doorstep"
    BURGLARY = "burglary"
    INCIVILITY = "incivility"
    OTHER = "other"


class When(StrEnum):
    NOW = "now"
    TODAY = "today"
    EARLIER = "earlier"


class Confirmation(StrEnum):
    SEND = "send"
    CANCEL = "cancel"


class TriageDecision(StrEnum):
    FORWARD = "forward"  # to the gendarmerie
    DISMISS = "dismiss"  # then a reason is asked for
    ASK = "ask"  # a detail, from the reporter


class DismissReason(StrEnum):
    DUPLICATE = "duplicate"
    OUT_OF_SCOPE = "out_of_scope"
    TOO_VAGUE = "too_vague"
    CHARTER = "charter"


class LiaisonStatus(StrEnum):
    """The statuses the liaison sets from a card: a subset of ReportStatus."""

    RECEIVED = ReportStatus.RECEIVED.value
    PATROL = ReportStatus.PATROL.value
    CLOSED = ReportStatus.CLOSED.value
    UNFOUNDED = ReportStatus.UNFOUNDED.value

    @property
    def status(self) -> ReportStatus:
        return ReportStatus(self.value)


class ContactAnswer(StrEnum):
    YES = "yes"
    NO = "no"


# --- the resident's wizard (/signaler in private) ----------------------------------------


@dataclass(frozen=True)
class Emergency(Button, prefix="report_sos"):
    """Shows the emergency numbers: this is not the way to call for help."""


@dataclass(frozen=True)
class PickCategory(Button, prefix="report_category"):
    category: Category


@dataclass(frozen=True)
class PickWhen(Button, prefix="report_when"):
    when: When


@dataclass(frozen=True)
class KeepText(Button, prefix="report_keep"):
    """Keep a description the screen flagged, as written."""


@dataclass(frozen=True)
class SkipPhoto(Button, prefix="report_no_photo"):
    """Go on to the summary without a photo."""


@dataclass(frozen=True)
class Confirm(Button, prefix="report_confirm"):
    choice: Confirmation


# --- the sector's referents ---------------------------------------------------------------


@dataclass(frozen=True)
class Triage(Button, prefix="triage"):
    report_id: int
    decision: TriageDecision


@dataclass(frozen=True)
class Dismiss(Button, prefix="dismiss"):
    report_id: int
    reason: DismissReason


# --- the gendarmerie liaison, and the reporter's consent ---------------------------------


@dataclass(frozen=True)
class SetStatus(Button, prefix="report_status"):
    report_id: int
    status: LiaisonStatus


@dataclass(frozen=True)
class WarnSector(Button, prefix="warn_sector"):
    """A cleaned notice to the sector group (also on the referents' triage card)."""

    report_id: int


@dataclass(frozen=True)
class AskContact(Button, prefix="contact"):
    report_id: int


@dataclass(frozen=True)
class ContactReply(Button, prefix="contact_reply"):
    report_id: int
    answer: ContactAnswer


# --- after the decision: reopening a closed report, a detail added by the reporter ------


@dataclass(frozen=True)
class Reopen(Button, prefix="report_reopen"):
    """On the liaison's card of a closed report: the reason is asked for next."""

    report_id: int


@dataclass(frozen=True)
class AddDetail(Button, prefix="report_detail"):
    """In /mes_signalements, on each report still open: the reporter adds a detail."""

    report_id: int
