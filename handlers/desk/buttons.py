"""The desk's buttons: paging the three lists, and acting on one person from a list.

Each list button carries its page, so the list is shown again, in place, at the same page
after the action. A button acting on a member names the sector it was listed under: the
permission is checked against it, and the person must still be a member of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.buttons import Button
from handlers.enrolment.buttons import Decision


class ExcludeStep(StrEnum):
    ASK = "ask"  # the list's "Exclure": a confirmation comes first
    CONFIRM = "yes"
    KEEP = "keep"  # changed one's mind: back to the list


@dataclass(frozen=True)
class RequestsPage(Button, prefix="desk_requests"):
    page: int


@dataclass(frozen=True)
class MembersPage(Button, prefix="desk_members"):
    page: int


@dataclass(frozen=True)
class ExcludedPage(Button, prefix="desk_excluded"):
    page: int


@dataclass(frozen=True)
class DeskJoin(Button, prefix="desk_join"):
    """/demandes: Approuver or Refuser a pending join request."""

    request_id: int
    decision: Decision
    page: int


@dataclass(frozen=True)
class DeskRemind(Button, prefix="desk_remind"):
    """/membres: remind this member of the charter, in private."""

    user_id: int
    sector_id: int
    page: int


@dataclass(frozen=True)
class DeskExclude(Button, prefix="desk_excl"):
    """/membres: exclude this member (asked, then confirmed)."""

    user_id: int
    sector_id: int
    step: ExcludeStep
    page: int


@dataclass(frozen=True)
class DeskReinstate(Button, prefix="desk_reinstate"):
    """/exclus: lift this person's exclusion."""

    user_id: int
    page: int
