"""Enrolment end to end through the emulator: charter, sector, gated groups, referents."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from telegram.ext import Application

from core.charter import Charter
from core.runtime.application import build_application
from core.runtime.lifecycle import running, services_of
from core.settings import Settings
from handlers.enrolment.buttons import Decision, JoinDecision
from storage import Message
from testing.commune import centre_member, join_link, link, stored_values_matching
from testing.fences import eventually, updates_handled
from testing.scripts import enrol
from tests.conftest import ROOT, Commune, fr


async def test_resident_from_start_to_approved_member(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    centre = await link(commune, "Centre-bourg")
    alice, official = commune.alice, commune.official
    invite = await enrol(alice, "Centre-bourg", "Rue des Lilas")
    assert join_link(centre) in invite.text
    alice.request_join(join_link(centre))
    await alice.wait_for(text=fr("enrolment.request_under_review"))
    card = await official.wait_for(text="Demande pour rejoindre")
    # Named as Telegram names her when the card is sent (issue 15); the row keeps a link.
    assert "Rue des Lilas" in card.text and "Alice Martin" in card.text
    database = services_of(vigie).settings.storage.database
    # An update waiting in the inbox holds Telegram's raw text until it is handled.
    await updates_handled(vigie, commune.emu)
    assert stored_values_matching(database, lambda v: isinstance(v, str) and "Alice" in v) \
        == []  # no name is stored
    assert centre.member_status(alice) == "left"  # not before a human said yes
    official.press(fr("enrolment.approve"))
    await alice.wait_for(text="Bienvenue")
    await commune.emu.wait_until(lambda: centre.member_status(alice) == "member")
    store = services_of(vigie).store
    person = await store.people.get(alice.id)
    assert person is not None and person.status == "enrolled" and person.street == "Rue des Lilas"
    actions = [e["action"] for e in await store.audit.entries()]
    assert "join.approved" in actions and "charter.accepted" in actions

    official.press(fr("enrolment.approve"))  # the same card, pressed again
    await commune.emu.wait_until(lambda: any(
        a["text"] == fr("enrolment.already_decided") for a in commune.emu.callback_answers))


async def test_join_request_before_talking_to_the_bot(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    hauts = await link(commune, "Les Hauts")
    carol = commune.carol  # never wrote to the bot: it may write to her after her request
    carol.request_join(join_link(hauts))
    await carol.wait_for(text=fr("enrolment.join_first", sector="Les Hauts"))
    await carol.wait_for(text="Acceptez-vous cette charte")
    carol.press(fr("charter.accept"))
    await commune.official.wait_for(text="Les Hauts")
    commune.official.press(fr("enrolment.approve"))
    await carol.wait_for(text="Bienvenue")
    await commune.emu.wait_until(lambda: hauts.member_status(carol) == "member")
    person = await services_of(vigie).store.people.get(carol.id)
    assert person is not None and person.sector_id is not None


async def test_refusing_the_charter_declines_the_request(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    hauts = await link(commune, "Les Hauts")
    carol = commune.carol
    carol.request_join(join_link(hauts))
    await carol.wait_for(text="Acceptez-vous cette charte")
    carol.press(fr("charter.refuse"))
    await carol.wait_for(text=fr("enrolment.join_needs_charter", sector="Les Hauts"))
    await commune.emu.wait_until(lambda: not hauts.pending_requests())
    assert hauts.member_status(carol) == "left"


@pytest.fixture
def auto_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(enrolment={"approval": "auto"})


async def test_auto_approval_needs_no_referent(auto_settings: Settings, commune: Commune) -> None:
    async with running(build_application(auto_settings)):
        centre = await link(commune, "Centre-bourg")
        await enrol(commune.alice, "Centre-bourg")
        commune.alice.request_join(join_link(centre))
        await commune.alice.wait_for(text="Bienvenue")
        await commune.emu.wait_until(lambda: centre.member_status(commune.alice) == "member")
        assert not any("Demande pour rejoindre" in (m.text or "")
                       for m in commune.official.inbox())


async def test_wrong_sector_is_declined_with_the_reason(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    await link(commune, "Centre-bourg")
    hauts = await link(commune, "Les Hauts")
    await enrol(commune.alice, "Centre-bourg")
    commune.alice.request_join(join_link(hauts))
    await commune.alice.wait_for(text=fr("enrolment.join_wrong_sector", sector="Les Hauts"))
    await commune.emu.wait_until(lambda: not hauts.pending_requests())
    assert hauts.member_status(commune.alice) == "left"


async def test_only_referents_of_that_sector_or_officials_decide(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    centre = await link(commune, "Centre-bourg")
    await enrol(commune.alice, "Centre-bourg")
    commune.alice.request_join(join_link(centre))
    card = await commune.official.wait_for(text="Demande pour rejoindre")
    data = next(b["callback_data"] for row in card.reply_markup["inline_keyboard"] for b in row)
    await enrol(commune.carol, "Les Hauts")
    commune.carol.press_data(data, commune.carol.last().message_id)  # forged from her chat
    await commune.emu.wait_until(lambda: any(
        a["text"] == fr("denied.referents_only") for a in commune.emu.callback_answers))
    forged = JoinDecision(999999, Decision.APPROVE).pack()  # no such request
    commune.carol.press_data(forged, commune.carol.last().message_id)
    await commune.emu.wait_until(lambda: any(
        a["text"] == fr("fallback.stale_button") for a in commune.emu.callback_answers))
    assert centre.pending_requests() and centre.member_status(commune.alice) == "left"


async def test_charter_bump_is_told_once_and_gates_group_entry(
    settings: Settings, commune: Commune, tmp_path: Path
) -> None:
    async with running(build_application(settings)):
        await enrol(commune.alice, "Centre-bourg")
    charter_dir = tmp_path / "charter"
    charter_dir.mkdir()
    for language in ("fr", "nl", "en"):  # a commune's own text: a new version
        text = (ROOT / "charter" / f"v2.FR.{language}.md").read_text(encoding="utf-8")
        (charter_dir / f"v2.{language}.md").write_text(text + "\nUne clause de la commune.\n")
    app = build_application(settings)
    services_of(app).charter = Charter(charter_dir)
    async with running(app):
        centre = await link(commune, "Centre-bourg")
        commune.alice.send_command("/aide")
        await commune.alice.wait_for(text=fr("charter.new_version"))
        await commune.alice.wait_for(text=fr("help.title"))
        commune.alice.request_join(join_link(centre))
        await commune.alice.wait_for(text=fr("enrolment.join_first", sector="Centre-bourg"))
        commune.alice.send_command("/aide")
        await commune.alice.wait_for(text=fr("help.title"))
        notices = [m for m in commune.alice.inbox() if m.text == fr("charter.new_version")]
        assert len(notices) == 1
        commune.alice.press(fr("charter.accept"))
        await commune.official.wait_for(text="Demande pour rejoindre")
        version = services_of(app).charter.version
        assert version == 3  # the database numbered the changed text
        assert await services_of(app).store.charter.latest_version(commune.alice.id) == version


async def test_moving_sector_leaves_the_old_group(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    centre = await centre_member(commune, commune.alice)
    hauts = await link(commune, "Les Hauts")
    commune.alice.send_command("/secteur")
    await commune.alice.wait_for(text="Centre-bourg")
    commune.alice.press(fr("membership.move"))
    await commune.alice.wait_for(text=fr("membership.choose_new"))
    commune.alice.press("Les Hauts")
    await commune.alice.wait_for(text=join_link(hauts))
    await commune.emu.wait_until(lambda: centre.member_status(commune.alice) == "left")
    person = await services_of(vigie).store.people.get(commune.alice.id)
    hauts_sector = await services_of(vigie).store.sectors.by_name("Les Hauts")
    assert hauts_sector is not None
    assert person is not None and person.sector_id == hauts_sector.id


async def test_leaving_the_scheme(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    centre = await centre_member(commune, commune.alice)
    commune.alice.send_command("/quitter")
    await commune.alice.wait_for(text=fr("membership.leave_confirm"))
    commune.alice.press(fr("membership.leave_yes"))
    await commune.alice.wait_for(text=fr("membership.left"))
    await commune.emu.wait_until(lambda: centre.member_status(commune.alice) == "left")
    person = await services_of(vigie).store.people.get(commune.alice.id)
    assert person is not None and person.status == "left" and person.sector_id is None


async def test_referent_applies_is_approved_and_then_reviews_requests(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    alice, official = commune.alice, commune.official
    centre = await centre_member(commune, alice)
    alice.send_command("/devenir_referent")
    await alice.wait_for(text="souhaitez devenir référent")
    alice.send_text("Je connais bien le quartier.")
    await alice.wait_for(text=fr("referents.applied"))
    card = await official.wait_for(text="Candidature de référent")
    assert "Je connais bien le quartier." in card.text
    official.press(fr("enrolment.approve"))
    await alice.wait_for(text="Vous êtes désormais référent")
    await centre.wait_for(text="nouveau référent")
    await commune.emu.wait_until(lambda: centre.member_status(alice) == "administrator")
    store = services_of(vigie).store
    centre_sector = await store.sectors.by_chat(centre.id)
    assert centre_sector is not None
    assert await store.referents.sectors_of(alice.id) == {centre_sector.id}
    menu = [name for name, _ in commune.emu.my_commands(
        scope={"type": "chat", "chat_id": alice.id})]
    assert "devenir_referent" in menu and "referents" not in menu

    await enrol(commune.carol, "Centre-bourg", "Impasse des Roses")
    commune.carol.request_join(join_link(centre))
    await alice.wait_for(text="Impasse des Roses")  # the referent reviews, not the official
    alice.press(fr("enrolment.approve"))
    await commune.carol.wait_for(text="Bienvenue")


async def test_resident_cannot_link_and_unknown_sector_is_named(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    group = commune.group_with_bot("Voisins", members=[commune.alice])
    commune.alice.send_command("/lier_secteur", args="Centre-bourg", chat=group)
    await group.wait_for(text=fr("denied.officials_only"))
    commune.official.send_command("/lier_secteur", args="Atlantide", chat=group)
    reply = await group.wait_for(text="Je ne connais pas ce secteur")
    assert "Centre-bourg" in reply.text
    assert (await services_of(vigie).store.sectors.by_chat(group.id)) is None


async def test_missing_rights_are_listed(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    group = commune.emu.create_group("Voisins", creator=commune.official, supergroup=True)
    group.add_bot(by=commune.official, rights={"can_invite_users": True,
                                               "can_restrict_members": False,
                                               "can_delete_messages": True,
                                               "can_pin_messages": False})
    commune.official.send_command("/lier_secteur", args="Centre-bourg", chat=group)
    reply = await group.wait_for(text="administrateur avec ces droits")
    assert fr("groups.right_restrict") in reply.text and fr("groups.right_pin") in reply.text
    assert fr("groups.right_invite") not in reply.text
    assert (await services_of(vigie).store.sectors.by_chat(group.id)) is None


async def test_member_added_by_a_neighbour_is_muted(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    centre = await centre_member(commune, commune.alice)
    commune.bob.send_command("/aide")  # Bob has started the bot, so he can be told why
    await commune.bob.wait_for(text="Here is what you can do")
    centre.add_member(commune.bob, by=commune.alice)
    await commune.emu.wait_until(lambda: centre.member_status(commune.bob) == "restricted")
    await commune.bob.wait_for(text="not enrolled in it yet")
    assert not centre.can_send(commune.bob)

    # Once he enrols in that sector and is approved, he may speak.
    commune.bob.send_command("/start")
    await commune.bob.wait_for(text="Do you accept this charter?")
    commune.bob.press("✅ I accept the charter")
    await commune.bob.wait_for(text="Which sector")
    commune.bob.press("Centre-bourg")
    await commune.bob.wait_for(text="street")
    commune.bob.press("Skip")
    await commune.official.wait_for(text="Demande pour rejoindre")
    commune.official.press(fr("enrolment.approve"))
    await commune.emu.wait_until(lambda: centre.can_send(commune.bob))


async def test_group_upgrade_keeps_the_sector_linked(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    group = await link(commune, "La Vallée", supergroup=False)
    old_id = group.id
    new_id = group.upgrade_to_supergroup()
    store = services_of(vigie).store
    await commune.emu.wait_until(lambda: new_id != old_id)

    async def relinked() -> bool:
        sector = await store.sectors.by_name("La Vallée")
        return sector is not None and sector.chat_id == new_id

    await eventually(relinked, what="the sector follows its upgraded group")
    # A message queued for the old id still arrives, in the new supergroup.
    await services_of(vigie).outbox.send(Message(old_id, "sendMessage", {"text": "Avis"}, "test"))
    await group.wait_for(text="Avis")


async def test_bot_removed_unlinks_and_tells_officials(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    group = await link(commune, "Les Hauts")
    group.remove_bot(by=commune.official)
    await commune.official.wait_for(text="J'ai été retiré du groupe du secteur Les Hauts")
    sector = await services_of(vigie).store.sectors.by_name("Les Hauts")
    assert sector is not None and sector.chat_id is None


async def test_location_inside_and_outside_the_polygons(
    make_settings: Callable[..., Settings], commune: Commune, tmp_path: Path
) -> None:
    square = {"type": "Polygon", "coordinates": [[[2.0, 48.0], [3.0, 48.0], [3.0, 49.0],
                                                  [2.0, 49.0], [2.0, 48.0]]]}
    (tmp_path / "hauts.geojson").write_text(json.dumps(square))
    settings = make_settings(sectors=[{"name": "Centre-bourg"},
                                      {"name": "Les Hauts",
                                       "geojson": tmp_path / "hauts.geojson"}])
    async with running(build_application(settings)) as app:
        alice = commune.alice
        alice.send_command("/start")
        await alice.wait_for(text="Acceptez-vous")
        alice.press(fr("charter.accept"))
        await alice.wait_for(text=fr("enrolment.or_location")[:30])
        alice.send_location(10.0, 10.0)
        await alice.wait_for(text=fr("enrolment.location_outside")[:30])
        alice.send_location(48.5, 2.5)
        await alice.wait_for(text=fr("enrolment.sector_found", sector="Les Hauts"))
        person = await services_of(app).store.people.get(alice.id)
        assert person is not None and person.sector_id is not None
    assert not stored_values_matching(tmp_path / "vigie.db", lambda v: v in (48.5, 2.5) or (
        isinstance(v, str) and "48.5" in v))  # the location itself is never stored


async def test_exclusion_by_reply_and_reinstatement(
    vigie: Application, commune: Commune  # type: ignore[type-arg]
) -> None:
    alice, carol, official = commune.alice, commune.carol, commune.official
    for person in (alice, carol):
        centre = await centre_member(commune, person)
    insult = carol.send_text("un message contraire à la charte", chat=centre)
    alice.send_command("/exclure", chat=centre, reply_to=insult["message_id"])
    await centre.wait_for(text=fr("denied.referents_only"))  # a resident may not
    assert centre.member_status(carol) == "member"

    official.send_command("/exclure", chat=centre, reply_to=insult["message_id"])
    await centre.wait_for(text=fr("moderation.excluded"))
    await carol.wait_for(text="exclu du dispositif")
    await commune.emu.wait_until(lambda: centre.member_status(carol) == "kicked")
    store = services_of(vigie).store
    person = await store.people.get(carol.id)
    assert person is not None and person.status == "excluded"
    assert "member.excluded" in [e["action"] for e in await store.audit.entries()]

    carol.send_command("/start")
    await carol.wait_for(text=fr("denied.excluded"))

    official.send_command("/reintegrer", args=str(carol.id))
    await official.wait_for(text=fr("moderation.reinstated"))
    await commune.emu.wait_until(lambda: centre.member_status(carol) == "left")
    carol.send_command("/start")
    await carol.wait_for(text="Dans quel secteur")
