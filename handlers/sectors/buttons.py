"""/secteurs buttons: the menu, picking a sector for an operation, the sector a merge goes
into, the confirmation, and bringing a retired sector back.

A button names sectors by id only; the handler reads them again from the database, so a
sector retired meanwhile (a stale or forged button) is answered so, and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.buttons import Button
from handlers.enrolment.buttons import Confirm


class SectorOp(StrEnum):
    ADD = "add"
    RENAME = "rename"
    RETIRE = "retire"
    MERGE = "merge"


@dataclass(frozen=True)
class SectorMenu(Button, prefix="sectors_menu"):
    """/secteurs: Ajouter, Renommer, Retirer or Fusionner."""

    op: SectorOp


@dataclass(frozen=True)
class SectorTarget(Button, prefix="sectors_pick"):
    """The sector to rename, to retire, or to merge into another."""

    op: SectorOp
    sector_id: int


@dataclass(frozen=True)
class MergeInto(Button, prefix="sectors_into"):
    """Merge `source_id` into `target_id` (asked, then confirmed)."""

    source_id: int
    target_id: int


@dataclass(frozen=True)
class SectorConfirm(Button, prefix="sectors_ok"):
    """Confirm (or not) retiring `sector_id`, or merging it into `target_id`."""

    op: SectorOp
    sector_id: int
    target_id: int | None
    answer: Confirm


@dataclass(frozen=True)
class SectorRestore(Button, prefix="sectors_back"):
    """A name typed for a new sector is a retired one's: bring that one back."""

    sector_id: int
