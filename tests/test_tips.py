"""Prevention tips: the shipped catalogue, the choice on fixed dates, the schedule across a
restart, /conseil for residents and /conseils for officials."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Iterator
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from telegram.ext import Application

from core import i18n
from core.runtime.application import build_application
from core.runtime.lifecycle import running, services_of
from core.settings import Settings, TipsSettings
from emulator import Group
from handlers.tips import catalogue
from handlers.tips.schedule import latest_slot, pick, quiet_end
from storage import TipOverride
from testing.commune import link, started
from testing.fences import eventually, jobs_idle, quiescent
from tests.conftest import Commune, fr

PARIS = ZoneInfo("Europe/Paris")
DAY = 86400.0


def test_the_shipped_catalogue_is_complete_in_both_languages() -> None:
    tips = catalogue.shipped()
    regular = Counter(tip.topic for tip in tips if tip.campaign is None)
    assert sum(regular.values()) >= 40
    assert set(regular) == set(catalogue.TOPICS) and min(regular.values()) >= 6
    assert set(catalogue.CAMPAIGNS) <= {tip.campaign for tip in tips}
    for tip in tips:
        assert tip.texts["fr"] != tip.texts["en"] and not set("<>&") & set(tip.texts["fr"])


@pytest.mark.parametrize(("day", "zone", "expected"), [
    # Zone A's winter holidays 2027 start on 13 February: three weeks before, OTV is on.
    (dt.date(2027, 1, 20), "A", []),
    (dt.date(2027, 1, 25), "A", ["otv"]),
    (dt.date(2027, 2, 15), "A", []),  # during the holidays: too late to sign up
    (dt.date(2027, 4, 20), "A", []),  # the Ascension bridge (6 May) is not a holiday
    (dt.date(2026, 7, 14), None, ["canicule"]),
    (dt.date(2026, 12, 1), "C", ["otv", "fin_annee"]),  # Christmas holidays ahead
    (dt.date(2026, 11, 10), None, ["fin_annee"]),
    (dt.date(2026, 3, 10), None, []),
])
def test_seasonal_campaigns_on_fixed_dates(day: dt.date, zone: str | None,
                                           expected: list[str]) -> None:
    assert catalogue.campaigns_on(day, zone, 3) == expected


def test_a_group_gets_in_season_tips_it_has_not_had_then_the_campaign() -> None:
    tips = catalogue.shipped()
    settings = TipsSettings()
    now = dt.datetime(2026, 7, 14, 11, tzinfo=PARIS).timestamp()
    today = dt.date(2026, 7, 14)
    history: dict[str, float] = {}
    seen = []
    for _ in range(5):
        chosen = pick(tips, history, now, today, ["canicule"], settings)
        assert chosen is not None
        seen.append(chosen)
        history[chosen.id] = now
        now += DAY
    assert seen[0].campaign == "canicule"  # the campaign first, then once a week at most
    assert all(tip.campaign is None for tip in seen[1:])
    assert len({tip.id for tip in seen}) == 5  # nothing repeated
    assert seen[1].months and 7 in seen[1].months  # summer tips come first in July


def test_retired_and_edited_tips() -> None:
    tips = catalogue.merged([
        TipOverride("cambriolage-01", "cambriolage", None, None, True),
        TipOverride("arnaques-01", "arnaques", "Nouveau texte", None, False),
        TipOverride("mairie-1", "vehicules", "Conseil de la mairie", None, False),
    ])
    by_id = {tip.id: tip for tip in tips}
    assert by_id["cambriolage-01"].retired
    assert by_id["arnaques-01"].text("en") == "Nouveau texte"  # French until translated
    assert by_id["mairie-1"].custom and by_id["mairie-1"].topic == "vehicules"


def test_quiet_hours_postpone_a_run() -> None:
    evening = dt.datetime(2026, 3, 3, 22, 30, tzinfo=PARIS)
    assert quiet_end(evening, "21:00-08:00") == dt.datetime(2026, 3, 4, 8, 0, tzinfo=PARIS)
    early = dt.datetime(2026, 3, 4, 6, 0, tzinfo=PARIS)
    assert quiet_end(early, "21:00-08:00") == dt.datetime(2026, 3, 4, 8, 0, tzinfo=PARIS)
    noon = dt.datetime(2026, 3, 4, 12, 0, tzinfo=PARIS)
    assert quiet_end(noon, "21:00-08:00") == noon
    assert quiet_end(noon, "12:00-14:00") == dt.datetime(2026, 3, 4, 14, 0, tzinfo=PARIS)
    assert quiet_end(noon, None) == noon


def test_latest_missed_slot_within_the_grace_period() -> None:
    trigger = CronTrigger.from_crontab("0 18 * * tue", timezone=PARIS)
    wednesday = dt.datetime(2026, 3, 4, 9, 0, tzinfo=PARIS)
    assert latest_slot(trigger, wednesday, dt.timedelta(hours=6)) is None
    missed = latest_slot(trigger, wednesday, dt.timedelta(hours=24))
    assert missed == dt.datetime(2026, 3, 3, 18, 0, tzinfo=PARIS)


def is_tip(text: str | None) -> bool:
    """A posted tip: a topic's header, or a seasonal campaign's (today's date decides)."""
    headers = [fr(f"tips.topic.{t}") for t in catalogue.TOPICS]
    headers += [fr(f"tips.header.{c}") for c in catalogue.CAMPAIGNS]
    return any((text or "").startswith(header) for header in headers)


def tip_posts(group: Group) -> list[str]:
    return [m.text or "" for m in group.sent() if is_tip(m.text)]


def schedule(make_settings: Callable[..., Settings], hours_ago: float, grace: float
             ) -> Settings:
    """A daily run `hours_ago`, missed while 'the bot was down'."""
    slot = dt.datetime.now(PARIS) - dt.timedelta(hours=hours_ago)
    return make_settings(tips={"schedule": [f"{slot.minute} {slot.hour} * * *"],
                               "quiet_hours": None, "grace_hours": grace})


async def catch_up_done(app: Application) -> None:  # type: ignore[type-arg]
    """Wait until the start-up catch-up job has run (or there was none)."""
    jobs = app.job_queue
    assert jobs is not None

    async def fired() -> bool:
        return not [job for job in jobs.jobs() if job.name and job.name.endswith("catch-up")]

    await eventually(fired, what="the catch-up job has run")


async def linked_groups(settings: Settings, commune: Commune) -> list[Group]:
    async with running(build_application(settings)):
        return [await link(commune, "Centre-bourg"), await link(commune, "Les Hauts")]


async def test_a_missed_run_is_posted_once_across_restarts(
    settings: Settings, make_settings: Callable[..., Settings], commune: Commune
) -> None:
    groups = await linked_groups(settings, commune)
    missed = schedule(make_settings, hours_ago=0.5, grace=2)
    async with running(build_application(missed)):
        for group in groups:
            await group.wait_for(lambda m: is_tip(m.text), since=None)
    async with running(build_application(missed)) as app:
        await catch_up_done(app)
        await jobs_idle(app)  # the catch-up has run to its end: a wrongful post is queued
        await quiescent(app, commune.emu)  # ... and sent
    assert [len(tip_posts(group)) for group in groups] == [1, 1]


async def test_a_run_missed_too_long_ago_is_let_go(
    settings: Settings, make_settings: Callable[..., Settings], commune: Commune
) -> None:
    groups = await linked_groups(settings, commune)
    too_old = schedule(make_settings, hours_ago=3, grace=1)
    async with running(build_application(too_old)) as app:
        await catch_up_done(app)
        assert await services_of(app).store.tips.runs(f"tips:{too_old.tips.schedule[0]}") == []
        assert [job.name for job in app.job_queue.jobs()
                if job.name and job.name.startswith("tips")] == [f"tips:{too_old.tips.schedule[0]}"]
    assert [tip_posts(group) for group in groups] == [[], []]


async def test_tip_on_demand_and_by_topic(vigie: Application, commune: Commune) -> None:  # type: ignore[type-arg]
    alice = commune.alice
    await started(alice)
    alice.send_command("/conseil")
    first = await alice.wait_for(text="Conseil de prévention")
    assert len(first.buttons) == len(catalogue.TOPICS)
    alice.press(fr("tips.topic.cybersecurite"))
    second = await alice.wait_for(text=fr("tips.topic.cybersecurite"))
    assert second.message_id != first.message_id
    alice.send_command("/conseil", args="jardinage")
    await alice.wait_for(text="Je ne connais pas ce thème")
    commune.bob.send_command("/conseil")  # not enrolled, English: advice is for everyone
    await commune.bob.wait_for(text="Prevention tip")


async def test_officials_add_edit_and_retire_tips(vigie: Application, commune: Commune) -> None:  # type: ignore[type-arg]
    official, store = commune.official, services_of(vigie).store
    await started(official)
    official.send_command("/conseils", args="ajouter vehicules Fermez votre voiture.")
    await official.wait_for(text="Conseil mairie-1 ajouté")
    official.send_command("/conseils", args="modifier arnaques-01 Ne payez jamais sur le pas.")
    await official.wait_for(text="Conseil arnaques-01 modifié")
    official.send_command("/conseils", args="retirer cambriolage-01")
    await official.wait_for(text="Conseil cambriolage-01 retiré")
    official.send_command("/conseils", args="voir arnaques-01")
    shown = await official.wait_for(text="Conseil arnaques-01")
    assert "Ne payez jamais" in shown.text
    official.send_command("/conseils", args="retirer n-existe-pas")
    await official.wait_for(text="Aucun conseil ne porte le numéro")
    tips = {tip.id: tip for tip in catalogue.merged(await store.tips.overrides())}
    assert tips["cambriolage-01"].retired and tips["mairie-1"].custom
    assert [e["action"] for e in await store.audit.entries(limit=3)] == [
        "tip.retired", "tip.edited", "tip.added"]
    await started(commune.alice)
    commune.alice.send_command("/conseils", args="retirer arnaques-02")
    await commune.alice.wait_for(text=fr("denied.officials_only"))
    assert not {tip.id: tip for tip in catalogue.merged(await store.tips.overrides())}[
        "arnaques-02"].retired


# Tips by country (issue 16): each tip says where it applies; a BE commune gets Belgian ones.
LANGUAGES_OF = {"FR": ("fr", "en"), "BE": ("fr", "nl", "en")}
# French numbers and services a Belgian resident must never be sent to.
NOT_IN_BELGIUM = re.compile(r"gendarm|\b(?:15|17|18|114|3977|33700)\b|gouv\.fr|service-public"
                            r"|Tranquillité|\bmairie\b|\bCCAS\b|\bCNIL\b", re.IGNORECASE)
NOT_IN_FRANCE = re.compile(r"\b101\b|Card Stop|Police-on-web|safeonweb|\bCPAS\b|technoprév",
                           re.IGNORECASE)


def profile_of(country: str, language: str = "fr") -> Settings:
    force = "police_locale" if country == "BE" else "gendarmerie"
    return Settings(commune={"name": "Testville", "country": country, "force": force,
                             "language": language})


@pytest.fixture
def _default_profile() -> Iterator[None]:
    yield
    i18n.use_profile(Settings().commune)


@pytest.mark.parametrize("country", ["FR", "BE"])
def test_each_country_has_forty_regular_tips_in_each_of_its_languages(country: str) -> None:
    tips = catalogue.for_country(catalogue.shipped(), country)
    regular = [tip for tip in tips if tip.campaign is None]
    for language in LANGUAGES_OF[country]:
        assert sum(bool(tip.texts.get(language)) for tip in regular) >= 40, language
    topics = Counter(tip.topic for tip in regular)
    assert set(topics) == set(catalogue.TOPICS) and min(topics.values()) >= 5
    assert {tip.campaign for tip in tips if tip.campaign} == set(catalogue.CAMPAIGNS)
    for tip in tips:  # a tip of both countries is translated: no Belgian sees French instead
        assert len(set(tip.texts.values())) == len(tip.texts), tip.id
        assert all(len(text) <= 600 for text in tip.texts.values()), tip.id


@pytest.mark.usefixtures("_default_profile")
@pytest.mark.parametrize(("country", "unwanted"), [("BE", NOT_IN_BELGIUM),
                                                   ("FR", NOT_IN_FRANCE)], ids=["BE", "FR"])
def test_a_tip_names_only_its_country_s_numbers_and_services(country: str,
                                                             unwanted: re.Pattern[str]) -> None:
    i18n.use_profile(profile_of(country).commune)
    found = [(tip.id, language, hit.group()) for tip in catalogue.shipped()
             if country in tip.countries for language in LANGUAGES_OF[country]
             if (hit := unwanted.search(tip.text(language)))]
    assert found == []
    filled = [tip.id for tip in catalogue.for_country(catalogue.shipped(), country)
              for language in LANGUAGES_OF[country] if "{" in tip.text(language)]
    assert filled == []  # every placeholder of the profile is filled in


def test_the_belgian_calendar_calls_for_the_police_on_web_request() -> None:
    belgian = profile_of("BE", "nl")
    assert catalogue.school_zone_of(belgian) == "BE-Flemish"
    assert catalogue.school_zone_of(profile_of("BE")) == "BE-French"
    tips = catalogue.for_country(catalogue.shipped(), "BE")
    start = catalogue.holiday_starts("BE-Flemish", [2026])[0]
    today = start - dt.timedelta(days=10)
    campaigns = catalogue.campaigns_on(today, catalogue.school_zone_of(belgian), 3)
    assert campaigns[0] == "otv"
    now = dt.datetime.combine(today, dt.time(11), tzinfo=PARIS).timestamp()
    chosen = pick(tips, {}, now, today, campaigns, TipsSettings())
    assert chosen is not None and chosen.campaign == "otv" and "BE" in chosen.countries
    regular = pick(tips, {chosen.id: now}, now, today, [], TipsSettings())
    assert regular is not None and regular.campaign is None and "BE" in regular.countries


@pytest.mark.usefixtures("_default_profile")
async def test_the_schedule_posts_a_belgian_tip_in_a_belgian_commune(
    settings: Settings, make_settings: Callable[..., Settings], commune: Commune
) -> None:
    groups = await linked_groups(settings, commune)
    slot = dt.datetime.now(PARIS) - dt.timedelta(hours=0.5)
    belgian = make_settings(
        commune={"name": "Testville", "country": "BE", "force": "police_locale",
                 "language": "fr"},
        tips={"schedule": [f"{slot.minute} {slot.hour} * * *"], "quiet_hours": None,
              "grace_hours": 2})
    async with running(build_application(belgian)) as app:
        await catch_up_done(app)
        await jobs_idle(app)
        await quiescent(app, commune.emu)
        store = services_of(app).store
        ids = [tip_id for sector in await store.sectors.active()
               for tip_id in await store.tips.last_posted(sector.id)]
    by_id = {tip.id: tip for tip in catalogue.shipped()}
    assert len(ids) == 2 and all("BE" in by_id[tip_id].countries for tip_id in ids)
    for group in groups:
        posts = tip_posts(group)
        assert len(posts) == 1 and not NOT_IN_BELGIUM.search(posts[0])
