"""Who belongs to the liaison group, learnt from the group itself (issue 13).

When `roles.liaison_chat_id` is a group, every member of it is the liaison. The bot never
asks Telegram about that in an update's path (the direct-reply limiter would hold every
resident's answer behind the group's 20-per-minute limit). Instead:

* `record_membership` (group -60, before any guarded handler): the group's `chat_member`
  updates (the bot is an administrator there, so it gets them) say who joined, left or was
  banned, and anyone acting inside the group (a message, a button on a card) is a member
  by that fact. Removal revokes the role as soon as the update is handled.
* `LiaisonCheck` (a JobQueue job armed in core/runtime/application.background): people
  `Services.is_liaison` never learnt about are asked with getChatMember, the latest first,
  one call per tick through the outbox's bot (no direct-reply limiter), ticks spaced so
  the group sees at most 20 calls a minute. Old answers are asked again, one a tick, when
  nobody is waiting (members' after an hour, others' after a day). Until then a person
  never seen is answered as a resident.

Whenever a person is learnt to have joined or left, their own command menu follows (the
liaison's, or their other roles'), set in the background (core/menus.refresh).
"""

from __future__ import annotations

import time

from telegram import Bot, ChatMember, ChatMemberRestricted, Update
from telegram.error import BadRequest, RetryAfter, TelegramError
from telegram.ext import TypeHandler

from core import logs, menus
from core.services import Services, VigieApp, VigieContext
from storage.statuses import LiaisonSource

log = logs.get("handlers.liaison")
GROUP = -60  # after common.bind_update (-100), before the charter notice and every flow
# Telegram's limit for one group, kept for getChatMember too: 20 calls per 60 s.
CALLS_PER_MINUTE = 20
# Answers are asked again, when nobody waits: a member's after an hour (in case the bot
# missed a removal: it gets chat_member updates only as an administrator), anyone else's
# after a day (chat_member updates keep both current).
MEMBER_RECHECK_SECONDS = 3_600.0
RECHECK_SECONDS = 86_400.0
PRESENT = {ChatMember.OWNER, ChatMember.ADMINISTRATOR, ChatMember.MEMBER}


def belongs(member: ChatMember) -> bool:
    """In the group: owner, administrator, member, or restricted but still a member."""
    if isinstance(member, ChatMemberRestricted):
        return member.is_member
    return member.status in PRESENT


async def record_membership(update: Update, context: VigieContext) -> None:
    svc = context.svc
    liaison = svc.roles.liaison_chat_id
    chat = update.effective_chat
    if liaison is None or liaison > 0 or chat is None or chat.id != liaison:
        return
    store, now = svc.store, time.time()
    change = update.chat_member
    if change is not None:
        person = change.new_chat_member.user
        if not person.is_bot:
            inside = belongs(change.new_chat_member)
            before = await store.liaison.is_member(liaison, person.id)
            await store.liaison.record(liaison, person.id, inside, LiaisonSource.CHAT_MEMBER,
                                       at=now)
            svc.liaison_pending.pop(person.id, None)
            log.info("liaison.membership_changed", member=inside)
            if before is not inside:
                menus.refresh(context.application, svc, context.bot, [person.id])
        actor = change.from_user
        if actor.id == person.id or actor.is_bot:
            return
    else:
        message = update.effective_message
        if message is not None and message.left_chat_member is not None:
            return  # the service message of a departure is not an act of the leaver
        user = update.effective_user
        if user is None or user.is_bot or update.my_chat_member is not None:
            return
        actor = user
    if await store.liaison.is_member(liaison, actor.id) is not True:
        await store.liaison.record(liaison, actor.id, True, LiaisonSource.ACTED, at=now)
        log.info("liaison.member_acted")
        menus.refresh(context.application, svc, context.bot, [actor.id])
    svc.liaison_pending.pop(actor.id, None)


class LiaisonCheck:
    """One getChatMember per tick for the liaison group, off the path of any update."""

    def __init__(self, svc: Services, bot: Bot) -> None:
        self.svc = svc
        self.bot = bot
        self.paused_until = 0.0  # a 429 pauses the checks, never a reply

    def later(self, user_id: int) -> None:
        pending = self.svc.liaison_pending
        if user_id not in pending:
            pending[user_id] = None
            pending.move_to_end(user_id, last=False)

    @staticmethod
    def interval(time_scale: float) -> float:
        """Seconds between ticks: the group's limit, scaled like the outbox's pacing."""
        return 60.0 / CALLS_PER_MINUTE / time_scale

    async def __call__(self, context: object) -> None:
        svc = self.svc
        liaison = svc.roles.liaison_chat_id
        if liaison is None or liaison > 0:
            svc.liaison_pending.clear()
            return
        if time.monotonic() < self.paused_until:
            return
        if svc.liaison_pending:
            user_id: int | None = svc.liaison_pending.popitem()[0]  # the latest asker
        else:
            now = time.time()
            user_id = await svc.store.liaison.stalest(liaison, now - MEMBER_RECHECK_SECONDS,
                                                      now - RECHECK_SECONDS)
        if user_id is None:
            return
        asked = time.time()
        try:
            member = await self.bot.get_chat_member(liaison, user_id)
        except BadRequest:
            inside = False  # "user not found", "participant_id_invalid": not in the group
        except RetryAfter as error:
            retry = error.retry_after
            wait = retry.total_seconds() if hasattr(retry, "total_seconds") else float(retry)
            self.paused_until = time.monotonic() + wait
            self.later(user_id)
            return
        except TelegramError as error:
            # The bot is not in the group, or Telegram is unreachable: ask again later,
            # after the others waiting.
            self.later(user_id)
            log.warning("liaison.check_failed", error=type(error).__name__)
            return
        else:
            inside = belongs(member)
        await self._keep(context, liaison, user_id, inside, asked)

    async def _keep(self, context: object, liaison: int, user_id: int, inside: bool,
                    asked: float) -> None:
        """Recorded only if no fresher fact (a chat_member update) arrived meanwhile; a
        change of membership sets the person's menu again."""
        store = self.svc.store
        before = await store.liaison.is_member(liaison, user_id)
        if await store.liaison.record(liaison, user_id, inside, LiaisonSource.CHECKED,
                                      at=asked) and before is not inside:
            application = getattr(context, "application", None)  # JobQueue's context
            if application is not None:
                menus.refresh(application, self.svc, self.bot, [user_id])


def register(app: VigieApp) -> None:
    app.add_handler(TypeHandler(Update, record_membership), group=GROUP)
