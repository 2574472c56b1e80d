"""The scheme's figures for a period, and the pure rules that present them.

`compute()` reads storage once into a `Figures`; /stats, the annual report and the export
only format it. Periods are calendar days in the commune's time zone. Public documents
never show a count under 3 (`mask`, `group_small`): in a small sector, "1 attempted
burglary" can point at one household.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from typing import TextIO
from zoneinfo import ZoneInfo

from handlers.dashboard.charts import printable
from handlers.reports.domain import CATEGORIES
from storage import Store
from storage.stats import ReportFacts, Scope
from storage.statuses import BroadcastKind

Translate = Callable[..., str]

PERIOD_CHOICES = (7, 30, 90)
DEFAULT_DAYS = 30
# A year and a day: enough for any annual look, short enough to stay readable and quick.
MAX_PERIOD_DAYS = 366
FIRST_YEAR = 2000
SMALL = 3  # public documents show counts under this as "< 3"
BROADCAST_KINDS = tuple(BroadcastKind)  # notice, alert, poll: the order documents show


class InputError(Exception):
    """A person's input cannot be used: `key` is the catalogue text that says why."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


# --- periods -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def bounds(self, zone: ZoneInfo) -> tuple[float, float]:
        """[first instant, first instant after) in Unix seconds, midnight to midnight."""
        start = datetime.combine(self.start, clock.min, zone)
        end = datetime.combine(self.end + timedelta(days=1), clock.min, zone)
        return start.timestamp(), end.timestamp()

    def year_before(self) -> Period:
        """The same dates one year earlier (29 February becomes the 28th)."""
        return Period(_year_earlier(self.start), _year_earlier(self.end))


def _year_earlier(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def today_in(zone: ZoneInfo) -> date:
    return datetime.now(zone).date()


def last_days(days: int, today: date) -> Period:
    return Period(today - timedelta(days=days - 1), today)


def parse_date(text: str) -> date:
    """2026-03-31 or 31/03/2026: what an ISO-minded person and a French one would type."""
    for shape in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, shape).date()  # noqa: DTZ007 - a date, no time
        except ValueError:
            continue
    raise InputError("dashboard.bad_date", value=text[:20])


def parse_period(args: Sequence[str], today: date) -> Period:
    """No argument: the last 30 days; one date: from then to today; two: that range.
    An end after today is brought back to today (nothing is known about tomorrow)."""
    if not args:
        return last_days(DEFAULT_DAYS, today)
    if len(args) > 2:
        raise InputError("dashboard.period_usage")
    start = parse_date(args[0])
    end = parse_date(args[1]) if len(args) == 2 else max(start, today)
    if start > end:
        raise InputError("dashboard.start_after_end")
    if start > today:
        raise InputError("dashboard.future_period")
    period = Period(start, min(end, today))
    if period.days > MAX_PERIOD_DAYS:
        raise InputError("dashboard.period_too_long", days=period.days, max=MAX_PERIOD_DAYS)
    return period


def parse_year(args: Sequence[str], today: date) -> int:
    if not args:
        return today.year
    if len(args) > 1 or not (args[0].isascii() and args[0].isdigit()) \
            or int(args[0]) < FIRST_YEAR:
        raise InputError("dashboard.bad_year", value=" ".join(args)[:20])
    year = int(args[0])
    if year > today.year:
        raise InputError("dashboard.future_year", year=year, current=today.year)
    return year


def year_period(year: int, today: date) -> Period:
    """The calendar year; the current one up to today."""
    return Period(date(year, 1, 1), min(date(year, 12, 31), today))


# --- figures -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Figures:
    period: Period
    whole_commune: bool
    by_sector: dict[str, int]  # sector name → reports (every sector in scope, even at 0)
    by_category: dict[str, int]  # category code → reports
    by_status: dict[str, int]  # current status → reports
    relayed: int  # reports that reached the gendarmerie
    untriaged: int  # of those, relayed without a referent's look
    answer_delays: tuple[float, ...]  # seconds from relay to the liaison's first status
    members: dict[str, int]  # sector name → enrolled members, today
    referents: dict[str, int]  # sector name → referents, today
    charter_accepted: int  # enrolled members who accepted the current charter, today
    enrolled: int
    tips: int  # prevention tips posted in sector groups
    broadcasts: dict[str, int] = field(default_factory=dict)  # notice/alert/poll → count

    @property
    def total(self) -> int:
        return sum(self.by_category.values())

    @property
    def median_delay(self) -> float | None:
        return median(self.answer_delays)


async def compute(store: Store, period: Period, zone: ZoneInfo, scope: Scope,
                  charter_version: int) -> Figures:
    """Everything /stats and the annual report show, for a period and a set of sectors
    (None: the whole commune)."""
    start, end = period.bounds(zone)
    # Counted in SQL, slice by slice; the offered categories let it seek, not sort.
    tally = await store.stats.tally(start, end, scope, CATEGORIES)
    names = await store.stats.sector_names()
    active = await store.stats.active_sectors(scope)
    accepted, enrolled = await store.stats.charter_acceptance(charter_version, scope)
    return Figures(
        period=period,
        whole_commune=scope is None,
        by_sector=_named(names, active, tally.by_sector),
        by_category=dict(tally.by_category),
        by_status=dict(tally.by_status),
        relayed=tally.relayed,
        untriaged=tally.untriaged,
        answer_delays=tuple(tally.answer_delays),
        members=_named(names, active, await store.stats.members_by_sector(scope)),
        referents=_named(names, active, await store.stats.referents_by_sector(scope)),
        charter_accepted=accepted,
        enrolled=enrolled,
        tips=await store.stats.tips_posted(start, end, scope),
        broadcasts=await store.stats.broadcasts(start, end, scope),
    )


def _named(names: dict[int, str], active: list[int],
           counts: Mapping[int, int] | Mapping[int | None, int]) -> dict[str, int]:
    """Counts keyed by sector name: every active sector of the scope (0 if quiet), plus any
    retired sector that still has something counted."""
    tally: Counter[int | None] = Counter({sector_id: 0 for sector_id in active})
    for sector_id, count in counts.items():
        tally[sector_id] += count
    return {names.get(sector_id or 0, "?"): count for sector_id, count in tally.items()}


def answer_delay(fact: ReportFacts) -> float | None:
    if fact.relayed_at is None or fact.answered_at is None:
        return None
    return max(0.0, fact.answered_at - fact.relayed_at)


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


# --- presenting figures ------------------------------------------------------------------

def mask(count: int, under: str) -> str:
    """A count for a public document: 1 and 2 become `under` ("< 3"). Zero stays zero:
    that nothing happened points at nobody."""
    return under if 0 < count < SMALL else str(count)


def group_small(counts: dict[str, int]) -> tuple[dict[str, int], int]:
    """Counts safe to publish: (kept, grouped). Counts under 3 are grouped together; if the
    group alone is still under 3, the smallest kept count joins it, so that no small count
    can be worked out from the total either. Zeros are left out."""
    nonzero = {label: count for label, count in counts.items() if count > 0}
    small = [label for label, count in nonzero.items() if count < SMALL]
    kept = {label: count for label, count in nonzero.items() if label not in small}
    grouped = sum(nonzero[label] for label in small)
    if 0 < grouped < SMALL and kept:
        smallest = min(kept, key=lambda label: (kept[label], label))
        grouped += kept.pop(smallest)
    return kept, grouped


def format_duration(seconds: float, t: Translate) -> str:
    minutes = round(seconds / 60)
    if minutes < 60:
        return t("dashboard.duration_minutes", minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return t("dashboard.duration_hours", hours=hours, minutes=f"{minutes:02d}")
    days, hours = divmod(hours, 24)
    return t("dashboard.duration_days", days=days, hours=hours)


def percent(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0


def label_of(kind: str, code: str, t: Translate) -> str:
    """The catalogue's label of a category or a status code, capitalised, without the
    emoji the buttons wear (no font of a chart or a PDF draws them)."""
    text = printable(t(f"reports.{kind}.{code}"))
    return text[:1].upper() + text[1:]


def labelled(kind: str, counts: dict[str, int], t: Translate) -> dict[str, int]:
    """Category or status codes → their labels, largest first."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return {label_of(kind, code, t): count for code, count in ordered}


def items(counts: dict[str, int], t: Translate) -> str:
    return ", ".join(t("dashboard.item", name=name, count=count)
                     for name, count in counts.items())


def stats_text(figures: Figures, sectors: str, t: Translate) -> str:
    """The short answer to /stats; `sectors` names the scope when it is not the commune."""
    period, date_format = figures.period, t("dashboard.date_format")
    header = t("dashboard.header_commune" if figures.whole_commune else "dashboard.header_sectors",
               start=period.start.strftime(date_format), end=period.end.strftime(date_format),
               days=period.days, sectors=sectors)
    lines = [header, ""]
    if figures.total == 0:
        lines.append(t("dashboard.no_reports"))
    else:
        lines += [t("dashboard.reports_total", count=figures.total),
                  t("dashboard.by_sector", items=items(figures.by_sector, t)),
                  t("dashboard.by_category", items=items(labelled(
                      "category", figures.by_category, t), t)),
                  t("dashboard.by_status", items=items(labelled(
                      "status", figures.by_status, t), t))]
        lines.append(_delay_line(figures, t))
        if figures.relayed:
            lines.append(t("dashboard.untriaged", untriaged=figures.untriaged,
                           relayed=figures.relayed,
                           share=percent(figures.untriaged, figures.relayed)))
    lines += ["", t("dashboard.members", items=", ".join(
        t("dashboard.member_item", name=name, members=count,
          referents=figures.referents.get(name, 0)) for name, count in figures.members.items())),
        t("dashboard.charter", accepted=figures.charter_accepted, enrolled=figures.enrolled),
        t("dashboard.outreach", tips=figures.tips,
          **{str(kind): figures.broadcasts.get(kind, 0) for kind in BROADCAST_KINDS})]
    return "\n".join(lines)


def _delay_line(figures: Figures, t: Translate) -> str:
    delay = figures.median_delay
    if delay is None:
        return t("dashboard.no_answer")
    return t("dashboard.median_delay", delay=format_duration(delay, t),
             count=len(figures.answer_delays))


def chart_panels(figures: Figures, t: Translate) -> list[tuple[str, list[tuple[str, int]]]]:
    """/stats' chart: reports by sector, by category, by status (exact counts: it goes to
    the referents, the gendarmerie and the officials, who see the reports anyway)."""
    return [
        (t("dashboard.chart_sector"), list(figures.by_sector.items())),
        (t("dashboard.chart_category"), list(labelled("category", figures.by_category,
                                                      t).items())),
        (t("dashboard.chart_status"), list(labelled("status", figures.by_status, t).items())),
    ]


# --- the commentary of the annual report --------------------------------------------------

@dataclass(frozen=True)
class PeriodTotal:
    """How many reports a period had, and nothing else: all the annual report compares
    with the year before (counted in one query, not a second year of figures)."""

    period: Period
    total: int


def commentary(figures: Figures, previous: Figures | PeriodTotal | None,
               t: Translate) -> list[str]:
    """A few plain sentences drawn from the figures, every count masked under 3."""
    under = t("dashboard.under_three")
    year = figures.period.start.year
    if figures.total == 0:
        lines = [t("dashboard.comment_none", year=year)]
    else:
        lines = [t("dashboard.comment_total", year=year, count=mask(figures.total, under))]
    if previous is not None:
        lines.append(_comparison(figures.total, previous, t))
    if figures.total:
        lines += _leaders(figures, t)
        if len(figures.answer_delays) >= SMALL:
            lines.append(t("dashboard.comment_delay", delay=format_duration(
                figures.median_delay or 0, t), count=len(figures.answer_delays)))
        if figures.relayed >= SMALL:
            lines.append(_untriaged_comment(figures, under, t))
    return lines


def _comparison(total: int, previous: Figures | PeriodTotal, t: Translate) -> str:
    under = t("dashboard.under_three")
    before, year = previous.total, previous.period.start.year
    if total < SMALL or before < SMALL:
        return t("dashboard.comment_versus", year=year, count=mask(before, under))
    change = percent(total - before, before)
    if change == 0:
        return t("dashboard.comment_stable", year=year, count=before)
    key = "dashboard.comment_up" if change > 0 else "dashboard.comment_down"
    return t(key, year=year, count=before, change=abs(change))


def _leaders(figures: Figures, t: Translate) -> list[str]:
    """The most frequent category and the busiest sector, when their count is publishable."""
    lines = []
    category, count = max(figures.by_category.items(), key=lambda item: (item[1], item[0]))
    if count >= SMALL:
        lines.append(t("dashboard.comment_category", count=count,
                       category=label_of("category", category, t)))
    sector, count = max(figures.by_sector.items(), key=lambda item: (item[1], item[0]))
    if count >= SMALL and len(figures.by_sector) > 1:
        lines.append(t("dashboard.comment_sector", sector=sector, count=count))
    return lines


def _untriaged_comment(figures: Figures, under: str, t: Translate) -> str:
    if 0 < figures.untriaged < SMALL:
        return t("dashboard.comment_untriaged_few", relayed=figures.relayed, count=under)
    return t("dashboard.comment_untriaged", relayed=figures.relayed, count=figures.untriaged,
             share=percent(figures.untriaged, figures.relayed))


# --- the export --------------------------------------------------------------------------

QUARTER_HOUR = 900.0
CSV_COLUMNS = ("id", "date", "sector", "category", "occurred", "status", "untriaged",
               "grouped", "delay")


class CsvExport:
    """Reports without identity: no reporter, no description, no place, no photo, no plate.

    Written slice by slice to a text stream (a temporary file): the export never holds
    the whole period. ";" between fields: what French Excel opens as is (the caller opens
    the stream as UTF-8 with a byte order mark)."""

    def __init__(self, out: TextIO, names: dict[int, str], zone: ZoneInfo,
                 t: Translate) -> None:
        self.writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        self.names, self.zone, self.t = names, zone, t
        self.yes, self.no = t("dashboard.yes"), t("dashboard.no")
        self.labels: dict[tuple[str, str], str] = {}
        self.days: dict[int, str] = {}  # by quarter hour: see `_day`
        self.rows = 0
        self.writer.writerow([t(f"dashboard.csv.{column}") for column in CSV_COLUMNS])

    def _label(self, kind: str, code: str) -> str:
        key = (kind, code)
        if key not in self.labels:
            self.labels[key] = (self.t(f"reports.when.{code}") if kind == "when"
                                else label_of(kind, code, self.t))
        return self.labels[key]

    def _day(self, at: float) -> str:
        """The commune's calendar day of an instant. Every time zone's offset, and so every
        change of it, falls on a quarter hour: one conversion per quarter hour, not per row."""
        quarter = int(at // QUARTER_HOUR)
        day = self.days.get(quarter)
        if day is None:
            day = self.days[quarter] = datetime.fromtimestamp(
                quarter * QUARTER_HOUR, self.zone).date().isoformat()
        return day

    def write(self, facts: Sequence[ReportFacts]) -> None:
        self.days.clear()  # a slice's quarter hours only: memory stays a slice's
        for fact in facts:
            delay = answer_delay(fact)
            self.writer.writerow([
                fact.id,
                self._day(fact.created_at),
                _cell(self.names.get(fact.sector_id or 0, "?")),
                self._label("category", fact.category),
                self._label("when", fact.occurred),
                self._label("status", fact.status),
                self.yes if fact.untriaged else self.no,
                self.yes if fact.grouped else self.no,
                "" if delay is None else round(delay / 60),
            ])
        self.rows += len(facts)


def export_csv(facts: Sequence[ReportFacts], names: dict[int, str], zone: ZoneInfo,
               t: Translate) -> bytes:
    """The whole export in memory (small windows, tests): see `CsvExport`."""
    buffer = io.StringIO()
    CsvExport(buffer, names, zone, t).write(facts)
    return buffer.getvalue().encode("utf-8-sig")


def _cell(text: str) -> str:
    """A sector name typed in the configuration must not become a spreadsheet formula."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
