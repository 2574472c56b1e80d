"""What the enrolment flows record: the charter, a sector chosen, a group linked, a move,
leaving, referent roles, and the cards that ask someone else to decide.

Each change that touches several rows is one transaction with its audit entry, so the
records never say half of it. Nothing here talks to Telegram: the handler modules do,
after the records are written (never the other way round).
"""

from __future__ import annotations

from collections.abc import Collection
from html import escape

from core import i18n
from core.notify import language_of, mention
from core.runtime.outbox import html_message
from core.services import Services
from handlers.enrolment.keyboards import join_card_buttons, referent_card_buttons
from storage import JoinRequest, Message, Person, ReferentRole, Sector, Store
from storage.statuses import PersonStatus, Purpose


def invite_text(language: str, sector: Sector) -> str:
    """The sector group's link, or why there is none yet."""
    if sector.invite_link:
        return i18n.t(language, "enrolment.invite", sector=sector.name, link=sector.invite_link)
    return i18n.t(language, "enrolment.group_not_ready", sector=sector.name)


# --- the charter and a sector ------------------------------------------------------------

async def refuse_charter(store: Store, person: Person, version: int) -> None:
    """A member who refuses keeps their status (the charter notice asks again); anyone else
    is marked refused until they accept."""
    async with store.transaction():
        if person.status != PersonStatus.ENROLLED:
            await store.people.set_status(person.user_id, PersonStatus.REFUSED)
        await store.audit.record(person.user_id, "charter.refused", version=version)


async def accept_charter(store: Store, person: Person, version: int, language: str) -> None:
    async with store.transaction():
        await store.charter.accept(person.user_id, version, language)
        await store.people.mark_charter_notice(person.user_id, version)
        if person.status == PersonStatus.REFUSED:
            await store.people.set_status(person.user_id, PersonStatus.NEW)
        await store.audit.record(person.user_id, "charter.accepted", version=version)


async def choose_sector(store: Store, user_id: int, sector: Sector) -> None:
    async with store.transaction():
        await store.people.enrol(user_id, sector.id, None)
        await store.audit.record(user_id, "sector.chosen", f"sector:{sector.id}")


async def move(store: Store, user_id: int, target: Sector, previous: Sector | None,
               referent_of: Collection[int]) -> None:
    """Into another sector; referent roles stay behind (they belong to the old one)."""
    async with store.transaction():
        await store.people.enrol(user_id, target.id, None)
        for sector_id in referent_of:
            await store.referents.revoke(user_id, sector_id)
        await store.audit.record(user_id, "sector.moved", f"sector:{target.id}",
                                 previous=previous.id if previous else None)


async def leave(store: Store, user_id: int, referent_of: Collection[int]) -> None:
    async with store.transaction():
        for sector_id in referent_of:
            await store.referents.revoke(user_id, sector_id)
        await store.people.leave(user_id)
        await store.audit.record(user_id, "scheme.left")


# --- sector groups -----------------------------------------------------------------------

async def link_sector(store: Store, actor_id: int, sector: Sector, chat_id: int,
                      invite_link: str) -> Sector:
    """The group becomes the sector's; the sector as it now is."""
    async with store.transaction():
        await store.sectors.link(sector.id, chat_id, invite_link)
        await store.audit.record(actor_id, "sector.linked", f"sector:{sector.id}")
    linked = await store.sectors.get(sector.id)
    assert linked is not None
    return linked


async def unlink_sector(store: Store, actor_id: int | None, sector: Sector,
                        action: str = "sector.unlinked") -> None:
    """The group is no longer the sector's (unlinked, or the bot was removed from it)."""
    async with store.transaction():
        await store.sectors.unlink(sector.id)
        await store.audit.record(actor_id, action, f"sector:{sector.id}")


async def deciders(svc: Services, sector_id: int) -> list[int]:
    """Who reviews a join request: the sector's referents, or the officials if it has none."""
    referents = await svc.store.referents.of_sector(sector_id)
    return referents or list(svc.roles.officials) or list(svc.roles.admins)


async def join_cards(svc: Services, request: JoinRequest, sector: Sector,
                     person: Person) -> list[Message]:
    """A join card for each decider, in their language, once each (deduplicated)."""
    messages = []
    for user_id in await deciders(svc, sector.id):
        language = await language_of(svc, user_id)
        text = i18n.t(language, "enrolment.join_card", sector=escape(sector.name),
                      person=mention(person.user_id, language),
                      street=escape(person.street or i18n.t(language, "enrolment.no_street")))
        messages.append(html_message(user_id, text, Purpose.JOIN_CARD, f"join:{request.id}",
                                     buttons=join_card_buttons(language, request.id),
                                     dedupe_key=f"join-card:{request.id}:{user_id}"))
    return messages


# --- referents ---------------------------------------------------------------------------

def staff(svc: Services) -> list[int]:
    """Officials then administrators, once each: who decides referent applications."""
    roles = svc.roles
    return list(dict.fromkeys([*roles.officials, *roles.admins]))


async def referent_cards(svc: Services, application_id: int, user_id: int, sector: Sector,
                         motivation: str) -> list[Message]:
    cards = []
    for official in staff(svc):
        language = await language_of(svc, official)
        card = i18n.t(language, "referents.card", sector=escape(sector.name),
                      motivation=escape(motivation), person=mention(user_id, language))
        cards.append(html_message(official, card, Purpose.REFERENT_CARD,
                                  f"refapp:{application_id}",
                                  buttons=referent_card_buttons(language, application_id)))
    return cards


async def appoint_referent(store: Store, user_id: int, sector_id: int, by: int) -> None:
    async with store.transaction():
        await store.referents.appoint(user_id, sector_id, by)
        await store.audit.record(by, "referent.appointed", f"user:{user_id}", sector=sector_id)


async def revoke_referent(store: Store, role: ReferentRole, by: int) -> None:
    async with store.transaction():
        await store.referents.revoke(role.user_id, role.sector_id)
        await store.audit.record(by, "referent.revoked", f"user:{role.user_id}",
                                 sector=role.sector_id)
