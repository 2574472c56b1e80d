"""Message catalogues and the charter: complete, consistent, and used keys exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core import i18n
from core.charter import Charter, CharterError
from core.permissions import RULES
from core.settings import SUPPORTED_LANGUAGES

ROOT = Path(__file__).resolve().parent.parent
# turn.t("k"), turn.reply("k"), turn.answer("k"), i18n.t(language, "k"), notify(..., "k", ...)
KEY_USE = re.compile(
    r"""(?:(?:\.t|\.reply|\.answer|\.refuse|\bt)\(\s*|i18n\.t\([^,()]+,\s*|notify\(svc, [^,]+, )"""
    r"""f?["']([a-z_]+\.[a-z_.{}]+)["']"""
)


def test_languages_have_the_same_keys_and_placeholders() -> None:
    reference = i18n.catalogue("fr")
    for language in SUPPORTED_LANGUAGES:
        other = i18n.catalogue(language)
        assert set(other) == set(reference), language
        for key, text in reference.items():
            assert i18n.placeholders(other[key]) == i18n.placeholders(text), key


def used_keys() -> set[str]:
    keys: set[str] = set()
    for path in [*ROOT.glob("handlers/*.py"), *ROOT.glob("core/*.py")]:
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


def test_charter_current_version_in_every_language() -> None:
    charter = Charter()
    for language in SUPPORTED_LANGUAGES:
        text = charter.current(language)
        assert text.version == charter.version
        assert "17" in text.body and "112" in text.body
        assert len(text.title) + len(text.body) + 2 <= 4096


def test_charter_highest_version_wins_and_must_exist_in_both_languages(tmp_path: Path) -> None:
    for name in ("v1.fr.md", "v1.en.md"):
        (tmp_path / name).write_text((ROOT / "charter" / name).read_text(encoding="utf-8"))
    body = "---\nversion: 2\ntitle: T\nsummary: S\n---\nbody\n"
    (tmp_path / "v2.fr.md").write_text(body)
    with pytest.raises(CharterError, match="missing languages"):
        Charter(tmp_path)
    (tmp_path / "v2.en.md").write_text(body)
    assert Charter(tmp_path).version == 2
    (tmp_path / "v3.fr.md").write_text(body)
    (tmp_path / "v3.en.md").write_text(body)
    with pytest.raises(CharterError, match="version must be 3"):
        Charter(tmp_path)
