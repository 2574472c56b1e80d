"""Webhook mode end to end, with `bot.py` in a process of its own: at start it registers
its URL and secret (setWebhook); Telegram (the emulator) delivers updates over HTTP to its
listener; an update sent while it is stopped waits at Telegram and arrives after a restart,
which registers again; `vigie check` reads the webhook's state; back in polling mode the
webhook is removed and updates come through getUpdates."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from emulator import Person, TelegramEmulator
from tests.conftest import fr

pytestmark = pytest.mark.own_emulator

ROOT = Path(__file__).resolve().parent.parent
SECRET = "hook-secret_42"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_config(folder: Path, emu: TelegramEmulator, liaison: Person, port: int,
                 mode: str) -> Path:
    config = folder / f"{mode}.toml"
    config.write_text(f"""
[telegram]
token = "{emu.token}"
api_base_url = "{emu.base_url}"
file_base_url = "{emu.base_file_url}"
mode = "{mode}"

[telegram.webhook]
listen = "127.0.0.1"
port = {port}
url_path = "hook"
public_url = "http://127.0.0.1:{port}"
secret_token = "{SECRET}"

[storage]
database = "{folder / 'vigie.db'}"

[[sectors]]
name = "Centre"

[roles]
officials = [{liaison.id}]
liaison_chat_id = {liaison.id}

[tips]
schedule = []

[outbox]
time_scale = 10.0

[logging]
format = "json"
file = "{folder / 'bot.log'}"
""", encoding="utf-8")
    return config


class Bot:
    def __init__(self, config: Path, folder: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
        with (folder / "stderr").open("ab") as errors:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "bot.py"), "--config", str(config)], cwd=ROOT,
                env=env, stdout=subprocess.DEVNULL, stderr=errors)

    async def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.to_thread(self.process.wait, 60)
        finally:
            if self.process.poll() is None:
                self.process.kill()


def set_webhook_calls(emu: TelegramEmulator) -> list[dict[str, object]]:
    return [call.params for call in emu.calls if call.method == "setWebhook"]


async def ask_help(person: Person) -> None:
    sent = person.send_command("/aide")
    await person.wait_for(text=fr("help.title"), since=sent, timeout=60)


@pytest.mark.timeout(180)
async def test_webhook_mode_end_to_end(emulator: TelegramEmulator, tmp_path: Path) -> None:
    emu = emulator
    carol = emu.create_user("Carole", language_code="fr")
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    hook = write_config(tmp_path, emu, carol, port, "webhook")

    bot = Bot(hook, tmp_path)
    try:
        await emu.wait_until(lambda: emu.webhook_url() == url, timeout=60)
        (registered,) = set_webhook_calls(emu)
        assert registered["url"] == url and registered.get("secret_token") in (SECRET, None)
        await ask_help(carol)  # delivered by HTTP to the bot's listener, answered
        assert emu.long_polls_open() == 0  # nobody polls in webhook mode
    finally:
        assert await bot.stop() == 0
    assert emu.webhook_url() == url  # kept while stopped: Telegram holds what arrives

    waiting = carol.send_command("/aide")  # the bot is down: Telegram keeps it
    await emu.wait_until(lambda: bool(emu.pending_updates()), timeout=30)

    bot = Bot(hook, tmp_path)
    try:
        await carol.wait_for(text=fr("help.title"), since=waiting, timeout=60)
        assert len(set_webhook_calls(emu)) == 2  # the restart registered again
        await emu.wait_until(lambda: not emu.pending_updates(), timeout=30)
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
        checked = await asyncio.to_thread(
            subprocess.run, [sys.executable, str(ROOT / "bot.py"), "--config", str(hook),
                             "check"], cwd=ROOT, capture_output=True, text=True, env=env,
            timeout=60)
        assert f"✓ {fr('check.webhook', pending=0)}" in checked.stdout.splitlines()
    finally:
        assert await bot.stop() == 0

    polling = write_config(tmp_path, emu, carol, port, "polling")
    bot = Bot(polling, tmp_path)
    try:
        await emu.wait_until(lambda: emu.webhook_url() is None, timeout=60)
        await ask_help(carol)  # now through getUpdates
        assert emu.webhook_url() is None
    finally:
        assert await bot.stop() == 0
    errors = (tmp_path / "stderr").read_text()
    assert "Traceback" not in errors and emu.token not in errors
