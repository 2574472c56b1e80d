"""Fixtures: a Telegram emulator on localhost, a demo commune in it, and the real bot.

The bot is the real `Application` from bot.py, polling the emulator over HTTP in the test's
event loop. People act through the emulator's test API (they send, press, join, block)
and tests read what each chat received.

One emulator serves the whole run and is reset before each test (`TelegramEmulator.reset`:
a fresh world, same port); a module or test marked `own_emulator` (one that starts bot
processes of its own, which could outlive a failing test) gets a private one. Every test
still has its own database (tmp_path) and its own bot. Shared steps and fences live in the
`testing` package.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import Application

from core import i18n, logs
from core.runtime.application import build_application
from core.runtime.lifecycle import running
from core.settings import Settings
from emulator import Limits, TelegramEmulator
from testing.commune import (
    BOT_USERNAME,
    SCALE,
    SECTORS,
    TOKEN,
    Commune,
    commune_config,
    make_commune,
    with_members,
)
from testing.local import local_settings

__all__ = ["LOG_FILE", "ROOT", "SCALE", "SECTORS", "TOKEN", "Commune", "fr"]

ROOT = Path(__file__).resolve().parent.parent
LOG_FILE = ROOT / "test-logs" / "vigie.log"


def fr(key: str, **values: Any) -> str:
    return i18n.t("fr", key, **values)


@pytest.fixture(scope="session", autouse=True)
def _logging() -> None:
    # DEBUG on purpose: even the most verbose run must not leak a token, a name or a text.
    logs.configure("DEBUG", "json", (TOKEN,), LOG_FILE)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "own_emulator: a private emulator instead of the run's shared one")


def new_emulator() -> TelegramEmulator:
    return TelegramEmulator(token=TOKEN, bot_username=BOT_USERNAME, limits=Limits(scale=SCALE))


@pytest.fixture(scope="session")
def shared_emulator() -> Iterator[TelegramEmulator]:
    with new_emulator() as emu:
        yield emu


@pytest.fixture
def emulator(request: pytest.FixtureRequest) -> Iterator[TelegramEmulator]:
    if request.node.get_closest_marker("own_emulator") is not None:
        with new_emulator() as emu:
            yield emu
        return
    emu: TelegramEmulator = request.getfixturevalue("shared_emulator")
    emu.reset()
    yield emu
    emu.reset()  # release held connections and end leftover long polls now


@pytest.fixture
def commune(emulator: TelegramEmulator) -> Commune:
    return make_commune(emulator)


@pytest.fixture
def make_settings(tmp_path: Path, emulator: TelegramEmulator, commune: Commune
                  ) -> Callable[..., Settings]:
    def make(**sections: Any) -> Settings:
        return local_settings(emulator, tmp_path / "vigie.db", SCALE, commune_config(commune),
                              sections)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
async def vigie(settings: Settings) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    async with running(build_application(settings)) as app:
        yield app


@pytest.fixture
async def members(vigie: Application, commune: Commune) -> Commune:  # type: ignore[type-arg]
    """The liaison and the official have started the bot; Alice is a Centre-bourg member."""
    return await with_members(commune)
