"""The charter "vigilant mais pas vigile": versioned Markdown files.

`v<N>.<lang>.md` (any country) or `v<N>.<COUNTRY>.<lang>.md` (a variant where the law
differs, FR or BE), front matter `version`, `title`, `summary`; the highest N is current.
The shipped charters are in charter/; a commune's own charter lives in `commune.charter_dir`,
or else `<data folder>/charter` when it holds any file, without editing tracked files.
Texts carry the profile's placeholders (`{commune}`, `{mayor}`, `{force}`, `{unit}`…),
filled in from the settings. The number people accept is kept in the database: at start,
`sync` registers the digest of the texts, so a changed text (a new file, an edited one, a
new mayor) gets a new version and everyone accepts again before their next report.
Loaded once at start and checked, so a broken charter stops the bot before anyone sees it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from core import i18n
from core.settings import SUPPORTED_LANGUAGES, Settings

CHARTER_DIR = Path(__file__).resolve().parent.parent / "charter"
_FILE = re.compile(r"^v(\d+)\.(?:(FR|BE)\.)?([a-z]{2})\.md$")


class CharterError(Exception):
    pass


class VersionStore(Protocol):
    async def register_version(self, digest: str, at_least: int, source: str) -> int: ...


class _Store(Protocol):
    @property
    def charter(self) -> VersionStore: ...


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


def source_dir(settings: Settings | None) -> Path:
    """Where the charter comes from: the configured folder, the data folder's, or ours."""
    if settings is None:
        return CHARTER_DIR
    if settings.commune.charter_dir is not None:
        return settings.commune.charter_dir
    own = settings.storage.database.parent / "charter"
    return own if any(own.glob("v*.md")) else CHARTER_DIR


class Charter:
    def __init__(self, directory: Path | None = None, settings: Settings | None = None
                 ) -> None:
        directory = directory or source_dir(settings)
        country = settings.commune.country if settings is not None else "FR"
        texts: dict[tuple[int, str], CharterText] = {}
        specific: set[tuple[int, str]] = set()
        for path in sorted(directory.glob("v*.md")):
            found = _FILE.match(path.name)
            if not found or found.group(2) not in (None, country):
                continue
            version, language = int(found.group(1)), found.group(3)
            if found.group(2) is None and (version, language) in specific:
                continue  # the country's variant wins over the general text
            if found.group(2) is not None:
                specific.add((version, language))
            texts[version, language] = _parse(path, version, language)
        if not texts:
            raise CharterError(f"{directory}: no charter file")
        self.file_version = max(version for version, _ in texts)
        missing = [lang for lang in SUPPORTED_LANGUAGES
                   if (self.file_version, lang) not in texts]
        if missing:
            raise CharterError(f"charter v{self.file_version} is missing languages: {missing}")
        self.directory = directory
        self._texts = texts
        # The number people accept: the file's until `sync` reads the database's.
        self.version = self.file_version
        for language in SUPPORTED_LANGUAGES:
            text = self.current(language)
            if len(text.title) + len(text.body) + 2 > 4096:
                raise CharterError(f"charter v{self.file_version}.{language}: longer than one"
                                   " Telegram message (4096 characters) once filled in")

    def current(self, language: str) -> CharterText:
        text = self._texts[self.file_version, language]
        fill = i18n.fill
        return CharterText(self.version, language, fill(language, text.title),
                           fill(language, text.summary), fill(language, text.body))

    def digest(self) -> str:
        """What identifies the texts people are asked to accept, as they read them."""
        hashed = hashlib.sha256()
        for language in SUPPORTED_LANGUAGES:
            text = replace(self.current(language), version=0)
            hashed.update(f"{language}\0{text.title}\0{text.summary}\0{text.body}\0".encode())
        return hashed.hexdigest()

    async def sync(self, store: _Store) -> int:
        """Take the version number from the database, registering these texts if new."""
        source = "shipped" if self.directory == CHARTER_DIR else "commune"
        self.version = await store.charter.register_version(self.digest(), self.file_version,
                                                            source)
        return self.version
