"""The team's buttons (/equipe), and the ids of Telegram's pickers.

Nobody types an id: a person is chosen with Telegram's own user picker
(`KeyboardButtonRequestUsers`), the liaison group with its chat picker
(`KeyboardButtonRequestChat`). The picker's `request_id` comes back in the `users_shared`
or `chat_shared` message and says what the choice is for, so the answer needs no state of
its own; the guard re-checks the chooser's role when it arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from core.buttons import Button
from storage.statuses import StaffRole


class Request(IntEnum):
    """A picker's `request_id` (a signed 32-bit integer chosen by the bot)."""

    OFFICIAL = 1501
    ADMIN = 1502
    LIAISON_GROUP = 1503
    LIAISON_PERSON = 1504


class DismissStep(StrEnum):
    ASK = "ask"  # the list's "Retirer": a confirmation comes first
    CONFIRM = "yes"
    KEEP = "keep"  # changed one's mind: back to the list


@dataclass(frozen=True)
class StaffRefresh(Button, prefix="staff_list"):
    """/equipe shown again, in place."""


@dataclass(frozen=True)
class AppointOfficial(Button, prefix="staff_official"):
    """Opens the user picker to appoint an official."""


@dataclass(frozen=True)
class AppointAdmin(Button, prefix="staff_admin"):
    """Opens the user picker to appoint an administrator."""


@dataclass(frozen=True)
class PickLiaison(Button, prefix="staff_liaison"):
    """Opens the chat picker (a group) and the user picker (a single officer)."""


@dataclass(frozen=True)
class StaffDismiss(Button, prefix="staff_dismiss"):
    """Remove this person from this role (asked, then confirmed)."""

    user_id: int
    role: StaffRole
    step: DismissStep
