"""The tests' small commune in the emulator, and the steps built on it that many tests share:
a sector group linked by the official, a resident enrolled and let in, a referent appointed,
a report sent. Every step drives the real bot and waits for its answer."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.services import services_of
from emulator import Group, Person, SentMessage, TelegramEmulator
from handlers.reports.domain import CATEGORIES as CATEGORY_CODES
from storage import Message
from testing.scripts import CHARTER_QUESTION, enrol, fr, fr_part, fr_start, send_report

TOKEN = "123456:TEST-TOKEN-never-logged"  # dev.py greps the test log for it afterwards
BOT_USERNAME = "vigie_test_bot"
# Telegram's limits, 10x faster in time, on both sides: tests stay quick, rules stay real.
SCALE = 10.0
SECTORS = ("Centre-bourg", "Les Hauts", "La Vallée")


@dataclass
class Commune:
    """The people of a small commune, as Telegram users in the emulator."""

    emu: TelegramEmulator
    official: Person
    admin: Person
    liaison: Person
    alice: Person
    bob: Person
    carol: Person
    groups: dict[str, Group]

    def group_with_bot(self, title: str, members: list[Person] | None = None) -> Group:
        """A supergroup created by the official, with the bot as a full administrator."""
        group = self.emu.create_group(title, creator=self.official, members=members or [],
                                      supergroup=True)
        group.add_bot(by=self.official)
        return group


def make_commune(emu: TelegramEmulator) -> Commune:
    make = emu.create_user
    return Commune(
        emu=emu,
        official=make("Odile", username="odile_maire", language_code="fr"),
        admin=make("Adam", username="adam_it", language_code="fr"),
        liaison=make("Gaston", username="adj_gaston", language_code="fr"),
        alice=make("Alice", last_name="Martin", language_code="fr"),
        bob=make("Bob", language_code="en"),
        carol=make("Carole", language_code="fr"),
        groups={},
    )


def commune_config(commune: Commune) -> dict[str, Any]:
    """The settings sections that describe this commune (sectors, roles)."""
    return {
        "commune": {"name": "Saint-Exemple"},
        "sectors": [{"name": name} for name in SECTORS],
        "roles": {"officials": [commune.official.id], "admins": [commune.admin.id],
                  "liaison_chat_id": commune.liaison.id},
        "outbox": {"base_backoff_seconds": 1.0},
    }


# --- people and groups ------------------------------------------------------------------


async def started(person: Person) -> None:
    """Telegram lets the bot write only to people who wrote to it first."""
    person.send_command("/aide")
    await person.wait_for(text="/aide")


async def link(commune: Commune, name: str, supergroup: bool = True) -> Group:
    """The official creates a sector group, makes the bot admin and links it."""
    if not commune.official.inbox():
        # Telegram lets a bot write only to people who started it: so must the official.
        commune.official.send_command("/start")
        await commune.official.wait_for(text=CHARTER_QUESTION)
    group = commune.emu.create_group(f"Voisins {name}", creator=commune.official,
                                     supergroup=supergroup)
    group.add_bot(by=commune.official)
    commune.official.send_command("/lier_secteur", args=name, chat=group)
    await group.wait_for(text=fr("groups.linked", sector=name))
    commune.groups[name] = group
    return group


def join_link(group: Group) -> str:
    return str([x for x in group.invite_links() if x.get("creates_join_request")][-1]
               ["invite_link"])


async def join(commune: Commune, person: Person, group: Group, decider: Person) -> None:
    person.request_join(join_link(group))
    await decider.wait_for(text=fr_part("enrolment.join_card"))
    decider.press(fr("enrolment.approve"))
    await person.wait_for(text=fr_start("enrolment.join_approved"))
    await commune.emu.wait_until(lambda: group.member_status(person) == "member")


async def centre_member(commune: Commune, person: Person) -> Group:
    """`person` enrolled in Centre-bourg and let into its group by the official."""
    centre = commune.groups.get("Centre-bourg") or await link(commune, "Centre-bourg")
    await enrol(person, "Centre-bourg")
    await join(commune, person, centre, commune.official)
    return centre


async def with_members(commune: Commune) -> Commune:
    """The liaison and the official have started the bot; Alice is a Centre-bourg member."""
    for person in (commune.liaison, commune.official):
        await started(person)
    await centre_member(commune, commune.alice)
    return commune


async def make_referent(app: Any, commune: Commune, person: Person,
                        sector: str = "Centre-bourg") -> None:
    """Appointed by the official (the appointment flow itself is tested in test_enrolment)."""
    store = services_of(app).store
    found = await store.sectors.by_name(sector)
    assert found is not None
    await store.people.ensure(person.id, person.language_code or "fr")
    await store.referents.appoint(person.id, found.id, commune.official.id)


# --- reports ----------------------------------------------------------------------------

VEHICLE = fr("reports.category.vehicle")


async def report(person: Person, text: str, category: str = VEHICLE, **draft: Any) -> int:
    """A whole report, sent; `category` by its French label as the tests read it."""
    code = next(c for c in CATEGORY_CODES if fr(f"reports.category.{c}") == category)
    return await send_report(person, text, category=code, **draft)


def card_of(person: Person, report_id: int) -> SentMessage:
    cards = [m for m in person.inbox() if f"Signalement n°{report_id}" in (m.text or "")]
    assert len(cards) == 1, [m.text for m in person.inbox()]
    return cards[0]


# --- the outbox and the database --------------------------------------------------------


def text_message(chat_id: int, text: str, key: str | None = None) -> Message:
    return Message(chat_id=chat_id, method="sendMessage", payload={"text": text},
                   purpose="test", dedupe_key=key)


def stored_values_matching(path: Path, wanted: Callable[[object], bool]) -> list[str]:
    """Every (table, column) of the database holding a value `wanted` accepts."""
    found = []
    with sqlite3.connect(path) as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            cursor = conn.execute(f"SELECT * FROM {table}")
            columns = [d[0] for d in cursor.description]
            for row in cursor:
                found += [f"{table}.{c}" for c, value in zip(columns, row, strict=True)
                          if wanted(value)]
    return found
