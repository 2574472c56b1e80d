"""What the reliability drills share: residents set up, a report written step by step by
several residents at once, and the final count of what reached the gendarmerie.

The scripted steps here take a mark before each action and wait for the bot's answer after
it, in that resident's own chat: several residents act concurrently, and each step waits
for its own answer only (testing/scripts.py waits after the latest action of anyone).
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from core import i18n
from core.charter import Charter
from core.settings import Settings
from emulator import Person, SentMessage, TelegramEmulator
from storage import Store
from testing.scripts import fr

CARD = re.compile(r"Signalement n°(\d+)")


async def enrol_directly(settings: Settings, sector: str, people: Iterable[Person]) -> None:
    """Enrolled residents who accepted the charter, written straight into the database:
    how they got there is not what a drill measures. The charter is the one the bot will
    ask for: the commune's, worded for its profile."""
    i18n.use_profile(settings.commune)
    store = Store(settings.storage.database)
    await store.open()
    try:
        await store.sectors.apply_config([(sector, None)])
        found = await store.sectors.by_name(sector)
        assert found is not None
        version = await Charter(settings=settings).sync(store)
        for person in people:
            await store.people.ensure(person.id, "fr")
            await store.charter.accept(person.id, version, "fr")
            await store.people.enrol(person.id, found.id, None)
    finally:
        await store.close()


def report_text(resident: int, number: int) -> str:
    """Words shared with no other report, so that none is grouped as "similar"."""
    return " ".join(f"fait{resident}x{number}y{word}" for word in range(6))


async def step(emu: TelegramEmulator, person: Person, act: Callable[[], object], expect: str,
               seconds: float) -> SentMessage:
    mark = emu.mark()
    act()
    return await person.wait_for(text=expect, since=mark, timeout=seconds)


async def draft(emu: TelegramEmulator, person: Person, text: str, seconds: float) -> None:
    """/signaler up to the summary: category, when, the text, no place, no photo."""
    await step(emu, person, lambda: person.send_command("/signaler"),
               fr("reports.ask_category"), seconds)
    await step(emu, person, lambda: person.press(fr("reports.category.vehicle")),
               fr("reports.ask_when"), seconds)
    await step(emu, person, lambda: person.press(fr("reports.when.now")), "Décrivez", seconds)
    await step(emu, person, lambda: person.send_text(text), "Où était-ce", seconds)
    await step(emu, person, lambda: person.send_text(fr("reports.skip")), "ajouter une photo",
               seconds)
    await step(emu, person, lambda: person.press(fr("reports.skip")),
               fr("reports.summary_title"), seconds)


async def confirm(emu: TelegramEmulator, person: Person, seconds: float) -> int:
    sent = await step(emu, person, lambda: person.press(fr("reports.confirm")), "Envoyé !",
                      seconds)
    match = re.search(r"n°(\d+)", sent.text or "")
    assert match is not None
    return int(match.group(1))


@dataclass
class Tally:
    """Reports the residents confirmed, against what the database and the liaison hold."""

    sent: int
    stored: int  # confirmed reports found in the database
    doubled: int  # confirmed reports stored more than once
    relayed: int  # stored reports whose card reached the liaison
    duplicates: int  # extra copies of a card at the liaison
    lost: int  # confirmed, but not stored or never relayed
    uncertain: int  # outbox rows whose send may have arrived twice


def tally(database: Path, sent_texts: list[str], liaison: Person) -> Tally:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT id, description FROM reports").fetchall()
        uncertain = conn.execute("SELECT COUNT(*) FROM outbox WHERE uncertain = 1").fetchone()[0]
    ids_of: dict[str, list[int]] = {}
    for report_id, description in rows:
        ids_of.setdefault(description, []).append(report_id)
    cards = Counter(int(m.group(1)) for message in liaison.inbox()
                    if (m := CARD.search(message.text or "")))
    stored = [text for text in sent_texts if text in ids_of]
    relayed = [text for text in stored if any(cards[i] for i in ids_of[text])]
    return Tally(
        sent=len(sent_texts),
        stored=len(stored),
        doubled=sum(1 for text in stored if len(ids_of[text]) > 1),
        relayed=len(relayed),
        duplicates=sum(count - 1 for count in cards.values() if count > 1),
        lost=len(sent_texts) - len(relayed),
        uncertain=uncertain,
    )


def tally_line(result: Tally) -> str:
    return (f"reports sent {result.sent}, stored {result.stored} (twice: {result.doubled}), "
            f"relayed to the liaison {result.relayed} (duplicate cards: {result.duplicates}), "
            f"lost {result.lost}; uncertain sends {result.uncertain}")
