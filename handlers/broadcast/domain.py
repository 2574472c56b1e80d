"""What goes down to the sectors: the mairie's notices, the gendarmerie's alerts, polls.

A broadcast is written to the database together with one outbox row per recipient, in one
transaction, before the author is told it is on its way: a crash or an outage afterwards
delays copies, never loses or doubles them (each copy has a dedupe key). The outbox paces
them to Telegram's limits; `sweep` turns its rows into the live progress message and, at
the end, the delivery report.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from telegram.constants import ParseMode

from core import i18n, logs
from core.runtime.outbox import Buttons, html_message, inline_keyboard
from core.runtime.pacing import is_private
from core.services import Services
from handlers.enrolment.rules import language_of
from storage import Broadcast, Message, NewBroadcast, OutboxRow
from storage.outbox import BULK, DELIVERED, FAILED

log = logs.get("broadcast")

TEXT_MAX = 4096  # Telegram's limit for a message, counted on the visible text
CAPTION_MAX = 1024  # and for a photo's caption
POLL_QUESTION_MAX = 300
POLL_OPTION_MAX = 100
# Telegram accepts up to 12 options; past 10 a poll no longer fits a phone screen.
POLL_OPTIONS = (2, 10)
COPY = "broadcast"  # outbox purpose of each copy; ref "bc:<id>"
PROGRESS = "broadcast_progress"
KINDS = ("notice", "alert", "poll")


@dataclass(frozen=True)
class Target:
    chat_id: int
    language: str
    sector_ids: tuple[int, ...]  # the sectors this copy is for (a referent may have several)


def header(svc: Services, kind: str, language: str) -> str:
    return i18n.t(language, f"broadcast.header.{kind}", commune=escape(svc.settings.commune.name))


def visible_length(svc: Services, kind: str, body: str) -> int:
    """How long Telegram will count the message (tags do not count, the header does)."""
    plain_header = header(svc, kind, svc.settings.commune.language).replace("<b>", "")
    return len(plain_header.replace("</b>", "")) + 2 + len(body)


def problem(svc: Services, new: NewBroadcast) -> tuple[str, dict[str, Any]] | None:
    """Why this broadcast cannot be sent as it is (a catalogue key and its values)."""
    if new.kind == "poll":
        low, high = POLL_OPTIONS
        if not low <= len(new.options) <= high:
            return "broadcast.poll_option_count", {"low": low, "high": high,
                                                  "count": len(new.options)}
        if len(new.body) > POLL_QUESTION_MAX:
            return "broadcast.poll_question_too_long", {"limit": POLL_QUESTION_MAX}
        if any(len(option) > POLL_OPTION_MAX for option in new.options):
            return "broadcast.poll_option_too_long", {"limit": POLL_OPTION_MAX}
        if len(set(new.options)) != len(new.options):
            return "broadcast.poll_option_twice", {}
        return None
    limit = CAPTION_MAX if new.photo_file_id else TEXT_MAX
    length = visible_length(svc, new.kind, new.body)
    if length > limit:
        key = "broadcast.caption_too_long" if new.photo_file_id else "broadcast.too_long"
        return key, {"limit": limit - (length - len(new.body)), "length": len(new.body)}
    return None


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


def copy_payload(svc: Services, broadcast: Broadcast | NewBroadcast, language: str
                 ) -> tuple[str, dict[str, Any]]:
    """The Bot API method and parameters of one copy, as its recipient will see it."""
    common: dict[str, Any] = {"disable_notification": broadcast.silent}
    if broadcast.kind == "poll":
        return "sendPoll", {**common, "question": broadcast.body, "is_anonymous": True,
                            "options": [{"text": option} for option in broadcast.options]}
    text = f"{header(svc, broadcast.kind, language)}\n\n{escape(broadcast.body)}"
    if broadcast.photo_file_id:
        return "sendPhoto", {**common, "photo": broadcast.photo_file_id, "caption": text,
                             "parse_mode": ParseMode.HTML}
    return "sendMessage", {**common, "text": text, "parse_mode": ParseMode.HTML,
                           "link_preview_options": {"is_disabled": True}}


def relay_buttons(names: dict[int, str], broadcast: Broadcast, target: Target) -> Buttons:
    return [[(i18n.t(target.language, "broadcast.relay_button", sector=names.get(sid, "?")),
              f"ar:{broadcast.id}:{sid}")] for sid in target.sector_ids]


def copy_for(svc: Services, broadcast: Broadcast, target: Target, names: dict[int, str],
             purpose: str = COPY) -> Message:
    method, payload = copy_payload(svc, broadcast, target.language)
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
            author_chat, progress_text(language, broadcast, 0, 0), PROGRESS, broadcast.ref,
            dedupe_key=f"bc-progress:{broadcast_id}")])
        await store.broadcasts.set_progress_message(broadcast_id, progress[0])
        await store.outbox.enqueue_many(copy_for(svc, broadcast, target, names)
                                        for target in chosen)
        await store.audit.record(new.author_id, f"broadcast.{new.kind}", broadcast.ref,
                                 sectors=new.sector_ids, recipients=len(chosen),
                                 to_residents=new.to_residents,
                                 referents_only=new.referents_only)
    svc.outbox.wake()
    log.info("broadcast.launched", broadcast=broadcast_id, kind=new.kind,
             recipients=len(chosen))
    return broadcast


def progress_text(language: str, broadcast: Broadcast, delivered: int, failed: int) -> str:
    left = max(broadcast.recipients - delivered - failed, 0)
    return i18n.t(language, "broadcast.progress", id=broadcast.id,
                  kind=i18n.t(language, f"broadcast.kind.{broadcast.kind}"),
                  delivered=delivered, failed=failed, left=left, total=broadcast.recipients)


def report_text(language: str, broadcast: Broadcast, delivered: int, failed: int) -> str:
    return i18n.t(language, "broadcast.report", id=broadcast.id,
                  kind=i18n.t(language, f"broadcast.kind.{broadcast.kind}"),
                  delivered=delivered, failed=failed, total=broadcast.recipients)


class ProgressSweep:
    """Follows each broadcast's copies: pins them and records polls as they arrive, edits
    the author's progress message as they go out, then sends the report.

    Only changes are sent (an unchanged progress is not edited again), and the report is
    sent once: `broadcasts.finish` succeeds for a single sweep. Besides the periodic run,
    the copy that settles last triggers the final sweep at once, so the report does not
    wait for the next tick.
    """

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._shown: dict[int, tuple[int, int]] = {}
        self._left: dict[str, int] = {}  # copies not settled yet, by broadcast ref
        self._known: dict[str, Broadcast] = {}

    async def __call__(self, context: object = None) -> None:
        for broadcast in await self.svc.store.broadcasts.sending():
            await self._one(broadcast)

    async def copy_delivered(self, row: OutboxRow, result: Any) -> None:
        """After a copy arrived: pin it if asked (groups only), remember a poll's id."""
        if isinstance(result, dict) and row.ref is not None and (
                "poll" in result or not is_private(row.chat_id)):
            broadcast = await self._broadcast(row.ref)
            if broadcast is not None:
                await self._after_delivery(broadcast, row, result)
        await self.copy_settled(row)

    async def _broadcast(self, ref: str) -> Broadcast | None:
        # Read once per broadcast, not once per copy: the fields used here never change.
        if ref not in self._known:
            found = await self.svc.store.broadcasts.get(int(ref.split(":")[1]))
            if found is None:
                return None
            self._known[ref] = found
        return self._known[ref]

    async def _after_delivery(self, broadcast: Broadcast, row: OutboxRow,
                              result: dict[str, Any]) -> None:
        poll = result.get("poll")
        if poll is not None:
            await self.svc.store.broadcasts.add_poll_copy(
                poll["id"], broadcast.id, row.chat_id, result["message_id"],
                len(poll["options"]))
        if broadcast.pin and not is_private(row.chat_id):
            await self.svc.outbox.send(Message(row.chat_id, "pinChatMessage", {
                "message_id": result["message_id"], "disable_notification": broadcast.silent},
                "broadcast_pin", broadcast.ref, f"bc-pin:{broadcast.id}:{row.chat_id}"))

    async def copy_settled(self, row: OutboxRow, *_: object) -> None:
        """An outbox hook for each copy delivered or given up."""
        if row.purpose != COPY or row.ref is None or row.ref not in self._left:
            return
        self._left[row.ref] -= 1
        if self._left[row.ref] <= 0:
            broadcast = await self.svc.store.broadcasts.get(int(row.ref.split(":")[1]))
            if broadcast is not None and broadcast.status == "sending":
                await self._one(broadcast)

    async def _one(self, broadcast: Broadcast) -> None:
        store = self.svc.store
        tally = await store.outbox.tally(COPY, broadcast.ref)
        delivered, failed = tally.get(DELIVERED, 0), tally.get(FAILED, 0)
        author_chat = broadcast.progress_chat_id
        finished = delivered + failed >= broadcast.recipients
        self._left[broadcast.ref] = broadcast.recipients - delivered - failed
        if author_chat is None or broadcast.progress_outbox_id is None:  # author erased
            if finished:
                await store.broadcasts.finish(broadcast.id, delivered, failed)
            return
        language = await language_of(self.svc, author_chat)
        if self._shown.get(broadcast.id) == (delivered, failed) and not finished:
            return
        self._shown[broadcast.id] = (delivered, failed)
        edit = Message(author_chat, "editMessageText", {
            "message_id_of": broadcast.progress_outbox_id, "parse_mode": ParseMode.HTML,
            "text": progress_text(language, broadcast, delivered, failed)},
            PROGRESS, broadcast.ref)
        if not finished:
            await self.svc.outbox.send(edit)
            return
        async with store.transaction():
            if not await store.broadcasts.finish(broadcast.id, delivered, failed):
                return
            # The report first: it is what the author waits for; the edit follows.
            await store.outbox.enqueue([html_message(
                author_chat, report_text(language, broadcast, delivered, failed), PROGRESS,
                broadcast.ref, dedupe_key=f"bc-report:{broadcast.id}"), edit])
            await store.audit.record(None, "broadcast.finished", broadcast.ref,
                                     delivered=delivered, failed=failed)
        self._shown.pop(broadcast.id, None)
        self._left.pop(broadcast.ref, None)
        self._known.pop(broadcast.ref, None)
        self.svc.outbox.wake()
        log.info("broadcast.finished", broadcast=broadcast.id, delivered=delivered,
                 failed=failed)


async def relay_alert(svc: Services, broadcast: Broadcast, sector_id: int,
                      referent_id: int) -> bool:
    """A referent posts an alert they received into their sector's group: once a sector."""
    sector = await svc.store.sectors.get(sector_id)
    if sector is None or sector.chat_id is None:
        return False
    target = Target(sector.chat_id, svc.settings.commune.language, (sector_id,))
    group_copy = copy_for(svc, broadcast, target, {}, purpose="alert_relay")
    async with svc.store.transaction():
        if not await svc.store.broadcasts.record_relay(broadcast.id, sector_id, referent_id):
            return False
        await svc.store.outbox.enqueue([group_copy])
        await svc.store.audit.record(referent_id, "broadcast.alert_relayed", broadcast.ref,
                                     sector=sector_id)
    svc.outbox.wake()
    return True


@dataclass(frozen=True)
class PollResults:
    broadcast: Broadcast
    counts: list[int]
    groups: int
    closed_groups: int

    @property
    def voters(self) -> int:
        return sum(self.counts)


async def poll_results(svc: Services, broadcast: Broadcast) -> PollResults:
    """Answers added up across every group the poll was posted in."""
    copies = await svc.store.broadcasts.poll_copies(broadcast.id)
    counts = [0] * len(broadcast.options)
    for copy in copies:
        for index, count in enumerate(copy.counts[: len(counts)]):
            counts[index] += count
    return PollResults(broadcast, counts, len(copies), sum(c.closed for c in copies))


async def close_poll(svc: Services, broadcast: Broadcast, actor_id: int) -> bool:
    """Stop the poll in every group at once (stopPoll through the outbox)."""
    copies = await svc.store.broadcasts.poll_copies(broadcast.id)
    async with svc.store.transaction():
        if not await svc.store.broadcasts.close_poll(broadcast.id):
            return False
        await svc.store.outbox.enqueue(
            Message(copy.chat_id, "stopPoll", {"message_id": copy.message_id}, "poll_stop",
                    broadcast.ref, f"bc-stop:{broadcast.id}:{copy.chat_id}")
            for copy in copies if not copy.closed)
        await svc.store.audit.record(actor_id, "broadcast.poll_closed", broadcast.ref)
    svc.outbox.wake()
    return True


async def on_poll_stopped(svc: Services, row: OutboxRow, result: Any) -> None:
    if isinstance(result, dict) and "options" in result:
        await svc.store.broadcasts.update_poll_counts(
            result["id"], [option["voter_count"] for option in result["options"]], True)
