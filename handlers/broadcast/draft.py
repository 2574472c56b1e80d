"""The notice, alert or poll being written: kept in `user_data` (so in SQLite between
updates) until it is sent or cancelled, so a restart in the middle resumes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.drafts import draft, key_of
from handlers.broadcast.rules import SWITCHES, Switch
from storage import NewBroadcast
from storage.statuses import BroadcastKind


@draft("broadcast")
@dataclass
class BroadcastDraft:
    kind: BroadcastKind
    sectors: list[int] = field(default_factory=list)
    body: str = ""  # the text, or a poll's question
    photo: str | None = None  # Telegram's file id
    answers: list[str] = field(default_factory=list)  # a poll's options
    switches: list[Switch] = field(default_factory=list)  # those turned on

    def __post_init__(self) -> None:
        # Read back from JSON, enums are plain strings again (a switch an upgrade removed
        # is dropped rather than failing the whole start-up).
        self.kind = BroadcastKind(self.kind)
        self.switches = [Switch(value) for value in self.switches if value in tuple(Switch)]

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> BroadcastDraft | None:
        """A draft kept as a plain dict by an earlier version (kind, sectors, one bool per
        switch, body, photo, options), so an upgrade does not lose what was written."""
        try:
            kind = BroadcastKind(values["kind"])
        except (KeyError, ValueError):
            return None
        return cls(kind, [int(s) for s in values.get("sectors", [])],
                   str(values.get("body", "")), values.get("photo"),
                   [str(option) for option in values.get("options", [])],
                   [switch for switch in SWITCHES[kind] if values.get(switch)])

    def is_on(self, switch: Switch) -> bool:
        return switch in self.switches

    def flip(self, switch: Switch) -> None:
        if switch not in SWITCHES[self.kind]:
            return
        if switch in self.switches:
            self.switches.remove(switch)
        else:
            self.switches.append(switch)

    def pick(self, sector_id: int, active: list[int]) -> None:
        """Tick a sector, or untick it if it is ticked (inactive sectors are ignored)."""
        if sector_id not in active:
            return
        if sector_id in self.sectors:
            self.sectors.remove(sector_id)
        else:
            self.sectors.append(sector_id)

    def pick_all(self, active: list[int]) -> None:
        self.sectors = [] if set(self.sectors) == set(active) else list(active)

    def as_new(self, author_id: int) -> NewBroadcast:
        return NewBroadcast(
            kind=self.kind, author_id=author_id, body=self.body,
            sector_ids=list(self.sectors), photo_file_id=self.photo,
            options=tuple(self.answers), to_residents=self.is_on(Switch.TO_RESIDENTS),
            referents_only=self.is_on(Switch.REFERENTS_ONLY), pin=self.is_on(Switch.PIN),
            silent=self.is_on(Switch.SILENT))


KEY = key_of(BroadcastDraft)


def current(user_data: dict[str, Any] | None) -> BroadcastDraft | None:
    """The draft being written, if any."""
    if user_data is None:
        return None
    found = user_data.get(KEY)
    if isinstance(found, dict):  # kept by an earlier version
        found = BroadcastDraft.from_dict(found)
        if found is None:
            user_data.pop(KEY, None)
        else:
            user_data[KEY] = found
    return found if isinstance(found, BroadcastDraft) else None


def begin(user_data: dict[str, Any] | None, kind: BroadcastKind) -> BroadcastDraft:
    fresh = BroadcastDraft(kind)
    if user_data is not None:
        user_data[KEY] = fresh
    return fresh


def take(user_data: dict[str, Any] | None) -> BroadcastDraft | None:
    """The draft, removed from `user_data` (it is being sent or given up)."""
    found = current(user_data)
    if user_data is not None:
        user_data.pop(KEY, None)
    return found


@draft("followup")
@dataclass
class FollowUpDraft:
    """The send a follow-up is being written for (from /annonces)."""

    broadcast_id: int


FOLLOWUP_KEY = key_of(FollowUpDraft)


def begin_follow_up(user_data: dict[str, Any] | None, broadcast_id: int) -> None:
    if user_data is not None:
        user_data[FOLLOWUP_KEY] = FollowUpDraft(broadcast_id)


def take_follow_up(user_data: dict[str, Any] | None) -> FollowUpDraft | None:
    """The follow-up being written, removed from `user_data` (it is sent or given up)."""
    found = None if user_data is None else user_data.pop(FOLLOWUP_KEY, None)
    return found if isinstance(found, FollowUpDraft) else None


def follow_up_of(user_data: dict[str, Any] | None) -> FollowUpDraft | None:
    found = None if user_data is None else user_data.get(FOLLOWUP_KEY)
    return found if isinstance(found, FollowUpDraft) else None
