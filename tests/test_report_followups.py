"""After the decision (issue 15): the liaison reopens a closed report with a reason the
reporter reads, and the reporter adds a detail from /mes_signalements, which reaches
whoever handles the report as a reply to their card. Each wrong move changes nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from telegram.ext import Application

from core.runtime.application import build_application
from core.runtime.lifecycle import running
from core.services import services_of
from core.settings import Settings
from emulator import Person, SentMessage
from handlers.reports.buttons import AddDetail, Reopen
from storage.reports import DETAIL_EVENT
from storage.statuses import Purpose, ReportStatus
from testing.commune import (
    card_of,
    centre_member,
    make_referent,
    report,
    stored_values_matching,
    with_members,
)
from testing.fences import quiescent
from testing.scripts import fr_part, send_report
from tests.conftest import Commune, fr

REASON = "Nouveau passage du même véhicule signalé par la patrouille"
STATUS_LABELS = [fr(f"reports.status_button.{code}") for code in "rpcu"]


def now(person: Person, message: SentMessage) -> SentMessage:
    """The message as it is now (edits included)."""
    return next(m for m in person.inbox() if m.message_id == message.message_id)


def status_line(status: ReportStatus) -> str:
    return fr("reports.card_status", status=fr(f"reports.status.{status}"))


def answered(members: Commune, text: str) -> bool:
    return any(a["text"] == text for a in members.emu.callback_answers)


async def closed_report(members: Commune, reporter: Person, text: str) -> tuple[int, SentMessage]:
    """A report relayed straight to the liaison (no referent), then closed by them."""
    report_id = await report(reporter, text)
    card = await members.liaison.wait_for(text=f"Signalement n°{report_id}")
    members.liaison.press(fr("reports.status_button.c"), message_id=card.message_id)
    await reporter.wait_for(text=f"n°{report_id} : {fr('reports.status.closed')}")
    await members.emu.wait_until(
        lambda: now(members.liaison, card).buttons == [fr("reports.reopen.button")])
    return report_id, card


async def ask_reason(members: Commune, card: SentMessage) -> SentMessage:
    members.liaison.press(fr("reports.reopen.button"), message_id=card.message_id)
    return await members.liaison.wait_for(text=fr_part("reports.reopen.ask_reason"))


async def test_closed_report_reopened_with_a_reason_and_every_card_follows(
    vigie: Application, members: Commune  # type: ignore[type-arg]
) -> None:
    alice, carol, liaison, official, emu = (members.alice, members.carol, members.liaison,
                                            members.official, members.emu)
    await centre_member(members, carol)
    await make_referent(vigie, members, alice)
    report_id = await report(carol, "Camionnette blanche arrêtée longuement rue des Lilas")
    triage_card = await alice.wait_for(text=f"Signalement n°{report_id}")
    alice.press(fr("reports.forward"), message_id=triage_card.message_id)
    card = await liaison.wait_for(text=f"Signalement n°{report_id}")
    assert card.buttons[:4] == STATUS_LABELS
    liaison.press(fr("reports.status_button.c"), message_id=card.message_id)
    await carol.wait_for(text=f"n°{report_id} : {fr('reports.status.closed')}")
    await emu.wait_until(lambda: now(liaison, card).buttons == [fr("reports.reopen.button")])
    await emu.wait_until(lambda: now(alice, triage_card).buttons == [])

    question = await ask_reason(members, card)
    assert question.reply_markup == {"force_reply": True}
    assert question.reply_to_message_id == card.message_id  # under the card it is about
    liaison.send_text(REASON, reply_to=question.message_id)
    await liaison.wait_for(text=fr("reports.reopen.done", id=report_id))
    told = await carol.wait_for(text=fr("reports.reopen.reporter_dm", id=report_id,
                                        reason=REASON))
    assert told.text == fr("reports.reopen.reporter_dm", id=report_id, reason=REASON)
    reopened = status_line(ReportStatus.REOPENED)
    # The liaison's card offers the statuses again; the official's copy and the referent's
    # card show the new state, the referent's with its warning button back.
    await emu.wait_until(lambda: reopened in (now(liaison, card).text or ""))
    assert now(liaison, card).buttons == [*STATUS_LABELS, fr("reports.warn_sector"),
                                          fr("reports.ask_contact")]
    await emu.wait_until(lambda: reopened in (card_of(official, report_id).text or ""))
    assert card_of(official, report_id).buttons == []
    await emu.wait_until(lambda: reopened in (now(alice, triage_card).text or ""))
    assert now(alice, triage_card).buttons == [fr("reports.warn_sector")]
    await alice.wait_for(text=fr("reports.status_referent", id=report_id,
                                 status=fr("reports.status.reopened")))

    svc = services_of(vigie)
    history = await svc.store.reports.history(report_id)
    assert history[-2:] == [(ReportStatus.CLOSED, liaison.id, None),
                            (ReportStatus.REOPENED, liaison.id, REASON)]
    assert len(await svc.store.audit.entries("report.reopened")) == 1
    # The figures count it open again, not closed.
    tally = await svc.store.stats.tally(0, time.time() + 60, None)
    assert tally.by_status == {ReportStatus.REOPENED: 1}

    # A comment as a reply to the card, edited since, still reaches the reporter.
    liaison.send_text("Patrouille repassée ce soir", reply_to=card.message_id)
    await carol.wait_for(text="Patrouille repassée ce soir")
    # The liaison goes on from the reopened card: closed again, reopenable again.
    liaison.press(fr("reports.status_button.c"), message_id=card.message_id)
    await emu.wait_until(lambda: now(liaison, card).buttons == [fr("reports.reopen.button")])
    carol.send_command("/mes_signalements")
    mine = await carol.wait_for(text=fr("reports.mine_title"))
    assert fr("reports.status.closed") in (mine.text or "") and mine.buttons == []


async def test_reopening_refused_unless_closed_by_the_liaison_and_decided_once(
    vigie: Application, members: Commune  # type: ignore[type-arg]
) -> None:
    alice, liaison, official, emu = members.alice, members.liaison, members.official, members.emu
    store = services_of(vigie).store
    open_id = await report(alice, "Scooter sans plaque qui tourne près du stade")
    open_card = await liaison.wait_for(text=f"Signalement n°{open_id}")
    assert fr("reports.reopen.button") not in open_card.buttons
    liaison.press_data(Reopen(open_id).pack(), open_card.message_id)  # forged: not closed
    await emu.wait_until(lambda: answered(members, fr(
        "reports.reopen.not_closed", status=fr("reports.status.relayed"))))

    report_id, card = await closed_report(members, alice, "Portail forcé chemin du Moulin")
    official_card = card_of(official, report_id)
    official.press_data(Reopen(report_id).pack(), official_card.message_id)  # not the liaison
    await emu.wait_until(lambda: answered(members, fr("denied.liaison_only")))
    closed = await alice.wait_for(text=f"n°{report_id} : {fr('reports.status.closed')}",
                                  since=0)
    alice.press_data(Reopen(report_id).pack(), closed.message_id)
    await emu.wait_until(lambda: sum(a["text"] == fr("denied.liaison_only")
                                     for a in emu.callback_answers) == 2)

    question = await ask_reason(members, card)
    liaison.press(fr("reports.reopen.button"), message_id=card.message_id)  # pressed twice
    await emu.wait_until(lambda: answered(members, fr("reports.reopen.asked_already",
                                                      id=report_id)))
    liaison.send_text(" ", reply_to=question.message_id)
    await liaison.wait_for(text=fr("reports.reopen.reason_empty", id=report_id))
    limit = services_of(vigie).settings.reports.description_max
    liaison.send_text("x" * (limit + 1), reply_to=question.message_id)
    await liaison.wait_for(text=fr("reports.reopen.reason_too_long", limit=limit,
                                   length=limit + 1))
    still = await store.reports.get(report_id)
    assert still is not None and still.status == ReportStatus.CLOSED

    # Two answers one after the other: reopened once, the second told it is not closed.
    liaison.send_text(REASON, reply_to=question.message_id)
    liaison.send_text("Autre raison", reply_to=question.message_id)
    await liaison.wait_for(text=fr("reports.reopen.not_closed",
                                   status=fr("reports.status.reopened")))
    # A comment over the limit is refused whole, never cut short.
    liaison.send_text("z" * (limit + 1), reply_to=card.message_id)
    await liaison.wait_for(text=fr("reports.reply_too_long", limit=limit, length=limit + 1))
    await quiescent(vigie, emu)
    assert not any("zzz" in (m.text or "") for m in alice.inbox())
    events = [e for e, _, _ in await store.reports.history(report_id)]
    assert events.count(ReportStatus.REOPENED) == 1
    reopened = [m.text for m in alice.inbox() if "rouvert" in (m.text or "")]
    assert reopened == [fr("reports.reopen.reporter_dm", id=report_id, reason=REASON)]
    assert len(await store.outbox.by_ref(Purpose.REOPEN_REQUEST, f"report:{report_id}")) == 1


async def add_detail(person: Person, report_id: int, text: str) -> None:
    person.send_command("/mes_signalements")
    await person.wait_for(text=fr("reports.mine_title"))
    person.press(fr("reports.detail.button", id=report_id))
    await person.wait_for(text=fr_part("reports.detail.ask"))
    person.send_text(text)


async def test_detail_reaches_the_liaison_and_the_officials_as_a_reply_to_their_card(
    vigie: Application, members: Commune  # type: ignore[type-arg]
) -> None:
    alice, liaison, official = members.alice, members.liaison, members.official
    report_id = await report(alice, "Voiture grise garée devant l'école depuis ce matin")
    card = await liaison.wait_for(text=f"Signalement n°{report_id}")
    official_card = await official.wait_for(text=f"Signalement n°{report_id}")
    detail = "Elle est repartie vers 14 h en direction de la gare"
    await add_detail(alice, report_id, detail)
    await alice.wait_for(text=fr("reports.detail.added", id=report_id))
    expected = fr("reports.detail.relayed", id=report_id, detail=detail)
    for person, their_card in ((liaison, card), (official, official_card)):
        relayed = await person.wait_for(text=detail)
        assert relayed.text == expected and relayed.protect_content
        assert relayed.reply_to_message_id == their_card.message_id
    history = await services_of(vigie).store.reports.history(report_id)
    assert history[-1] == (DETAIL_EVENT, alice.id, detail)


async def test_detail_in_triage_reaches_the_referent_card(
    vigie: Application, members: Commune  # type: ignore[type-arg]
) -> None:
    alice, carol, liaison = members.alice, members.carol, members.liaison
    await centre_member(members, carol)
    await make_referent(vigie, members, alice)
    report_id = await report(carol, "Démarcheur insistant au porte-à-porte rue Haute")
    triage_card = await alice.wait_for(text=f"Signalement n°{report_id}")
    await add_detail(carol, report_id, "Il portait un badge d'une société d'énergie")
    await carol.wait_for(text=fr("reports.detail.added", id=report_id))
    relayed = await alice.wait_for(text="badge d'une société d'énergie")
    assert relayed.reply_to_message_id == triage_card.message_id
    await quiescent(vigie, members.emu)
    assert not any("badge" in (m.text or "") for m in liaison.inbox())  # not relayed yet


async def test_detail_refused_when_too_long_screened_media_closed_or_not_theirs(
    vigie: Application, members: Commune  # type: ignore[type-arg]
) -> None:
    alice, carol, liaison, emu = members.alice, members.carol, members.liaison, members.emu
    await centre_member(members, carol)
    svc = services_of(vigie)
    limit = svc.settings.reports.description_max
    report_id = await report(alice, "Bruit de verre brisé près du parking de la salle")
    card = await liaison.wait_for(text=f"Signalement n°{report_id}")
    await add_detail(alice, report_id, "y" * (limit + 1))
    await alice.wait_for(text=fr("reports.detail.too_long", limit=limit, length=limit + 1))
    alice.send_text("C'est Kevin qui a cassé la vitre, tout le monde le sait")
    await alice.wait_for(text=fr_part("reports.detail.rephrase"))
    alice.send_photo()
    await alice.wait_for(text=fr("reports.detail.text_only"))
    alice.send_text("Deux personnes à vélo, vers 23 h")  # still in the step: accepted
    await alice.wait_for(text=fr("reports.detail.added", id=report_id))
    await liaison.wait_for(text="Deux personnes à vélo")
    await quiescent(vigie, emu)
    relayed = [m for m in liaison.inbox() if fr_part("reports.detail.relayed") in (m.text or "")]
    assert len(relayed) == 1 and "Kevin" not in (relayed[0].text or "")

    # Someone else's report, by a forged button: refused, nothing stored.
    carol.send_command("/mes_signalements")
    none_yet = await carol.wait_for(text=fr("reports.none_yet"))
    carol.press_data(AddDetail(report_id).pack(), none_yet.message_id)
    await emu.wait_until(lambda: answered(members, fr("denied.not_yours")))

    # Closed while the resident writes: the text is handed back, nothing is stored.
    alice.send_command("/mes_signalements")
    await alice.wait_for(text=fr("reports.mine_title"))
    alice.press(fr("reports.detail.button", id=report_id))
    await alice.wait_for(text=fr_part("reports.detail.ask"))
    liaison.press(fr("reports.status_button.c"), message_id=card.message_id)
    await alice.wait_for(text=f"n°{report_id} : {fr('reports.status.closed')}")
    late = "Une troisième personne attendait dans une voiture"
    alice.send_text(late)
    back = await alice.wait_for(text=fr_part("reports.detail.closed_meanwhile"))
    assert late in (back.text or "")
    # A closed report offers no button, and a forged one is answered.
    alice.send_command("/mes_signalements")
    mine = await alice.wait_for(text=fr("reports.mine_title"))
    assert mine.buttons == []
    alice.press_data(AddDetail(report_id).pack(), mine.message_id)
    await alice.wait_for(text=fr("reports.detail.closed", id=report_id,
                                 status=fr("reports.status.closed")))
    await quiescent(vigie, emu)
    assert await svc.store.reports.details(report_id) == ["Deux personnes à vélo, vers 23 h"]
    assert len(await svc.store.outbox.by_ref(Purpose.REPORT_DETAIL, f"report:{report_id}")) == 2


async def test_detail_in_the_export_then_erased_and_purged_with_the_report(
    vigie: Application, members: Commune, tmp_path: Path  # type: ignore[type-arg]
) -> None:
    alice, carol, emu = members.alice, members.carol, members.emu
    await centre_member(members, carol)
    store = services_of(vigie).store
    mine = await report(alice, "Individu qui relève les boîtes aux lettres")
    detail = "Il notait les noms dans un carnet bleu"
    await add_detail(alice, mine, detail)
    await alice.wait_for(text=fr("reports.detail.added", id=mine))
    alice.send_command("/mes_donnees")
    document = await alice.wait_for(lambda m: m.kind == "document")
    assert document.file is not None
    data = json.loads(emu.file_content(document.file["file_id"]))
    assert [(d["report_id"], d["detail"]) for d in data["report_details"]] == [(mine, detail)]

    theirs = await report(carol, "Tag sur le mur de la salle des fêtes")
    await add_detail(carol, theirs, "Peinture encore fraîche ce matin")
    await carol.wait_for(text=fr("reports.detail.added", id=theirs))

    alice.send_command("/supprimer_mes_donnees")
    await alice.wait_for(text=fr("privacy.erase_confirm")[:30])
    alice.press(fr("privacy.erase_yes"))
    await alice.wait_for(text=fr("privacy.erased")[:20])
    await quiescent(vigie, emu)
    assert stored_values_matching(
        tmp_path / "vigie.db", lambda v: isinstance(v, str) and "carnet bleu" in v) == []
    assert await store.reports.details(mine) == []

    # Carol's detail goes with her report at the retention purge.
    assert await store.reports.details(theirs) == ["Peinture encore fraîche ce matin"]
    await store.reports.purge_before(time.time() + 1)
    assert await store.reports.details(theirs) == []


async def test_a_detail_added_to_a_held_report_goes_out_with_it(
    make_settings: Callable[..., Settings], commune: Commune
) -> None:
    alice, liaison = commune.alice, commune.liaison
    roles = {"officials": [commune.official.id], "admins": [commune.admin.id]}
    blocked = make_settings(roles={**roles, "liaison_chat_id": None},
                            reports={"relay_mode": "direct"})
    detail = "Elle est revenue une heure plus tard"
    async with running(build_application(blocked)):
        await with_members(commune)
        report_id = await send_report(alice, "Camionnette blanche garée devant l'école",
                                      answer="reports.sent_held")
        await add_detail(alice, report_id, detail)
        await alice.wait_for(text=fr("reports.detail.added", id=report_id))
    assert not [m for m in liaison.inbox() if detail in (m.text or "")]

    configured = make_settings(reports={"relay_mode": "direct"})  # the liaison is back
    async with running(build_application(configured)):
        card = await liaison.wait_for(text=f"Signalement n°{report_id}")
        relayed = await liaison.wait_for(text=detail)
        assert relayed.text == fr("reports.detail.relayed", id=report_id, detail=detail)
        assert relayed.message_id > card.message_id  # after the card it completes
