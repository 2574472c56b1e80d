"""Live administration of the sectors (/secteurs) through the emulator: add, rename with
the members kept, retire with the members told (one moving by the button), merge; every
bad input answered with nothing changed; residents, referents and groups refused; and
`vigie check` showing the sectors and roles the database has."""

from __future__ import annotations

import json
import re
from typing import Any

from conftest import Commune, fr
from telegram.ext import Application

from core import geo, i18n
from core.runtime import check
from core.services import services_of
from emulator import Person, SentMessage
from handlers.enrolment.buttons import Confirm
from handlers.sectors.buttons import MergeInto, SectorConfirm, SectorMenu, SectorOp, SectorTarget
from storage import Sector
from storage.statuses import PersonStatus, StaffRole
from testing.commune import (
    centre_member,
    join_link,
    link,
    make_referent,
    report,
    with_members,
)
from testing.fences import button_answer, eventually, quiescent
from testing.scripts import enrol, fr_part, fr_start

Bot = Application  # type: ignore[type-arg]


def shown(key: str, **values: Any) -> str:
    """A French catalogue text as the person sees it (HTML tags parsed away)."""
    return re.sub(r"<[^>]+>", "", fr(key, **values))


async def sector(app: Bot, name: str) -> Sector:
    found = await services_of(app).store.sectors.named(name)
    assert found is not None, name
    return found


async def open_menu(person: Person) -> SentMessage:
    person.send_command("/secteurs")
    return await person.wait_for(text=fr_start("sectors.title"))


async def pick(person: Person, op: SectorOp, name: str) -> None:
    """From /secteurs: the operation's button, then the sector's."""
    menu = await open_menu(person)
    person.press(fr(f"sectors.{op}"), message_id=menu.message_id)
    await person.wait_for(text=fr(f"sectors.pick_{op}"))
    person.press(name)


async def answered(commune: Commune, query: dict[str, object]) -> dict[str, object]:
    return await button_answer(commune.emu, query)


async def active_names(app: Bot) -> list[str]:
    return [s.name for s in await services_of(app).store.sectors.active()]


# --- add ---------------------------------------------------------------------------------


async def test_a_sector_added_is_offered_at_enrolment_at_once(vigie: Bot, commune: Commune
                                                               ) -> None:
    official = commune.official
    menu = await open_menu(official)
    assert shown("sectors.line", sector="Centre-bourg", members=0, referents=0,
                 group=fr("sectors.group_none"), area=fr("sectors.area_none"),
                 streets=0) in (menu.text or "")
    official.press(fr("sectors.add"), message_id=menu.message_id)
    await official.wait_for(text=fr("sectors.ask_name", limit=64))
    official.send_text("  Le   Moulin ")
    await official.wait_for(text=shown("sectors.added", sector="Le Moulin"))
    assert "Le Moulin" in await active_names(vigie)
    journal = await services_of(vigie).store.audit.entries("sector.added")
    assert journal[0]["actor_id"] == official.id
    # Enrolment offers it from the next update on, without a restart.
    await enrol(commune.carol, "Le Moulin")
    person = await services_of(vigie).store.people.get(commune.carol.id)
    assert person is not None and person.sector_id == (await sector(vigie, "Le Moulin")).id


async def test_bad_names_change_nothing(vigie: Bot, commune: Commune) -> None:
    official, store = commune.official, services_of(vigie).store
    before = await active_names(vigie)
    menu = await open_menu(official)
    official.press(fr("sectors.add"), message_id=menu.message_id)
    await official.wait_for(text=fr("sectors.ask_name", limit=64))
    official.send_text("les hauts")  # an active name, in another case
    await official.wait_for(text=shown("sectors.name_taken", sector="les hauts"))
    long_name = "Quartier " + "très " * 12
    official.send_text(long_name)
    told = await official.wait_for(text=fr_start("sectors.name_too_long"))
    assert told.text == fr("sectors.name_too_long", length=len(long_name.strip()), limit=64)
    await official.wait_for(text=long_name.strip())  # handed back
    official.send_photo()
    await official.wait_for(text=fr("sectors.name_expected"))
    await quiescent(vigie, commune.emu)
    assert await active_names(vigie) == before
    # A retired name is refused too, and the retired sector may come back instead.
    vallee = await sector(vigie, "La Vallée")
    await store.sectors.retire(vallee.id)
    official.send_text("La Vallée")
    refused = await official.wait_for(text=shown("sectors.name_retired", sector="La Vallée"))
    official.press(fr("sectors.restore"), message_id=refused.message_id)
    await official.wait_for(text=shown("sectors.restored", sector="La Vallée"))
    assert (await sector(vigie, "La Vallée")).id == vallee.id
    assert sorted(await active_names(vigie)) == sorted(before)


# --- rename ------------------------------------------------------------------------------


async def test_a_renamed_sector_keeps_its_members_and_group(vigie: Bot, commune: Commune
                                                             ) -> None:
    await with_members(commune)
    official, alice = commune.official, commune.alice
    centre = await sector(vigie, "Centre-bourg")
    await pick(official, SectorOp.RENAME, "Centre-bourg")
    await official.wait_for(text=shown("sectors.ask_new_name", sector="Centre-bourg", limit=64))
    official.send_text("la vallée")  # taken: nothing changes, the name is asked again
    await official.wait_for(text=shown("sectors.name_taken", sector="la vallée"))
    assert (await sector(vigie, "Centre-bourg")).name == "Centre-bourg"
    official.send_text("Cœur de bourg")
    await official.wait_for(text=shown("sectors.renamed", before="Centre-bourg",
                                       sector="Cœur de bourg"))
    renamed = await sector(vigie, "Cœur de bourg")
    assert (renamed.id, renamed.chat_id, renamed.invite_link) == (
        centre.id, centre.chat_id, centre.invite_link)
    group = commune.groups["Centre-bourg"]
    assert group.title == "Voisins Centre-bourg"  # the bot leaves the group's title alone
    alice.send_command("/secteur")
    mine = await alice.wait_for(text=fr_start("membership.sector"))
    assert "Cœur de bourg" in (mine.text or "") and str(centre.invite_link) in (mine.text or "")


# --- retire ------------------------------------------------------------------------------


async def test_a_retired_sector_tells_its_people_and_a_member_moves_by_the_button(
    vigie: Bot, commune: Commune
) -> None:
    await with_members(commune)
    await centre_member(commune, commune.carol)
    await make_referent(vigie, commune, commune.alice)
    official, alice, carol = commune.official, commune.alice, commune.carol
    group = commune.groups["Centre-bourg"]
    centre = await sector(vigie, "Centre-bourg")
    await pick(official, SectorOp.RETIRE, "Centre-bourg")
    question = await official.wait_for(text=fr_start("sectors.retire_confirm"))
    assert shown("sectors.retire_confirm", sector="Centre-bourg", members=2,
                 referents=1) == question.text
    official.press(fr("sectors.confirm_retire"), message_id=question.message_id)
    await official.wait_for(text=shown("sectors.retired", sector="Centre-bourg", members=2,
                                       referents=1))
    told = {p.id: await p.wait_for(text=shown("sectors.retired_member",
                                              sector="Centre-bourg")) for p in (alice, carol)}
    await alice.wait_for(text=shown("sectors.retired_referent", sector="Centre-bourg"))
    await group.wait_for(text=fr_part("sectors.retired_group"))
    offered = [b["text"] for row in (told[carol.id].reply_markup or {})["inline_keyboard"]
               for b in row]
    assert offered == ["La Vallée", "Les Hauts"]
    store = services_of(vigie).store
    after = await store.sectors.get(centre.id)
    assert after is not None and not after.active and after.chat_id is None
    assert await store.referents.of_sector(centre.id) == []
    assert "Centre-bourg" not in await active_names(vigie)
    # Carol takes the button: placed as at enrolment, the new group's way in given.
    carol.press("Les Hauts", message_id=told[carol.id].message_id)
    await carol.wait_for(text=fr("enrolment.sector_chosen", sector="Les Hauts"))
    await carol.wait_for(text=fr("enrolment.group_not_ready", sector="Les Hauts"))
    person = await store.people.get(carol.id)
    hauts = await sector(vigie, "Les Hauts")
    assert person is not None and person.sector_id == hauts.id
    assert person.status == PersonStatus.ENROLLED
    # Pressed again: already placed, nothing changes.
    carol.press("La Vallée", message_id=told[carol.id].message_id)
    await carol.wait_for(text=fr("sectors.already_placed", sector="Les Hauts"))
    await quiescent(vigie, commune.emu)
    person = await store.people.get(carol.id)
    assert person is not None and person.sector_id == hauts.id
    # The button of a sector retired meanwhile is stale: nothing changes.
    query = official.press_data(SectorConfirm(SectorOp.RETIRE, centre.id, None,
                                              Confirm.YES).pack(), question.message_id)
    await answered(commune, query)
    await official.wait_for(text=fr("sectors.gone"))


async def test_the_last_sector_cannot_be_retired(vigie: Bot, commune: Commune) -> None:
    store = services_of(vigie).store
    for name in ("Les Hauts", "La Vallée"):
        await store.sectors.retire((await sector(vigie, name)).id)
    official = commune.official
    menu = await open_menu(official)
    official.press(fr("sectors.retire"), message_id=menu.message_id)
    await official.wait_for(text=fr("sectors.last"))
    centre = await sector(vigie, "Centre-bourg")
    # Even with a confirmation forged for it.
    official.press_data(SectorConfirm(SectorOp.RETIRE, centre.id, None, Confirm.YES).pack(),
                        menu.message_id)
    await official.wait_for(text=fr("sectors.last"))
    await quiescent(vigie, commune.emu)
    assert await active_names(vigie) == ["Centre-bourg"]


# --- merge -------------------------------------------------------------------------------


async def test_a_merge_moves_members_referents_and_reports(vigie: Bot, commune: Commune
                                                            ) -> None:
    await with_members(commune)
    await make_referent(vigie, commune, commune.alice)
    hauts_group = await link(commune, "Les Hauts")
    official, alice = commune.official, commune.alice
    report_id = await report(alice, "Une camionnette blanche tourne dans le lotissement")
    centre, hauts = await sector(vigie, "Centre-bourg"), await sector(vigie, "Les Hauts")
    await pick(official, SectorOp.MERGE, "Centre-bourg")
    await official.wait_for(text=fr("sectors.pick_into"))
    official.press("Les Hauts")
    question = await official.wait_for(text=fr_start("sectors.merge_confirm"))
    official.press(fr("sectors.confirm_merge"), message_id=question.message_id)
    await official.wait_for(text=shown("sectors.merged", sector="Centre-bourg",
                                       target="Les Hauts", members=1, referents=1))
    told = await alice.wait_for(text=shown("sectors.merged_member", sector="Centre-bourg",
                                           target="Les Hauts"))
    assert str(hauts.invite_link) in (told.text or "")
    await alice.wait_for(text=shown("sectors.merged_referent", sector="Centre-bourg",
                                    target="Les Hauts"))
    await commune.groups["Centre-bourg"].wait_for(text=fr_part("sectors.merged_group"))
    store = services_of(vigie).store
    person = await store.people.get(alice.id)
    assert person is not None and person.sector_id == hauts.id
    assert await store.referents.of_sector(hauts.id) == [alice.id]
    moved = await store.reports.get(report_id)
    assert moved is not None and moved.sector_id == hauts.id
    gone = await store.sectors.get(centre.id)
    assert gone is not None and not gone.active and gone.chat_id is None
    assert (await sector(vigie, "Les Hauts")).chat_id == hauts_group.id
    entries = await store.audit.entries("sector.merged")
    assert entries[0]["subject"] == f"sector:{centre.id}"


async def test_merging_into_itself_or_a_retired_sector_changes_nothing(
    vigie: Bot, commune: Commune
) -> None:
    official, store = commune.official, services_of(vigie).store
    centre, hauts = await sector(vigie, "Centre-bourg"), await sector(vigie, "Les Hauts")
    menu = await open_menu(official)
    official.press_data(MergeInto(centre.id, centre.id).pack(), menu.message_id)
    await official.wait_for(text=fr("sectors.same"))
    official.press_data(SectorConfirm(SectorOp.MERGE, centre.id, centre.id,
                                      Confirm.YES).pack(), menu.message_id)
    await official.wait_for(text=fr("sectors.same"))
    await store.sectors.retire(hauts.id)
    official.press_data(SectorTarget(SectorOp.MERGE, hauts.id).pack(), menu.message_id)
    await official.wait_for(text=fr("sectors.gone"))
    official.press_data(MergeInto(centre.id, hauts.id).pack(), menu.message_id)
    await official.wait_for(text=fr("sectors.gone"))
    await quiescent(vigie, commune.emu)
    assert sorted(await active_names(vigie)) == ["Centre-bourg", "La Vallée"]


# --- who may -----------------------------------------------------------------------------


async def test_residents_referents_and_groups_are_refused(vigie: Bot, commune: Commune
                                                           ) -> None:
    await with_members(commune)
    await make_referent(vigie, commune, commune.alice)
    await enrol(commune.carol, "Les Hauts")
    for person in (commune.alice, commune.carol):
        person.send_command("/secteurs")
        await person.wait_for(text=fr("denied.officials_only"))
        query = person.press_data(SectorMenu(SectorOp.ADD).pack(), person.inbox()[-1].message_id)
        assert (await answered(commune, query))["text"] == fr("denied.officials_only")
    group = commune.groups["Centre-bourg"]
    commune.official.send_command("/secteurs", chat=group)
    await group.wait_for(text=fr("denied.private_only"))
    await quiescent(vigie, commune.emu)
    assert len(await active_names(vigie)) == 3


async def test_a_person_who_lost_the_role_meanwhile_is_refused_at_the_next_step(
    vigie: Bot, commune: Commune
) -> None:
    admin, svc = commune.admin, services_of(vigie)
    menu = await open_menu(admin)
    admin.press(fr("sectors.add"), message_id=menu.message_id)
    await admin.wait_for(text=fr("sectors.ask_name", limit=64))
    await svc.store.staff.dismiss(admin.id, StaffRole.ADMIN)
    await svc.reload_roles()
    admin.send_text("Le Moulin")
    await admin.wait_for(text=fr("denied.officials_only"))
    await quiescent(vigie, commune.emu)
    assert "Le Moulin" not in await active_names(vigie)


# --- vigie check -------------------------------------------------------------------------


async def test_check_shows_the_database_and_where_config_differs(vigie: Bot, commune: Commune
                                                                 ) -> None:
    official, svc = commune.official, services_of(vigie)
    menu = await open_menu(official)
    official.press(fr("sectors.add"), message_id=menu.message_id)
    await official.wait_for(text=fr("sectors.ask_name", limit=64))
    official.send_text("Le Moulin")
    await official.wait_for(text=shown("sectors.added", sector="Le Moulin"))
    text = (await check.run(svc.settings, vigie.bot, svc.store)).render("fr")
    assert fr("check.sector_unlinked", sector="Le Moulin") in text
    assert fr("check.current_officials", people=str(official.id)) in text
    assert fr("check.current_liaison", chat=str(commune.liaison.id)) in text
    names = "Centre-bourg, La Vallée, Les Hauts"
    assert fr("check.differs_sectors", config=names,
              current="Centre-bourg, La Vallée, Le Moulin, Les Hauts") in text
    assert fr("check.latest_wins") in text
    assert "differs:officials" not in {i.code for i in
                                       (await check.run(svc.settings, vigie.bot,
                                                        svc.store)).items}


async def test_a_long_list_of_sectors_is_split_within_telegram_limits(
    vigie: Bot, commune: Commune
) -> None:
    store = services_of(vigie).store
    for n in range(40):
        await store.sectors.add(f"Lotissement des Grands Chênes, tranche numéro {n:02d}")
    official = commune.official
    official.send_command("/secteurs")
    last = await official.wait_for(lambda m: bool(m.reply_markup))
    assert last.reply_markup is not None
    listed = [m for m in official.inbox() if "Lotissement" in (m.text or "")]
    assert len(listed) > 1 and all(len(m.raw_text or "") <= 4096 for m in listed)
    assert sum((m.text or "").count("Lotissement") for m in listed) == 40


async def test_a_join_request_waiting_for_a_retired_sector_is_declined_and_its_author_told(
    vigie: Bot, commune: Commune
) -> None:
    await with_members(commune)
    official, bob = commune.official, commune.bob
    group = commune.groups["Centre-bourg"]
    bob.send_command("/start")  # Bob can be written to
    await bob.wait_for()
    bob.request_join(join_link(group))
    store = services_of(vigie).store

    async def requested() -> bool:
        return await store.join_requests.pending_for(bob.id) is not None

    await eventually(requested, what="Bob's join request recorded")
    assert [r["user_id"] for r in group.pending_requests()] == [bob.id]
    await pick(official, SectorOp.RETIRE, "Centre-bourg")
    question = await official.wait_for(text=fr_start("sectors.retire_confirm"))
    official.press(fr("sectors.confirm_retire"), message_id=question.message_id)
    told = re.sub(r"<[^>]+>", "", i18n.t("en", "sectors.retired_request", sector="Centre-bourg"))
    await bob.wait_for(text=told)  # in Bob's language
    await quiescent(vigie, commune.emu)
    assert group.pending_requests() == []  # declined on Telegram, not left waiting there
    assert not await requested()


def square(west: float, south: float) -> str:
    """A GeoJSON square of a tenth of a degree, its south-west corner at (west, south)."""
    ring = [[west, south], [west + 0.1, south], [west + 0.1, south + 0.1],
            [west, south + 0.1], [west, south]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


async def test_a_merge_of_two_sectors_with_areas_covers_both(vigie: Bot, commune: Commune
                                                             ) -> None:
    svc = services_of(vigie)
    centre, hauts = await sector(vigie, "Centre-bourg"), await sector(vigie, "Les Hauts")
    await svc.store.sectors.set_area(centre.id, square(2.0, 48.0))
    await svc.store.sectors.set_area(hauts.id, square(2.1, 48.0))  # its eastern neighbour
    await svc.reload_areas()
    official = commune.official
    await pick(official, SectorOp.MERGE, "Centre-bourg")
    await official.wait_for(text=fr("sectors.pick_into"))
    official.press("Les Hauts")
    question = await official.wait_for(text=fr_start("sectors.merge_confirm"))
    official.press(fr("sectors.confirm_merge"), message_id=question.message_id)
    await official.wait_for(text=fr_part("sectors.merged"))
    await quiescent(vigie, commune.emu)
    area = svc.sector_polygons[hauts.id]
    assert geo.contains(area, 48.05, 2.05) and geo.contains(area, 48.05, 2.15)  # both halves
    assert centre.id not in svc.sector_polygons
