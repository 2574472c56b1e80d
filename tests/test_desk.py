"""The staff's desk through the emulator: /demandes, /membres, /exclus and /id, their
buttons, for the roles that may and may not use them; people shown by their current
Telegram name; lists paged and refreshed in place; actions on people who are gone."""

from __future__ import annotations

import re

from conftest import Commune, fr
from telegram.ext import Application

from core.services import services_of
from emulator import Person, SentMessage
from handlers.desk.buttons import DeskRemind
from testing.commune import (
    centre_member,
    join_link,
    make_referent,
    stored_values_matching,
    with_members,
)
from testing.fences import button_answer, quiescent
from testing.scripts import enrol, fr_part, fr_start

Bot = Application  # type: ignore[type-arg]


def number_of(message: SentMessage, name: str) -> int:
    """The number a list gives the person called `name`."""
    found = re.search(rf"^(\d+)\. {re.escape(name)}", message.text or "", re.MULTILINE)
    assert found is not None, message.text
    return int(found.group(1))


async def answered(commune: Commune, query: dict[str, object]) -> dict[str, object]:
    """The bot's answer to a button press (its toast or alert)."""
    return await button_answer(commune.emu, query)


def now(commune: Commune, message: SentMessage) -> SentMessage:
    """The message as it stands now (after edits)."""
    return next(m for m in commune.emu.sent(message.chat_id)
                if m.message_id == message.message_id)


async def open_list(person: Person, command: str, title_key: str) -> SentMessage:
    person.send_command(command)
    return await person.wait_for(text=fr_start(title_key))


async def referent_and_carol(app: Bot, commune: Commune) -> None:
    """Alice is a Centre-bourg member and its referent; Carol is a member too."""
    await with_members(commune)
    await centre_member(commune, commune.carol)
    await make_referent(app, commune, commune.alice)


# --- /demandes ---------------------------------------------------------------------------


async def test_pending_requests_are_listed_by_name_and_decided_once(
    vigie: Bot, commune: Commune
) -> None:
    await with_members(commune)
    await make_referent(vigie, commune, commune.alice)
    await enrol(commune.carol, "Centre-bourg")
    commune.carol.request_join(join_link(commune.groups["Centre-bourg"]))
    card = await commune.alice.wait_for(text=fr_part("enrolment.join_card"))
    assert "Carole" in (card.text or "")  # named when the outbox sent it
    listing = await open_list(commune.official, "/demandes", "desk.requests_title")
    assert "1. Carole : Centre-bourg" in (listing.text or "")
    assert listing.parse_mode == "HTML"
    # The official approves from the list while the referent presses her card: once.
    first = commune.official.press(fr("desk.approve_button", n=1),
                                   message_id=listing.message_id)
    second = commune.alice.press(fr("enrolment.approve"), message_id=card.message_id)
    await commune.carol.wait_for(text=fr_start("enrolment.join_approved"))
    answers = [await answered(commune, first), await answered(commune, second)]
    await quiescent(vigie, commune.emu)
    assert sum(a["text"] == fr("enrolment.already_decided") for a in answers) == 1
    approvals = [m for m in commune.carol.inbox()
                 if (m.text or "").startswith(fr_start("enrolment.join_approved"))]
    assert len(approvals) == 1
    assert now(commune, listing).text == fr("desk.requests_empty")  # refreshed in place
    # Shown by name, and the name is nowhere in the database (the outbox keeps the link).
    database = services_of(vigie).settings.storage.database
    assert stored_values_matching(database, lambda v: isinstance(v, str) and "Carole" in v) == []


async def test_a_resident_and_a_group_are_refused_the_lists(
    vigie: Bot, commune: Commune
) -> None:
    await with_members(commune)
    for command in ("/demandes", "/membres", "/exclus"):
        commune.alice.send_command(command)
        await commune.alice.wait_for(text=fr("denied.referents_only"))
    centre = commune.groups["Centre-bourg"]
    commune.official.send_command("/membres", chat=centre)
    await centre.wait_for(text=fr("denied.private_only"))


# --- /membres ----------------------------------------------------------------------------


async def test_members_show_since_charter_and_strikes_and_get_a_reminder(
    vigie: Bot, commune: Commune
) -> None:
    await referent_and_carol(vigie, commune)
    listing = await open_list(commune.alice, "/membres", "desk.members_title")
    text = listing.text or ""
    assert "Alice Martin : Centre-bourg" in text and "Carole : Centre-bourg" in text
    version = services_of(vigie).charter.version
    assert fr("desk.charter_version", version=version) in text
    assert text.count(fr("desk.member_line", n=1, person="", sector="", since="",
                         charter="", strikes=0).split("·")[-1].strip()) == 2
    n = number_of(listing, "Carole")
    press = commune.alice.press(fr("desk.remind_button", n=n), message_id=listing.message_id)
    assert (await answered(commune, press))["text"] == fr("desk.reminded")
    summary = services_of(vigie).charter.current("fr").summary
    reminder = await commune.carol.wait_for(text=fr_start("desk.reminder_dm"))
    assert summary in (reminder.text or "")


async def test_exclusion_from_the_list_is_confirmed_then_reinstated_by_an_official(
    vigie: Bot, commune: Commune
) -> None:
    await referent_and_carol(vigie, commune)
    listing = await open_list(commune.alice, "/membres", "desk.members_title")
    n = number_of(listing, "Carole")
    commune.alice.press(fr("desk.exclude_button", n=n), message_id=listing.message_id)
    await commune.emu.wait_until(
        lambda: (now(commune, listing).text or "").startswith(fr_start("desk.exclude_confirm")))
    assert "Carole" in (now(commune, listing).text or "")
    commune.alice.press(fr("desk.exclude_yes"), message_id=listing.message_id)
    await commune.carol.wait_for(text=fr_start("moderation.excluded_dm"))
    await commune.emu.wait_until(
        lambda: (now(commune, listing).text or "").startswith(fr_start("desk.members_title")))
    assert "Carole" not in (now(commune, listing).text or "")
    person = await services_of(vigie).store.people.get(commune.carol.id)
    assert person is not None and person.status == "excluded"

    # The referent sees whom her sector excluded, without the officials' Réintégrer.
    excluded = await open_list(commune.alice, "/exclus", "desk.excluded_title")
    assert "1. Carole : Centre-bourg" in (excluded.text or "")
    assert fr("desk.reinstate_button", n=1) not in excluded.buttons
    excluded = await open_list(commune.official, "/exclus", "desk.excluded_title")
    commune.official.press(fr("desk.reinstate_button", n=1), message_id=excluded.message_id)
    await commune.carol.wait_for(text=fr_start("moderation.reinstated_dm"))
    await commune.emu.wait_until(
        lambda: now(commune, excluded).text == fr("desk.excluded_empty"))


async def test_an_action_on_someone_who_left_changes_nothing(
    vigie: Bot, commune: Commune
) -> None:
    await referent_and_carol(vigie, commune)
    listing = await open_list(commune.official, "/membres", "desk.members_title")
    n = number_of(listing, "Carole")
    await services_of(vigie).store.people.leave(commune.carol.id)  # she left meanwhile
    await quiescent(vigie, commune.emu)  # what her enrolment sent her has all arrived
    before = len(commune.carol.inbox())
    for label in (fr("desk.remind_button", n=n), fr("desk.exclude_button", n=n)):
        data = listing.callback_data(label)  # the list as it was shown before she left
        assert data is not None
        press = commune.official.press_data(data, listing.message_id)
        assert (await answered(commune, press))["text"] == fr("desk.not_member")
    await quiescent(vigie, commune.emu)
    assert len(commune.carol.inbox()) == before
    person = await services_of(vigie).store.people.get(commune.carol.id)
    assert person is not None and person.status == "left"
    assert "Carole" not in (now(commune, listing).text or "")  # the list was refreshed


async def test_a_list_opened_before_losing_the_role_is_refused_on_press(
    vigie: Bot, commune: Commune
) -> None:
    await referent_and_carol(vigie, commune)
    listing = await open_list(commune.alice, "/membres", "desk.members_title")
    store = services_of(vigie).store
    sector = await store.sectors.by_name("Centre-bourg")
    assert sector is not None
    await store.referents.revoke(commune.alice.id, sector.id)
    for label in (fr("desk.refresh"), fr("desk.remind_button",
                                          n=number_of(listing, "Carole"))):
        press = commune.alice.press(label, message_id=listing.message_id)
        answer = await answered(commune, press)
        assert answer["text"] == fr("denied.referents_only") and answer["show_alert"]
    await quiescent(vigie, commune.emu)
    assert now(commune, listing).edits == 0
    assert not [m for m in commune.carol.inbox()
                if (m.text or "").startswith(fr_start("desk.reminder_dm"))]


async def test_a_forged_reminder_for_another_sector_is_refused(
    vigie: Bot, commune: Commune
) -> None:
    await referent_and_carol(vigie, commune)
    store = services_of(vigie).store
    hauts = await store.sectors.by_name("Les Hauts")
    assert hauts is not None
    listing = await open_list(commune.alice, "/membres", "desk.members_title")
    press = commune.alice.press_data(DeskRemind(commune.carol.id, hauts.id, 0).pack(),
                                     listing.message_id)
    assert (await answered(commune, press))["text"] == fr("denied.referents_only")


async def test_long_lists_page_in_place(vigie: Bot, commune: Commune) -> None:
    await with_members(commune)
    svc = services_of(vigie)
    sector = await svc.store.sectors.by_name("Centre-bourg")
    assert sector is not None
    for index in range(10):
        person = commune.emu.create_user(f"Voisin{index}", language_code="fr")
        await svc.store.people.ensure(person.id, "fr")
        await svc.store.charter.accept(person.id, svc.charter.version, "fr")
        await svc.store.people.enrol(person.id, sector.id, None)
    listing = await open_list(commune.official, "/membres", "desk.members_title")
    assert fr("desk.page", first=1, last=8, total=11) in (listing.text or "")
    commune.official.press(fr("desk.next"), message_id=listing.message_id)
    await commune.emu.wait_until(
        lambda: fr("desk.page", first=9, last=11, total=11) in (now(commune, listing).text or ""))
    assert fr("desk.previous") in now(commune, listing).buttons
    assert fr("desk.next") not in now(commune, listing).buttons


# --- /id ---------------------------------------------------------------------------------


async def test_id_gives_ones_own_the_groups_and_a_replied_authors(
    vigie: Bot, commune: Commune
) -> None:
    await with_members(commune)
    commune.alice.send_command("/id")
    await commune.alice.wait_for(text=fr("desk.id_yours", user_id=commune.alice.id)
                                 .replace("<code>", "").replace("</code>", ""))
    centre = commune.groups["Centre-bourg"]
    said = commune.alice.send_text("Bonjour à tous", chat=centre)
    commune.official.send_command("/id", chat=centre, reply_to=said["message_id"])
    answer = await centre.wait_for(text=str(centre.id))
    assert f"Alice Martin : {commune.alice.id}" in (answer.text or "")
    commune.alice.send_command("/id", chat=centre)
    await centre.wait_for(text=fr("denied.referents_only"))


# --- people by their current name in the other staff views --------------------------------


async def test_referents_and_the_journal_name_people_as_telegram_does_now(
    vigie: Bot, commune: Commune
) -> None:
    await with_members(commune)  # Alice let in by the official: both in the journal
    await make_referent(vigie, commune, commune.alice)
    commune.official.send_command("/referents")
    listing = await commune.official.wait_for(text=fr("referents.list_title"))
    assert "Centre-bourg : 1. Alice Martin" in (listing.text or "")
    commune.admin.send_command("/journal")
    journal = await commune.admin.wait_for(text=fr_start("dashboard.journal_title"))
    text = journal.text or ""
    assert f"Odile ({commune.official.id})" in text
    assert f"Alice Martin ({commune.alice.id})" in text
    assert journal.parse_mode == "HTML"
