"""Message catalogues: every text a person reads comes from locales/<lang>.toml and the
per-flow files beside it (locales/<lang>.<flow>.toml); a key defined twice is an error.

French is the reference catalogue; another language may lack a key, in which case the French
text is used rather than showing a key name to a resident.

The scheme's profile (commune.country, force, scheme, and the commune's names) words every
text: `{force}`, `{correspondent}`, `{scheme}`, `{police_number}`, `{sos_numbers}`… come from
locales/profiles.toml and the settings, so a handler passes only its own values. The profile
is one per process (`use_profile`, called when the application is built).
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from string import Formatter
from typing import Any

from core.settings import SUPPORTED_LANGUAGES, CommuneSettings

LOCALES = Path(__file__).resolve().parent.parent / "locales"
PROFILES = LOCALES / "profiles.toml"
REFERENCE = "fr"
# Settings of the commune whose words fill the profile placeholders.
_commune: CommuneSettings = CommuneSettings()
# Values a commune configures, with the wording used when it did not.
CONFIGURED = ("mayor", "unit", "controller", "controller_contact", "dpo_contact")


class _Keep(dict[str, Any]):
    """Leaves an unknown {placeholder} as it is instead of failing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


@cache
def catalogue(language: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in [LOCALES / f"{language}.toml", *sorted(LOCALES.glob(f"{language}.*.toml"))]:
        part = _flatten(tomllib.loads(path.read_text(encoding="utf-8")))
        twice = sorted(set(part) & set(merged))
        if twice:
            raise ValueError(f"{path.name}: keys defined in another catalogue file: {twice}")
        merged.update(part)
    return merged


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in Formatter().parse(text) if field}


def language_for(code: str | None, default: str) -> str:
    """The supported language closest to a Telegram `language_code` ("en-GB" → "en")."""
    short = (code or "").split("-")[0].lower()
    return short if short in SUPPORTED_LANGUAGES else default


@cache
def _profile_tables() -> dict[str, Any]:
    return tomllib.loads(PROFILES.read_text(encoding="utf-8"))


def use_profile(commune: CommuneSettings) -> None:
    """Word every text for this commune's scheme from now on (one profile per process)."""
    global _commune
    _commune = commune
    profile.cache_clear()


@cache
def profile(language: str) -> dict[str, str]:
    """The profile's words in a language, every value already filled in."""
    tables = _profile_tables()
    lang = language if language in tables else REFERENCE
    words: dict[str, str] = {
        **tables[lang][_commune.force], **tables[lang][_commune.country],
        "commune": _commune.name, "backup_days": str(_commune.backup_retention_days),
    }
    if _commune.scheme:
        words["scheme"] = _commune.scheme
    for name in CONFIGURED:
        words[name] = getattr(_commune, name) or tables[lang]["unset"][name]
    for _ in range(3):  # words refer to other words ("{town_hall} de {commune}")
        words = {name: value.format_map(_Keep(words)) for name, value in words.items()}
    return words


def fill(language: str, text: str, **values: Any) -> str:
    """A text with its placeholders filled: the caller's values, then the profile's words;
    an unknown placeholder is left as it is."""
    if "{" not in text:
        return text
    return text.format_map(_Keep({**profile(language), **values}))


def t(language: str, key: str, **values: Any) -> str:
    text = catalogue(language).get(key)
    if text is None:
        text = catalogue(REFERENCE)[key]
    return fill(language, text, **values)
