"""Following a broadcast once it is queued: the outbox hooks that pin copies and record
each group's poll, and the sweep that edits the author's progress message and, at the
end, turns it into the delivery report, exactly once."""

from __future__ import annotations

from typing import Any

from telegram.constants import ParseMode

from core import logs
from core.notify import language_of
from core.runtime.pacing import is_private
from core.services import Services, VigieContext
from handlers.broadcast.rules import progress_text, report_text
from storage import Broadcast, Message, OutboxRow
from storage.broadcasts import broadcast_id
from storage.statuses import BroadcastStatus, OutboxStatus, Purpose

log = logs.get("broadcast")


class ProgressSweep:
    """Follows each broadcast's copies: pins them and records polls as they arrive, edits
    the author's progress message as they go out, and at the end edits it into the report.

    The progress message (queued with the copies) is the first and only message the author
    gets: it is edited only once delivered, one edit at a time, so nothing overtakes it.
    Only changes are sent (an unchanged progress is not edited again), and the report is
    written once: `broadcasts.finish` succeeds for a single sweep. Besides the periodic run,
    the copy that settles last triggers the final sweep at once, so the report does not
    wait for the next tick.
    """

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._shown: dict[int, tuple[int, int]] = {}
        self._left: dict[str, int] = {}  # copies not settled yet, by broadcast ref
        self._known: dict[str, Broadcast] = {}

    async def __call__(self, context: VigieContext | None = None) -> None:
        """The periodic run (a JobQueue job)."""
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
            number = broadcast_id(ref)
            found = None if number is None else await self.svc.store.broadcasts.get(number)
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
                Purpose.BROADCAST_PIN, broadcast.ref, f"bc-pin:{broadcast.id}:{row.chat_id}"))

    async def copy_settled(self, row: OutboxRow, *_: object) -> None:
        """An outbox hook for each copy delivered or given up."""
        if row.purpose != Purpose.BROADCAST or row.ref is None or row.ref not in self._left:
            return
        self._left[row.ref] -= 1
        number = broadcast_id(row.ref)
        if self._left[row.ref] <= 0 and number is not None:
            broadcast = await self.svc.store.broadcasts.get(number)
            if broadcast is not None and broadcast.status == BroadcastStatus.SENDING:
                await self._one(broadcast)

    async def _shown_yet(self, broadcast: Broadcast) -> bool | None:
        """Whether the author's progress message may be edited now: True once it is
        delivered and no earlier edit of it is still on its way (so edits never overtake
        each other, nor the message itself); None if it never will be (author gone)."""
        store = self.svc.store
        if broadcast.progress_chat_id is None or broadcast.progress_outbox_id is None:
            return None
        row = await store.outbox.get(broadcast.progress_outbox_id)
        if row is None or row.status == OutboxStatus.FAILED:
            return None
        if row.message_id is None:
            return False
        tally = await store.outbox.tally(Purpose.BROADCAST_PROGRESS, broadcast.ref)
        return not (tally.get(OutboxStatus.PENDING, 0) or tally.get(OutboxStatus.SENDING, 0))

    async def _one(self, broadcast: Broadcast) -> None:
        store = self.svc.store
        tally = await store.outbox.tally(Purpose.BROADCAST, broadcast.ref)
        delivered = tally.get(OutboxStatus.DELIVERED, 0)
        failed = tally.get(OutboxStatus.FAILED, 0)
        author_chat = broadcast.progress_chat_id
        finished = delivered + failed >= broadcast.recipients
        self._left[broadcast.ref] = broadcast.recipients - delivered - failed
        shown = await self._shown_yet(broadcast)
        if shown is None or author_chat is None:  # the author erased, or blocked the bot
            if finished:
                await store.broadcasts.finish(broadcast.id, delivered, failed)
            return
        if not shown:  # the next run looks again
            return
        if self._shown.get(broadcast.id) == (delivered, failed) and not finished:
            return
        language = await language_of(self.svc, author_chat)
        self._shown[broadcast.id] = (delivered, failed)
        text = (report_text if finished else progress_text)(language, broadcast, delivered,
                                                            failed)
        # The progress message is the only one: at the end it becomes the report.
        edit = Message(author_chat, "editMessageText", {
            "message_id_of": broadcast.progress_outbox_id, "parse_mode": ParseMode.HTML,
            "text": text}, Purpose.BROADCAST_PROGRESS, broadcast.ref,
            f"bc-report:{broadcast.id}" if finished else None)
        if not finished:
            await self.svc.outbox.send(edit)
            return
        async with store.transaction():
            if not await store.broadcasts.finish(broadcast.id, delivered, failed):
                return
            await store.outbox.enqueue([edit])
            await store.audit.record(None, "broadcast.finished", broadcast.ref,
                                     delivered=delivered, failed=failed)
        self._shown.pop(broadcast.id, None)
        self._left.pop(broadcast.ref, None)
        self._known.pop(broadcast.ref, None)
        self.svc.outbox.wake()
        log.info("broadcast.finished", broadcast=broadcast.id, delivered=delivered,
                 failed=failed)
