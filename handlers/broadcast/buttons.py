"""Every button of the broadcast flow: choosing the sectors and switches of a draft,
confirming it, closing a poll, and a referent relaying an alert into their sector."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.buttons import Button
from handlers.broadcast.rules import Switch


@dataclass(frozen=True)
class PickSector(Button, prefix="bc_sector"):
    """Tick or untick one sector of the draft."""

    sector_id: int


@dataclass(frozen=True)
class PickAllSectors(Button, prefix="bc_all"):
    """Tick every active sector, or untick them all when they all are."""


@dataclass(frozen=True)
class FlipSwitch(Button, prefix="bc_switch"):
    """Turn one of the kind's switches on or off."""

    switch: Switch


@dataclass(frozen=True)
class ShowPreview(Button, prefix="bc_preview"):
    """Sectors chosen: show the copy as it will be sent, and the figures."""


class Decision(StrEnum):
    SEND = "send"
    CANCEL = "cancel"


@dataclass(frozen=True)
class Confirm(Button, prefix="bc_confirm"):
    decision: Decision


@dataclass(frozen=True)
class ClosePoll(Button, prefix="poll_close"):
    broadcast_id: int


@dataclass(frozen=True)
class FollowUp(Button, prefix="bc_followup"):
    """From /annonces: write a follow-up to a notice or an alert, sent to every copy."""

    broadcast_id: int


@dataclass(frozen=True)
class CloseSend(Button, prefix="bc_close"):
    """From /annonces: close a notice or an alert (its pinned copies are unpinned)."""

    broadcast_id: int


@dataclass(frozen=True)
class RelayAlert(Button, prefix="alert_relay"):
    """On an alert sent to referents only: post it in this sector's group."""

    broadcast_id: int
    sector_id: int
