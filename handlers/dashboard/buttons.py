"""The dashboard's buttons: the periods under /stats and the pages of /journal."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.buttons import Button
from handlers.dashboard.stats import PERIOD_CHOICES


class PeriodChoice(StrEnum):
    """The periods /stats offers under its answer, in days (`stats.PERIOD_CHOICES`)."""

    WEEK = "7"
    MONTH = "30"
    QUARTER = "90"

    @property
    def days(self) -> int:
        return int(self.value)


# The figures module owns the choice; the button may offer exactly those periods.
assert tuple(choice.days for choice in PeriodChoice) == PERIOD_CHOICES


@dataclass(frozen=True)
class StatsPeriod(Button, prefix="stats_period"):
    """/stats again, over the last `days` days."""

    days: PeriodChoice


@dataclass(frozen=True)
class JournalPage(Button, prefix="journal"):
    """Another page of /journal, with the filters it was typed with. The prefix is short:
    a page, a 16-character id and a 32-character action prefix must fit in 64 bytes."""

    page: int
    person: int | None
    kind: str | None  # an action prefix (`type:report.` → "report.")
