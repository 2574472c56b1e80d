"""Prevention tips: the shipped catalogue (tips/catalogue.toml), officials' own tips and
edits on top of it, which tip a group gets next, and which seasonal campaign is on.

The choice is a pure function of the catalogue, the group's history and the date, so it is
tested on fixed dates; the school-holiday calendar comes from `vacances-scolaires-france`.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cache
from pathlib import Path

import holidays
from vacances_scolaires_france import SchoolHolidayDates, UnsupportedYearException

from core import i18n
from core.settings import Settings
from storage import TipOverride

CATALOGUE = Path(__file__).resolve().parents[2] / "tips" / "catalogue.toml"


class Topic(StrEnum):
    """A tip's subject (catalogue key `tips.topic.<value>`; also typed after /conseil)."""

    BURGLARY = "cambriolage"
    SCAMS = "arnaques"
    CYBER = "cybersecurite"
    VEHICLES = "vehicules"
    HOLIDAYS = "vacances"
    VULNERABLE = "vulnerables"


class Campaign(StrEnum):
    """A seasonal campaign (catalogue key `tips.header.<value>`)."""

    HOLIDAY_WATCH = "otv"  # Opération Tranquillité Vacances, before school holidays
    YEAR_END = "fin_annee"
    HEAT_WAVE = "canicule"


COUNTRIES = frozenset({"FR", "BE"})
TOPICS = tuple(Topic)
CAMPAIGNS = tuple(Campaign)
TEXT_MAX = 1000
# End-of-year burglary season (early nightfall, presents at home) and the national
# heat-wave watch period (veille saisonnière, 1 June - 15 September).
YEAR_END = ((11, 1), (12, 31))
HEAT_WATCH = ((6, 1), (9, 15))


class TipsError(Exception):
    """The shipped catalogue is unusable (bad file, unknown topic, missing language)."""


@dataclass(frozen=True)
class Tip:
    id: str
    topic: str  # a Topic's value (an official's tip keeps whatever topic it was saved with)
    texts: dict[str, str]
    months: frozenset[int] = field(default_factory=frozenset)
    campaign: Campaign | None = None
    retired: bool = False
    custom: bool = False
    # Where the tip applies ("FR", "BE"); a shipped tip without `countries` is French.
    countries: frozenset[str] = frozenset({"FR"})

    def text(self, language: str) -> str:
        # The profile's words: {police_number}, {force}, {home_watch}… (core/i18n.py).
        return i18n.fill(language, self.texts.get(language) or self.texts["fr"])

    def in_season(self, today: dt.date) -> bool:
        return not self.months or today.month in self.months


def _tip(entry: dict[str, object]) -> Tip:
    topic, campaign = entry.get("topic"), entry.get("campaign")
    if topic not in TOPICS or (campaign is not None and campaign not in CAMPAIGNS):
        raise TipsError(f"tip {entry.get('id')!r}: unknown topic or campaign")
    texts = {lang: str(entry[lang]).strip() for lang in ("fr", "en", "nl") if entry.get(lang)}
    listed = entry.get("countries", ["FR"])
    countries = frozenset(str(c) for c in (listed if isinstance(listed, list) else [listed]))
    needed = {"fr", "en", "nl"} if "BE" in countries else {"fr", "en"}
    if (not needed <= set(texts) or not countries <= COUNTRIES
            or any(len(t) > TEXT_MAX for t in texts.values())):
        raise TipsError(f"tip {entry.get('id')!r}: needs {sorted(needed)}, each under "
                        f"{TEXT_MAX}, and countries among {sorted(COUNTRIES)}")
    months = entry.get("months", [])
    if not isinstance(months, list):
        raise TipsError(f"tip {entry.get('id')!r}: months must be a list")
    return Tip(str(entry["id"]), str(topic), texts, frozenset(int(m) for m in months),
               Campaign(str(campaign)) if campaign else None, countries=countries)


def for_country(tips: Iterable[Tip], country: str) -> list[Tip]:
    """The tips that apply in the commune's country (an official's own tips always do)."""
    return [tip for tip in tips if tip.custom or country in tip.countries]


def school_zone_of(settings: Settings) -> str | None:
    """The school-holiday calendar of the holiday-watch campaign: a French zone ("A", "B",
    "C") or a Belgian Community ("BE-French", "BE-Flemish", "BE-German": its Community,
    else the one of the commune's language)."""
    commune = settings.commune
    if commune.country == "FR":
        return settings.tips.school_zone
    community = commune.school_community or ("Flemish" if commune.language == "nl"
                                              else "French")
    return f"BE-{community}"


@cache
def shipped(path: Path = CATALOGUE) -> tuple[Tip, ...]:
    try:
        entries = tomllib.loads(path.read_text(encoding="utf-8"))["tip"]
        tips = tuple(_tip(entry) for entry in entries)
    except (OSError, KeyError, ValueError, tomllib.TOMLDecodeError) as error:
        raise TipsError(f"{path}: {error}") from None
    if len({tip.id for tip in tips}) != len(tips):
        raise TipsError(f"{path}: two tips share an id")
    return tips


def merged(overrides: Iterable[TipOverride], base: Iterable[Tip] | None = None) -> list[Tip]:
    """The catalogue as officials made it: their edits and retirements applied, their own
    tips added (a text without English is shown in French to everyone)."""
    tips = {tip.id: tip for tip in (shipped() if base is None else base)}
    for change in overrides:
        texts = {lang: text for lang, text in (("fr", change.text_fr), ("en", change.text_en))
                 if text}
        old = tips.get(change.id)
        if old is not None:  # an edited text replaces both languages (officials write one)
            tips[change.id] = replace(old, texts=texts or old.texts, retired=change.retired)
        elif texts.get("fr"):
            tips[change.id] = Tip(change.id, change.topic, texts, retired=change.retired,
                                  custom=True)
    return list(tips.values())


def choose(tips: list[Tip], history: dict[str, float], now: float, today: dt.date,
           repeat_after: float, campaign: Campaign | None = None) -> Tip | None:
    """The tip a group should get next: of the given campaign (None: a regular tip), not
    retired, one the group has not had within `repeat_after` seconds if any is left,
    never out of season if avoidable, tips for this time of year first, the longest
    unseen first, then catalogue order."""
    pool = [tip for tip in tips if not tip.retired and tip.campaign == campaign]
    fresh = [tip for tip in pool if now - history.get(tip.id, -math.inf) >= repeat_after]
    candidates = fresh or pool
    usable = [tip for tip in candidates if tip.in_season(today)] or candidates
    if not usable:
        return None
    # Tips written for this time of year go before all-year ones.
    return min(usable, key=lambda tip: (not tip.months, history.get(tip.id, -math.inf)))


def _within(today: dt.date, window: tuple[tuple[int, int], tuple[int, int]]) -> bool:
    (start_month, start_day), (end_month, end_day) = window
    return (start_month, start_day) <= (today.month, today.day) <= (end_month, end_day)


def holiday_starts(zone: str, years: Iterable[int]) -> list[dt.date]:
    """First day of each school holiday of the zone lasting a week or more (a long weekend
    such as the Ascension bridge does not call for a home-watch request)."""
    days: set[dt.date] = set()
    if zone.startswith("BE-"):  # Belgium: the Community's school holidays (`holidays`)
        days.update(holidays.country_holidays("BE", subdiv=zone.removeprefix("BE-"),
                                              years=list(years),
                                              categories=(holidays.SCHOOL,)))
    else:
        calendar = SchoolHolidayDates()
        for year in years:
            try:
                days.update(calendar.holidays_for_year_and_zone(year, zone))
            except UnsupportedYearException:
                continue
    week = [dt.timedelta(days=n) for n in range(7)]
    return sorted(day for day in days if day - dt.timedelta(days=1) not in days
                  and all(day + offset in days for offset in week))


def campaigns_on(today: dt.date, zone: str | None, weeks_before: int) -> list[Campaign]:
    """Seasonal campaigns running on `today`, most pressing first."""
    running: list[Campaign] = []
    if zone is not None:
        horizon = today + dt.timedelta(weeks=weeks_before)
        starts = holiday_starts(zone, (today.year - 1, today.year, today.year + 1))
        if any(today < start <= horizon for start in starts):
            running.append(Campaign.HOLIDAY_WATCH)
    if _within(today, HEAT_WATCH):
        running.append(Campaign.HEAT_WAVE)
    if _within(today, YEAR_END):
        running.append(Campaign.YEAR_END)
    return running
