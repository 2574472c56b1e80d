"""Message catalogues: every text a person reads comes from locales/<lang>.toml and the
per-flow files beside it (locales/<lang>.<flow>.toml); a key defined twice is an error.

French is the reference catalogue; another language may lack a key, in which case the French
text is used rather than showing a key name to a resident.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from string import Formatter
from typing import Any

from core.settings import SUPPORTED_LANGUAGES

LOCALES = Path(__file__).resolve().parent.parent / "locales"
REFERENCE = "fr"


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


def t(language: str, key: str, **values: Any) -> str:
    text = catalogue(language).get(key)
    if text is None:
        text = catalogue(REFERENCE)[key]
    return text.format(**values) if values else text
