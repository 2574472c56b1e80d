"""Crash-proofing: the inbox, conversations across restarts, uncertain sends, a second
instance, webhook mode, and the kill and outage drills at a small size (bench/)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from telegram.ext import Application

from bench.kill_drill import BotProcess, polling_again, run_drill, write_config
from bench.outage_drill import run_outage
from core.runtime.application import build_application
from core.runtime.inbox import CONFLICT
from core.runtime.lifecycle import running, services_of
from core.settings import Settings
from emulator import TelegramEmulator
from handlers.reports import domain
from storage import NewReport, Store
from storage.inbox import Incoming
from testing.commune import centre_member, started, stored_values_matching, text_message
from testing.fences import eventually, outbox_idle, quiescent, row_settled
from testing.scripts import confirm_report, draft_report
from tests.conftest import Commune, fr

# Some tests start bot processes of their own: a private emulator each, so that a process
# outliving a failed test cannot poll the next test's world.
pytestmark = pytest.mark.own_emulator


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_an_update_stored_before_a_crash_is_handled_once_and_first(
    settings: Settings, commune: Commune
) -> None:
    alice = commune.alice
    alice.send_command("/aide")
    (update,) = commune.emu.pending_updates()
    # A previous run stored it, then died before handling it and before confirming it.
    store = Store(settings.storage.database)
    await store.open()
    await store.inbox.accept([Incoming(update["update_id"], update, alice.id)])
    await store.close()
    alice.send_command("/langue")  # newer, still at Telegram
    async with running(build_application(settings)) as app:
        await alice.wait_for(text=fr("language.ask"), since=0)
        await quiescent(app, commune.emu)
        counts = await services_of(app).store.inbox.counts()
    texts = [m.text or "" for m in alice.inbox()]
    helps = [n for n, text in enumerate(texts) if fr("help.title") in text]
    asks = [n for n, text in enumerate(texts) if fr("language.ask") in text]
    assert len(helps) == 1  # Telegram sent it again: recognised, not handled twice
    assert helps[0] < asks[0]  # what was left is handled before what is new
    assert counts == {"pending": 0, "done": 2, "with_payload": 0}  # ids only, no contents


async def test_a_report_half_written_survives_a_restart(
    settings: Settings, commune: Commune
) -> None:
    alice, liaison = commune.alice, commune.liaison
    async with running(build_application(settings)):
        await started(liaison)
        await centre_member(commune, alice)
        alice.send_command("/signaler")
        await alice.wait_for(text=fr("reports.ask_category"))
        alice.press(fr("reports.category.vehicle"))
        await alice.wait_for(text=fr("reports.ask_when"))
        alice.press(fr("reports.when.now"))
        await alice.wait_for(text="Décrivez")
        alice.send_text("Camionnette blanche arrêtée devant l'école")
        await alice.wait_for(text="Où était-ce")
    async with running(build_application(settings)) as app:
        alice.send_text(fr("reports.skip"))
        await alice.wait_for(text="ajouter une photo")
        alice.press(fr("reports.skip"))
        summary = await alice.wait_for(text=fr("reports.summary_title"))
        assert "Camionnette blanche" in (summary.text or "")
        report_id = await confirm_report(alice)
        await liaison.wait_for(text=f"Signalement n°{report_id}")
        await quiescent(app, commune.emu)
        db = services_of(app).store.db
        keys = [json.loads(row[0]) for row in await db.fetch_all(
            "SELECT key FROM conversation_states")]
        drafts = await db.fetch_all("SELECT user_id FROM conversation_data")
    assert not [key for key in keys if alice.id in key] and not drafts  # ended: nothing left


async def test_a_confirmation_handled_twice_stores_and_relays_one_report(
    vigie: Application, members: Commune  # type: ignore[type-arg]
) -> None:
    svc = services_of(vigie)
    alice = await svc.store.people.get(members.alice.id)
    assert alice is not None and alice.sector_id is not None
    new = NewReport(reporter_id=alice.user_id, sector_id=alice.sector_id, category="vehicle",
                    occurred="now", description="Fourgon sans plaque", draft_key="k-1")
    first = await domain.submit(svc, new)
    again = await domain.submit(svc, new)  # the same update, handled again after a crash
    assert again.id == first.id
    await members.liaison.wait_for(text=f"Signalement n°{first.id}")
    await outbox_idle(vigie)
    cards = [m for m in members.liaison.inbox() if f"n°{first.id}" in (m.text or "")]
    assert len(cards) == 1


async def test_a_send_whose_answer_is_lost_is_retried_once_and_counted(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    emu, alice = commune.emu, commune.alice
    alice.send_command("/start")
    await alice.wait_for(text="Acceptez-vous")
    svc = services_of(vigie)
    emu.faults.hold = 0.2  # the connection is closed unanswered after this
    emu.faults.fail_next("sendMessage", "timeout", after_processing=True)
    (first,) = await svc.outbox.send(text_message(alice.id, "Avis un"))
    await row_settled(svc, first)
    row = await svc.store.outbox.get(first)
    assert row is not None and row.status == "delivered" and row.uncertain == 1
    # It had arrived: the one retry doubled it. That is the price, and it is counted.
    assert [m.text for m in alice.inbox()].count("Avis un") == 2

    emu.faults.fail_next("sendMessage", "timeout", times=2, after_processing=True)
    (second,) = await svc.outbox.send(text_message(alice.id, "Avis deux"))
    await row_settled(svc, second)
    row = await svc.store.outbox.get(second)
    assert row is not None and row.status == "failed"
    assert "uncertain twice" in (row.last_error or "")
    assert [m.text for m in alice.inbox()].count("Avis deux") == 2  # never a third copy
    assert await svc.store.outbox.uncertain_count() == 2
    assert svc.outbox.uncertain == 3  # every doubt is counted, the last one gave up


async def test_erasure_also_erases_a_draft_in_progress(
    vigie: Application, members: Commune, tmp_path: Path  # type: ignore[type-arg]
) -> None:
    alice = members.alice
    await draft_report(alice, "Voiture qui tourne depuis une heure")
    alice.send_command("/supprimer_mes_donnees")
    await alice.wait_for(text=fr("privacy.erase_confirm")[:30])
    alice.press(fr("privacy.erase_yes"))
    await alice.wait_for(text=fr("privacy.erased")[:20])
    await quiescent(vigie, members.emu)
    found = stored_values_matching(tmp_path / "vigie.db", lambda v: v == alice.id or (
        isinstance(v, str) and str(alice.id) in v))
    assert found == []


async def test_webhook_mode_answers_once_the_update_is_stored(
    make_settings: Callable[..., Settings], commune: Commune
) -> None:
    emu, carol = commune.emu, commune.carol
    port, secret = free_port(), "drill-secret_1"
    hook = {"mode": "webhook", "webhook": {"port": port, "url_path": "hook", "secret_token":
                                           secret, "public_url": f"http://127.0.0.1:{port}"}}
    async with running(build_application(make_settings(telegram=hook))) as app:
        assert emu.webhook_url() == f"http://127.0.0.1:{port}/hook"
        carol.send_command("/aide")
        await carol.wait_for(text=fr("help.title"))
        await quiescent(app, emu)
        store = services_of(app).store
        (done,) = [row[0] for row in await store.db.fetch_all("SELECT update_id FROM inbox")]
        again = {"update_id": done, "message": {
            "message_id": 99, "date": 1, "chat": {"id": carol.id, "type": "private"},
            "from": carol.to_api(), "text": "/aide",
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}}
        async with httpx.AsyncClient() as client:
            url = f"http://127.0.0.1:{port}/hook"
            forged = await client.post(url, json=again)
            repeated = await client.post(url, json=again,
                                         headers={"X-Telegram-Bot-Api-Secret-Token": secret})
        assert (forged.status_code, repeated.status_code) == (403, 200)
        await quiescent(app, emu)
        assert (await store.inbox.counts())["with_payload"] == 0
    helps = [m for m in carol.inbox() if fr("help.title") in (m.text or "")]
    assert len(helps) == 1  # a repeated update id is stored once, handled once
    # Back to polling: the webhook is removed first, and nothing waiting is lost.
    carol.send_command("/aide")
    async with running(build_application(make_settings())):
        await carol.wait_for(text=fr("help.title"))
        assert emu.webhook_url() is None


async def polling_bot(emulator: TelegramEmulator, config: Path, stderr: Path) -> BotProcess:
    """`python bot.py` in a process of its own, once it polls the emulator."""
    bot = BotProcess(config, stderr)
    bot.start()
    await polling_again(emulator, 0)
    return bot


async def last_words(bot: BotProcess) -> tuple[int, str]:
    """The exit code of a bot process that stops by itself, and its last stderr line."""
    assert bot.process is not None
    code = await asyncio.to_thread(bot.process.wait, 60)
    return code, bot.stderr.read_text(encoding="utf-8").splitlines()[-1]


@pytest.mark.timeout(120)
async def test_a_second_instance_makes_the_bot_exit_with_one_line(
    emulator: TelegramEmulator, tmp_path: Path
) -> None:
    config = write_config(tmp_path, emulator, emulator.create_user("Gendarme"))
    bot = await polling_bot(emulator, config, tmp_path / "bot.stderr")
    await emulator.wait_until(emulator.long_polls_open, timeout=30)  # it is listening
    async with httpx.AsyncClient() as client:  # another program polls with the same token
        await client.post(f"{emulator.base_url}{emulator.token}/getUpdates",
                          json={"timeout": 1}, timeout=10)
    assert await last_words(bot) == (3, CONFLICT)


@pytest.mark.timeout(120)
async def test_a_second_instance_on_the_same_database_exits_at_once(
    emulator: TelegramEmulator, tmp_path: Path
) -> None:
    config = write_config(tmp_path, emulator, emulator.create_user("Gendarme"))
    first = await polling_bot(emulator, config, tmp_path / "first.stderr")
    second = BotProcess(config, tmp_path / "second.stderr")
    second.start()
    code, line = await last_words(second)
    assert code == 3 and line.startswith("Another Vigie is already running")
    assert first.process is not None and first.process.poll() is None  # it goes on
    assert await first.terminate() == 0


@pytest.mark.timeout(120)
async def test_sigterm_with_a_send_hanging_stops_cleanly_and_keeps_it(
    emulator: TelegramEmulator, tmp_path: Path
) -> None:
    liaison = emulator.create_user("Gendarme")
    config = write_config(tmp_path, emulator, liaison)
    liaison.send_command("/aide")
    bot = BotProcess(config, tmp_path / "bot.stderr")
    bot.start()
    await liaison.wait_for(text=fr("help.title"), timeout=60)
    emulator.faults.hold = 60.0  # Telegram takes the message and never answers
    emulator.faults.fail_next("sendMessage", "timeout", after_processing=True)
    store = Store(tmp_path / "drill.db")  # the running bot's database, a second connection
    await store.open()
    (row_id,) = await store.outbox.enqueue([text_message(liaison.id, "Avis en route")])
    await liaison.wait_for(text="Avis en route", timeout=30)  # on the wire, unanswered
    code = await bot.terminate()
    row = await store.outbox.get(row_id)
    await store.close()
    assert code == 0
    assert "vigie.stopped" in (tmp_path / "bot.log").read_text(encoding="utf-8")
    # Not lost, not counted as delivered: back to pending, marked as maybe arrived.
    assert row is not None and row.status == "pending" and row.uncertain == 1


@pytest.mark.timeout(300)
async def test_kill_drill_small(tmp_path: Path) -> None:
    result = await run_drill(kills=2, residents=2, folder=tmp_path, seed=2)
    tally = result.tally
    assert tally.sent > 0 and result.stuck == 0
    assert tally.stored == tally.sent and tally.doubled == 0  # every report stored once
    assert tally.lost == 0  # and every one reached the liaison
    assert tally.duplicates <= tally.uncertain  # a double only where a send was uncertain
    assert result.exit_code == 0 and result.left_pending == 0  # SIGTERM: a clean stop


@pytest.mark.timeout(300)
async def test_outage_drill_small(tmp_path: Path) -> None:
    result = await run_outage(residents=4, five_xx=1.5, timeouts=1.5, folder=tmp_path)
    tally = result.tally
    assert tally.sent == 4 and tally.stored == 4 and tally.doubled == 0 and tally.lost == 0
    assert tally.duplicates <= tally.uncertain
    assert result.notices_delivered == 4
    assert result.notice_duplicates <= tally.uncertain
    assert result.refused_5xx > 0  # the outage did happen



async def test_a_message_sent_again_after_a_429_keeps_its_place_in_its_chat(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    emu, alice = commune.emu, commune.alice
    await started(alice)
    svc = services_of(vigie)
    emu.faults.retry_after(2, method="sendMessage")

    async def refused() -> bool:
        return any(call.status == 429 for call in emu.calls if call.method == "sendMessage")

    await svc.outbox.send(text_message(alice.id, "Avis un"))
    await eventually(refused, what="the first notice refused with a 429")
    await svc.outbox.send(text_message(alice.id, "Avis deux"))  # due before the first's retry
    await outbox_idle(vigie)
    assert [m.text for m in alice.inbox() if m.text in ("Avis un", "Avis deux")] == [
        "Avis un", "Avis deux"]
