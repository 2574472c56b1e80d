"""The foundation, end to end through the emulator: start, help, refusals, the outbox."""

from __future__ import annotations

import json

from telegram.ext import Application

from core.runtime.application import build_application
from core.runtime.lifecycle import running, services_of
from core.settings import Settings
from handlers.enrolment.buttons import CharterAnswer, CharterChoice
from testing.commune import text_message
from testing.fences import row_settled
from tests.conftest import LOG_FILE, TOKEN, Commune, fr


async def test_start_welcomes_then_charter_is_accepted_and_recorded(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    alice = commune.alice
    alice.send_command("/start")
    await alice.wait_for(text="Saint-Exemple")
    question = await alice.wait_for(text="Acceptez-vous cette charte")
    assert question.buttons == [fr("charter.accept"), fr("charter.refuse")]
    charter = [m for m in alice.inbox() if "Vigilant mais pas vigile" in (m.text or "")]
    assert charter and "17" in charter[0].text

    alice.press(fr("charter.accept"))
    await alice.wait_for(text=fr("charter.accepted"))
    sectors = await alice.wait_for(text=fr("enrolment.choose_sector"))
    assert sectors.buttons == ["Centre-bourg", "La Vallée", "Les Hauts"]
    svc = services_of(vigie)
    store = svc.store
    assert await store.charter.latest_version(alice.id) == svc.charter.version
    assert [e["action"] for e in await store.audit.entries()] == ["charter.accepted"]

    alice.send_command("/start")  # accepted once: straight to the sector question
    await alice.wait_for(text=fr("enrolment.choose_sector"))


async def test_refusing_the_charter_leaves_a_way_back(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    bob = commune.bob  # Telegram says English: he is answered in English
    bob.send_command("/start")
    await bob.wait_for(text="Do you accept this charter?")
    bob.press("I refuse")
    await bob.wait_for(text="send /start at any time")
    person = await services_of(vigie).store.people.get(bob.id)
    assert person is not None and person.status == "refused" and person.language == "en"


async def test_help_lists_what_this_person_may_do_here(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    commune.carol.send_command("/aide")
    help_text = (await commune.carol.wait_for(text=fr("help.title"))).text
    assert "/langue" in help_text and "/annuler" in help_text
    assert "112" in help_text
    commune.bob.send_command("/help")
    assert "/langue" in (await commune.bob.wait_for(text="Here is what you can do")).text


async def test_language_switch_is_remembered(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    carol = commune.carol
    carol.send_command("/langue")
    await carol.wait_for(text=fr("language.ask"))
    carol.press("English")
    await carol.wait_for(text="I will write to you in English")
    carol.send_command("/aide")
    await carol.wait_for(text="Here is what you can do here")


async def test_bad_input_gets_a_short_answer_and_changes_nothing(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    carol = commune.carol
    carol.send_command("/teleporter")
    await carol.wait_for(text=fr("fallback.unknown_command"))
    carol.send_sticker()
    await carol.wait_for(text=fr("fallback.media"))
    carol.send_text("x" * 5000)
    await carol.wait_for(text="trop long")
    carol.send_text("bonjour")
    await carol.wait_for(text=fr("fallback.text"))
    sent = carol.send_command("/aide")
    message_id = (await carol.wait_for(text=fr("help.title"))).message_id
    carol.press_data(CharterChoice(CharterAnswer.ACCEPT, 1).pack() + "' OR 1=1", message_id)
    await commune.emu.wait_until(lambda: len(commune.emu.callback_answers) == 1)
    answer = commune.emu.callback_answers[0]
    assert answer["show_alert"] and answer["text"] == fr("fallback.stale_button")
    assert sent  # the command went through the emulator
    store = services_of(vigie).store
    assert await store.people.get(carol.id) is None
    assert await store.audit.entries() == []


async def test_private_command_in_a_group_is_refused_there(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    group = commune.group_with_bot("Voisins", members=[commune.alice])
    commune.alice.send_command("/langue", chat=group)
    await group.wait_for(text=fr("denied.private_only"))


async def test_malformed_and_unknown_updates_do_not_stop_the_bot(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    emu = commune.emu
    emu.inject_update("message", {"message_id": "x", "chat": "oops", "text": "Alice Martin"})
    emu.inject_update("callback_query", {"id": 5})
    emu.inject_update("message", {"message_id": 9, "date": 1, "chat": {"id": 1, "type": "private"},
                                  "brand_new_field": {"from": "a future Bot API"}})
    commune.carol.send_command("/aide")
    await commune.carol.wait_for(text=fr("help.title"))
    assert "Alice Martin" not in LOG_FILE.read_text(encoding="utf-8")


async def test_a_failing_handler_apologises_politely(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    commune.emu.faults.fail_next("sendMessage", status=500, times=1)
    commune.carol.send_command("/aide")
    await commune.carol.wait_for(text=fr("errors.generic"))


async def test_outbox_honours_429_and_delivers_once(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    emu, alice = commune.emu, commune.alice
    alice.send_command("/start")
    await alice.wait_for(text="Acceptez-vous")
    emu.faults.retry_after(seconds=1, times=1, method="sendMessage")
    svc = services_of(vigie)
    (row_id,) = await svc.outbox.send(text_message(alice.id, "Avis de la mairie"))
    await alice.wait_for(text="Avis de la mairie", timeout=10)
    await row_settled(svc, row_id)  # the answer is recorded just after the message shows
    row = await svc.store.outbox.get(row_id)
    assert row is not None and row.status == "delivered" and row.message_id is not None
    assert emu.stats.responses_429 >= 1
    assert [m.text for m in alice.inbox()].count("Avis de la mairie") == 1


async def test_blocked_bot_is_a_permanent_failure_not_retried(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    bob = commune.bob
    bob.send_command("/start")
    await bob.wait_for(text="Do you accept")
    bob.block_bot()
    svc = services_of(vigie)
    (row_id,) = await svc.outbox.send(text_message(bob.id, "hello"))
    await commune.emu.wait_until(lambda: any(
        c[0] == "sendMessage" and c[2] == 403 for c in commune.emu.calls))
    await row_settled(svc, row_id)
    row = await svc.store.outbox.get(row_id)
    assert row is not None and row.status == "failed"
    assert "blocked" in (row.last_error or "")
    person = await svc.store.people.get(bob.id)
    assert person is not None and person.blocked_bot
    calls = [c for c in commune.emu.calls if c[0] == "sendMessage" and c[2] == 403]
    assert len(calls) == 1


async def test_never_started_user_is_a_permanent_failure(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    svc = services_of(vigie)
    (row_id,) = await svc.outbox.send(text_message(commune.carol.id, "hello"))
    await row_settled(svc, row_id)
    row = await svc.store.outbox.get(row_id)
    assert row is not None and row.status == "failed"
    assert "initiate conversation" in (row.last_error or "")


async def test_restart_redrives_the_outbox_without_doubles(
    settings: Settings, commune: Commune
) -> None:
    emu, alice = commune.emu, commune.alice
    async with running(build_application(settings)) as app:
        alice.send_command("/start")
        await alice.wait_for(text="Acceptez-vous")
        emu.faults.outage("5xx")
        await services_of(app).outbox.send(
            *(text_message(alice.id, f"avis {n}", key=f"avis-{n}") for n in range(3))
        )
        await emu.wait_until(lambda: emu.stats.errors[502] >= 1, timeout=5)
    emu.faults.clear()
    async with running(build_application(settings)) as app:
        for n in range(3):
            await alice.wait_for(text=f"avis {n}", timeout=10)
        for row_id in (1, 2, 3):  # the last answer may still be on its way back
            await row_settled(services_of(app), row_id)
        counts = await services_of(app).store.outbox.counts()
    texts = [m.text for m in alice.inbox()]
    assert [texts.count(f"avis {n}") for n in range(3)] == [1, 1, 1]
    assert counts.get("delivered") == 3 and "pending" not in counts


async def test_logs_carry_update_ids_and_never_a_token_a_name_or_a_text(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    alice = commune.alice
    alice.send_command("/start")
    await alice.wait_for(text="Acceptez-vous")
    alice.send_text("secret observation rue des Lilas")
    await alice.wait_for(text=fr("enrolment.use_buttons"))  # the charter question is open
    lines = [json.loads(line) for line in LOG_FILE.read_text(encoding="utf-8").splitlines()
             if line.startswith("{")]
    assert any("update_id" in line and line.get("handler") == "start" for line in lines)
    blob = LOG_FILE.read_text(encoding="utf-8")
    for secret in (TOKEN, "Alice", "Martin", "rue des Lilas"):
        assert secret not in blob, secret
