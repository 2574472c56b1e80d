"""The team, live (/equipe): officials, administrators and the liaison chat changed in
Telegram, without ids, config edits or restarts; Telegram's own pickers choose people and
the liaison group; bad input answered and nothing changed; the liaison group's members get
the liaison's menu and /aide."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import Commune, fr

from core.commands import command
from core.permissions import Action
from core.runtime.application import build_application
from core.runtime.lifecycle import running
from core.services import VigieApp, services_of
from core.settings import Settings
from emulator import Person, SentMessage
from handlers.staff.buttons import AppointAdmin
from storage.statuses import LiaisonSource
from testing.commune import make_referent, report, started, with_members
from testing.fences import button_answer, quiescent
from testing.scripts import CHARTER_QUESTION, fr_part, fr_start, pick_chat, pick_people

ALERT = command(Action.ALERT).name
NOTICE = command(Action.BROADCAST).name


async def known(person: Person) -> None:
    """`person` has sent /start: the bot may write to them, and knows them."""
    person.send_command("/start")
    await person.wait_for(text=CHARTER_QUESTION)


async def open_team(person: Person) -> SentMessage:
    person.send_command("/equipe")
    return await person.wait_for(text=fr("staff.title"))


async def answered(commune: Commune, query: dict[str, Any]) -> str:
    """The text of the bot's answer to a button press (its toast or alert)."""
    return str((await button_answer(commune.emu, query)).get("text") or "")


def menu(commune: Commune, chat_id: int) -> list[str]:
    return [name for name, _ in commune.emu.my_commands(
        scope={"type": "chat", "chat_id": chat_id})]


async def appoint_official(commune: Commune, chooser: Person, chosen: Person) -> None:
    await open_team(chooser)
    chooser.press(fr("staff.appoint_official"))
    await pick_people(chooser, "staff.pick_official", "staff.pick_person_button", [chosen])


async def test_an_official_appointed_by_the_picker_acts_at_once_then_is_dismissed(
    vigie: VigieApp, commune: Commune
) -> None:
    emu, admin, carol, odile = commune.emu, commune.admin, commune.carol, commune.official
    await with_members(commune)
    await known(carol)
    team = await open_team(admin)
    assert "Élus" in (team.text or "") and "Administrateurs" in (team.text or "")
    assert "Odile" in (team.text or "") and "Adam" in (team.text or "")  # current names

    await appoint_official(commune, admin, carol)
    done = await admin.wait_for(text=fr_start("staff.appointed"))
    assert "Carole" in (done.text or "")
    assert done.reply_markup == {"remove_keyboard": True}  # the picker is closed
    await carol.wait_for(text=fr("staff.appointed_dm_official"))
    # No restart: she writes a notice right away, and her menu offers it.
    carol.send_command(f"/{NOTICE}")
    await carol.wait_for(text=fr("broadcast.ask.notice")[:30])
    await emu.wait_until(lambda: NOTICE in menu(commune, carol.id))
    store = services_of(vigie).store
    entries = await store.audit.entries("staff.appointed")
    assert [(e["actor_id"], e["subject"]) for e in entries] == [(admin.id, f"user:{carol.id}")]
    carol.send_command("/annuler")
    await carol.wait_for(text=fr("cancel.done"))

    # Dismissed: Odile (number 1) loses the role at once, is told, and her menu follows.
    team = await open_team(admin)
    admin.press(fr("staff.dismiss_button", n=1), message_id=team.message_id)
    await emu.wait_until(lambda: fr("staff.dismiss_yes") in _buttons(commune, team))
    admin.press(fr("staff.dismiss_yes"), message_id=team.message_id)
    await admin.wait_for(text=fr_start("staff.dismissed"))
    await odile.wait_for(text=fr("staff.dismissed_dm_official"))
    odile.send_command(f"/{NOTICE}")
    await odile.wait_for(text=fr("denied.officials_only"))
    await emu.wait_until(lambda: NOTICE not in menu(commune, odile.id))
    assert odile.id not in services_of(vigie).roles.officials


def _buttons(commune: Commune, message: SentMessage) -> list[str]:
    return next(m.buttons for m in commune.emu.sent(message.chat_id)
                if m.message_id == message.message_id)


async def test_the_last_admin_stays_and_bad_choices_change_nothing(
    vigie: VigieApp, commune: Commune
) -> None:
    emu, admin, odile, bob = commune.emu, commune.admin, commune.official, commune.bob
    await with_members(commune)
    svc = services_of(vigie)
    # Adam, the only administrator, is number 2 (after Odile): removing him is refused.
    team = await open_team(admin)
    admin.press(fr("staff.dismiss_button", n=2), message_id=team.message_id)
    await emu.wait_until(lambda: fr("staff.dismiss_yes") in _buttons(commune, team))
    query = admin.press(fr("staff.dismiss_yes"), message_id=team.message_id)
    assert await answered(commune, query) == fr("staff.last_admin")
    assert svc.roles.admins == (admin.id,)

    # Someone already official; then someone who never wrote to the bot: said, the picker
    # offered again, nothing stored.
    await appoint_official(commune, admin, odile)
    refused = await admin.wait_for(text=fr_start("staff.already"))
    assert "Odile" in (refused.text or "")
    admin.share_users(fr("staff.pick_person_button"), [bob])
    refused = await admin.wait_for(text=fr_start("staff.unknown_person"))
    assert f"@{vigie.bot.username}" in (refused.text or "")
    # Telegram's picker offers no bots (user_is_bot=False).
    robot = emu.create_user("Robot", username="robot_bot", is_bot=True)
    with pytest.raises(PermissionError):
        admin.share_users(fr("staff.pick_person_button"), [robot])
    admin.send_text(fr("staff.cancel_button"))
    closed = await admin.wait_for(text=fr("staff.cancelled"))
    assert closed.reply_markup == {"remove_keyboard": True}
    assert svc.roles.officials == (odile.id,)
    assert await svc.store.audit.entries("staff.appointed") == []


async def test_who_may_change_the_team(vigie: VigieApp, commune: Commune) -> None:
    emu, admin, odile, alice = commune.emu, commune.admin, commune.official, commune.alice
    gaston, carol = commune.liaison, commune.carol
    await with_members(commune)
    await known(carol)
    # Residents, referents and the liaison are refused the team.
    for person in (alice, gaston):
        person.send_command("/equipe")
        await person.wait_for(text=fr("denied.officials_only"))
    await make_referent(vigie, commune, alice)
    alice.send_command("/equipe")
    await alice.wait_for(text=fr("denied.officials_only"))
    # An official sees it and may appoint an official, nothing more.
    team = await open_team(odile)
    assert fr("staff.official_hint") in (team.text or "")
    assert _buttons(commune, team) == [fr("staff.appoint_official"), fr("staff.refresh")]
    query = odile.press_data(AppointAdmin().pack(), team.message_id)  # forged
    assert await answered(commune, query) == fr("denied.admins_only")

    # Odile opens the picker, then loses the role before choosing: her choice is refused
    # (the guard checks again) and Carole is not appointed.
    odile.press(fr("staff.appoint_official"), message_id=team.message_id)
    await odile.wait_for(text=fr_part("staff.pick_official"))
    listing = await open_team(admin)
    admin.press(fr("staff.dismiss_button", n=1), message_id=listing.message_id)
    await emu.wait_until(lambda: fr("staff.dismiss_yes") in _buttons(commune, listing))
    admin.press(fr("staff.dismiss_yes"), message_id=listing.message_id)
    await odile.wait_for(text=fr("staff.dismissed_dm_official"))
    odile.share_users(fr("staff.pick_person_button"), [carol])
    await odile.wait_for(text=fr("denied.officials_only"))
    await quiescent(vigie, emu)
    roles = services_of(vigie).roles
    assert carol.id not in roles.officials and odile.id not in roles.officials


async def test_the_liaison_group_chosen_by_the_chat_picker(
    make_settings: Callable[..., Settings], commune: Commune
) -> None:
    emu, admin, gaston, carol = commune.emu, commune.admin, commune.liaison, commune.carol
    settings = make_settings(reports={"relay_mode": "direct"})
    async with running(build_application(settings)) as app:
        await with_members(commune)  # Alice in Centre-bourg, its group linked
        centre = commune.groups["Centre-bourg"]
        gendarmerie = commune.group_with_bot("Brigade de Saint-Exemple", members=[carol])
        await emu.wait_until(lambda: ALERT in menu(commune, gaston.id))  # the liaison, now
        await open_team(admin)
        admin.press(fr("staff.set_liaison"))
        # A sector group is residents': refused, the picker offered again.
        centre.add_member(admin, by=commune.official)
        await pick_chat(admin, "staff.pick_liaison", "staff.pick_group_button", centre)
        await admin.wait_for(text=fr_start("staff.liaison_sector_group"))
        # Telegram's picker offers only groups the bot is in (bot_is_member).
        elsewhere = emu.create_group("Sans le bot", creator=admin)
        with pytest.raises(PermissionError):
            admin.share_chat(fr("staff.pick_group_button"), elsewhere)
        gendarmerie.add_member(admin, by=commune.official)
        admin.share_chat(fr("staff.pick_group_button"), gendarmerie)
        await admin.wait_for(text=fr_start("staff.liaison_set_group"))
        svc = services_of(app)
        assert svc.roles.liaison_chat_id == gendarmerie.id
        await gaston.wait_for(text=fr("staff.liaison_removed_dm"))
        await emu.wait_until(lambda: menu(commune, gaston.id) == [])  # no role left
        await emu.wait_until(lambda: "aide" in menu(commune, gendarmerie.id))

        # Reports now go to the group.
        report_id = await report(commune.alice, "Voiture suspecte rue des Lilas")
        await gendarmerie.wait_for(text=f"Signalement n°{report_id}")

        # Carole (who has written to the bot: Telegram keeps no menu for a chat the bot
        # never had) speaks in the group: a member by that fact, she gets the liaison's
        # menu and /aide, in private and in the group.
        await started(carol)
        private = carol.last()
        assert private is not None and f"/{ALERT}" not in (private.text or "")
        carol.send_command("/aide", chat=gendarmerie)
        in_group = await gendarmerie.wait_for(text=fr("help.title"))
        assert "/aide" in (in_group.text or "")
        await emu.wait_until(lambda: ALERT in menu(commune, carol.id))
        await started(carol)
        private = carol.last()
        assert private is not None and f"/{ALERT}" in (private.text or "")
        assert f"/{NOTICE} " not in (private.text or "")  # the officials' own
        entries = await svc.store.audit.entries("staff.liaison_set")
        assert [e["subject"] for e in entries] == [f"chat:{gendarmerie.id}"]


async def test_the_liaison_as_one_officer_by_the_user_picker(
    vigie: VigieApp, commune: Commune
) -> None:
    emu, admin, carol, gaston = commune.emu, commune.admin, commune.carol, commune.liaison
    await with_members(commune)
    await known(carol)
    await open_team(admin)
    admin.press(fr("staff.set_liaison"))
    await pick_people(admin, "staff.pick_liaison", "staff.pick_officer_button", [gaston])
    await admin.wait_for(text=fr_start("staff.liaison_already"))
    admin.share_users(fr("staff.pick_officer_button"), [carol])
    await admin.wait_for(text=fr_start("staff.liaison_set_person"))
    await carol.wait_for(text=fr("staff.liaison_dm"))
    await emu.wait_until(lambda: ALERT in menu(commune, carol.id))
    assert services_of(vigie).roles.liaison_chat_id == carol.id


async def test_a_configured_liaison_group_gets_its_menus_at_start(
    make_settings: Callable[..., Settings], commune: Commune
) -> None:
    """At start: the group's own menu, and each member already known their liaison menu."""
    emu, carol = commune.emu, commune.carol
    group = commune.group_with_bot("Brigade", members=[carol])
    roles = {"officials": [commune.official.id], "admins": [commune.admin.id],
             "liaison_chat_id": group.id}
    settings = make_settings(roles=roles)
    async with running(build_application(settings)) as app:
        await started(carol)
        await services_of(app).store.liaison.record(group.id, carol.id, True,
                                                    LiaisonSource.CHECKED)
        await emu.wait_until(lambda: "aide" in menu(commune, group.id))
    assert ALERT not in menu(commune, carol.id)  # learnt after the start's menus
    async with running(build_application(settings)):
        await emu.wait_until(lambda: ALERT in menu(commune, carol.id))
