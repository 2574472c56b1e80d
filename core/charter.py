"""The charter "vigilant mais pas vigile": versioned Markdown files in charter/.

`v<N>.<lang>.md`, front matter `version`, `title`, `summary`; the highest N is current.
Loaded once at start and checked, so a broken charter stops the bot before anyone sees it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core.settings import SUPPORTED_LANGUAGES

CHARTER_DIR = Path(__file__).resolve().parent.parent / "charter"
_FILE = re.compile(r"^v(\d+)\.([a-z]{2})\.md$")


class CharterError(Exception):
    pass


@dataclass(frozen=True)
class CharterText:
    version: int
    language: str
    title: str
    summary: str
    body: str


def _parse(path: Path, version: int, language: str) -> CharterText:
    text = path.read_text(encoding="utf-8")
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", text, re.DOTALL)
    if not match:
        raise CharterError(f"{path.name}: missing front matter")
    meta = dict(
        line.split(":", 1) for line in match.group(1).splitlines() if ":" in line
    )
    meta = {key.strip(): value.strip() for key, value in meta.items()}
    if meta.get("version") != str(version):
        raise CharterError(f"{path.name}: front matter version must be {version}")
    if not meta.get("title") or not meta.get("summary"):
        raise CharterError(f"{path.name}: front matter needs title and summary")
    return CharterText(version, language, meta["title"], meta["summary"], match.group(2).strip())


class Charter:
    def __init__(self, directory: Path = CHARTER_DIR) -> None:
        texts: dict[tuple[int, str], CharterText] = {}
        for path in sorted(directory.glob("v*.md")):
            found = _FILE.match(path.name)
            if found:
                version, language = int(found.group(1)), found.group(2)
                texts[version, language] = _parse(path, version, language)
        if not texts:
            raise CharterError(f"{directory}: no charter file")
        self.version = max(version for version, _ in texts)
        missing = [lang for lang in SUPPORTED_LANGUAGES if (self.version, lang) not in texts]
        if missing:
            raise CharterError(f"charter v{self.version} is missing languages: {missing}")
        self._texts = texts

    def current(self, language: str) -> CharterText:
        return self._texts[self.version, language]
