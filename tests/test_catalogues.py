"""Message catalogues and the charter: complete, consistent, and used keys exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core import i18n
from core.charter import Charter, CharterError
from core.permissions import RULES
from core.settings import FORCES_BY_COUNTRY, SUPPORTED_LANGUAGES, Settings

ROOT = Path(__file__).resolve().parent.parent
# turn.t("k"), turn.reply("k"), turn.answer("k"), i18n.t(language, "k"), notify(..., "k", ...)
KEY_USE = re.compile(
    r"""(?:(?:\.t|\.reply|\.answer|\.refuse|\bt)\(\s*|i18n\.t\([^,()]+,\s*|notify\(svc, [^,]+, )"""
    r"""f?["']([a-z_]+\.[a-z_.{}]+)["']"""
)


@pytest.mark.parametrize("language", [lang for lang in SUPPORTED_LANGUAGES if lang != "fr"])
def test_languages_have_the_same_keys_and_placeholders(language: str) -> None:
    reference, other = i18n.catalogue("fr"), i18n.catalogue(language)
    assert sorted(set(reference) - set(other)) == [], f"{language}: missing keys"
    assert sorted(set(other) - set(reference)) == [], f"{language}: extra keys"
    mismatched = [key for key, text in reference.items()
                  if i18n.placeholders(other[key]) != i18n.placeholders(text)]
    assert mismatched == [], f"{language}: placeholders differ from fr"


def test_profile_words_exist_for_every_language_force_and_country() -> None:
    tables = i18n._profile_tables()
    assert set(tables) == set(SUPPORTED_LANGUAGES)
    for kind, names in (("force", FORCES_BY_COUNTRY["FR"] + FORCES_BY_COUNTRY["BE"]),
                        ("country", tuple(FORCES_BY_COUNTRY)), ("unset", ("unset",))):
        shapes = {(lang, name): set(tables[lang][name]) for lang in tables for name in names}
        assert len({frozenset(keys) for keys in shapes.values()}) == 1, kind


def used_keys() -> set[str]:
    keys: set[str] = set()
    for path in [*ROOT.glob("handlers/**/*.py"), *ROOT.glob("core/**/*.py")]:
        keys.update(KEY_USE.findall(path.read_text(encoding="utf-8")))
    keys.update(rule.refusal for rule in RULES.values())
    return keys


def test_every_key_used_in_code_exists() -> None:
    reference = i18n.catalogue("fr")
    plain = {key for key in used_keys() if "{" not in key}
    assert plain, "the scan found no key: the pattern is broken"
    assert plain - set(reference) == set()


def test_language_for_telegram_codes() -> None:
    assert i18n.language_for("en-GB", "fr") == "en"
    assert i18n.language_for("de", "fr") == "fr"
    assert i18n.language_for(None, "en") == "en"


@pytest.mark.parametrize(("country", "force", "police"),
                         [("FR", "gendarmerie", "17"), ("BE", "police_locale", "101")])
def test_charter_current_version_in_every_language(country: str, force: str,
                                                   police: str) -> None:
    settings = Settings(commune={"country": country, "force": force, "mayor": "M. Le Maire"})
    i18n.use_profile(settings.commune)
    try:
        charter = Charter(settings=settings)
        for language in SUPPORTED_LANGUAGES:
            text = charter.current(language)
            assert text.version == charter.version
            assert police in text.body and "112" in text.body and "{" not in text.body
            assert "M. Le Maire" in text.body
            assert len(text.title) + len(text.body) + 2 <= 4096
    finally:
        i18n.use_profile(Settings().commune)


def test_charter_highest_version_wins_and_must_exist_in_every_language(
        tmp_path: Path) -> None:
    for language in SUPPORTED_LANGUAGES:
        name = f"v2.FR.{language}.md"
        (tmp_path / f"v2.{language}.md").write_text(
            (ROOT / "charter" / name).read_text(encoding="utf-8"))
    body = "---\nversion: 3\ntitle: T\nsummary: S\n---\nbody\n"
    (tmp_path / "v3.fr.md").write_text(body)
    with pytest.raises(CharterError, match="missing languages"):
        Charter(tmp_path)
    for language in SUPPORTED_LANGUAGES:
        (tmp_path / f"v3.{language}.md").write_text(body)
    assert Charter(tmp_path).version == 3
    for language in SUPPORTED_LANGUAGES:
        (tmp_path / f"v4.{language}.md").write_text(body)
    with pytest.raises(CharterError, match="version must be 4"):
        Charter(tmp_path)


def test_a_commune_charter_in_the_data_folder_replaces_the_shipped_one(
        tmp_path: Path) -> None:
    own = tmp_path / "charter"
    own.mkdir()
    for language in SUPPORTED_LANGUAGES:
        (own / f"v1.{language}.md").write_text(
            "---\nversion: 1\ntitle: Charte de {commune}\nsummary: S\n---\nAppelez le "
            "{police_number}.\n")
    settings = Settings(commune={"name": "Ittre", "country": "BE", "force": "police_locale"},
                        storage={"database": tmp_path / "vigie.db"})
    i18n.use_profile(settings.commune)
    try:
        charter = Charter(settings=settings)
        assert charter.current("nl").title == "Charte de Ittre"
        assert charter.current("fr").body == "Appelez le 101."
    finally:
        i18n.use_profile(Settings().commune)
