"""The Telegram emulator, driven by the real python-telegram-bot over real HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    ChatPermissions,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from emulator import Limits, TelegramEmulator
from emulator.limits import RateLimiter

TOKEN = "123456:TEST-TOKEN-never-logged"


@pytest.fixture
def emu() -> Iterator[TelegramEmulator]:
    with TelegramEmulator(
        token=TOKEN, bot_username="vigie_test_bot", limits=Limits.off(), webhook_retry_delay=0.05
    ) as emulator:
        yield emulator
    assert emulator.internal_errors == []


@pytest.fixture
async def bot(emu: TelegramEmulator) -> AsyncIterator[Bot]:
    async with Bot(emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url) as client:
        yield client


def keyboard(*labels_and_data: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in labels_and_data]]
    )


async def take_updates(bot: Bot, **kwargs: Any) -> tuple[Update, ...]:
    """Fetch the pending updates and confirm them, as a polling bot does."""
    updates = await bot.get_updates(timeout=0, **kwargs)
    if updates:
        await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    return updates


def seconds(value: int | dtm.timedelta) -> float:
    """RetryAfter.retry_after is an int, or a timedelta when PTB_TIMEDELTA is set."""
    return value.total_seconds() if isinstance(value, dtm.timedelta) else value


# --- identity, updates and callbacks --------------------------------------------------------


async def test_get_me_describes_the_bot(bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "vigie_test_bot", True)
    assert me.can_read_all_group_messages is False


async def test_wrong_token_and_unknown_method_answer_like_telegram(emu: TelegramEmulator) -> None:
    async with httpx.AsyncClient() as client:
        wrong = await client.post(f"{emu.base_url}123456:WRONG/getMe")
        unknown = await client.post(f"{emu.base_url}{emu.token}/getEverything")
    assert (wrong.status_code, wrong.json()["description"]) == (401, "Unauthorized")
    assert (unknown.status_code, unknown.json()["description"]) == (404, "Not Found")


async def test_start_command_arrives_and_offset_confirms_it(
    emu: TelegramEmulator, bot: Bot
) -> None:
    alice = emu.create_user("Alice", username="alice")
    alice.send_command("/start", args="secteur-nord")

    first = await bot.get_updates(timeout=1)
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [u.update_id for u in first]
    message = first[0].message
    assert message.text == "/start secteur-nord"
    assert message.from_user.id == alice.id
    assert message.entities[0].type == "bot_command"
    assert message.entities[0].length == len("/start")

    after = await bot.get_updates(offset=first[-1].update_id + 1, timeout=0)
    assert after == ()
    assert emu.pending_updates() == []


async def test_long_poll_returns_as_soon_as_an_update_arrives(
    emu: TelegramEmulator, bot: Bot
) -> None:
    alice = emu.create_user("Alice")
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await emu.wait_until(emu.long_polls_open)
    assert not poll.done()
    alice.send_text("bonjour")
    updates = await asyncio.wait_for(poll, timeout=2)
    assert [u.message.text for u in updates] == ["bonjour"]


async def test_a_second_get_updates_terminates_the_first(emu: TelegramEmulator, bot: Bot) -> None:
    older = asyncio.create_task(bot.get_updates(timeout=10))
    await emu.wait_until(emu.long_polls_open)
    async with Bot(emu.token, base_url=emu.base_url) as other_instance:
        assert await other_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await older


async def test_pressing_an_inline_button_yields_a_callback_query(
    emu: TelegramEmulator, bot: Bot
) -> None:
    alice = emu.create_user("Alice")
    alice.send_command("/start")
    sent = await bot.send_message(alice.id, "Participer ?", reply_markup=keyboard(("Oui", "y:1")))

    payload = alice.press("Oui")
    updates = await bot.get_updates(timeout=1)
    query = updates[-1].callback_query
    assert query.id == payload["id"]
    assert (query.data, query.from_user.id) == ("y:1", alice.id)
    assert query.message.message_id == sent.message_id
    assert query.message.reply_markup.inline_keyboard[0][0].text == "Oui"

    assert await bot.answer_callback_query(query.id, text="Noté") is True
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query.id)
    assert emu.callback_answers == [
        {
            "callback_query_id": query.id,
            "text": "Noté",
            "show_alert": False,
            "url": None,
            "cache_time": 0,
        }
    ]
    with pytest.raises(LookupError, match="Non"):
        alice.press("Non")


async def test_edits_follow_telegram_rules(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.create_user("Alice")
    alice.send_command("/start")
    sent = await bot.send_message(alice.id, "Choix", reply_markup=keyboard(("A", "a")))

    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text(
            "Choix", alice.id, sent.message_id, reply_markup=keyboard(("A", "a"))
        )
    # Like Telegram, an edit that does not repeat the keyboard removes it.
    await bot.edit_message_text("<b>Fait</b>", alice.id, sent.message_id, parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", alice.id, 999)

    current = alice.last()
    assert (current.text, current.raw_text, current.buttons) == ("Fait", "<b>Fait</b>", [])
    assert (current.edits, current.history) == (1, ["Choix", "Fait"])


# --- content validation -----------------------------------------------------------------------


async def test_text_longer_than_4096_characters_is_refused(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.create_user("Alice")
    alice.send_command("/start")
    await bot.send_message(alice.id, "é" * 4096)
    with pytest.raises(BadRequest, match=r"^Message is too long$"):
        await bot.send_message(alice.id, "é" * 4097)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(alice.id, "  ")
    assert [len(m.text) for m in alice.inbox()] == [4096]


async def test_html_length_is_measured_after_parsing(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.create_user("Alice")
    alice.send_command("/start")
    raw = "<b>" + "&lt;" * 4000 + "</b>" + "x" * 96
    sent = await bot.send_message(alice.id, raw, parse_mode="HTML")
    assert len(raw) > 4096
    assert len(sent.text) == 4096
    assert sent.entities[0].type == "bold"
    assert (sent.entities[0].offset, sent.entities[0].length) == (0, 4000)

    with pytest.raises(BadRequest, match='unsupported start tag "blink" at byte offset 0'):
        await bot.send_message(alice.id, "<blink>x</blink>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="can't find end tag corresponding to start tag"):
        await bot.send_message(alice.id, "<b>x", parse_mode="HTML")


async def test_callback_data_is_limited_to_64_bytes(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.create_user("Alice")
    alice.send_command("/start")
    await bot.send_message(alice.id, "ok", reply_markup=keyboard(("A", "é" * 32)))
    with pytest.raises(BadRequest, match=r"^Button_data_invalid$"):
        await bot.send_message(alice.id, "ko", reply_markup=keyboard(("A", "x" * 65)))
    assert [m.text for m in alice.inbox()] == ["ok"]


# --- who the bot may write to -----------------------------------------------------------------


async def test_blocked_user_is_forbidden(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.create_user("Alice")
    alice.send_command("/start")
    alice.block_bot()
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(alice.id, "Alerte")
    updates = await bot.get_updates(timeout=0)
    blocked = updates[-1].my_chat_member
    assert (blocked.old_chat_member.status, blocked.new_chat_member.status) == ("member", "kicked")

    alice.unblock_bot()
    await bot.send_message(alice.id, "Alerte")
    assert [m.text for m in alice.inbox()] == ["Alerte"]


async def test_bot_cannot_initiate_but_may_answer_a_join_request(
    emu: TelegramEmulator, bot: Bot
) -> None:
    official = emu.create_user("Mairie")
    bob = emu.create_user("Bob")
    group = emu.create_group("Secteur Nord", creator=official, supergroup=True)
    group.add_bot(by=official)
    with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
        await bot.send_message(bob.id, "Bonjour")

    link = await bot.create_chat_invite_link(group.id, creates_join_request=True)
    bob.request_join(link.invite_link)
    await bot.send_message(bob.id, "Votre demande est reçue")
    assert [m.text for m in bob.inbox()] == ["Votre demande est reçue"]


async def test_join_request_approval_makes_a_member(emu: TelegramEmulator, bot: Bot) -> None:
    official = emu.create_user("Mairie")
    bob = emu.create_user("Bob")
    group = emu.create_group("Secteur Nord", creator=official, supergroup=True)
    group.add_bot(by=official)
    await bot.get_updates(allowed_updates=[*Update.ALL_TYPES], timeout=0)
    link = await bot.create_chat_invite_link(group.id, name="Voisins", creates_join_request=True)

    bob.request_join(link.invite_link)
    updates = await bot.get_updates(timeout=1)
    request = updates[-1].chat_join_request
    assert (request.from_user.id, request.user_chat_id) == (bob.id, bob.id)
    assert request.invite_link.name == "Voisins"
    assert group.pending_requests()[0]["user_id"] == bob.id

    assert await bot.approve_chat_join_request(group.id, bob.id) is True
    assert group.member_status(bob) == "member"
    assert group.pending_requests() == []
    member = await bot.get_chat_member(group.id, bob.id)
    assert member.status == "member"
    with pytest.raises(BadRequest, match="Hide_requester_missing"):
        await bot.decline_chat_join_request(group.id, bob.id)

    kinds = [
        next(k for k in u.to_dict() if k != "update_id")
        for u in await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    ]
    assert kinds == ["chat_member", "message"]


async def test_upgraded_group_answers_chat_migrated(emu: TelegramEmulator, bot: Bot) -> None:
    official = emu.create_user("Mairie")
    group = emu.create_group("Secteur Sud", creator=official)
    group.add_bot(by=official)
    old_id = group.id
    assert str(old_id).startswith("-4")

    new_id = group.upgrade_to_supergroup()
    assert group.id == new_id
    assert str(new_id).startswith("-100")
    with pytest.raises(ChatMigrated) as migrated:
        await bot.send_message(old_id, "Alerte")
    assert migrated.value.new_chat_id == new_id
    await bot.send_message(new_id, "Alerte")
    assert [m.text for m in group.sent()] == ["Alerte"]

    updates = await bot.get_updates(timeout=0)
    migrations = [u.message for u in updates if u.message and u.message.migrate_to_chat_id]
    assert [(m.chat.id, m.migrate_to_chat_id) for m in migrations] == [(old_id, new_id)]


# --- administration ---------------------------------------------------------------------------


async def test_restrict_is_for_supergroups_only(emu: TelegramEmulator, bot: Bot) -> None:
    official, alice = emu.create_user("Mairie"), emu.create_user("Alice")
    group = emu.create_group("Secteur Est", creator=official, members=[alice])
    group.add_bot(by=official)
    muted = ChatPermissions(can_send_messages=False)
    with pytest.raises(BadRequest, match="Method is available only for supergroups"):
        await bot.restrict_chat_member(group.id, alice.id, muted)

    group.upgrade_to_supergroup()
    await bot.restrict_chat_member(group.id, alice.id, muted)
    assert group.member_status(alice) == "restricted"
    assert group.can_send(alice) is False
    with pytest.raises(PermissionError):
        alice.send_text("je peux parler ?", chat=group)


async def test_admin_methods_need_the_matching_right(emu: TelegramEmulator, bot: Bot) -> None:
    official, alice = emu.create_user("Mairie"), emu.create_user("Alice")
    group = emu.create_group("Secteur Ouest", creator=official, members=[alice], supergroup=True)
    group.add_bot(by=official, rights={"can_invite_users": True})

    with pytest.raises(BadRequest, match="Not enough rights to restrict/unrestrict chat member"):
        await bot.ban_chat_member(group.id, alice.id)
    with pytest.raises(BadRequest, match="Not enough rights to manage pinned messages"):
        await bot.pin_chat_message(group.id, 1)
    assert group.member_status(alice) == "member"

    group.set_bot_rights(by=official, can_restrict_members=True)
    assert await bot.unban_chat_member(group.id, alice.id, only_if_banned=True) is True
    assert group.member_status(alice) == "member"
    assert await bot.ban_chat_member(group.id, alice.id) is True
    assert group.member_status(alice) == "kicked"
    with pytest.raises(PermissionError, match="banned"):
        group.add_member(alice)
    await bot.unban_chat_member(group.id, alice.id)
    assert group.member_status(alice) == "left"
    with pytest.raises(BadRequest, match="Can't remove chat owner"):
        await bot.ban_chat_member(group.id, official.id)

    group.remove_bot(by=official)
    with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
        await bot.send_message(group.id, "Alerte")


async def test_commands_are_stored_per_scope_and_language(emu: TelegramEmulator, bot: Bot) -> None:
    await bot.set_my_commands([("start", "Démarrer"), ("alerte", "Signaler")])
    await bot.set_my_commands([("aide", "Aide")], language_code="en")
    assert emu.my_commands() == [("start", "Démarrer"), ("alerte", "Signaler")]
    assert emu.my_commands(language_code="en") == [("aide", "Aide")]
    assert [c.command for c in await bot.get_my_commands(language_code="en")] == ["aide"]
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([("Start!", "bad")])


async def test_privacy_mode_and_chat_member_opt_in(emu: TelegramEmulator, bot: Bot) -> None:
    official, alice, bob = (emu.create_user(n) for n in ("Mairie", "Alice", "Bob"))
    group = emu.create_group("Secteur Nord", creator=official, members=[alice], supergroup=True)
    group.add_bot(by=official, admin=False)
    await take_updates(bot)

    alice.send_text("bavardage", chat=group)
    alice.send_command("alerte", args="rue des Lilas", chat=group)
    group.add_member(bob, by=official)
    updates = await take_updates(bot)
    texts = [u.message.text for u in updates if u.message and u.message.text]
    # A non-admin bot in privacy mode sees commands and service messages, not chatter.
    assert texts == ["/alerte@vigie_test_bot rue des Lilas"]
    assert [u.message.new_chat_members[0].id for u in updates if u.message.new_chat_members] == [
        bob.id
    ]

    alice.leave(group)  # not an administrator yet: no chat_member update
    group.set_bot_rights(by=official, can_invite_users=True)
    await take_updates(bot, allowed_updates=["message", "chat_member"])
    bob.leave(group)
    left = [u.chat_member for u in await take_updates(bot) if u.chat_member]
    assert [(m.new_chat_member.user.id, m.new_chat_member.status) for m in left] == [
        (bob.id, "left")
    ]


async def test_files_can_be_fetched_within_the_download_limit(
    emu: TelegramEmulator, bot: Bot
) -> None:
    alice = emu.create_user("Alice")
    small = alice.send_photo(caption="Fenêtre cassée", file_size=50_000)
    huge = alice.send_document(file_name="video.mp4", file_size=30 * 1024 * 1024)

    photo = await bot.get_file(small["photo"][-1]["file_id"])
    assert photo.file_size == 50_000
    assert (await photo.download_as_bytearray()).startswith(b"\xff\xd8")
    with pytest.raises(BadRequest, match="File is too big"):
        await bot.get_file(huge["document"]["file_id"])

    uploaded = await bot.send_photo(
        alice.id, photo=bytes(range(256)) * 4, caption="<i>vu</i>", parse_mode="HTML"
    )
    again = await bot.get_file(uploaded.photo[-1].file_id)
    assert await again.download_as_bytearray() == bytes(range(256)) * 4
    assert (alice.last().kind, alice.last().caption) == ("photo", "vu")


async def test_promotion_and_custom_titles(emu: TelegramEmulator, bot: Bot) -> None:
    official, alice = emu.create_user("Mairie"), emu.create_user("Alice")
    group = emu.create_group("Secteur Nord", creator=official, members=[alice], supergroup=True)
    group.add_bot(by=official)

    with pytest.raises(BadRequest, match="User is not an administrator"):
        await bot.set_chat_administrator_custom_title(group.id, alice.id, "Référente")
    with pytest.raises(BadRequest, match="Right_forbidden"):
        await bot.promote_chat_member(group.id, alice.id, can_change_info=True)
    await bot.promote_chat_member(group.id, alice.id, can_pin_messages=True)
    await bot.set_chat_administrator_custom_title(group.id, alice.id, "Référente")

    member = await bot.get_chat_member(group.id, alice.id)
    assert (member.status, member.custom_title, member.can_be_edited) == (
        "administrator",
        "Référente",
        True,
    )
    assert (member.can_pin_messages, member.can_manage_chat, member.can_delete_messages) == (
        True,
        True,
        False,
    )
    admins = await bot.get_chat_administrators(group.id)
    assert [a.user.id for a in admins] == [official.id, alice.id]
    assert await bot.get_chat_member_count(group.id) == 3

    await bot.promote_chat_member(group.id, alice.id)  # no right left: back to member
    assert group.member_status(alice) == "member"


async def test_invite_link_lifecycle(emu: TelegramEmulator, bot: Bot) -> None:
    official, alice, bob = (emu.create_user(n) for n in ("Mairie", "Alice", "Bob"))
    group = emu.create_group("Secteur Nord", creator=official, supergroup=True)
    group.add_bot(by=official)

    primary = await bot.export_chat_invite_link(group.id)
    revoked = await bot.revoke_chat_invite_link(group.id, primary)
    assert (revoked.invite_link, revoked.is_revoked, revoked.is_primary) == (primary, True, True)
    assert (await bot.get_chat(group.id)).invite_link not in (None, primary)
    with pytest.raises(PermissionError, match="revoked"):
        alice.request_join(primary)

    single = await bot.create_chat_invite_link(group.id, member_limit=1, name="Unique")
    joined = alice.request_join(single.invite_link)
    assert joined["new_chat_members"][0]["id"] == alice.id
    assert group.member_status(alice) == "member"
    with pytest.raises(PermissionError, match="member limit"):
        bob.request_join(single.invite_link)

    edited = await bot.edit_chat_invite_link(group.id, single.invite_link, name="Renommé")
    assert (edited.name, edited.member_limit) == ("Renommé", None)  # edits reset the rest
    assert {link["name"] for link in group.invite_links() if "name" in link} == {"Renommé"}


async def test_a_person_editing_sends_an_edited_message(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.create_user("Alice")
    original = alice.send_text("rue des Liias")
    alice.edit_text(original["message_id"], "rue des Lilas")
    updates = await take_updates(bot)
    assert [u.message.text for u in updates if u.message] == ["rue des Liias"]
    edited = [u.edited_message for u in updates if u.edited_message]
    assert [(m.message_id, m.text) for m in edited] == [(original["message_id"], "rue des Lilas")]
    assert edited[0].edit_date is not None


# --- flood limits -----------------------------------------------------------------------------


async def test_group_limit_answers_429_with_retry_after(emu: TelegramEmulator, bot: Bot) -> None:
    official = emu.create_user("Mairie")
    group = emu.create_group("Secteur Nord", creator=official, supergroup=True)
    group.add_bot(by=official)
    emu.limits = Limits()  # Telegram's own: 20 messages per minute in a group

    for number in range(20):
        await bot.send_message(group.id, f"Alerte {number}")
    with pytest.raises(RetryAfter) as refused:
        await bot.send_message(group.id, "Alerte 20")
    # The time until the first of the 20 leaves the minute: 60 s, less what the sends took
    # (a loaded machine may take more than a second for them).
    assert 55 <= seconds(refused.value.retry_after) <= 60
    async with httpx.AsyncClient() as client:
        raw = await client.post(
            f"{emu.base_url}{emu.token}/sendMessage", data={"chat_id": group.id, "text": "x"}
        )
    assert raw.status_code == 429
    retry = raw.json()["parameters"]["retry_after"]
    assert isinstance(retry, int) and 55 <= retry <= 60
    assert raw.json() == {  # whole seconds, an integer, as Telegram says them
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {retry}",
        "parameters": {"retry_after": retry},
    }
    assert len(group.sent()) == 20
    assert emu.stats.responses_429 == 2


async def test_scaled_limits_announce_scaled_fractional_waits(
    emu: TelegramEmulator, bot: Bot
) -> None:
    alice = emu.create_user("Alice")
    alice.send_command("/start")
    emu.limits = Limits(scale=10)  # private chat: 4 at once, then one per 0.1 s

    async with httpx.AsyncClient() as client:
        for _ in range(40):  # the burst, then the first refusal (however slow this machine)
            raw = await client.post(f"{emu.base_url}{emu.token}/sendMessage",
                                    data={"chat_id": alice.id, "text": "Info"})
            if raw.status_code == 429:
                break
    # One Telegram second, scaled: 0.1 s, never a real second.
    assert raw.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 0.1",
        "parameters": {"retry_after": 0.1},
    }
    emu.faults.retry_after(seconds=3)  # forced 429s are scaled the same way
    with pytest.raises(RetryAfter) as refused:
        await bot.send_message(alice.id, "trop tôt")
    assert seconds(refused.value.retry_after) == pytest.approx(0.3)


async def test_global_limit_answers_429_beyond_30_per_second(
    emu: TelegramEmulator, bot: Bot
) -> None:
    people = [emu.create_user(f"Voisin {n}") for n in range(8)]
    for person in people:
        person.send_command("/start")
    emu.limits = Limits()

    for number in range(30):
        await bot.send_message(people[number % 8].id, f"Info {number}")
    with pytest.raises(RetryAfter) as refused:
        await bot.send_message(people[6].id, "Info 30")
    assert seconds(refused.value.retry_after) == 1
    assert sum(len(p.inbox()) for p in people) == 30


async def test_a_client_pacing_itself_at_the_limits_is_never_refused(
    emu: TelegramEmulator, bot: Bot
) -> None:
    official, alice = emu.create_user("Mairie"), emu.create_user("Alice")
    group = emu.create_group("Secteur Nord", creator=official, supergroup=True)
    group.add_bot(by=official)
    alice.send_command("/start")
    emu.limits = Limits(scale=600)  # group: 20 per 0.1 s; private: 4 then one per 1/600 s

    # The client paces itself with sleeps of exactly the limits' spacing: what is tested.
    for number in range(45):
        await bot.send_message(group.id, f"Alerte {number}")
        await asyncio.sleep(0.1 / 20)
    for number in range(24):
        await bot.send_message(alice.id, f"Info {number}")
        if number >= 3:
            await asyncio.sleep(1 / 600)
    assert emu.stats.responses_429 == 0
    assert (len(group.sent()), len(alice.inbox())) == (45, 24)


def test_limiter_semantics_are_exact_on_a_synthetic_clock() -> None:
    limiter = RateLimiter(Limits(scale=2))  # global 30 per 0.5 s, group 20 per 30 s
    for k in range(200):
        # Sends spaced exactly window/30 apart never wait, however long it goes on.
        assert limiter.acquire(-(k % 20) - 1, False, k * 0.5 / 30) == 0.0
    group = RateLimiter(Limits(scale=2))
    for k in range(20):
        assert group.acquire(-1, False, float(k)) == 0.0
    assert group.acquire(-1, False, 29.5) == pytest.approx(0.5)  # oldest (t=0) frees at 30
    assert group.acquire(-1, False, 30.0) == 0.0
    private = RateLimiter(Limits())
    assert [private.acquire(7, True, 0.0) for _ in range(5)] == [0.0] * 4 + [1.0]
    assert private.acquire(7, True, 1.0) == 0.0
    assert private.acquire(7, True, 1.5) == pytest.approx(0.5)
    assert RateLimiter(Limits.off()).acquire(7, True, 0.0) == 0.0


# --- webhook, faults, polls, the real Application ---------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    """A webhook endpoint that fails its first delivery, then accepts."""

    received: list[tuple[str | None, dict[str, Any]]]
    statuses: list[int]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 200:
            self.received.append((self.headers.get("X-Telegram-Bot-Api-Secret-Token"), body))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"received": [], "statuses": [500]})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    server.shutdown()
    server.server_close()


async def test_webhook_delivers_in_order_with_the_secret_and_retries(
    emu: TelegramEmulator, bot: Bot, receiver: tuple[str, type[_Receiver]]
) -> None:
    url, handler = receiver
    alice = emu.create_user("Alice")
    assert await bot.set_webhook(url, secret_token="s3cr3t_token") is True
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()

    alice.send_text("un")
    alice.send_text("deux")
    # Received, and its answer back at the emulator (the handler records before answering).
    await emu.wait_until(lambda: len(handler.received) == 2 and not emu.pending_updates())
    assert [secret for secret, _ in handler.received] == ["s3cr3t_token"] * 2
    assert [body["message"]["text"] for _, body in handler.received] == ["un", "deux"]
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count) == (url, 0)
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"

    await bot.delete_webhook()
    alice.send_text("trois")
    assert [u.message.text for u in await bot.get_updates(timeout=1)] == ["trois"]


async def test_faults_outage_and_targeted_failures(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.create_user("Alice")
    alice.send_command("/start")
    emu.faults.outage("5xx")
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(alice.id, "perdu")
    emu.faults.outage("reset")
    with pytest.raises(NetworkError):
        await bot.get_me()
    emu.faults.clear()

    emu.faults.retry_after(seconds=7)
    with pytest.raises(RetryAfter) as refused:
        await bot.send_message(alice.id, "trop tôt")
    assert seconds(refused.value.retry_after) == 7

    emu.faults.hold = 5
    emu.faults.fail_next("sendMessage", status="timeout", after_processing=True)
    with pytest.raises(TimedOut):
        await bot.send_message(alice.id, "arrivé quand même", read_timeout=0.3)
    emu.faults.clear()  # releases the held connection
    await bot.send_message(alice.id, "ensuite")

    assert [m.text for m in alice.inbox()] == ["arrivé quand même", "ensuite"]
    assert emu.stats.errors[502] == 1
    assert emu.stats.responses_429 == 1
    assert [(c.method, c.status) for c in emu.calls if c.method == "sendMessage"] == [
        ("sendMessage", 502),
        ("sendMessage", 429),
        ("sendMessage", None),
        ("sendMessage", 200),
    ]


async def test_votes_produce_poll_and_poll_answer_updates(emu: TelegramEmulator, bot: Bot) -> None:
    official, alice = emu.create_user("Mairie"), emu.create_user("Alice")
    group = emu.create_group("Secteur Nord", creator=official, members=[alice], supergroup=True)
    group.add_bot(by=official)
    with pytest.raises(BadRequest, match="Poll must have at least 2 option"):
        await bot.send_poll(group.id, "Réunion ?", ["Oui"])
    sent = await bot.send_poll(group.id, "Réunion ?", ["Lundi", "Mardi"], is_anonymous=False)
    await take_updates(bot)

    alice.vote(group.last(), [1])
    updates = await take_updates(bot)
    poll = next(u.poll for u in updates if u.poll)
    answer = next(u.poll_answer for u in updates if u.poll_answer)
    assert poll.id == sent.poll.id
    assert [o.voter_count for o in poll.options] == [0, 1]
    assert (answer.user.id, answer.option_ids) == (alice.id, (1,))

    stopped = await bot.stop_poll(group.id, sent.message_id)
    assert stopped.is_closed is True
    with pytest.raises(PermissionError):
        alice.vote(group.last(), [0])


async def test_a_real_application_talks_to_people(emu: TelegramEmulator) -> None:
    alice = emu.create_user("Alice", username="alice")

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(
            f"Bienvenue {update.effective_user.first_name}", reply_markup=keyboard(("Oui", "ok"))
        )

    async def tapped(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.callback_query.answer("Noté")
        await update.callback_query.edit_message_text("Merci")

    app = (
        Application.builder()
        .token(emu.token)
        .base_url(emu.base_url)
        .base_file_url(emu.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(tapped))
    async with app:
        await app.start()
        await app.updater.start_polling(timeout=1, poll_interval=0)
        try:
            started = alice.send_command("/start")
            welcome = await alice.wait_for(text="Bienvenue Alice", since=started)
            assert welcome.buttons == ["Oui"]
            alice.press("Oui")
            await emu.wait_until(lambda: alice.last().text == "Merci")

            mark = emu.mark()
            alice.send_command("/start")
            await emu.wait_until(lambda: alice.last().text.startswith("Bienvenue"))
            # The answer came before the wait began: only a mark (or since=) still finds it.
            again = await alice.wait_for(text="Bienvenue", since=mark, timeout=1)
            assert again.message_id > welcome.message_id
            # By default a wait starts at the latest action, so the early answer counts.
            found = await alice.wait_for(text="Bienvenue", timeout=1)
            assert found.message_id == again.message_id
            # A wait that starts later says what it missed.
            with pytest.raises(TimeoutError, match=f"#{again.message_id} matches but was sent"):
                await alice.wait_for(text="Bienvenue", since=emu.mark(), timeout=0.1)
        finally:
            await app.updater.stop()
            await app.stop()
    assert emu.callback_answers[0]["text"] == "Noté"
    with pytest.raises(TimeoutError, match=r"'jamais'(.|\n)*#2 BOT: 'Merci'  \[edited x1\]"):
        await alice.wait_for(text="jamais", timeout=0.05)


async def test_reset_gives_a_fresh_world_on_the_same_port(
    emu: TelegramEmulator, bot: Bot
) -> None:
    first = emu.create_user("Alice")
    first.send_command("/start")
    await bot.send_message(first.id, "bonjour")
    port, stale = emu.port, asyncio.create_task(bot.get_updates(timeout=10, offset=99))
    await emu.wait_until(emu.long_polls_open)
    emu.faults.outage("5xx")
    emu.limits = Limits(scale=3)

    emu.reset()
    with pytest.raises(Conflict):  # a previous bot's long poll ends at once
        await stale
    assert (emu.port, emu.pending_updates(), emu.stats.responses_429) == (port, [], 0)
    assert [(c.method, c.status) for c in emu.calls] == [("getUpdates", 409)]  # only that
    assert emu.limits == Limits.off()  # the emulator's own limits again
    again = emu.create_user("Bob")
    assert again.id == first.id and again.inbox() == []  # ids start over, nothing kept
    assert (await bot.get_me()).username == "vigie_test_bot"  # no outage any more
