"""Updates side by side: different chats are handled concurrently, one chat's updates in
Telegram's order, each update once, even after a crash (core/runtime/inbox.py)."""

from __future__ import annotations

import json
import random

from core.runtime.application import build_application
from core.runtime.lifecycle import CLEAN_STOP_KEY, running
from core.services import services_of
from core.settings import Settings
from emulator import Person
from storage import Store
from storage.inbox import Incoming
from testing.fences import quiescent
from tests.conftest import Commune, fr

# Stateless private commands whose replies tell them apart: a reply sequence read back
# in a chat shows the order its updates were handled in.
HELP, UNKNOWN = "/aide", "/inconnue"
REPLY_KEY = {HELP: "help.title", UNKNOWN: "fallback.unknown_command"}


def script(seed: int, length: int) -> list[str]:
    chooser = random.Random(seed)
    return [chooser.choice((HELP, UNKNOWN)) for _ in range(length)]


def replies(person: Person) -> list[str]:
    """Which command each private reply answers, oldest first."""
    said: list[str] = []
    for message in person.inbox():
        text = message.text or ""
        said.extend(command for command, key in REPLY_KEY.items() if fr(key) in text)
    return said


async def test_one_chat_stays_in_order_while_twenty_others_write(
    settings: Settings, commune: Commune
) -> None:
    talker = commune.emu.create_user("Bavard")
    others = [commune.emu.create_user(f"Voisin {n}") for n in range(20)]
    plan = {talker.id: script(1, 20)}
    plan.update({person.id: script(100 + n, 3) for n, person in enumerate(others)})
    async with running(build_application(settings)) as app:
        # Interleaved: the talker's 20 messages among the others' 60.
        for step in range(20):
            talker.send_command(plan[talker.id][step])
            if step < 3:
                for person in others:
                    person.send_command(plan[person.id][step])
        await quiescent(app, commune.emu, timeout=60)
        counts = await services_of(app).store.inbox.counts()
    for person in (talker, *others):
        assert replies(person) == plan[person.id]  # each answered once, in order
    assert counts == {"pending": 0, "done": 80, "with_payload": 0}


async def test_after_a_crash_each_update_is_handled_once_in_order_per_chat(
    settings: Settings, commune: Commune
) -> None:
    people = [commune.emu.create_user(f"Habitant {n}") for n in range(8)]
    plan = {person.id: script(200 + n, 5) for n, person in enumerate(people)}
    for step in range(5):
        for person in people:
            person.send_command(plan[person.id][step])
    raw = commune.emu.pending_updates()
    # A previous run stored them all, began a few (one per chat is in hand at a time), then
    # died before marking them done and before confirming them to Telegram.
    store = Store(settings.storage.database)
    await store.open()
    await store.inbox.accept([Incoming(item["update_id"], item, item["message"]["from"]["id"])
                              for item in raw])
    for item in raw[:len(people)]:
        await store.inbox.begin(item["update_id"])
    await store.close()
    later = {person.id: script(300 + n, 2) for n, person in enumerate(people)}
    for step in range(2):  # newer, still at Telegram
        for person in people:
            person.send_command(later[person.id][step])
    async with running(build_application(settings)) as app:
        await quiescent(app, commune.emu, timeout=60)
        counts = await services_of(app).store.inbox.counts()
    for person in people:
        # Telegram sent the stored ones again: recognised, not handled twice; what was
        # left is handled before what is new, in each chat's order.
        assert replies(person) == plan[person.id] + later[person.id]
    assert counts == {"pending": 0, "done": 7 * len(people), "with_payload": 0}


async def test_conversations_started_side_by_side_are_each_kept_with_their_done_mark(
    settings: Settings, commune: Commune
) -> None:
    people = [commune.emu.create_user(f"Nouvelle {n}") for n in range(12)]
    async with running(build_application(settings)) as app:
        for person in people:
            person.send_command("/start")
        for person in people:
            await person.wait_for(text="Acceptez-vous cette charte")
        await quiescent(app, commune.emu, timeout=60)
    store = Store(settings.storage.database)
    await store.open()
    try:
        keys = [tuple(json.loads(row[0])) for row in await store.db.fetch_all(
            "SELECT key FROM conversation_states WHERE name = 'onboarding'")]
        counts = await store.inbox.counts()
    finally:
        await store.close()
    # Each person's step was committed (with the done mark of the update that caused it).
    assert sorted(keys) == sorted((person.id, person.id) for person in people)
    assert counts["pending"] == 0 and counts["done"] == len(people)


async def test_a_clean_stop_is_marked_so_the_next_start_skips_the_full_check(
    settings: Settings, commune: Commune
) -> None:
    async with running(build_application(settings)) as app:
        while_running = await services_of(app).store.db.get_meta(CLEAN_STOP_KEY)
    store = Store(settings.storage.database)
    await store.open()
    try:
        after = await store.db.get_meta(CLEAN_STOP_KEY)
    finally:
        await store.close()
    # A crash leaves "0": the next start runs SQLite's integrity_check, not only quick_check.
    assert (while_running, after) == ("0", "1")
