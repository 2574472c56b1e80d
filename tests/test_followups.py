"""Closing the loop: a referent's triage card follows the report after any decision, and
the author of a notice or an alert posts a follow-up to every copy, or closes it."""

from __future__ import annotations

from telegram.ext import Application

from core.runtime.lifecycle import services_of
from emulator import Group, Person, SentMessage
from handlers.broadcast.buttons import CloseSend, FollowUp
from storage import NewBroadcast
from storage.statuses import BroadcastKind, BroadcastStatus, Purpose
from testing.commune import centre_member, link, make_referent, report, started
from testing.fences import quiescent
from testing.scripts import compose_broadcast, confirm_broadcast, enrol, fr_part
from tests.conftest import Commune, fr


def now(person: Person, card: SentMessage) -> SentMessage:
    """The card as it is now (edits included)."""
    return next(m for m in person.inbox() if m.message_id == card.message_id)


def now_in(chat: Person | Group, message: SentMessage) -> SentMessage:
    sent = chat.inbox() if isinstance(chat, Person) else chat.sent()
    return next(m for m in sent if m.message_id == message.message_id)


async def test_triage_card_follows_every_decision(
    vigie: Application, members: Commune  # type: ignore[type-arg]
) -> None:
    alice, carol, liaison, emu = members.alice, members.carol, members.liaison, members.emu
    await centre_member(members, carol)
    await make_referent(vigie, members, alice)
    triage = fr("reports.card_status", status=fr("reports.status.triage"))

    first = await report(carol, "Porte de garage forcée impasse des Roses",
                         category=fr("reports.category.burglary"))
    card = await alice.wait_for(text=f"Signalement n°{first}")
    assert triage in card.text and fr("reports.forward") in card.buttons
    alice.press(fr("reports.forward"), message_id=card.message_id)
    await liaison.wait_for(text=f"Signalement n°{first}")
    relayed = fr("reports.card_status", status=fr("reports.status.relayed"))
    await emu.wait_until(lambda: relayed in (now(alice, card).text or ""))
    assert triage not in now(alice, card).text
    assert now(alice, card).buttons == [fr("reports.warn_sector")]  # the decision is made
    liaison.press(fr("reports.status_button.c"))  # the liaison closes it: nothing left
    closed = fr("reports.card_status", status=fr("reports.status.closed"))
    await emu.wait_until(lambda: closed in (now(alice, card).text or ""))
    assert now(alice, card).buttons == []

    second = await report(carol, "Chat perdu, tigré, répond au nom de Félix",
                          category=fr("reports.category.other"))
    card = await alice.wait_for(text=f"Signalement n°{second}")
    alice.press(fr("reports.dismiss"), message_id=card.message_id)
    await alice.wait_for(text=f"classer le signalement n°{second}")
    alice.press(fr("reports.reason.out_of_scope"))
    dismissed = fr("reports.card_status", status=fr("reports.status.dismissed"))
    await emu.wait_until(lambda: dismissed in (now(alice, card).text or ""))
    assert now(alice, card).buttons == []


async def test_follow_up_reaches_every_copy_as_a_reply_then_the_notice_is_closed_once(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    official, alice, emu = commune.official, commune.alice, commune.emu
    for name in ("Centre-bourg", "Les Hauts"):
        await link(commune, name)
    await enrol(alice, "Centre-bourg")
    await compose_broadcast(emu, official, "/annonce", "Démarcheur signalé rue des Lilas.",
                            ["Centre-bourg", "Les Hauts"], ("to_residents", "pin"))
    number = await confirm_broadcast(official)
    copies = {chat.id: await chat.wait_for(text="Démarcheur signalé")
              for chat in (*commune.groups.values(), alice)}
    await official.wait_for(text=f"Envoi n°{number} (annonce) terminé", timeout=10)
    for group in commune.groups.values():
        await emu.wait_until(lambda g=group: now_in(g, copies[g.id]).pinned)

    official.send_command("/annonces")
    listed = await official.wait_for(text=fr("broadcast.history_title"))
    assert fr("broadcast.status.sent") in listed.text
    official.press(fr("broadcast.followup_button", id=number), message_id=listed.message_id)
    await official.wait_for(text=fr_part("broadcast.ask_followup"))
    official.send_text("Levée de doute : il s'agissait d'un artisan mandaté.")
    await official.wait_for(text=fr("broadcast.followup_sent", id=number, chats=3))
    for chat in (*commune.groups.values(), alice):
        reply = await chat.wait_for(text="il s'agissait d'un artisan mandaté")
        assert reply.reply_to_message_id == copies[chat.id].message_id
        assert fr_part("broadcast.followup_header") in reply.text

    official.press(fr("broadcast.close_send_button", id=number), message_id=listed.message_id)
    await official.wait_for(text=fr("broadcast.send_closed_now", id=number))
    for group in commune.groups.values():
        await emu.wait_until(lambda g=group: not now_in(g, copies[g.id]).pinned)
    official.press(fr("broadcast.close_send_button", id=number), message_id=listed.message_id)
    await emu.wait_until(lambda: any(a["text"] == fr("broadcast.send_closed", id=number)
                                     for a in emu.callback_answers))
    official.press(fr("broadcast.followup_button", id=number), message_id=listed.message_id)
    await emu.wait_until(lambda: sum(a["text"] == fr("broadcast.send_closed", id=number)
                                     for a in emu.callback_answers) == 2)
    await quiescent(vigie, emu)
    store = services_of(vigie).store
    assert (await store.broadcasts.get(number)).status == BroadcastStatus.CLOSED
    assert len(await store.audit.entries("broadcast.closed")) == 1  # decided once
    official.send_command("/annonces")
    listed = await official.wait_for(text=fr("broadcast.history_title"))
    assert fr("broadcast.status.closed") in listed.text
    assert fr("broadcast.followup_button", id=number) not in listed.buttons


async def test_follow_up_to_a_send_in_progress_or_by_the_wrong_person_changes_nothing(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    official, liaison, alice, emu = commune.official, commune.liaison, commune.alice, commune.emu
    await link(commune, "Centre-bourg")
    for person in (official, liaison, alice):
        await started(person)
    store = services_of(vigie).store
    centre = await store.sectors.by_name("Centre-bourg")
    # A notice whose one copy is still to go: it stays in progress.
    number = await store.broadcasts.create(NewBroadcast(
        kind=BroadcastKind.NOTICE, author_id=official.id, body="Réunion jeudi",
        sector_ids=[centre.id]), 1, official.id)
    official.send_command("/annonces")
    listed = await official.wait_for(text=fr("broadcast.history_title"))
    assert fr("broadcast.status.sending") in listed.text and listed.buttons == []
    for button in (FollowUp(number), CloseSend(number)):  # forged: the list offers neither
        official.press_data(button.pack(), listed.message_id)
        await emu.wait_until(lambda: any(
            a["text"] == fr("broadcast.send_in_progress", id=number)
            for a in emu.callback_answers[-1:]))
    liaison.press_data(FollowUp(number).pack(), liaison.last().message_id)  # not their notice
    await emu.wait_until(lambda: any(a["text"] == fr("denied.officials_only")
                                     for a in emu.callback_answers))
    alice.press_data(CloseSend(number).pack(), alice.last().message_id)
    await emu.wait_until(lambda: any(a["text"] == fr("denied.liaison_or_officials")
                                     for a in emu.callback_answers))
    await quiescent(vigie, emu)
    assert (await store.broadcasts.get(number)).status == BroadcastStatus.SENDING
    assert await store.outbox.by_ref(Purpose.BROADCAST_FOLLOWUP, f"bc:{number}") == []
