"""What goes down to the sectors: the mairie's notices, the gendarmerie's alerts, polls.

A broadcast is written to the database together with one outbox row per recipient, in one
transaction, before the author is told it is on its way: a crash or an outage afterwards
delays copies, never loses or doubles them (each copy has a dedupe key). The outbox paces
them to Telegram's limits; `progress.ProgressSweep` turns its rows into the live progress
message and, at the end, the delivery report. The pure rules (limits, texts) are in
`rules`.
"""

from __future__ import annotations

from enum import StrEnum
from html import escape
from typing import Any

from core import i18n, logs
from core.notify import language_of
from core.runtime.outbox import Buttons, html_message, inline_keyboard
from core.runtime.pacing import is_private
from core.services import Services
from handlers.broadcast.buttons import RelayAlert
from handlers.broadcast.rules import PollResults, Target, add_up, copy_payload, progress_text
from storage import Broadcast, Message, NewBroadcast, OutboxRow
from storage.outbox import BULK
from storage.statuses import BroadcastStatus, OutboxStatus, Purpose

log = logs.get("broadcast")


async def targets(svc: Services, new: NewBroadcast) -> list[Target]:
    """Who receives a copy: linked sector groups, or referents in private (alerts for
    referents), plus every reachable enrolled resident in private when asked."""
    store, language = svc.store, svc.settings.commune.language
    sectors = [s for s in await store.sectors.active() if s.id in new.sector_ids]
    if new.referents_only:
        by_referent: dict[int, list[int]] = {}
        for sector in sectors:
            for user_id in await store.referents.of_sector(sector.id):
                by_referent.setdefault(user_id, []).append(sector.id)
        return [Target(user_id, await language_of(svc, user_id), tuple(ids))
                for user_id, ids in by_referent.items()]
    chosen = [Target(s.chat_id, language, (s.id,)) for s in sectors if s.chat_id is not None]
    if new.to_residents:
        residents = await store.people.reachable_members([s.id for s in sectors])
        chosen += [Target(user_id, lang, ()) for user_id, lang in residents]
    return chosen


def relay_buttons(names: dict[int, str], broadcast: Broadcast, target: Target) -> Buttons:
    return [[(i18n.t(target.language, "broadcast.relay_button", sector=names.get(sid, "?")),
              RelayAlert(broadcast.id, sid).pack())] for sid in target.sector_ids]


def copy_for(svc: Services, broadcast: Broadcast, target: Target, names: dict[int, str],
             purpose: Purpose = Purpose.BROADCAST) -> Message:
    method, payload = copy_payload(svc.settings.commune, broadcast, target.language)
    if broadcast.referents_only and is_private(target.chat_id):
        payload["reply_markup"] = inline_keyboard(relay_buttons(names, broadcast, target))
    return Message(target.chat_id, method, payload, purpose, broadcast.ref,
                   f"bc:{broadcast.id}:{target.chat_id}", priority=BULK)


async def launch(svc: Services, new: NewBroadcast, author_chat: int, language: str
                 ) -> Broadcast:
    """Store the broadcast and every copy at once, then let the outbox send them."""
    store = svc.store
    chosen = await targets(svc, new)
    names = {sector.id: sector.name for sector in await store.sectors.active()}
    async with store.transaction():
        broadcast_id = await store.broadcasts.create(new, len(chosen), author_chat)
        broadcast = await store.broadcasts.get(broadcast_id)
        assert broadcast is not None
        progress = await store.outbox.enqueue([html_message(
            author_chat, progress_text(language, broadcast, 0, 0), Purpose.BROADCAST_PROGRESS,
            broadcast.ref, dedupe_key=f"bc-progress:{broadcast_id}")])
        await store.broadcasts.set_progress_message(broadcast_id, progress[0])
        await store.outbox.enqueue_many(copy_for(svc, broadcast, target, names)
                                        for target in chosen)
        await store.audit.record(new.author_id, f"broadcast.{new.kind}", broadcast.ref,
                                 sectors=new.sector_ids, recipients=len(chosen),
                                 to_residents=new.to_residents,
                                 referents_only=new.referents_only)
    svc.outbox.wake()
    log.info("broadcast.launched", broadcast=broadcast_id, kind=str(new.kind),
             recipients=len(chosen))
    return broadcast


async def relay_alert(svc: Services, broadcast: Broadcast, sector_id: int,
                      referent_id: int) -> bool:
    """A referent posts an alert they received into their sector's group: once a sector."""
    sector = await svc.store.sectors.get(sector_id)
    if sector is None or sector.chat_id is None:
        return False
    target = Target(sector.chat_id, svc.settings.commune.language, (sector_id,))
    group_copy = copy_for(svc, broadcast, target, {}, purpose=Purpose.ALERT_RELAY)
    async with svc.store.transaction():
        if not await svc.store.broadcasts.record_relay(broadcast.id, sector_id, referent_id):
            return False
        await svc.store.outbox.enqueue([group_copy])
        await svc.store.audit.record(referent_id, "broadcast.alert_relayed", broadcast.ref,
                                     sector=sector_id)
    svc.outbox.wake()
    return True


async def poll_results(svc: Services, broadcast: Broadcast) -> PollResults:
    """Answers added up across every group the poll was posted in."""
    return add_up(broadcast, await svc.store.broadcasts.poll_copies(broadcast.id))


async def close_poll(svc: Services, broadcast: Broadcast, actor_id: int) -> bool:
    """Stop the poll in every group at once (stopPoll through the outbox)."""
    copies = await svc.store.broadcasts.poll_copies(broadcast.id)
    async with svc.store.transaction():
        if not await svc.store.broadcasts.close_poll(broadcast.id):
            return False
        await svc.store.outbox.enqueue(
            Message(copy.chat_id, "stopPoll", {"message_id": copy.message_id},
                    Purpose.POLL_STOP, broadcast.ref, f"bc-stop:{broadcast.id}:{copy.chat_id}")
            for copy in copies if not copy.closed)
        await svc.store.audit.record(actor_id, "broadcast.poll_closed", broadcast.ref)
    svc.outbox.wake()
    return True


async def on_poll_stopped(svc: Services, row: OutboxRow, result: Any) -> None:
    """An outbox hook: a stopped poll's final counts, as Telegram returned them."""
    if isinstance(result, dict) and "options" in result:
        await svc.store.broadcasts.update_poll_counts(
            result["id"], [option["voter_count"] for option in result["options"]], True)


async def delivered_copies(svc: Services, broadcast: Broadcast) -> list[tuple[int, int]]:
    """Every copy that reached a chat, as (chat, message id): the groups and private chats
    of the send itself, and the groups a referent relayed an alert into."""
    copies: dict[int, int] = {}
    for purpose in (Purpose.BROADCAST, Purpose.ALERT_RELAY):
        for row in await svc.store.outbox.by_ref(purpose, broadcast.ref):
            if row.status == OutboxStatus.DELIVERED and row.message_id is not None:
                copies.setdefault(row.chat_id, row.message_id)
    return list(copies.items())


class Outcome(StrEnum):
    """What became of a follow-up or a closing: only DONE changed anything."""

    DONE = "done"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


def open_for_follow_up(broadcast: Broadcast) -> Outcome:
    if broadcast.status == BroadcastStatus.SENDING:
        return Outcome.IN_PROGRESS
    return Outcome.CLOSED if broadcast.status == BroadcastStatus.CLOSED else Outcome.DONE


async def follow_up(svc: Services, broadcast: Broadcast, text: str, actor_id: int
                    ) -> tuple[Outcome, int]:
    """The author's follow-up, as a reply to each copy that arrived (a copy deleted since
    gets it on its own). Returns the outcome and the number of chats it goes to."""
    current = await svc.store.broadcasts.get(broadcast.id) or broadcast
    outcome = open_for_follow_up(current)
    if outcome is not Outcome.DONE:
        return outcome, 0
    commune = svc.settings.commune
    copies = await delivered_copies(svc, current)
    messages = []
    for chat_id, message_id in copies:
        language = await language_of(svc, chat_id) if is_private(chat_id) else commune.language
        body = i18n.t(language, "broadcast.followup_header", id=current.id,
                      kind=i18n.t(language, f"broadcast.kind.{current.kind}"),
                      body=escape(text))
        message = html_message(chat_id, body, Purpose.BROADCAST_FOLLOWUP, current.ref,
                               priority=BULK)
        # A reply to the copy; a copy deleted since still gets the follow-up on its own.
        message.payload["reply_parameters"] = {"message_id": message_id,
                                               "allow_sending_without_reply": True}
        messages.append(message)
    async with svc.store.transaction():
        await svc.store.outbox.enqueue(messages)
        await svc.store.audit.record(actor_id, "broadcast.followed_up", current.ref,
                                     chats=len(messages))
    svc.outbox.wake()
    return Outcome.DONE, len(messages)


async def close(svc: Services, broadcast: Broadcast, actor_id: int) -> Outcome:
    """Close a notice or an alert once: its pinned copies in the groups are unpinned."""
    current = await svc.store.broadcasts.get(broadcast.id) or broadcast
    outcome = open_for_follow_up(current)
    if outcome is not Outcome.DONE:
        return outcome
    copies = await delivered_copies(svc, current) if current.pin else []
    async with svc.store.transaction():
        if not await svc.store.broadcasts.close(current.id):
            return Outcome.CLOSED  # someone closed it meanwhile
        await svc.store.outbox.enqueue(
            Message(chat_id, "unpinChatMessage", {"message_id": message_id},
                    Purpose.BROADCAST_UNPIN, current.ref, f"bc-unpin:{current.id}:{chat_id}")
            for chat_id, message_id in copies if not is_private(chat_id))
        await svc.store.audit.record(actor_id, "broadcast.closed", current.ref)
    svc.outbox.wake()
    return Outcome.DONE
