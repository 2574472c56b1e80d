"""Webhook mode: only Telegram, which knows the secret, can hand the bot an update.

The real Application runs in webhook mode on a free localhost port (as `bot.py` runs it,
through core.runtime.lifecycle.running). Telegram (the emulator) delivers with the secret in
`X-Telegram-Bot-Api-Secret-Token`; anyone else who finds the URL posts without it, or with
a guess. Those requests are answered 403, and nothing happens: no answer to anyone, no row
in the database. The same update with the right secret is handled.
"""

from __future__ import annotations

import socket
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from core.runtime.application import build_application
from core.runtime.lifecycle import running
from core.settings import Settings
from tests.conftest import LOG_FILE, Commune, fr

SECRET = "Vigie_webhook-s3cret"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
WRONG = [None, "", "wrong", SECRET.lower(), SECRET[:-1], SECRET + "x", f"Bearer {SECRET}",
         SECRET * 2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_update(update_id: int, person: Any) -> dict[str, Any]:
    """What Telegram would post when `person` sends /start to the bot."""
    return {"update_id": update_id, "message": {
        "message_id": update_id % 100_000, "date": int(time.time()), "text": "/start",
        "chat": {"id": person.id, "type": "private", "first_name": person.first_name},
        "from": person.to_api(),
        "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}


def database(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table but the inbox, whose rows are the updates themselves (checked apart)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        tables = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {table: sorted(map(tuple, connection.execute(f"SELECT * FROM {table}")),
                              key=repr)
                for table in tables if table != "inbox"}


def stored_update_ids(path: Path) -> set[int]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        tables = {row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "inbox" not in tables:
            return set()
        return {row[0] for row in connection.execute("SELECT update_id FROM inbox")}


async def test_updates_without_the_secret_are_refused_and_change_nothing(
    make_settings: Callable[..., Settings], commune: Commune
) -> None:
    emu, alice, carol = commune.emu, commune.alice, commune.carol
    port = free_port()
    settings = make_settings(telegram={"mode": "webhook", "webhook": {
        "listen": "127.0.0.1", "port": port, "url_path": "telegram",
        "public_url": f"http://127.0.0.1:{port}", "secret_token": SECRET}})
    db = settings.storage.database
    async with running(build_application(settings)):
        url = emu.webhook_url()
        assert url == f"http://127.0.0.1:{port}/telegram"
        # Telegram delivers with the secret: the bot answers (and Alice has started it, so
        # an answer to her would be delivered if one were sent).
        alice.send_command("/aide")
        await alice.wait_for(text=fr("help.title"))
        before = database(db)

        forged = {}
        async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
            for number, guess in enumerate(WRONG):
                update = start_update(10**9 + number, alice)
                headers = {} if guess is None else {HEADER: guess}
                forged[update["update_id"]] = (await client.post(url, json=update,
                                                                 headers=headers)).status_code
            # Carol's /aide goes the real way, after them: once it is answered, anything
            # the forged requests had set going would have happened.
            carol.send_command("/aide")
            await carol.wait_for(text=fr("help.title"))
            assert set(forged.values()) == {403}, forged
            assert not stored_update_ids(db) & set(forged)
            assert database(db) == before
            assert not [m for m in alice.inbox() if "Saint-Exemple" in (m.text or "")]

            genuine = start_update(10**9 + len(WRONG), alice)
            answer = await client.post(url, json=genuine, headers={HEADER: SECRET})
        assert answer.status_code == 200
        await alice.wait_for(text="Saint-Exemple")  # the welcome of /start
        assert genuine["update_id"] in stored_update_ids(db)
        people = database(db)["people"]
        assert [row[0] for row in people] == [alice.id]
    assert SECRET not in LOG_FILE.read_text(encoding="utf-8")
