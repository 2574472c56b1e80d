"""Fixtures: a Telegram emulator on localhost, a demo commune in it, and the real bot.

The bot is the real `Application` from bot.py, polling the emulator over HTTP in the test's
event loop. People act through the emulator's test API (they send, press, join, block)
and tests read what each chat received.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import Application

from core import i18n, logs
from core.runtime.application import build_application
from core.runtime.lifecycle import running
from core.settings import Settings
from demo.local import local_settings
from emulator import Group, Limits, Person, TelegramEmulator

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:TEST-TOKEN-never-logged"  # dev.py greps the test log for it afterwards
LOG_FILE = ROOT / "test-logs" / "vigie.log"
# Telegram's limits, 10x faster in time, on both sides: tests stay quick, rules stay real.
SCALE = 10.0
SECTORS = ("Centre-bourg", "Les Hauts", "La Vallée")


def fr(key: str, **values: Any) -> str:
    return i18n.t("fr", key, **values)


@pytest.fixture(scope="session", autouse=True)
def _logging() -> None:
    # DEBUG on purpose: even the most verbose run must not leak a token, a name or a text.
    logs.configure("DEBUG", "json", (TOKEN,), LOG_FILE)


@pytest.fixture
def emulator() -> Iterator[TelegramEmulator]:
    with TelegramEmulator(token=TOKEN, bot_username="vigie_test_bot",
                          limits=Limits(scale=SCALE)) as emu:
        yield emu


@dataclass
class Commune:
    """The people of a small commune, as Telegram users in the emulator."""

    emu: TelegramEmulator
    official: Person
    admin: Person
    liaison: Person
    alice: Person
    bob: Person
    carol: Person
    groups: dict[str, Group]

    def group_with_bot(self, title: str, members: list[Person] | None = None) -> Group:
        """A supergroup created by the official, with the bot as a full administrator."""
        group = self.emu.create_group(title, creator=self.official, members=members or [],
                                      supergroup=True)
        group.add_bot(by=self.official)
        return group


@pytest.fixture
def commune(emulator: TelegramEmulator) -> Commune:
    make = emulator.create_user
    official = make("Odile", username="odile_maire", language_code="fr")
    return Commune(
        emu=emulator,
        official=official,
        admin=make("Adam", username="adam_it", language_code="fr"),
        liaison=make("Gaston", username="adj_gaston", language_code="fr"),
        alice=make("Alice", last_name="Martin", language_code="fr"),
        bob=make("Bob", language_code="en"),
        carol=make("Carole", language_code="fr"),
        groups={},
    )


@pytest.fixture
def make_settings(tmp_path: Path, emulator: TelegramEmulator, commune: Commune
                  ) -> Callable[..., Settings]:
    def make(**sections: Any) -> Settings:
        commune_defaults: dict[str, Any] = {
            "commune": {"name": "Saint-Exemple"},
            "sectors": [{"name": name} for name in SECTORS],
            "roles": {"officials": [commune.official.id], "admins": [commune.admin.id],
                      "liaison_chat_id": commune.liaison.id},
            "outbox": {"base_backoff_seconds": 1.0},
        }
        return local_settings(emulator, tmp_path / "vigie.db", SCALE, commune_defaults,
                              sections)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
async def vigie(settings: Settings) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    async with running(build_application(settings)) as app:
        yield app
