"""What changing the sectors records: each change is one transaction holding the sectors'
rows, its audit entry and the notices to the people concerned (outbox rows), so the
records never say half of it and nobody is told of a change that did not happen.

Nothing here talks to Telegram directly: notices to members, referents and groups go
through the outbox. After a change the services' copy of the areas is read again, so
enrolment by location sees it at once; every other reader (enrolment's buttons, /secteur,
broadcasts, the desk) reads the sectors from the database at each update.
"""

from __future__ import annotations

from html import escape

from core import i18n
from core.notify import language_of
from core.runtime.outbox import html_message
from core.services import Services
from handlers.areas.domain import merged_area
from handlers.enrolment.buttons import SectorPick
from handlers.enrolment.domain import invite_text
from handlers.enrolment.keyboards import sector_keyboard
from storage import Message, Sector
from storage.sectors import Retired, SectorRefusal
from storage.statuses import Purpose


async def add(svc: Services, actor_id: int, name: str) -> Sector | SectorRefusal:
    store = svc.store
    async with store.transaction():
        added = await store.sectors.add(name)
        if isinstance(added, Sector):
            await store.audit.record(actor_id, "sector.added", f"sector:{added.id}")
    return added


async def restore(svc: Services, actor_id: int, sector_id: int) -> Sector | SectorRefusal:
    store = svc.store
    async with store.transaction():
        restored = await store.sectors.restore(sector_id)
        if isinstance(restored, Sector):
            await store.audit.record(actor_id, "sector.restored", f"sector:{sector_id}")
    await svc.reload_areas()
    return restored


async def rename(svc: Services, actor_id: int, sector_id: int, name: str
                 ) -> Sector | SectorRefusal:
    store = svc.store
    async with store.transaction():
        renamed = await store.sectors.rename(sector_id, name)
        if isinstance(renamed, Sector):
            await store.audit.record(actor_id, "sector.renamed", f"sector:{sector_id}")
    return renamed


async def retire(svc: Services, actor_id: int, sector_id: int) -> Retired | SectorRefusal:
    """Retired, its people told: members offered the other sectors, referents that their
    role ended, the group that it is no longer the sector's."""
    store = svc.store
    async with store.transaction():
        retired = await store.sectors.retire(sector_id)
        if isinstance(retired, Retired):
            await store.audit.record(actor_id, "sector.retired", f"sector:{sector_id}",
                                     members=len(retired.members),
                                     referents=len(retired.referents))
            await store.outbox.enqueue(await _retirement_notices(svc, retired))
    await _settled(svc, retired)
    return retired


async def merge(svc: Services, actor_id: int, source_id: int, target_id: int
                ) -> Retired | SectorRefusal:
    """`source` into `target`, its people told: members get the new group's link,
    referents that they now look after `target`, the old group that it is unlinked."""
    store = svc.store
    async with store.transaction():
        areas = await store.sectors.areas()
        merged = await store.sectors.merge(source_id, target_id)
        if isinstance(merged, Retired) and source_id in areas and target_id in areas:
            # Both had an area: the sector that stays covers both.
            await store.sectors.set_area(target_id,
                                         merged_area(areas[target_id], areas[source_id]))
        if isinstance(merged, Retired):
            await store.audit.record(actor_id, "sector.merged", f"sector:{source_id}",
                                     into=target_id, members=len(merged.members),
                                     referents=len(merged.referents))
            await store.outbox.enqueue(await _merger_notices(svc, merged))
    await _settled(svc, merged)
    return merged


async def _settled(svc: Services, result: Retired | SectorRefusal) -> None:
    if isinstance(result, Retired):
        svc.outbox.wake()
        await svc.reload_areas()


def _key(kind: str, sector_id: int, chat_id: int) -> str:
    return f"sector-{kind}:{sector_id}:{chat_id}"


async def _retirement_notices(svc: Services, retired: Retired) -> list[Message]:
    sector = retired.sector
    name = escape(sector.name)
    choices = (await sector_keyboard(svc, SectorPick)).to_dict()
    messages = []
    for user_id in retired.members:
        language = await language_of(svc, user_id)
        messages.append(html_message(
            user_id, i18n.t(language, "sectors.retired_member", sector=name),
            Purpose.SECTOR_NOTICE, f"sector:{sector.id}", markup=choices,
            dedupe_key=_key("retired", sector.id, user_id)))
    for user_id in retired.referents:
        language = await language_of(svc, user_id)
        messages.append(html_message(
            user_id, i18n.t(language, "sectors.retired_referent", sector=name),
            Purpose.REFERENT, f"sector:{sector.id}",
            dedupe_key=_key("retired-referent", sector.id, user_id)))
    messages += _group_notice(svc, sector, "sectors.retired_group", sector=name)
    return messages + await _withdrawn_requests(svc, retired, "sectors.retired_request",
                                                sector=name)


async def _merger_notices(svc: Services, merged: Retired) -> list[Message]:
    source, target = merged.sector, merged.target
    assert target is not None
    names = {"sector": escape(source.name), "target": escape(target.name)}
    messages = []
    for user_id in merged.members:
        language = await language_of(svc, user_id)
        text = (i18n.t(language, "sectors.merged_member", **names) + "\n\n"
                + escape(invite_text(language, target)))
        messages.append(html_message(user_id, text, Purpose.SECTOR_NOTICE,
                                     f"sector:{target.id}",
                                     dedupe_key=_key("merged", source.id, user_id)))
    for user_id in merged.referents:
        language = await language_of(svc, user_id)
        messages.append(html_message(
            user_id, i18n.t(language, "sectors.merged_referent", **names), Purpose.REFERENT,
            f"sector:{target.id}", dedupe_key=_key("merged-referent", source.id, user_id)))
    messages += _group_notice(svc, source, "sectors.merged_group", **names)
    return messages + await _withdrawn_requests(svc, merged, "sectors.merged_request", **names)


async def _withdrawn_requests(svc: Services, gone: Retired, key: str,
                              **values: str) -> list[Message]:
    """Join requests that waited for the old group are declined on Telegram (or they would
    wait there forever) and each applicant is told what to do instead."""
    messages = []
    for user_id, chat_id in gone.requests:
        language = await language_of(svc, user_id)
        messages.append(Message(chat_id, "declineChatJoinRequest", {"user_id": user_id},
                                Purpose.JOIN_RESULT, f"sector:{gone.sector.id}",
                                _key("declined", gone.sector.id, user_id)))
        messages.append(html_message(user_id, i18n.t(language, key, **values),
                                     Purpose.JOIN_RESULT, f"sector:{gone.sector.id}",
                                     dedupe_key=_key("request", gone.sector.id, user_id)))
    return messages


def _group_notice(svc: Services, former: Sector, key: str, **values: str) -> list[Message]:
    """The sector's former group is told, in the commune's language, that it is unlinked
    (the bot stays in it; the group's title is the commune's to change)."""
    if former.chat_id is None:
        return []
    text = i18n.t(svc.settings.commune.language, key, **values)
    return [html_message(former.chat_id, text, Purpose.SECTOR_NOTICE, f"sector:{former.id}",
                         dedupe_key=_key("group", former.id, former.chat_id))]
