"""A liaison that is a gendarmerie group: membership learnt from the group itself.

The bot never asks Telegram who belongs to the group while handling an update (issue 13):
the group's chat_member updates and people acting in it say so, and a background check
asks about people it never saw. A report card's status button, pressed (forged) in the
person's own private chat, is what tells a liaison from a resident here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core import i18n
from core.runtime.application import build_application
from core.runtime.lifecycle import running
from core.settings import Settings
from emulator import Group, Person, TelegramEmulator
from handlers.reports.buttons import LiaisonStatus, SetStatus
from testing.commune import centre_member, commune_config, report, started
from testing.fences import quiescent
from tests.conftest import Commune, fr


def liaison_group(commune: Commune, members: list[Person]) -> Group:
    """The gendarmerie's group, with the bot as an administrator, `members` already in."""
    group = commune.emu.create_group("Gendarmerie", creator=commune.official,
                                     members=members, supergroup=True)
    group.add_bot(by=commune.official)
    return group


def settings_for(make_settings: Callable[..., Settings], commune: Commune,
                 group: Group) -> Settings:
    roles = {**commune_config(commune)["roles"], "liaison_chat_id": group.id}
    return make_settings(roles=roles, reports={"relay_mode": "direct"})


def member_checks(emu: TelegramEmulator, person: Person, answered: bool = False) -> int:
    """getChatMember calls the bot made about `person`, from any of its bots (`answered`:
    only those Telegram answered)."""
    return sum(1 for call in emu.calls if call.method == "getChatMember"
               and str(call.params.get("user_id")) == str(person.id)
               and (call.status == 200 or not answered))


async def press_status(emu: TelegramEmulator, person: Person, report_id: int,
                       status: LiaisonStatus) -> str:
    """`person` presses a status button of report `report_id` in their private chat; the
    text the bot answered the press with."""
    last = person.last()
    assert last is not None  # a private chat the person started
    query: dict[str, Any] = person.press_data(SetStatus(report_id, status).pack(),
                                              last.message_id)
    await emu.wait_until(lambda: any(a["callback_query_id"] == query["id"]
                                     for a in emu.callback_answers))
    return next(str(a["text"]) for a in emu.callback_answers
                if a["callback_query_id"] == query["id"])


async def test_a_group_member_acts_without_any_getchatmember_then_loses_the_role(
    make_settings: Callable[..., Settings], commune: Commune
) -> None:
    emu, gaston = commune.emu, commune.liaison
    group = liaison_group(commune, members=[])
    async with running(build_application(settings_for(make_settings, commune, group))) as app:
        await started(commune.official)  # the bot listens, chat_member updates included
        # Gaston joins the group: its chat_member update says so, before he ever writes.
        group.add_member(gaston, by=commune.official)
        await quiescent(app, emu)
        await started(gaston)
        await centre_member(commune, commune.alice)
        report_id = await report(commune.alice, "Voiture suspecte rue des Lilas")
        await group.wait_for(text=f"Signalement n°{report_id}")
        await quiescent(app, emu)
        answer = await press_status(emu, gaston, report_id, LiaisonStatus.RECEIVED)
        assert answer == fr("reports.status_recorded",
                            status=fr(f"reports.status.{LiaisonStatus.RECEIVED}"))
        assert member_checks(emu, gaston) == 0  # never asked, in an update's path or not

        # An officer removes him from the group: the role goes with the update.
        group.ban_member(gaston, by=commune.official)
        await quiescent(app, emu)
        answer = await press_status(emu, gaston, report_id, LiaisonStatus.CLOSED)
        assert answer == fr("denied.liaison_only")
        assert member_checks(emu, gaston) == 0


async def test_a_member_never_seen_is_confirmed_in_the_background(
    make_settings: Callable[..., Settings], commune: Commune
) -> None:
    """Dora was in the group before the bot: no update ever named her. Until the background
    check gets Telegram's answer (held back here by failing getChatMember), she is answered
    as a resident; then her press is the liaison's. Acting inside the group is membership
    too, and leaving it ends it."""
    emu, dora = commune.emu, commune.carol
    bob = commune.bob
    group = liaison_group(commune, members=[dora, bob])
    async with running(build_application(settings_for(make_settings, commune, group))) as app:
        await started(commune.official)
        await centre_member(commune, commune.alice)
        report_id = await report(commune.alice, "Cambriolage impasse du Moulin")
        await group.wait_for(text=f"Signalement n°{report_id}")
        emu.faults.fail_next("getChatMember", 500, times=1_000_000)
        await started(dora)
        assert await press_status(emu, dora, report_id, LiaisonStatus.RECEIVED) == \
            fr("denied.liaison_only")
        assert member_checks(emu, dora, answered=True) == 0
        emu.faults.clear()  # Telegram answers again: the background check confirms her
        await emu.wait_until(lambda: member_checks(emu, dora, answered=True) > 0, timeout=10)
        await quiescent(app, emu)
        answer = await press_status(emu, dora, report_id, LiaisonStatus.RECEIVED)
        assert answer == fr("reports.status_recorded",
                            status=fr(f"reports.status.{LiaisonStatus.RECEIVED}"))

        dora.leave(group)
        await quiescent(app, emu)
        assert await press_status(emu, dora, report_id, LiaisonStatus.CLOSED) == \
            fr("denied.liaison_only")

        # Bob, in the group before the bot too, speaks there: a member by that fact, and
        # the bot never needs to ask about him.
        bob.send_command("/aide", chat=group)
        await group.wait_for(text="/aide")
        await quiescent(app, emu)
        await started(bob)
        answer = await press_status(emu, bob, report_id, LiaisonStatus.CLOSED)
        assert answer == i18n.t("en", "reports.status_recorded",  # Bob speaks English
                                status=i18n.t("en", f"reports.status.{LiaisonStatus.CLOSED}"))
        assert member_checks(emu, bob) == 0
