"""Moderation in the sector groups, end to end through the emulator: each finding and its
action, edits, forwards, media policies, staff, the ladder up to exclusion, contests and
restores, a missing right, the prefilled report, and erasure."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from telegram.ext import Application

from conftest import Commune, fr
from core import i18n
from core.runtime.application import build_application
from core.runtime.lifecycle import running
from core.services import services_of
from core.settings import Settings
from emulator import Group, Person
from testing.commune import centre_member, make_referent, started, with_members

Bot = Application  # type: ignore[type-arg]


def en(key: str, **values: object) -> str:
    """Bob, the referent in these tests, reads English."""
    return i18n.t("en", key, **values)


def deleted(group: Group, message_id: int) -> bool:
    with group._state.lock:
        return group.chat.messages[message_id].deleted


async def gone(commune: Commune, group: Group, message_id: int) -> None:
    await commune.emu.wait_until(lambda: deleted(group, message_id))


async def setup(app: Bot, commune: Commune) -> tuple[Group, Person, Person]:
    """Alice is a member of Centre-bourg; Carol a member too; Bob its referent."""
    await with_members(commune)
    centre = commune.groups["Centre-bourg"]
    await centre_member(commune, commune.carol)
    await started(commune.bob)
    await make_referent(app, commune, commune.bob)
    return centre, commune.carol, commune.bob


def db_values(path: Path, table: str, column: str) -> list[object]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute(f"SELECT {column} FROM {table}")]


async def test_a_plate_leaves_the_group_and_reaches_only_the_liaison(
    vigie: Bot, commune: Commune
) -> None:
    centre, carol, bob = await setup(vigie, commune)
    text = "Clio grise AB-123-CD qui tourne depuis une heure rue des Lilas"
    posted = carol.send_text(text, chat=centre)
    await gone(commune, centre, posted["message_id"])
    notice = await carol.wait_for(text="a été retiré")
    assert "plaque d'immatriculation" in notice.text
    assert fr("moderation.button.transmit") in notice.buttons
    await carol.wait_for(text=text)  # the text handed back, exactly
    card = await bob.wait_for(text="Message removed from the")
    assert card.protect_content and text in card.text
    assert en("moderation.button.restore") in card.buttons

    carol.press(fr("moderation.button.transmit"))
    await carol.wait_for(text="Quel type de fait")
    carol.press(fr("reports.category.vehicle"))
    await carol.wait_for(text="Voici le texte qui sera transmis")
    carol.press(fr("moderation.transmit.send"))
    await carol.wait_for(text="n°")
    # Bob is the sector's referent: he triages, then it reaches the liaison with its plate.
    await bob.wait_for(text="AB-123-CD", timeout=10)
    bob.press(en("reports.forward"))
    relayed = await commune.liaison.wait_for(text="AB-123-CD", timeout=10)
    assert relayed is not None
    assert all("AB-123-CD" not in (m.text or "") for m in centre.sent())


async def test_insults_climb_the_ladder_to_an_exclusion_decided_from_the_card(
    vigie: Bot, commune: Commune
) -> None:
    centre, carol, bob = await setup(vigie, commune)
    first = carol.send_text("ce connard de livreur a encore jeté mon colis", chat=centre)
    await gone(commune, centre, first["message_id"])
    await carol.wait_for(text="premier rappel de la charte (1/3)")

    second = carol.send_text("bande d'abrutis", chat=centre)
    await gone(commune, centre, second["message_id"])
    await carol.wait_for(text="vous ne pouvez plus écrire dans le groupe jusqu'au")
    await commune.emu.wait_until(lambda: centre.member_status(carol) == "restricted")
    await bob.wait_for(text="Second strike")

    # Still muted in the emulator: the third breach is an edit of an older message.
    with centre._state.lock:
        centre.chat.members[carol.id].rights["can_send_messages"] = True
    third = carol.send_text("rien à signaler", chat=centre)
    carol.edit_text(third["message_id"], "rien à signaler, sale con", chat=centre)
    await gone(commune, centre, third["message_id"])
    await carol.wait_for(text="troisième manquement")
    card = await commune.official.wait_for(text="La charte prévoit l'exclusion")
    assert fr("moderation.button.exclude") in card.buttons
    await bob.wait_for(text="provides for exclusion")
    commune.official.press(fr("moderation.button.exclude"))
    await commune.official.wait_for(text=fr("moderation.excluded"))
    await commune.emu.wait_until(lambda: centre.member_status(carol) == "kicked")
    store = services_of(vigie).store
    actions = [e["action"] for e in await store.audit.entries(limit=100)]
    for step in ("moderation.strike_1", "moderation.strike_2", "moderation.strike_3",
                 "member.excluded"):
        assert step in actions


async def test_staff_are_screened_but_never_struck(vigie: Bot, commune: Commune) -> None:
    centre, _, bob = await setup(vigie, commune)
    posted = bob.send_text("appelez moi au 06 12 34 56 78, espèce d'abruti", chat=centre)
    await gone(commune, centre, posted["message_id"])
    notice = await bob.wait_for(text="was removed")
    assert "no strike" in notice.text
    assert await services_of(vigie).store.moderation.live_strikes(bob.id) == 0


async def test_an_emergency_stays_and_the_group_gets_the_numbers_once(
    vigie: Bot, commune: Commune
) -> None:
    centre, carol, _ = await setup(vigie, commune)
    posted = carol.send_text("ils sont en train de forcer la porte du 12 !!", chat=centre)
    reminder = await centre.wait_for(text="Si cela se passe en ce moment")
    assert reminder.reply_to_message_id == posted["message_id"]
    carol.send_text("au secours ils sont dans la maison", chat=centre)
    carol.send_text("fausse alerte, c'était le chat", chat=centre)
    fence = commune.official.send_command("/aide", chat=centre)
    await centre.wait_for(text="Voici ce que vous pouvez faire", timeout=10)
    assert fence
    assert not deleted(centre, posted["message_id"])
    reminders = [m for m in centre.sent() if "Si cela se passe" in (m.text or "")]
    assert len(reminders) == 1


async def test_an_edit_that_becomes_a_violation_is_removed(vigie: Bot, commune: Commune) -> None:
    centre, carol, _ = await setup(vigie, commune)
    posted = carol.send_text("voiture garée devant l'école", chat=centre)
    carol.edit_text(posted["message_id"], "voiture garée devant l'école, c'est M. Dupont",
                    chat=centre)
    await gone(commune, centre, posted["message_id"])
    notice = await carol.wait_for(text="a été retiré")
    assert "personne nommée" in notice.text


async def test_forwarded_messages_are_labelled_or_held(
    make_settings: Callable[..., Settings], commune: Commune
) -> None:
    async with running(build_application(make_settings())) as app:
        centre, carol, bob = await setup(app, commune)
        forwarded = carol.forward_text("ALERTE : des faux policiers volent les retraités",
                                       chat=centre)
        label = await centre.wait_for(text="information non vérifiée")
        assert label.reply_to_message_id == forwarded["message_id"]
        assert not deleted(centre, forwarded["message_id"])
    commune.groups.clear()
    held = make_settings(moderation={"forwarded": "hold"})
    commune.emu.reset()
    async with running(build_application(held)) as app:
        centre, carol, bob = await setup(app, commune)
        forwarded = carol.forward_text("Chaîne : partagez à 10 groupes", chat=centre,
                                       origin="channel")
        await gone(commune, centre, forwarded["message_id"])
        await carol.wait_for(text="vérifiés par les référents")
        await bob.wait_for(text="Message forwarded into")
        bob.press(en("moderation.button.publish"))
        await centre.wait_for(text="vérifié et publié par un référent")


async def test_media_is_held_for_the_referents_who_publish_it(vigie: Bot, commune: Commune
                                                              ) -> None:
    centre, carol, bob = await setup(vigie, commune)
    photo = carol.send_photo(chat=centre, caption="chat roux perdu rue des Lilas")
    await gone(commune, centre, photo["message_id"])
    await carol.wait_for(text="confié(e) aux référents")
    card = await bob.wait_for(predicate=lambda m: m.kind == "photo")
    assert card.protect_content and en("moderation.button.publish") in card.buttons
    bob.press(en("moderation.button.publish"))
    reposted = await centre.wait_for(predicate=lambda m: m.kind == "photo")
    assert "publié par un référent" in (reposted.caption or "")
    await carol.wait_for(text="a publié votre envoi")
    # Referents may post media themselves.
    own = bob.send_photo(chat=centre)
    fence = commune.official.send_command("/aide", chat=centre)
    await centre.wait_for(text="Voici ce que vous pouvez faire")
    assert fence and not deleted(centre, own["message_id"])


async def test_media_removed_or_allowed_by_policy(
    make_settings: Callable[..., Settings], commune: Commune
) -> None:
    async with running(build_application(make_settings(moderation={"media": "remove"}))) as app:
        centre, carol, bob = await setup(app, commune)
        document = carol.send_document(chat=centre, file_name="plan.pdf")
        await gone(commune, centre, document["message_id"])
        await carol.wait_for(text="ne sont pas publiés dans le groupe")
    commune.groups.clear()
    commune.emu.reset()
    async with running(build_application(make_settings(moderation={"media": "allow"}))) as app:
        centre, carol, bob = await setup(app, commune)
        photo = carol.send_photo(chat=centre)
        commune.official.send_command("/aide", chat=centre)
        await centre.wait_for(text="Voici ce que vous pouvez faire")
        assert not deleted(centre, photo["message_id"])


async def test_a_contest_then_a_restore_reposts_and_cancels_the_strike(
    vigie: Bot, commune: Commune
) -> None:
    centre, carol, bob = await setup(vigie, commune)
    posted = carol.send_text("quel idiot ce radar, il flashe à 31", chat=centre)
    await gone(commune, centre, posted["message_id"])
    await carol.wait_for(text="premier rappel")
    store = services_of(vigie).store
    assert await store.moderation.live_strikes(carol.id) == 1
    carol.press(fr("moderation.button.contest"))
    await carol.wait_for(text=fr("moderation.contest.sent"))
    contest = await bob.wait_for(text="contests the removal")
    bob.press(en("moderation.button.restore"), message_id=contest.message_id)
    await centre.wait_for(text="rétabli par un référent")
    await carol.wait_for(text="l'avertissement est annulé")
    assert await store.moderation.live_strikes(carol.id) == 0
    bob.press(en("moderation.button.confirm"))  # the first card, already decided
    await commune.emu.wait_until(lambda: any(
        a.get("text") == en("moderation.card.already_decided")
        for a in commune.emu.callback_answers))


async def test_a_missing_delete_right_is_told_once_and_screening_goes_on(
    vigie: Bot, commune: Commune
) -> None:
    centre, carol, bob = await setup(vigie, commune)
    centre.set_bot_rights(commune.official, can_delete_messages=False)
    carol.send_text("mon num 06 12 34 56 78", chat=centre)
    warning = await commune.official.wait_for(text="Supprimer des messages")
    assert "je continue à lire" in warning.text
    await bob.wait_for(text="Delete messages")
    carol.send_text("et mon mail carole@example.fr", chat=centre)
    await carol.wait_for(text="adresse e-mail")
    await bob.wait_for(text="Message removed", since=None)
    warnings = [m for m in commune.official.inbox() if "Supprimer des messages" in (m.text or "")]
    assert len(warnings) == 1


async def test_blocked_author_anonymous_admin_channel_and_strangers(
    vigie: Bot, commune: Commune, tmp_path: Path
) -> None:
    centre, carol, bob = await setup(vigie, commune)
    carol.block_bot()
    posted = carol.send_text("c'est Kevin qui a tagué le mur", chat=centre)
    await gone(commune, centre, posted["message_id"])
    await bob.wait_for(text="Message removed")
    await commune.emu.wait_until(lambda: 1 in db_values(
        tmp_path / "vigie.db", "moderation_actions", "notice_failed"))
    anonymous = centre.post_as_group(commune.official, "réunion jeudi, appelez le 06 12 34 56 78")
    await gone(commune, centre, anonymous["message_id"])
    channel = centre.post_from_linked_channel("Coupure d'eau demain matin rue Pasteur")
    stranger = commune.emu.create_user("Zoé")
    centre.add_member(stranger)
    noise = stranger.send_text("🙂🙂🙂", chat=centre)
    stranger.send_sticker(chat=centre)
    long_text = stranger.send_text("a" * 4096, chat=centre)
    commune.official.send_command("/aide", chat=centre)
    await centre.wait_for(text="Voici ce que vous pouvez faire")
    for message in (channel, noise, long_text):
        assert not deleted(centre, message["message_id"])
    assert commune.emu.internal_errors == []


async def test_a_burst_of_100_messages_drops_nothing_and_respects_limits(
    vigie: Bot, commune: Commune
) -> None:
    centre, carol, bob = await setup(vigie, commune)
    alice = commune.alice
    bad = []
    for index in range(100):
        author = carol if index % 2 else alice
        if index % 4 == 0:
            bad.append(author.send_text(f"appelle le 06 12 34 56 {10 + index:02d}", chat=centre))
        else:
            author.send_text(f"RAS rue {index}", chat=centre)
    for message in bad:
        await commune.emu.wait_until(lambda m=message: deleted(centre, m["message_id"]),
                                     timeout=60)
    await commune.emu.wait_until(lambda: len(
        [m for m in bob.inbox() if "Message removed" in (m.text or "")]) == len(bad), timeout=60)
    assert not [c for c in commune.emu.calls if c.status == 429]


async def test_erasure_removes_moderation_data(vigie: Bot, commune: Commune,
                                               tmp_path: Path) -> None:
    centre, carol, bob = await setup(vigie, commune)
    text = "ce connard du 3e, appelez le 06 12 34 56 78"
    posted = carol.send_text(text, chat=centre)
    await gone(commune, centre, posted["message_id"])
    await bob.wait_for(text="Message removed")
    carol.send_command("/mes_donnees")
    export = await carol.wait_for(predicate=lambda m: m.kind == "document" or "connard" in (
        m.text or ""), timeout=10)
    assert export is not None
    carol.send_command("/supprimer_mes_donnees")
    await carol.wait_for(text="")
    confirm = [label for m in carol.inbox() for label in m.buttons if "effacer" in label.lower()
               or "supprimer" in label.lower() or "oui" in label.lower()]
    carol.press(confirm[-1])
    await commune.emu.wait_until(lambda: not [
        v for v in db_values(tmp_path / "vigie.db", "moderation_actions", "text") if v])
    assert db_values(tmp_path / "vigie.db", "strikes", "user_id") == []
    assert carol.id not in db_values(tmp_path / "vigie.db", "moderation_actions", "author_id")
