"""Moderation in the sector groups, end to end through the emulator: each finding and its
action, edits, forwards, media policies, staff, the ladder up to exclusion, contests and
restores, a missing right, the prefilled report, and erasure."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from conftest import Commune, fr
from telegram.ext import Application

from core.runtime.application import build_application
from core.runtime.lifecycle import running
from core.services import services_of
from core.settings import Settings
from emulator import Group, Person
from handlers.moderation.buttons import Review, ReviewCard
from testing.commune import centre_member, make_referent, with_members

Bot = Application  # type: ignore[type-arg]


def deleted(group: Group, message_id: int) -> bool:
    with group._state.lock:
        return group.chat.messages[message_id].deleted


async def gone(commune: Commune, group: Group, message_id: int) -> None:
    await commune.emu.wait_until(lambda: deleted(group, message_id))


async def setup(app: Bot, commune: Commune) -> tuple[Group, Person, Person]:
    """Carol is a member of Centre-bourg; Alice, a member too, is its referent."""
    await with_members(commune)
    centre = commune.groups["Centre-bourg"]
    await centre_member(commune, commune.carol)
    await make_referent(app, commune, commune.alice)
    return centre, commune.carol, commune.alice


def db_values(path: Path, table: str, column: str) -> list[object]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute(f"SELECT {column} FROM {table}")]


async def test_a_plate_leaves_the_group_and_reaches_only_the_liaison(
    vigie: Bot, commune: Commune
) -> None:
    centre, carol, ref = await setup(vigie, commune)
    text = "Clio grise AB-123-CD qui tourne depuis une heure rue des Lilas"
    posted = carol.send_text(text, chat=centre)
    await gone(commune, centre, posted["message_id"])
    notice = await carol.wait_for(text="a été retiré")
    assert "plaque d'immatriculation" in notice.text
    assert fr("moderation.button.transmit") in notice.buttons
    await carol.wait_for(text=text)  # the text handed back, exactly
    card = await ref.wait_for(text="Message retiré du groupe")
    assert card.protect_content and text in card.text
    assert fr("moderation.button.restore") in card.buttons

    carol.press(fr("moderation.button.transmit"))
    await carol.wait_for(text="Quel type de fait")
    carol.press(fr("reports.category.vehicle"))
    await carol.wait_for(text="Voici le texte qui sera transmis")
    carol.press(fr("moderation.transmit.send"))
    await carol.wait_for(text="n°")
    # Bob is the sector's referent: he triages, then it reaches the liaison with its plate.
    await ref.wait_for(text="AB-123-CD", timeout=10)
    ref.press(fr("reports.forward"))
    relayed = await commune.liaison.wait_for(text="AB-123-CD", timeout=10)
    assert relayed is not None
    assert all("AB-123-CD" not in (m.text or "") for m in centre.sent())


async def test_insults_climb_the_ladder_to_an_exclusion_decided_from_the_card(
    vigie: Bot, commune: Commune
) -> None:
    centre, carol, ref = await setup(vigie, commune)
    first = carol.send_text("ce connard de livreur a encore jeté mon colis", chat=centre)
    await gone(commune, centre, first["message_id"])
    await carol.wait_for(text="premier rappel de la charte (1/3)")

    second = carol.send_text("encore des roms qui traînent près du stade", chat=centre)
    await gone(commune, centre, second["message_id"])
    await carol.wait_for(text="vous ne pouvez plus écrire dans le groupe jusqu'au")
    await commune.emu.wait_until(lambda: centre.member_status(carol) == "restricted")
    await ref.wait_for(text="Deuxième avertissement")

    # Still muted in the emulator: the third breach is an edit of an older message.
    with centre._state.lock:
        centre.chat.members[carol.id].rights["can_send_messages"] = True
    third = carol.send_text("rien à signaler", chat=centre)
    carol.edit_text(third["message_id"], "rien à signaler, sale con", chat=centre)
    await gone(commune, centre, third["message_id"])
    await carol.wait_for(text="troisième manquement")
    card = await commune.official.wait_for(text="La charte prévoit l'exclusion")
    assert fr("moderation.button.exclude") in card.buttons
    await ref.wait_for(text="La charte prévoit l'exclusion")
    commune.official.press(fr("moderation.button.exclude"))
    await commune.official.wait_for(text=fr("moderation.excluded"))
    await commune.emu.wait_until(lambda: centre.member_status(carol) == "kicked")
    store = services_of(vigie).store
    actions = [e["action"] for e in await store.audit.entries(limit=100)]
    for step in ("moderation.strike_1", "moderation.strike_2", "moderation.strike_3",
                 "member.excluded"):
        assert step in actions


async def test_staff_are_screened_but_never_struck(vigie: Bot, commune: Commune) -> None:
    centre, _, ref = await setup(vigie, commune)
    posted = ref.send_text("appelez moi au 06 12 34 56 78, espèce d'abruti", chat=centre)
    await gone(commune, centre, posted["message_id"])
    notice = await ref.wait_for(text="a été retiré")
    assert "sans avertissement" in notice.text
    assert await services_of(vigie).store.moderation.live_strikes(ref.id) == 0


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
    for minute in range(5):  # edited again and again: each edit is screened
        carol.edit_text(posted["message_id"], f"voiture garée devant l'école depuis {minute} h",
                        chat=centre)
    carol.edit_text(posted["message_id"], "voiture garée devant l'école, c'est M. Dupont",
                    chat=centre)
    await gone(commune, centre, posted["message_id"])
    notice = await carol.wait_for(text="a été retiré")
    assert "personne nommée" in notice.text
    actions = await services_of(vigie).store.moderation.recent(None, 0)
    assert len(actions) == 1


async def test_a_message_deleted_by_someone_else_first(vigie: Bot, commune: Commune) -> None:
    centre, carol, ref = await setup(vigie, commune)
    posted = carol.send_text("son numéro : 06 98 76 54 32", chat=centre)
    with centre._state.lock:  # an administrator deletes it before the bot's turn comes
        centre.chat.messages[posted["message_id"]].deleted = True
    await carol.wait_for(text="a été retiré")  # still told, and given the text back
    await ref.wait_for(text="Message retiré")
    await commune.emu.wait_until(lambda: any(
        c.method == "deleteMessage" and c.status == 400 for c in commune.emu.calls))
    warnings = [m for m in ref.inbox() if "Supprimer des messages" in (m.text or "")]
    assert warnings == []  # not a missing right


async def test_a_forwarded_message_is_labelled_unverified(vigie: Bot, commune: Commune
                                                          ) -> None:
    centre, carol, _ = await setup(vigie, commune)
    forwarded = carol.forward_text("ALERTE : des faux policiers volent les retraités",
                                   chat=centre)
    label = await centre.wait_for(text="information non vérifiée")
    assert label.reply_to_message_id == forwarded["message_id"]
    assert not deleted(centre, forwarded["message_id"])


async def test_a_forwarded_message_held_for_the_referents(
    make_settings: Callable[..., Settings], commune: Commune
) -> None:
    async with running(build_application(make_settings(moderation={"forwarded": "hold"}))
                       ) as app:
        centre, carol, ref = await setup(app, commune)
        forwarded = carol.forward_text("Chaîne : partagez à 10 groupes", chat=centre,
                                       origin="channel")
        await gone(commune, centre, forwarded["message_id"])
        await carol.wait_for(text="vérifiés par les référents")
        await ref.wait_for(text="Message transféré dans le groupe")
        ref.press(fr("moderation.button.publish"))
        await centre.wait_for(text="vérifié et publié par un référent")


async def test_media_is_held_for_the_referents_who_publish_it(vigie: Bot, commune: Commune
                                                              ) -> None:
    centre, carol, ref = await setup(vigie, commune)
    photo = carol.send_photo(chat=centre, caption="chat roux perdu rue des Lilas")
    await gone(commune, centre, photo["message_id"])
    await carol.wait_for(text="confié(e) aux référents")
    card = await ref.wait_for(predicate=lambda m: m.kind == "photo")
    assert card.protect_content and fr("moderation.button.publish") in card.buttons
    ref.press(fr("moderation.button.publish"))
    reposted = await centre.wait_for(predicate=lambda m: m.kind == "photo")
    assert "publié par un référent" in (reposted.caption or "")
    await carol.wait_for(text="a publié votre envoi")
    # Referents may post media themselves.
    own = ref.send_photo(chat=centre)
    fence = commune.official.send_command("/aide", chat=centre)
    await centre.wait_for(text="Voici ce que vous pouvez faire")
    assert fence and not deleted(centre, own["message_id"])


async def test_media_removed_by_policy(make_settings: Callable[..., Settings],
                                       commune: Commune) -> None:
    async with running(build_application(make_settings(moderation={"media": "remove"}))) as app:
        centre, carol, _ = await setup(app, commune)
        document = carol.send_document(chat=centre, file_name="plan.pdf")
        await gone(commune, centre, document["message_id"])
        await carol.wait_for(text="ne sont pas publiés dans le groupe")


async def test_media_allowed_by_policy(make_settings: Callable[..., Settings],
                                       commune: Commune) -> None:
    async with running(build_application(make_settings(moderation={"media": "allow"}))) as app:
        centre, carol, _ = await setup(app, commune)
        photo = carol.send_photo(chat=centre)
        commune.official.send_command("/aide", chat=centre)
        await centre.wait_for(text="Voici ce que vous pouvez faire")
        assert not deleted(centre, photo["message_id"])


async def test_a_contest_then_a_restore_reposts_and_cancels_the_strike(
    vigie: Bot, commune: Commune
) -> None:
    centre, carol, ref = await setup(vigie, commune)
    posted = carol.send_text("quel idiot ce radar, il flashe à 31", chat=centre)
    await gone(commune, centre, posted["message_id"])
    await carol.wait_for(text="premier rappel")
    store = services_of(vigie).store
    assert await store.moderation.live_strikes(carol.id) == 1
    carol.press(fr("moderation.button.contest"))
    await carol.wait_for(text=fr("moderation.contest.sent"))
    contest = await ref.wait_for(text="conteste le retrait")
    ref.press(fr("moderation.button.restore"), message_id=contest.message_id)
    await centre.wait_for(text="rétabli par un référent")
    await carol.wait_for(text="l'avertissement est annulé")
    assert await store.moderation.live_strikes(carol.id) == 0
    ref.send_command("/moderation")
    log = await ref.wait_for(text="Modération des 14 derniers jours")
    assert "rétabli · contesté" in log.text and "quel idiot" not in log.text
    carol.send_command("/moderation")
    await carol.wait_for(text=fr("denied.referents_only"))
    # Every card lost its text and its buttons; an old press (or a second referent's, at
    # the same moment) decides nothing more.
    first = next(m for m in ref.inbox() if "Message retiré du groupe" in "".join(m.history))
    assert "quel idiot" not in (first.text or "") and not first.buttons
    action = (await store.moderation.recent(None, 0))[0]
    assert action.text is None
    ref.press_data(ReviewCard(action.id, Review.CONFIRM).pack(), first.message_id)
    await commune.emu.wait_until(lambda: any(
        a.get("text") == fr("moderation.card.already_decided")
        for a in commune.emu.callback_answers))


async def test_a_missing_delete_right_is_told_once_and_screening_goes_on(
    vigie: Bot, commune: Commune
) -> None:
    centre, carol, ref = await setup(vigie, commune)
    centre.set_bot_rights(commune.official, can_delete_messages=False)
    carol.send_text("mon num 06 12 34 56 78", chat=centre)
    warning = await commune.official.wait_for(text="Supprimer des messages")
    assert "je continue à lire" in warning.text
    await ref.wait_for(text="Supprimer des messages")
    carol.send_text("et mon mail carole@example.fr", chat=centre)
    await carol.wait_for(text="adresse e-mail")
    await ref.wait_for(text="Message retiré", since=None)
    warnings = [m for m in commune.official.inbox() if "Supprimer des messages" in (m.text or "")]
    assert len(warnings) == 1
    # Given back, then lost again: told again.
    centre.set_bot_rights(commune.official, can_delete_messages=True)
    centre.set_bot_rights(commune.official, can_delete_messages=False)
    carol.send_text("mon fixe 01 45 67 89 10", chat=centre)
    await commune.emu.wait_until(lambda: len([
        m for m in commune.official.inbox() if "Supprimer des messages" in (m.text or "")]) == 2)


async def test_blocked_author_anonymous_admin_channel_and_noise(
    vigie: Bot, commune: Commune, tmp_path: Path
) -> None:
    centre, carol, ref = await setup(vigie, commune)
    carol.block_bot()
    posted = carol.send_text("c'est Kevin qui a tagué le mur", chat=centre)
    await gone(commune, centre, posted["message_id"])
    await ref.wait_for(text="Message retiré")
    await commune.emu.wait_until(lambda: 1 in db_values(
        tmp_path / "vigie.db", "moderation_actions", "notice_failed"))
    anonymous = centre.post_as_group(commune.official, "réunion jeudi, appelez le 06 12 34 56 78")
    await gone(commune, centre, anonymous["message_id"])
    channel = centre.post_from_linked_channel("Coupure d'eau demain matin rue Pasteur")
    carol.unblock_bot()
    noise = carol.send_text("🙂🙂🙂", chat=centre)
    carol.send_sticker(chat=centre)
    long_text = carol.send_text("a" * 4096, chat=centre)
    poll = carol.send_poll("Réunion jeudi ?", ["oui", "non"], chat=centre)
    bad_poll = carol.send_poll("Qui veut le 06 12 34 56 78 de Kevin ?", ["moi", "non"],
                               chat=centre)
    await gone(commune, centre, bad_poll["message_id"])
    commune.official.send_command("/aide", chat=centre)
    await centre.wait_for(text="Voici ce que vous pouvez faire")
    for message in (channel, noise, long_text, poll):
        assert not deleted(centre, message["message_id"])
    assert commune.emu.internal_errors == []


async def test_a_burst_of_100_messages_drops_nothing_and_respects_limits(
    vigie: Bot, commune: Commune
) -> None:
    centre, carol, ref = await setup(vigie, commune)
    alice = commune.alice
    bad = []
    for index in range(100):
        author = carol if index % 2 else alice  # Alice, the referent: removed, not struck
        if index % 4 in (0, 1):
            number = f"06 12 34 56 {10 + index % 90:02d}"
            bad.append(author.send_text(f"appelle le {number}", chat=centre))
        else:
            author.send_text(f"RAS rue {index}", chat=centre)
    for message in bad:
        await commune.emu.wait_until(lambda m=message: deleted(centre, m["message_id"]),
                                     timeout=60)
    await commune.emu.wait_until(lambda: len(
        [m for m in ref.inbox() if "Message retiré" in (m.text or "")]) == len(bad), timeout=60)
    # Deletions went first and each notice reached its author; nothing failed or was lost.
    await commune.emu.wait_until(lambda: len(
        [m for m in carol.inbox() if "a été retiré" in (m.text or "")]) == len(bad) // 2,
        timeout=60)
    counts = await services_of(vigie).store.outbox.counts()
    assert counts.get("failed", 0) == 0, counts
    assert not [c for c in commune.emu.calls if c.status == 429
                and c.params.get("chat_id") == centre.id]


async def test_erasure_removes_moderation_data(vigie: Bot, commune: Commune,
                                               tmp_path: Path) -> None:
    centre, carol, ref = await setup(vigie, commune)
    text = "ce connard du 3e, appelez le 06 12 34 56 78"
    posted = carol.send_text(text, chat=centre)
    await gone(commune, centre, posted["message_id"])
    await ref.wait_for(text="Message retiré")
    carol.send_command("/mes_donnees")
    export = await carol.wait_for(predicate=lambda m: m.kind == "document", timeout=10)
    assert export.file is not None
    data = json.loads(commune.emu.file_content(export.file["file_id"]))
    assert data["moderation"][0]["text"] == text and len(data["strikes"]) == 1
    carol.send_command("/supprimer_mes_donnees")
    await carol.wait_for(text="Voulez-vous vraiment effacer")
    carol.press(fr("privacy.erase_yes"))
    await carol.wait_for(text=fr("privacy.erased")[:20])
    await commune.emu.wait_until(lambda: not [
        v for v in db_values(tmp_path / "vigie.db", "moderation_actions", "text") if v])
    assert db_values(tmp_path / "vigie.db", "strikes", "user_id") == []
    assert carol.id not in db_values(tmp_path / "vigie.db", "moderation_actions", "author_id")


async def test_removed_texts_expire_after_keep_hours(vigie: Bot, commune: Commune,
                                                     tmp_path: Path) -> None:
    centre, carol, ref = await setup(vigie, commune)
    posted = carol.send_text("c'est Mme Martin qui laisse traîner ses poubelles", chat=centre)
    await gone(commune, centre, posted["message_id"])
    await ref.wait_for(text="Message retiré")
    await carol.wait_for(text="a été retiré")
    store = services_of(vigie).store
    assert await store.moderation.purge(3600) == 0  # younger than keep_hours: kept
    assert await store.moderation.purge(0) == 1
    assert db_values(tmp_path / "vigie.db", "moderation_actions", "text") == [None]
    assert db_values(tmp_path / "vigie.db", "moderation_actions", "author_text") == [None]
    carol.press(fr("moderation.button.transmit"))
    await carol.wait_for(text="n'est plus conservé")
