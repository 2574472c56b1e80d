"""Notices, alerts and polls end to end: an official or the gendarmerie writes, chooses
sectors, previews, confirms; groups and residents receive; progress, report, history."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from telegram.ext import Application

from core.runtime.application import build_application
from core.runtime.lifecycle import running, services_of
from core.settings import Settings
from emulator import Group, Person
from handlers.broadcast import domain
from handlers.broadcast.buttons import ClosePoll, RelayAlert
from storage import Message, NewBroadcast, Store
from storage.outbox import BULK
from testing.commune import link, make_referent, started
from testing.fences import eventually, quiescent
from testing.scripts import (
    buttons_now,
    compose_broadcast,
    confirm_broadcast,
    enrol,
    fr_part,
    write_broadcast,
)
from tests.conftest import Commune, fr


@pytest.fixture
async def sectors(vigie: Application, commune: Commune) -> dict[str, Group]:  # type: ignore[type-arg]
    for name in ("Centre-bourg", "Les Hauts"):
        await link(commune, name)
    return commune.groups


async def test_notice_to_two_sectors_pinned_with_progress_report_and_history(
    vigie: Application, commune: Commune, sectors: dict[str, Group]  # type: ignore[type-arg]
) -> None:
    official = commune.official
    await enrol(commune.alice, "Centre-bourg")
    await compose_broadcast(commune.emu, official, "/annonce",
                            "Réunion publique <sécurité> jeudi à 18 h.",
                            ["Centre-bourg", "Les Hauts"], ("to_residents", "pin"))
    preview = await official.wait_for(text="Mairie de Saint-Exemple")
    assert "Réunion publique <sécurité>" in preview.text  # escaped, shown as written
    number = await confirm_broadcast(official)
    for group in sectors.values():
        copy = await group.wait_for(text="Réunion publique")
        assert copy.text.startswith("📢 Mairie de Saint-Exemple")
        await commune.emu.wait_until(lambda g=group: g.last() and g.last().pinned)
    await commune.alice.wait_for(text="Réunion publique")
    report = await official.wait_for(text=f"Envoi n°{number} (annonce) terminé", timeout=10)
    assert "3 reçus, 0 en échec, sur 3" in report.text
    official.send_command("/annonces")
    listed = await official.wait_for(text="Derniers envois")
    assert f"n°{number}" in listed.text and "3/3 reçus" in listed.text


async def test_residents_and_wrong_chats_are_refused(
    vigie: Application, commune: Commune, sectors: dict[str, Group]  # type: ignore[type-arg]
) -> None:
    await enrol(commune.alice, "Centre-bourg")
    commune.alice.send_command("/annonce")
    await commune.alice.wait_for(text=fr("denied.officials_only"))
    commune.alice.send_command("/alerte")
    await commune.alice.wait_for(text=fr("denied.liaison_or_officials"))
    commune.official.send_command("/annonce", chat=sectors["Centre-bourg"])
    await sectors["Centre-bourg"].wait_for(text=fr("denied.private_only"))
    assert await services_of(vigie).store.broadcasts.recent(("notice",)) == []


async def test_alert_to_referents_is_relayed_once_per_sector(
    vigie: Application, commune: Commune, sectors: dict[str, Group]  # type: ignore[type-arg]
) -> None:
    liaison, alice, bob = commune.liaison, commune.alice, commune.bob
    for person in (liaison, alice, bob):
        await started(person)
    await make_referent(vigie, commune, alice, "Centre-bourg")
    await make_referent(vigie, commune, bob, "Centre-bourg")
    await compose_broadcast(commune.emu, liaison, "/alerte",
                  "Vague de faux démarcheurs (faux agents des eaux) signalée cette semaine.",
                  ["Centre-bourg"], ("referents_only",))
    await liaison.wait_for(text="Gendarmerie : alerte pour Saint-Exemple")
    await confirm_broadcast(liaison)
    received = await alice.wait_for(text="faux démarcheurs")
    assert received.text.startswith("🚨 Gendarmerie")
    await bob.wait_for(text="faux démarcheurs")
    assert not [m for m in sectors["Centre-bourg"].sent() if "démarcheurs" in (m.text or "")]
    alice.press(fr("broadcast.relay_button", sector="Centre-bourg"))
    posted = await sectors["Centre-bourg"].wait_for(text="faux démarcheurs")
    bob.press("📣 Relay in my sector (Centre-bourg)")
    await commune.emu.wait_until(lambda: any(
        c.method == "answerCallbackQuery" and "already" in str(c.params.get("text", ""))
        for c in commune.emu.calls))
    copies = [m for m in sectors["Centre-bourg"].sent() if "démarcheurs" in (m.text or "")]
    assert [m.message_id for m in copies] == [posted.message_id]
    # A referent of another sector cannot relay into this one, even with forged data.
    carol = commune.carol
    await make_referent(vigie, commune, carol, "Les Hauts")
    await started(carol)
    number = (await services_of(vigie).store.broadcasts.recent(("alert",)))[0].id
    centre = await services_of(vigie).store.sectors.by_name("Centre-bourg")
    carol.press_data(RelayAlert(number, centre.id).pack(), carol.last().message_id)
    await commune.emu.wait_until(lambda: any(
        c.method == "answerCallbackQuery" and fr("denied.referents_only") in str(
            c.params.get("text", "")) for c in commune.emu.calls))


async def test_poll_added_up_across_groups_then_closed_everywhere(
    vigie: Application, commune: Commune, sectors: dict[str, Group]  # type: ignore[type-arg]
) -> None:
    official, emu = commune.official, commune.emu
    voters = [emu.create_user(f"Voisin {n}") for n in range(5)]
    for index, person in enumerate(voters):
        list(sectors.values())[index % 2].add_member(person)
    await compose_broadcast(emu, official, "/sondage",
                  "Ce qui vous préoccupe le plus ?\nCambriolages\nVitesse\nDémarchage",
                  ["Centre-bourg", "Les Hauts"])
    preview = await official.wait_for(text="Ce qui vous préoccupe")
    assert preview.poll is None  # the author's preview is not a real poll
    await confirm_broadcast(official)
    polls = [await group.wait_for(lambda m: m.kind == "poll") for group in sectors.values()]
    assert all(p.poll["is_anonymous"] for p in polls)
    for index, person in enumerate(voters):
        person.vote(polls[index % 2], [0] if index < 3 else [2])
    store = services_of(vigie).store
    number = (await store.broadcasts.recent(("poll",)))[0].id
    await emu.wait_until(lambda: emu.calls)  # the updates reach the bot through getUpdates

    async def counted() -> list[int]:
        copies = await store.broadcasts.poll_copies(number)
        return [sum(c.counts[i] for c in copies) for i in range(3)]

    async def all_counted() -> bool:
        return await counted() == [3, 0, 2]

    await eventually(all_counted, what="the five votes counted")
    official.send_command("/resultats")
    shown = await official.wait_for(text=f"Sondage n°{number}")
    assert "5 réponse(s) dans 2 groupe(s)" in shown.text
    assert "• Cambriolages : 3 (60 %)" in shown.text and "• Démarchage : 2 (40 %)" in shown.text
    official.press(fr("broadcast.close_button"))
    for group in sectors.values():
        await emu.wait_until(lambda g=group: next(m for m in g.sent() if m.kind == "poll")
                             .poll["is_closed"])
    official.press_data(ClosePoll(number).pack(), shown.message_id)
    await emu.wait_until(lambda: any(fr("broadcast.already_closed") in str(c.params.get("text"))
                                     for c in emu.calls if c.method == "answerCallbackQuery"))
    # A resident cannot close a poll, even with forged data.
    await started(commune.alice)
    commune.alice.press_data(ClosePoll(number).pack(), commune.alice.last().message_id)
    await emu.wait_until(lambda: any(fr("denied.officials_only") in str(c.params.get("text"))
                                     for c in emu.calls if c.method == "answerCallbackQuery"))


@pytest.mark.parametrize(("command", "text", "photo", "refusal"), [
    ("/annonce", "x" * 4090, False, "Ce texte est trop long"),
    ("/annonce", "y" * 1010, True, "Avec une photo, le texte est limité"),
    ("/sondage", "Une seule réponse ?\nOui", False, "vous en avez écrit 1"),
    ("/sondage", "Onze ?\n" + "\n".join(f"R{n}" for n in range(11)), False,
     "vous en avez écrit 11"),
])
async def test_bad_drafts_are_refused_and_nothing_is_sent(
    vigie: Application, commune: Commune, sectors: dict[str, Group],  # type: ignore[type-arg]
    command: str, text: str, photo: bool, refusal: str
) -> None:
    official = commune.official
    await write_broadcast(official, command, text, photo)
    await official.wait_for(text=refusal)
    official.send_command("/annuler")
    await official.wait_for(text=fr("cancel.done"))
    assert await services_of(vigie).store.broadcasts.recent(("notice", "poll")) == []


async def test_sectors_without_a_group_reach_nobody(
    vigie: Application, commune: Commune, sectors: dict[str, Group]  # type: ignore[type-arg]
) -> None:
    unlinked = fr("broadcast.sector_unlinked", sector="La Vallée")
    await compose_broadcast(commune.emu, commune.official, "/annonce", "Avis", [unlinked])
    await commune.official.wait_for(text=fr("broadcast.no_recipients")[:40])
    commune.official.press(fr("broadcast.preview_button"))  # still on the same step
    await commune.official.wait_for(text=fr("broadcast.no_recipients")[:40])
    assert await services_of(vigie).store.broadcasts.recent(("notice",)) == []


MANY = 200


@pytest.fixture
def many_sectors(make_settings: Callable[..., Settings]) -> Settings:
    # The outbox at Telegram's real pace (30/s) while the emulator's limits are 10x looser:
    # a 200-group notice takes ~7 s, long enough to stop the bot in the middle of it.
    return make_settings(sectors=[{"name": f"Secteur {n}"} for n in range(MANY)],
                         outbox={"time_scale": 1.0})


async def test_restart_in_the_middle_of_a_200_group_notice(
    many_sectors: Settings, commune: Commune
) -> None:
    emu, official = commune.emu, commune.official
    official.send_command("/start")
    groups = [emu.create_group(f"G{n}", creator=official) for n in range(MANY)]
    for group in groups:
        group.add_bot(by=official)
    app = build_application(many_sectors)
    async with running(app):
        store = services_of(app).store
        for sector in await store.sectors.active():
            await store.sectors.link(sector.id, groups[int(sector.name.split()[1])].id, None)
        new = NewBroadcast("notice", official.id, "Coupure d'eau demain matin.",
                           [s.id for s in await store.sectors.active()])
        number = (await domain.launch(services_of(app), new, official.id, "fr")).id
        await emu.wait_until(lambda: sum(bool(g.sent()) for g in groups) >= 40, timeout=10)
    midway = sum(bool(g.sent()) for g in groups)
    assert midway < MANY, "the notice finished before the restart: the test proves nothing"
    async with running(build_application(many_sectors)) as app:
        await official.wait_for(text=f"Envoi n°{number} (annonce) terminé", timeout=30)
    assert [len(g.sent()) for g in groups] == [1] * MANY
    reports = [m for m in official.inbox() if "terminé" in (m.text or "")]
    assert len(reports) == 1 and f"{MANY} reçus, 0 en échec" in reports[0].text


async def test_a_429_storm_delays_but_neither_loses_nor_doubles(
    vigie: Application, commune: Commune, sectors: dict[str, Group]  # type: ignore[type-arg]
) -> None:
    emu = commune.emu
    residents = [emu.create_user(f"Habitant {n}") for n in range(12)]
    store = services_of(vigie).store
    centre = await store.sectors.by_name("Centre-bourg")
    for person in residents:
        person.send_command("/aide")
        await store.people.ensure(person.id, "fr")
        await store.people.enrol(person.id, centre.id, None)
    await compose_broadcast(emu, commune.official, "/annonce", "Tempête de 429", ["Centre-bourg"],
                  ("to_residents",))
    await commune.official.wait_for(text="Prêt à envoyer")
    # Every copy meets a 429 first (the bot's direct answers too, hence the count).
    before = emu.stats.responses_429
    emu.faults.retry_after(seconds=1, times=40, method="sendMessage")
    commune.official.press(fr("broadcast.send"))
    await emu.wait_until(lambda: emu.stats.responses_429 - before >= 13, timeout=10)
    number = (await services_of(vigie).store.broadcasts.recent(("notice",)))[0].id
    await commune.official.wait_for(text=f"Envoi n°{number} (annonce) terminé", timeout=30)
    assert emu.stats.responses_429 - before >= 13
    for chat in [*residents, sectors["Centre-bourg"]]:
        copies = [m for m in (chat.inbox() if isinstance(chat, Person) else chat.sent())
                  if "Tempête de 429" in (m.text or "")]
        assert len(copies) == 1, chat


async def test_bulk_copies_go_after_everything_else(tmp_path: Path) -> None:
    store = Store(tmp_path / "queue.db")
    await store.open()
    await store.outbox.enqueue(
        [Message(-100 - n, "sendMessage", {"text": "bulk"}, "broadcast", priority=BULK)
         for n in range(3)] + [Message(42, "sendMessage", {"text": "card"}, "relay_card")])
    due = await store.outbox.due(time.time() + 1, 10)
    await store.close()
    assert [row.purpose for row in due] == ["relay_card", "broadcast", "broadcast", "broadcast"]


async def test_a_resident_who_blocked_the_bot_is_marked_then_skipped(
    vigie: Application, commune: Commune, sectors: dict[str, Group]  # type: ignore[type-arg]
) -> None:
    alice, carol, official = commune.alice, commune.carol, commune.official
    await enrol(alice, "Centre-bourg")
    await enrol(carol, "Centre-bourg")
    carol.block_bot()
    for text, expected in (("Premier avis", "2 reçus, 1 en échec, sur 3"),
                           ("Second avis", "2 reçus, 0 en échec, sur 2")):
        await compose_broadcast(commune.emu, official, "/annonce", text, ["Centre-bourg"],
                      ("to_residents",))
        number = await confirm_broadcast(official)
        report = await official.wait_for(text=f"Envoi n°{number} (annonce) terminé",
                                         timeout=10)
        assert expected in report.text
    assert (await services_of(vigie).store.people.get(carol.id)).blocked_bot


async def test_a_restart_mid_compose_resumes_the_draft(
    settings: Settings, commune: Commune
) -> None:
    """The bot stops while the official is choosing sectors: the draft (text, switches,
    sectors) is kept with the conversation, so they carry on after the restart."""
    official, emu = commune.official, commune.emu
    async with running(build_application(settings)):
        await link(commune, "Centre-bourg")
        await write_broadcast(official, "/annonce", "Élagage des haies samedi matin.")
        keyboard = await official.wait_for(text=fr("broadcast.ask_targets")[:30])
        pin_on = fr("broadcast.switch_on", label=fr("broadcast.option.pin"))
        official.press(fr("broadcast.switch_off", label=fr("broadcast.option.pin")),
                       message_id=keyboard.message_id)
        await emu.wait_until(lambda: pin_on in buttons_now(emu, keyboard))
    async with running(build_application(settings)):
        sector_on = fr("broadcast.sector_on", sector="Centre-bourg")
        official.press(fr("broadcast.sector_off", sector="Centre-bourg"),
                       message_id=keyboard.message_id)
        await emu.wait_until(lambda: sector_on in buttons_now(emu, keyboard))
        assert pin_on in buttons_now(emu, keyboard)
        official.press(fr("broadcast.preview_button"), message_id=keyboard.message_id)
        ready = await official.wait_for(text="Prêt à envoyer")
        assert fr("broadcast.option.pin") in ready.text
        number = await confirm_broadcast(official)
        await commune.groups["Centre-bourg"].wait_for(text="Élagage des haies")
        await official.wait_for(text=f"Envoi n°{number} (annonce) terminé", timeout=10)


async def test_the_progress_message_is_the_first_and_only_one_and_becomes_the_report(
    vigie: Application, commune: Commune, sectors: dict[str, Group]  # type: ignore[type-arg]
) -> None:
    """Demo bug 1: the report came before "C'est parti", and a progress message stayed at
    "0 reçus, 2 restants". After confirming, the author gets one message: the progress,
    edited as copies go out, ending as the report."""
    official, emu = commune.official, commune.emu
    await compose_broadcast(emu, official, "/annonce", "Collecte des encombrants mardi.",
                            ["Centre-bourg", "Les Hauts"])
    number = await confirm_broadcast(official)
    card = next(m for m in official.inbox() if fr_part("broadcast.confirm") in (m.text or ""))
    done = fr("broadcast.report", id=number, kind=fr("broadcast.kind.notice"), delivered=2,
              failed=0, total=2)
    await emu.wait_until(lambda: any(m.text == done for m in official.inbox()))
    await quiescent(vigie, emu)
    after = [m for m in official.inbox() if m.message_id > card.message_id]
    assert len(after) == 1, [m.text for m in after]
    assert after[0].history[0] == fr("broadcast.progress", id=number,
                                     kind=fr("broadcast.kind.notice"), delivered=0, failed=0,
                                     left=2, total=2)
    assert after[0].text == done
    assert not buttons_now(emu, card)  # the card cannot be sent twice
