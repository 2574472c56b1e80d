"""The four scheme profiles end to end: the charter, the emergency numbers, the force's name
and the notice follow commune.country, commune.force and the language."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from core import i18n
from core.charter import Charter
from core.runtime.application import build_application
from core.runtime.lifecycle import running
from core.settings import FORCES_BY_COUNTRY, SUPPORTED_LANGUAGES, ConfigError, Settings
from emulator import Person
from tests.conftest import Commune

# (country, force, language): the profiles the issue names.
PROFILES = [("FR", "gendarmerie", "fr"), ("FR", "police_municipale", "fr"),
            ("BE", "police_locale", "fr"), ("BE", "police_locale", "nl")]
NUMBERS = {"FR": ("17", "112"), "BE": ("101", "112")}


@pytest.fixture(autouse=True)
def _default_profile() -> Iterator[None]:
    yield
    i18n.use_profile(Settings().commune)


def profile_settings(country: str, force: str, language: str) -> Settings:
    return Settings(commune={"name": "Testville", "country": country, "force": force,
                             "language": language, "mayor": "Mme Dupont",
                             "unit": "Unité de Testville"})


def rendered_texts(settings: Settings) -> Iterator[tuple[str, str]]:
    """Every text a person can read in this profile: catalogues, charter, tips."""
    i18n.use_profile(settings.commune)
    for language in SUPPORTED_LANGUAGES:
        for key in i18n.catalogue(language):
            yield f"{language}:{key}", i18n.t(language, key)
        charter = Charter(settings=settings).current(language)
        yield f"{language}:charter", f"{charter.title}\n{charter.summary}\n{charter.body}"
    from handlers.tips import catalogue as tips
    for tip in tips.for_country(tips.shipped(), settings.commune.country):
        for language in SUPPORTED_LANGUAGES:
            yield f"tip {tip.id} {language}", tip.text(language)


@pytest.mark.parametrize(("country", "force"),
                         [(c, f) for c, forces in FORCES_BY_COUNTRY.items() for f in forces
                          if f != "gendarmerie"])
def test_no_text_names_the_gendarmerie_outside_a_gendarmerie_profile(country: str,
                                                                      force: str) -> None:
    found = [where for where, text in rendered_texts(profile_settings(country, force, "fr"))
             if "gendarm" in text.casefold()]
    assert found == []


@pytest.mark.parametrize("country", ["FR", "BE"])
def test_every_placeholder_is_filled_in_every_profile(country: str) -> None:
    settings = profile_settings(country, FORCES_BY_COUNTRY[country][0], "fr")
    for where, text in rendered_texts(settings):
        left = i18n.placeholders(text) & set(i18n.profile("fr"))
        assert not left, where


def test_an_invalid_combination_is_refused_naming_the_keys(tmp_path: Any) -> None:
    from core.settings import load_settings
    config = tmp_path / "config.toml"
    config.write_text('[commune]\ncountry = "BE"\nforce = "gendarmerie"\n')
    with pytest.raises(ConfigError) as error:
        load_settings(config)
    assert "commune.country" in str(error.value) and "commune.force" in str(error.value)
    config.write_text('[commune]\ncountry = "FR"\nforce = "police_locale"\n')
    with pytest.raises(ConfigError, match=r"commune\.force"):
        load_settings(config)


@pytest.mark.parametrize(("country", "force", "language"), PROFILES,
                         ids=["-".join(p) for p in PROFILES])
async def test_key_flows_follow_the_profile(make_settings: Callable[..., Settings],
                                           commune: Commune, country: str, force: str,
                                           language: str) -> None:
    emu = commune.emu
    resident = emu.create_user("Dana", language_code=language)
    liaison = emu.create_user("Liaison", language_code=language)
    settings = make_settings(commune={"name": "Testville", "country": country,
                                      "force": force, "language": language,
                                      "mayor": "Mme Dupont", "unit": "Unité de Testville"},
                             roles={"liaison_chat_id": liaison.id})

    def t(key: str, **values: Any) -> str:
        return i18n.t(language, key, **values)

    police, general = NUMBERS[country]
    async with running(build_application(settings)) as app:
        from core.services import services_of
        charter = services_of(app).charter.current(language)
        assert police in charter.body and "Mme Dupont" in charter.body
        liaison.send_command("/aide")
        await liaison.wait_for(text="/")

        # Enrolment with the profile's charter.
        resident.send_command("/start")
        shown = await resident.wait_for(text=charter.body[:60])
        assert police in (shown.text or "")
        await resident.wait_for(text=t("charter.question", summary=charter.summary))
        resident.press(t("charter.accept"))
        await resident.wait_for(text=t("enrolment.choose_sector"))
        resident.press("Centre-bourg")
        await resident.wait_for(text=t("enrolment.ask_street", limit=80)[:25])
        resident.press(t("enrolment.skip_street"))
        await resident.wait_for(text="Centre-bourg")

        # A report shows the profile's emergency numbers; the liaison's card names the force.
        resident.send_command("/signaler")
        warning = await resident.wait_for(text=t("reports.not_emergency"))
        assert police in (warning.text or "") and general in (warning.text or "")
        await _report(resident, t)
        card = await liaison.wait_for(text=t("reports.status.relayed"))
        force_name = i18n.profile(language)["force"]
        assert force_name in (card.text or "")
        if force != "gendarmerie":
            assert "gendarm" not in (card.text or "").casefold()

        # The privacy notice's header names the scheme, the commune and the authority.
        resident.send_command("/confidentialite")
        notice = await resident.wait_for(text=t("privacy.notice", retention=90, keep=7,
                                                audit=365)[:40])
        words = i18n.profile(language)
        assert words["scheme"] in (notice.text or "") and "Testville" in (notice.text or "")
        assert words["authority_short"] in (notice.text or "")


async def _report(person: Person, t: Callable[..., str]) -> None:
    await person.wait_for(text=t("reports.ask_category"))
    person.press(t("reports.category.vehicle"))
    await person.wait_for(text=t("reports.ask_when"))
    person.press(t("reports.when.now"))
    await person.wait_for(text=t("reports.ask_description", limit=1000)[:20])
    person.send_text("Une voiture grise tourne depuis une heure rue des Lilas")
    await person.wait_for(text=t("reports.ask_location")[:20])
    person.send_text(t("reports.skip"))
    await person.wait_for(text=t("reports.ask_photo")[:20])
    person.press(t("reports.skip"))
    await person.wait_for(text=t("reports.summary_title"))
    person.press(t("reports.confirm"))
    await person.wait_for(text=t("reports.sent", id=1)[:12])
