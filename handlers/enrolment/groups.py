"""Sector groups: linking a group to a sector, gating who gets in, following what happens.

The bot is an administrator of each sector group. It lets people in through join requests
(approved by the rule in handlers.enrolment.rules), mutes anyone added who does not qualify, follows
a group's upgrade to a supergroup, and notices when it is removed.
"""

from __future__ import annotations

from telegram import ChatMember, ChatMemberAdministrator, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackContext,
    CallbackQueryHandler,
    ChatJoinRequestHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from core import i18n, logs
from core.commands import command
from core.permissions import Action
from core.runtime.outbox import html_message
from core.turn import Turn, guarded, resolve_actor
from handlers.enrolment import rules as enrolment
from handlers.enrolment.rules import Verdict
from storage import JoinRequest

log = logs.get("handlers.enrolment.groups")

# The rights the bot needs in a sector group, with the catalogue key naming each.
REQUIRED_RIGHTS = {
    "can_invite_users": "groups.right_invite",
    "can_restrict_members": "groups.right_restrict",
    "can_delete_messages": "groups.right_delete",
    "can_pin_messages": "groups.right_pin",
}
LEFT = {ChatMember.LEFT, ChatMember.BANNED}


async def missing_rights(turn: Turn) -> list[str]:
    me = await turn.context.bot.get_chat_member(turn.place.chat_id, turn.context.bot.id)
    if not isinstance(me, ChatMemberAdministrator):
        return [turn.t("groups.right_admin")]
    return [turn.t(key) for right, key in REQUIRED_RIGHTS.items() if not getattr(me, right)]


@guarded(Action.LINK_SECTOR)
async def link_sector(turn: Turn) -> None:
    store = turn.svc.store
    name = " ".join(turn.args)
    sector = await store.sectors.by_name(name) if name else None
    if sector is None:
        names = ", ".join(s.name for s in await store.sectors.active())
        await turn.reply("groups.unknown_sector", sectors=names)
        return
    if sector.chat_id is not None and sector.chat_id != turn.place.chat_id:
        await turn.reply("groups.sector_taken", sector=sector.name)
        return
    if turn.place.sector_id is not None and turn.place.sector_id != sector.id:
        await turn.reply("groups.group_taken")
        return
    missing = await missing_rights(turn)
    if missing:
        await turn.reply("groups.missing_rights", rights="\n".join(f"• {m}" for m in missing))
        return
    link = await turn.context.bot.create_chat_invite_link(
        turn.place.chat_id, name=sector.name[:32], creates_join_request=True
    )
    async with store.transaction():
        await store.sectors.link(sector.id, turn.place.chat_id, link.invite_link)
        await store.audit.record(turn.actor.user_id, "sector.linked", f"sector:{sector.id}")
    await turn.reply("groups.linked", sector=sector.name)
    linked = await store.sectors.get(sector.id)
    assert linked is not None
    # Members who enrolled before the group existed get their link now.
    for user_id in await store.people.members(sector.id):
        language = await enrolment.language_of(turn.svc, user_id)
        text = await enrolment.invite_text(turn.svc, language, linked)
        await turn.svc.outbox.send(html_message(user_id, text, "invite"))


@guarded(Action.UNLINK_SECTOR)
async def unlink_sector(turn: Turn) -> None:
    store = turn.svc.store
    sector = await store.sectors.get(turn.place.sector_id or 0)
    assert sector is not None
    if sector.invite_link:
        try:
            await turn.context.bot.revoke_chat_invite_link(turn.place.chat_id, sector.invite_link)
        except TelegramError as error:
            log.info("groups.revoke_failed", error=error.message)
    async with store.transaction():
        await store.sectors.unlink(sector.id)
        await store.audit.record(turn.actor.user_id, "sector.unlinked", f"sector:{sector.id}")
    await turn.reply("groups.unlinked", sector=sector.name)


async def join_request(update: Update, context: CallbackContext) -> None:  # type: ignore[type-arg]
    """Someone asked to join a sector group: decide, or walk them through the charter first.

    Telegram lets the bot write to the requester for a few minutes even if they never
    started it, which is how a resident who found the link elsewhere is brought in.
    """
    request = update.chat_join_request
    assert request is not None
    svc = context.svc
    sector = await svc.store.sectors.by_chat(request.chat.id)
    if sector is None:
        log.info("join.unlinked_group")
        return
    user = request.from_user
    _, language = await resolve_actor(svc, context, user, None)
    await svc.store.people.ensure(user.id, language)
    pending = await svc.store.join_requests.open(user.id, request.chat.id, sector.id)
    await svc.store.audit.record(user.id, "join.requested", f"sector:{sector.id}")
    outcome = await enrolment.review_join(svc, context.bot, pending)
    if outcome is Verdict.NEEDS_CHARTER:
        screens = [(i18n.t(language, "enrolment.join_first", sector=sector.name), None),
                   *enrolment.charter_screens(svc, language)]
        for text, markup in screens:
            await context.bot.send_message(request.user_chat_id, text, reply_markup=markup)
    elif outcome is Verdict.ASK_REFERENT:
        await context.bot.send_message(request.user_chat_id,
                                       i18n.t(language, "enrolment.request_under_review"))


async def load_join_request(turn: Turn) -> JoinRequest | None:
    return await turn.svc.store.join_requests.get(int(turn.data[2]))


@guarded(Action.DECIDE_JOIN, subject=load_join_request)
async def decide_join(turn: Turn) -> None:
    """A referent (or an official) pressed Approve or Decline on a join card."""
    request: JoinRequest = turn.subject
    approve = turn.data[1] == "ok"
    if not await enrolment.settle_join(turn.svc, turn.context.bot, request, approve,
                                       turn.actor.user_id):
        await turn.answer("enrolment.already_decided", alert=True)
        return
    await turn.answer()
    await turn.reply("enrolment.decided_approved" if approve else "enrolment.decided_declined")


async def member_changed(update: Update, context: CallbackContext) -> None:  # type: ignore[type-arg]
    """Someone entered a sector group without qualifying (added by a member): mute them."""
    change = update.chat_member
    assert change is not None
    old, new = change.old_chat_member, change.new_chat_member
    if old.status not in LEFT or new.status in LEFT or new.user.is_bot:
        return
    svc = context.svc
    sector = await svc.store.sectors.by_chat(change.chat.id)
    if sector is None:
        return
    actor, language = await resolve_actor(svc, context, new.user, change.chat)
    if (actor.is_member and actor.sector_id == sector.id) or actor.is_staff:
        return
    if await enrolment.mute(context.bot, change.chat.id, new.user.id):
        await svc.store.audit.record(None, "group.muted_unqualified", f"user:{new.user.id}",
                                     sector=sector.id)
        await enrolment.notify(svc, new.user.id, "groups.muted_dm", "muted", language,
                               sector=sector.name)


async def bot_status_changed(update: Update, context: CallbackContext) -> None:  # type: ignore[type-arg]
    change = update.my_chat_member
    assert change is not None
    if change.new_chat_member.status not in LEFT:
        return
    svc = context.svc
    sector = await svc.store.sectors.by_chat(change.chat.id)
    if sector is None:
        return
    async with svc.store.transaction():
        await svc.store.sectors.unlink(sector.id)
        await svc.store.audit.record(change.from_user.id, "sector.bot_removed",
                                     f"sector:{sector.id}")
    await enrolment.notify_staff(svc, "groups.bot_removed", "bot_removed", sector=sector.name)


async def migrated(update: Update, context: CallbackContext) -> None:  # type: ignore[type-arg]
    """A group became a supergroup: its new id replaces the old one everywhere."""
    message = update.effective_message
    assert message is not None
    if message.migrate_to_chat_id:
        old, new = message.chat.id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id:
        old, new = message.migrate_from_chat_id, message.chat.id
    else:
        return
    svc = context.svc
    if await svc.store.sectors.by_chat(old) is not None:
        await svc.store.migrate_chat(old, new)
        await svc.store.audit.record(None, "sector.group_migrated", f"chat:{new}")
        log.info("groups.migrated", old=old, new=new)


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler(command(Action.LINK_SECTOR).names, link_sector))
    app.add_handler(CommandHandler(command(Action.UNLINK_SECTOR).names, unlink_sector))
    app.add_handler(ChatJoinRequestHandler(join_request))
    app.add_handler(CallbackQueryHandler(decide_join, pattern=r"^join:(ok|no):\d{1,9}$"))
    app.add_handler(ChatMemberHandler(member_changed, ChatMemberHandler.CHAT_MEMBER))
    app.add_handler(ChatMemberHandler(bot_status_changed, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, migrated))
