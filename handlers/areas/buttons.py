"""The areas flow's buttons: which sector /zone or /rues is about, and clearing a list."""

from __future__ import annotations

from dataclasses import dataclass

from core.buttons import Button


@dataclass(frozen=True)
class AreaPick(Button, prefix="area_pick"):
    """/zone: the sector whose area comes next (or came with the command)."""

    sector_id: int


@dataclass(frozen=True)
class StreetsPick(Button, prefix="streets_pick"):
    """/rues: show this sector's streets and wait for its new list."""

    sector_id: int


@dataclass(frozen=True)
class StreetsClear(Button, prefix="streets_clear"):
    """/rues: empty this sector's street list (the old list is handed back as a file)."""

    sector_id: int
