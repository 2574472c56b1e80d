"""The report being written: kept in `user_data` (so in SQLite between updates, see
core/runtime/persistence.py) until the resident confirms or cancels it, so a restart in
the middle of /signaler resumes it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from core.drafts import draft, key_of
from core.screening import plate_in
from handlers.reports.buttons import Category, When
from storage import NewReport


@draft("report")
@dataclass
class ReportDraft:
    # Random: the same confirmation handled again after a crash finds its report
    # instead of making a second one (domain.submit).
    key: str = field(default_factory=lambda: secrets.token_hex(8))
    category: Category | None = None
    occurred: When | None = None
    description: str | None = None
    flags: list[str] = field(default_factory=list)  # what the screen noticed, if kept
    location: list[float] | None = None  # [latitude, longitude]
    photo: str | None = None  # Telegram's file id

    def __post_init__(self) -> None:
        # Read back from JSON, enums are plain strings again.
        if self.category is not None:
            self.category = Category(self.category)
        if self.occurred is not None:
            self.occurred = When(self.occurred)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ReportDraft | None:
        """A draft kept as a plain dict by an earlier version (same keys), so an upgrade
        does not lose what was written."""
        try:
            return cls(key=str(values.get("key") or secrets.token_hex(8)),
                       category=values.get("category"), occurred=values.get("occurred"),
                       description=values.get("description"),
                       flags=[str(flag) for flag in values.get("flags", [])],
                       location=values.get("location"), photo=values.get("photo"))
        except (TypeError, ValueError):
            return None

    def as_new(self, reporter_id: int, sector_id: int) -> NewReport | None:
        """The report to store, or None if the draft never got its required steps."""
        if not self.description or self.category is None or self.occurred is None:
            return None
        latitude, longitude = self.location or (None, None)
        return NewReport(
            reporter_id=reporter_id, sector_id=sector_id, category=self.category,
            occurred=self.occurred, description=self.description, latitude=latitude,
            longitude=longitude, photo_file_id=self.photo,
            screen_flags=",".join(self.flags) or None, plate=plate_in(self.description),
            draft_key=self.key)


KEY = key_of(ReportDraft)


def current(user_data: dict[str, Any] | None) -> ReportDraft:
    """The draft being written; a fresh one if there is none (a step reached without it)."""
    if user_data is None:
        return ReportDraft()
    found = user_data.get(KEY)
    if isinstance(found, dict):  # kept by an earlier version
        found = ReportDraft.from_dict(found)
    if not isinstance(found, ReportDraft):
        found = ReportDraft()
    user_data[KEY] = found
    return found


def begin(user_data: dict[str, Any] | None) -> ReportDraft:
    fresh = ReportDraft()
    if user_data is not None:
        user_data[KEY] = fresh
    return fresh


def take(user_data: dict[str, Any] | None) -> ReportDraft | None:
    """The draft, removed from `user_data` (it is being sent or given up)."""
    if user_data is None or KEY not in user_data:
        return None
    found = current(user_data)
    user_data.pop(KEY, None)
    return found


@draft("report_detail")
@dataclass
class DetailDraft:
    """Which report the reporter is adding a detail to (/mes_signalements → the button)."""

    report_id: int
