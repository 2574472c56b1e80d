"""Reports end to end through the emulator: resident → referent → gendarmerie → resident."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from telegram.ext import Application

from core.runtime.application import build_application
from core.runtime.lifecycle import running, services_of
from core.settings import Settings
from emulator import Person
from handlers.reports.buttons import (
    ContactAnswer,
    ContactReply,
    LiaisonStatus,
    SetStatus,
    Triage,
    TriageDecision,
    WarnSector,
)
from testing.commune import (
    VEHICLE,
    card_of,
    centre_member,
    make_referent,
    report,
    started,
)
from testing.scripts import confirm_report, draft_report
from tests.conftest import Commune, fr

NOW = fr("reports.when.now")


async def test_report_reaches_the_liaison_and_each_status_reaches_the_reporter(
    vigie: Application, members: Commune  # type: ignore[type-arg]
) -> None:
    alice, liaison, official = members.alice, members.liaison, members.official
    report_id = await report(alice, "Clio grise AB-123-CD qui tourne rue des Lilas",
                             location=(48.85, 2.35), photo=True)
    card = await liaison.wait_for(text=f"Signalement n°{report_id}")
    assert card.protect_content and "AB-123-CD" in card.text
    assert "Alice" not in card.text  # pseudonymous: no name, no profile link
    assert fr("reports.card_untriaged") in card.text  # the sector has no referent yet
    await liaison.wait_for(lambda m: m.kind == "location")
    await liaison.wait_for(lambda m: m.kind == "photo")
    await official.wait_for(text=f"Signalement n°{report_id}")
    assert card_of(official, report_id).buttons == []  # the official's copy has no buttons

    for label, status in (("Reçu", "received"), ("Patrouille informée", "patrol_informed"),
                          ("Clôturé", "closed")):
        liaison.press(label)
        status_text = fr(f"reports.status.{status}")
        await alice.wait_for(text=f"n°{report_id} : {status_text}")
        await members.emu.wait_until(
            lambda text=status_text: text in (card_of(official, report_id).text or ""))
    store = services_of(vigie).store
    history = [status for status, _, _ in await store.reports.history(report_id)]
    assert history == ["created", "relayed", "received", "patrol_informed", "closed"]

    liaison.press_data(SetStatus(report_id, LiaisonStatus.RECEIVED).pack(),  # set twice
                       card.message_id)
    await members.emu.wait_until(lambda: any(
        "Impossible" in (a["text"] or "") for a in members.emu.callback_answers))
    alice.send_command("/mes_signalements")
    await alice.wait_for(text=f"n°{report_id}")


async def test_referent_forwards_or_dismisses(
    vigie: Application, members: Commune  # type: ignore[type-arg]
) -> None:
    alice, carol, liaison = members.alice, members.carol, members.liaison
    await centre_member(members, carol)
    await make_referent(vigie, members, alice)

    first = await report(carol, "Porte de garage forcée impasse des Roses",
                         category=fr("reports.category.burglary"))
    await alice.wait_for(text=f"Signalement n°{first}")
    assert not any(f"n°{first}" in (m.text or "") for m in liaison.inbox())  # not yet
    alice.press(fr("reports.forward"))
    await liaison.wait_for(text=f"Signalement n°{first}")
    await carol.wait_for(text=f"n°{first} a été transmis")
    assert fr("reports.card_untriaged") not in card_of(liaison, first).text

    second = await report(carol, "Chat perdu, tigré, répond au nom de Félix",
                          category=fr("reports.category.other"))
    await alice.wait_for(text=f"Signalement n°{second}")
    alice.press(fr("reports.dismiss"))
    await alice.wait_for(text=f"classer le signalement n°{second}")
    alice.press(fr("reports.reason.out_of_scope"))
    await carol.wait_for(text=f"n°{second} a été classé")
    assert not any(f"n°{second}" in (m.text or "") for m in liaison.inbox())
    alice.press_data(Triage(second, TriageDecision.FORWARD).pack(),  # too late: classé
                     alice.last().message_id)
    await members.emu.wait_until(lambda: any(
        a["text"] == fr("reports.already_handled") for a in members.emu.callback_answers))


@pytest.fixture
def quick_triage(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(reports={"triage_timeout": 0.01})  # 0.6 s


async def test_triage_timeout_relays_untriaged(quick_triage: Settings, commune: Commune) -> None:
    async with running(build_application(quick_triage)) as app:
        await started(commune.liaison)
        await centre_member(commune, commune.alice)
        await make_referent(app, commune, commune.bob)  # a referent who stays silent
        report_id = await report(commune.alice, "Démarcheur insistant se disant du gaz",
                                 category=fr("reports.category.doorstep"))
        card = await commune.liaison.wait_for(text=f"Signalement n°{report_id}", timeout=40)
        assert fr("reports.card_untriaged") in card.text


async def test_direct_mode_skips_triage(make_settings: Callable[..., Settings],
                                        commune: Commune) -> None:
    settings = make_settings(reports={"relay_mode": "direct"})
    async with running(build_application(settings)) as app:
        await started(commune.liaison)
        await centre_member(commune, commune.alice)
        await make_referent(app, commune, commune.carol)
        report_id = await report(commune.alice, "Tag sur le mur de la salle des fêtes",
                                 category=fr("reports.category.incivility"))
        card = await commune.liaison.wait_for(text=f"Signalement n°{report_id}")
        assert fr("reports.card_untriaged") not in card.text
        assert commune.carol.inbox() == []


async def test_three_similar_reports_make_one_card(
    vigie: Application, members: Commune  # type: ignore[type-arg]
) -> None:
    denis = members.emu.create_user("Denis", language_code="fr")
    for person in (denis, members.carol):
        await centre_member(members, person)
    first = await report(members.alice, "Camionnette blanche qui tourne lentement dans le "
                                        "lotissement des Tilleuls")
    await members.liaison.wait_for(text=f"Signalement n°{first}")
    await report(denis, "Une camionnette blanche tourne lentement dans le lotissement")
    await report(members.carol, "Encore la camionnette blanche dans le lotissement, lentement")
    await members.emu.wait_until(
        lambda: "2 signalement(s) similaire(s)" in (card_of(members.liaison, first).text or ""))
    cards = [m for m in members.liaison.inbox() if "Signalement n°" in (m.text or "")]
    assert len(cards) == 1


async def test_screen_asks_to_rephrase_and_tells_the_referent(
    vigie: Application, members: Commune  # type: ignore[type-arg]
) -> None:
    alice = members.alice
    alice.send_command("/signaler")
    await alice.wait_for(text=fr("reports.ask_category"))
    alice.press(fr("reports.category.behaviour"))
    await alice.wait_for(text=fr("reports.ask_when"))
    alice.press(NOW)
    await alice.wait_for(text="Ne décrivez pas une personne par son origine")
    alice.send_text("Ce connard rôde encore, appelez-le au 06 12 34 56 78")
    prompt = await alice.wait_for(text="Pouvez-vous la reformuler")
    assert fr("reports.flag.insult") in prompt.text and fr("reports.flag.phone") in prompt.text
    alice.send_text("Un homme arme au poing force une porte en ce moment")  # rephrased
    await alice.wait_for(text=fr("reports.emergency_words")[:40])
    await alice.wait_for(text=fr("reports.ask_location")[:20])
    alice.send_command("/annuler")
    await alice.wait_for(text=fr("cancel.done"))
    assert await services_of(vigie).store.reports.of_reporter(alice.id) == []

    report_id = await _kept_screened_report(alice)
    card = await members.liaison.wait_for(text=f"Signalement n°{report_id}")
    assert "Le filtre a relevé" in card.text and fr("reports.flag.email") in card.text


async def _kept_screened_report(alice: Person) -> int:
    await draft_report(alice, "Voiture garée devant chez moi, écrivez-moi : a.b@exemple.fr",
                       keep_screened=True)
    return await confirm_report(alice)


async def test_liaison_refusing_is_reported_to_staff(
    vigie: Application, members: Commune  # type: ignore[type-arg]
) -> None:
    await started(members.admin)
    members.liaison.block_bot()
    report_id = await report(members.alice, "Scooter sans plaque devant l'école")
    warning = await members.admin.wait_for(text=f"Le signalement n°{report_id} n'a pas pu")
    assert "blocked" in warning.text
    await members.official.wait_for(text=f"Signalement n°{report_id}")  # still got its copy


async def test_not_enrolled_rate_limit_and_forged_liaison_button(
    make_settings: Callable[..., Settings], commune: Commune
) -> None:
    settings = make_settings(reports={"max_per_hour": 1})
    async with running(build_application(settings)):
        commune.carol.send_command("/signaler")
        await commune.carol.wait_for(text=fr("denied.report_members_only"))
        await started(commune.liaison)
        await centre_member(commune, commune.alice)
        report_id = await report(commune.alice, "Vélo volé devant la mairie")
        commune.alice.send_command("/signaler")
        await commune.alice.wait_for(text=fr("reports.rate_limited", limit=1))
        commune.alice.press_data(SetStatus(report_id, LiaisonStatus.CLOSED).pack(),
                                 commune.alice.last().message_id)
        await commune.emu.wait_until(lambda: any(
            a["text"] == fr("denied.liaison_only") for a in commune.emu.callback_answers))


async def test_bot_stopped_between_commit_and_relay_delivers_once(
    settings: Settings, commune: Commune
) -> None:
    async with running(build_application(settings)) as app:
        await started(commune.liaison)
        await centre_member(commune, commune.alice)
        # The outbox stops: the report is confirmed and stored, its relay still queued.
        await services_of(app).outbox.stop()
        report_id = await report(commune.alice, "Individu qui relève les plaques des voitures")
        assert not any(f"n°{report_id}" in (m.text or "") for m in commune.liaison.inbox())
    async with running(build_application(settings)):
        await commune.liaison.wait_for(text=f"Signalement n°{report_id}", timeout=10)
    cards = [m for m in commune.liaison.inbox() if f"n°{report_id}" in (m.text or "")]
    assert len(cards) == 1


async def test_sector_warning_is_cleaned_and_contact_needs_the_reporters_consent(
    vigie: Application, members: Commune  # type: ignore[type-arg]
) -> None:
    alice, liaison = members.alice, members.liaison
    centre = members.groups["Centre-bourg"]
    report_id = await report(alice, "Faux agent du gaz, Clio AB-123-CD, rue des Lilas",
                             category=fr("reports.category.doorstep"))
    card = await liaison.wait_for(text=f"Signalement n°{report_id}")
    liaison.press(fr("reports.warn_sector"))
    notice = await centre.wait_for(text="Information de vigilance")
    assert fr("reports.category.doorstep") in notice.text
    assert "AB-123-CD" not in notice.text and "Lilas" not in notice.text  # facts stay private
    liaison.press_data(WarnSector(report_id).pack(), card.message_id)  # asked twice: sent once
    await members.emu.wait_until(lambda: any(
        a["text"] == fr("reports.sector_not_warned") for a in members.emu.callback_answers))
    assert len([m for m in centre.sent() if "Information de vigilance" in (m.text or "")]) == 1

    liaison.press(fr("reports.ask_contact"))
    await alice.wait_for(text="aimerait vous contacter")
    await started(members.carol)
    members.carol.press_data(ContactReply(report_id, ContactAnswer.YES).pack(),  # not hers
                            members.carol.last().message_id)
    await members.emu.wait_until(lambda: any(
        a["text"] == fr("denied.not_yours") for a in members.emu.callback_answers))
    alice.press(fr("reports.contact_yes"))
    answer = await liaison.wait_for(text="accepte d'être contacté")
    assert f"tg://user?id={alice.id}" in (answer.raw_text or "")


async def test_referent_flags_a_message_in_the_sector_group(
    vigie: Application, members: Commune  # type: ignore[type-arg]
) -> None:
    alice, carol, liaison = members.alice, members.carol, members.liaison
    centre = members.groups["Centre-bourg"]
    await centre_member(members, carol)
    await make_referent(vigie, members, alice)

    # No plate here: group moderation would remove it before anyone replies /signaler
    # (tests/test_group_moderation.py); /signaler is for what the screen lets through.
    posted = carol.send_text("Clio grise, le conducteur photographie les maisons",
                             chat=centre)
    carol.send_command("/signaler", chat=centre, reply_to=posted["message_id"])
    await centre.wait_for(text=fr("denied.referents_only"))
    alice.send_command("/signaler", chat=centre, reply_to=posted["message_id"])
    await centre.wait_for(text="Message transmis à la gendarmerie")
    card = await liaison.wait_for(text="photographie les maisons")
    assert fr("reports.card_untriaged") not in card.text
    deleted = [c for c in members.emu.calls if c.method == "deleteMessage" and c.status == 200]
    assert posted["message_id"] in [c.params["message_id"] for c in deleted]
    alice.send_command("/signaler", chat=centre)  # not a reply
    await centre.wait_for(text=fr("reports.flag_how")[:30])


async def test_referent_asks_a_detail_and_the_liaison_comments(
    vigie: Application, members: Commune  # type: ignore[type-arg]
) -> None:
    alice, carol, liaison = members.alice, members.carol, members.liaison
    await centre_member(members, carol)
    await make_referent(vigie, members, alice)

    report_id = await report(carol, "Bruit de verre brisé près du parking")
    await alice.wait_for(text=f"Signalement n°{report_id}")
    alice.press(fr("reports.ask_precision"))
    question = await carol.wait_for(text="aimerait une précision")
    assert question.reply_markup == {"force_reply": True}
    carol.send_text("Vers 21 h, côté entrée nord", reply_to=question.message_id)
    await carol.wait_for(text=f"précision est ajoutée au signalement n°{report_id}")
    updated = await alice.wait_for(text="Vers 21 h, côté entrée nord")
    assert f"Signalement n°{report_id}" in updated.text

    alice.press(fr("reports.forward"))  # from the updated card
    card = await liaison.wait_for(text="Vers 21 h")
    liaison.send_text("Patrouille passée, rien constaté", reply_to=card.message_id)
    await liaison.wait_for(text=f"Commentaire transmis au déclarant du signalement n°{report_id}")
    await carol.wait_for(text="Patrouille passée, rien constaté")
    events = [status for status, _, _ in await services_of(vigie).store.reports.history(report_id)]
    assert events == ["created", "precision_asked", "precision_added", "relayed", "commented"]


async def test_photo_too_large_and_place_outside_the_commune(
    make_settings: Callable[..., Settings], commune: Commune, tmp_path: object
) -> None:
    from pathlib import Path

    square = '{"type": "Polygon", "coordinates": [[[2, 48], [3, 48], [3, 49], [2, 49], [2, 48]]]}'
    polygon = Path(str(tmp_path)) / "centre.geojson"
    polygon.write_text(square)
    settings = make_settings(sectors=[{"name": "Centre-bourg", "geojson": polygon}])
    async with running(build_application(settings)):
        await started(commune.liaison)
        await centre_member(commune, commune.alice)
        alice = commune.alice
        alice.send_command("/signaler")
        await alice.wait_for(text=fr("reports.ask_category"))
        alice.press(VEHICLE)
        await alice.wait_for(text=fr("reports.ask_when"))
        alice.press(NOW)
        await alice.wait_for(text="Décrivez")
        alice.send_text("Voiture abandonnée, vitres cassées")
        await alice.wait_for(text=fr("reports.ask_location")[:20])
        alice.send_location(45.76, 4.83)  # Lyon: not in this commune
        await alice.wait_for(text=fr("reports.outside_commune")[:30])
        alice.send_location(48.5, 2.5)
        await alice.wait_for(text=fr("reports.ask_photo")[:20])
        alice.send_photo(file_size=25 * 1024 * 1024)
        await alice.wait_for(text=fr("reports.photo_too_large")[:30])
        alice.send_photo(file_size=200_000)
        await alice.wait_for(text=fr("reports.summary_title"))
        alice.press(fr("reports.confirm"))
        await alice.wait_for(text="Envoyé !")
        await commune.liaison.wait_for(lambda m: m.kind == "location")


async def test_the_liaison_comments_on_a_card_after_setting_its_status(
    vigie: Application, members: Commune  # type: ignore[type-arg]
) -> None:
    alice, liaison = members.alice, members.liaison
    report_id = await report(alice, "Portail forcé au local technique")
    card = await liaison.wait_for(text=f"Signalement n°{report_id}")
    liaison.press("Reçu")
    received = fr("reports.status.received")
    await alice.wait_for(text=f"n°{report_id} : {received}")
    await members.emu.wait_until(lambda: received in (card_of(liaison, report_id).text or ""))
    liaison.send_text("Une patrouille passera ce soir", reply_to=card.message_id)
    await alice.wait_for(text="Une patrouille passera ce soir")
