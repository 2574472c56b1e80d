"""Sector groups: linking a group to a sector, gating who gets in, following what happens.

The bot is an administrator of each sector group. It lets people in through join requests
(approved by the rule in `rules.verdict`), mutes anyone added who does not qualify, follows
a group's upgrade to a supergroup, and notices when it is removed. The Telegram side of
membership (approving, declining, muting, removing) lives here for every enrolment flow.
"""

from __future__ import annotations

from telegram import Bot, ChatMember, ChatMemberAdministrator, ChatPermissions, Update
from telegram.error import TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    ChatJoinRequestHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from core import i18n, logs
from core.commands import command
from core.notify import language_of, notify, notify_staff
from core.permissions import BOT_RIGHTS_IN_SECTOR_GROUP, Action
from core.runtime.outbox import html_message
from core.services import Services, VigieApp, VigieContext
from core.turn import Turn, guarded, resolve_actor
from handlers.enrolment import domain
from handlers.enrolment.buttons import Decision, JoinDecision
from handlers.enrolment.keyboards import charter_screens
from handlers.enrolment.rules import Verdict, verdict
from storage import JoinRequest
from storage.statuses import Purpose, RequestStatus

log = logs.get("handlers.enrolment.groups")

LEFT = {ChatMember.LEFT, ChatMember.BANNED}


# --- membership on Telegram --------------------------------------------------------------

async def settle_join(svc: Services, bot: Bot, request: JoinRequest, approve: bool,
                      decided_by: int | None, reason_key: str | None = None) -> bool:
    """Approve or decline on Telegram and in our records; False if already settled."""
    status = RequestStatus.APPROVED if approve else RequestStatus.DECLINED
    if not await svc.store.join_requests.decide(request.id, status, decided_by):
        return False
    in_group = approve
    try:
        if approve:
            await bot.approve_chat_join_request(request.chat_id, request.user_id)
        else:
            await bot.decline_chat_join_request(request.chat_id, request.user_id)
    except TelegramError as error:
        # The request expired, or the person is already inside (muted after being added
        # by a neighbour): our decision stands either way, what Telegram says decides
        # what the person is told.
        log.info("join.telegram_refused", request=request.id, error=error.message)
        in_group = approve and await is_in_group(bot, request.chat_id, request.user_id)
    if in_group:
        await unmute(bot, request.chat_id, request.user_id)
    await svc.store.audit.record(decided_by, f"join.{status}", f"user:{request.user_id}",
                                 sector=request.sector_id)
    sector = await svc.store.sectors.get(request.sector_id)
    name = sector.name if sector else ""
    if in_group:
        await notify(svc, request.user_id, "enrolment.join_approved", Purpose.JOIN_RESULT,
                     sector=name)
    elif approve and sector is not None:
        text = domain.invite_text(await language_of(svc, request.user_id), sector)
        await notify(svc, request.user_id, "enrolment.join_expired", Purpose.JOIN_RESULT,
                     invite=text)
    else:
        await notify(svc, request.user_id, reason_key or "enrolment.join_declined",
                     Purpose.JOIN_RESULT, sector=name)
    return True


async def review_join(svc: Services, bot: Bot, request: JoinRequest) -> Verdict:
    """Apply the rule to a pending request whose person has just (re)qualified or asked."""
    person = await svc.store.people.get(request.user_id)
    sector = await svc.store.sectors.get(request.sector_id)
    assert person is not None and sector is not None
    accepted = await svc.store.charter.latest_version(person.user_id) or 0
    outcome = verdict(person, accepted >= svc.charter.version, sector.id,
                      svc.settings.enrolment.approval == "auto")
    if outcome is Verdict.APPROVE:
        await settle_join(svc, bot, request, True, None)
    elif outcome is Verdict.ASK_REFERENT:
        await svc.outbox.send(*await domain.join_cards(svc, request, sector, person))
    elif outcome is Verdict.WRONG_SECTOR:
        await settle_join(svc, bot, request, False, None, "enrolment.join_wrong_sector")
    elif outcome is Verdict.EXCLUDED:
        await settle_join(svc, bot, request, False, None, "enrolment.join_excluded")
    return outcome


async def remove_from_group(bot: Bot, chat_id: int, user_id: int) -> None:
    """Take someone out of a sector group without banning them for good."""
    try:
        await bot.ban_chat_member(chat_id, user_id)
        await bot.unban_chat_member(chat_id, user_id, only_if_banned=True)
    except TelegramError as error:
        log.info("group.remove_failed", chat=chat_id, error=error.message)


async def mute(bot: Bot, chat_id: int, user_id: int) -> bool:
    try:
        await bot.restrict_chat_member(chat_id, user_id, ChatPermissions.no_permissions())
        return True
    except TelegramError as error:
        log.info("group.restrict_failed", chat=chat_id, error=error.message)
        return False


async def _status(bot: Bot, chat_id: int, user_id: int) -> str | None:
    try:
        return (await bot.get_chat_member(chat_id, user_id)).status
    except TelegramError:
        return None


async def is_muted(bot: Bot, chat_id: int, user_id: int) -> bool:
    return await _status(bot, chat_id, user_id) == ChatMember.RESTRICTED


async def is_in_group(bot: Bot, chat_id: int, user_id: int) -> bool:
    return await _status(bot, chat_id, user_id) in (
        ChatMember.MEMBER, ChatMember.RESTRICTED, ChatMember.ADMINISTRATOR, ChatMember.OWNER)


async def unmute(bot: Bot, chat_id: int, user_id: int) -> None:
    if await is_muted(bot, chat_id, user_id):
        try:
            await bot.restrict_chat_member(chat_id, user_id, ChatPermissions.all_permissions())
        except TelegramError as error:
            log.info("group.unmute_failed", chat=chat_id, error=error.message)


# --- handlers ----------------------------------------------------------------------------


async def missing_rights(turn: Turn) -> list[str]:
    me = await turn.context.bot.get_chat_member(turn.place.chat_id, turn.context.bot.id)
    if not isinstance(me, ChatMemberAdministrator):
        return [turn.t("groups.right_admin")]
    return [turn.t(key) for right, key in BOT_RIGHTS_IN_SECTOR_GROUP.items()
            if not getattr(me, right)]


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
    linked = await domain.link_sector(store, turn.actor.user_id, sector, turn.place.chat_id,
                                      link.invite_link)
    await turn.reply("groups.linked", sector=sector.name)
    # Members who enrolled before the group existed get their link now.
    for user_id in await store.people.members(sector.id):
        text = domain.invite_text(await language_of(turn.svc, user_id), linked)
        await turn.svc.outbox.send(html_message(user_id, text, Purpose.INVITE))


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
    await domain.unlink_sector(store, turn.actor.user_id, sector)
    await turn.reply("groups.unlinked", sector=sector.name)


async def join_request(update: Update, context: VigieContext) -> None:
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
    outcome = await review_join(svc, context.bot, pending)
    if outcome is Verdict.NEEDS_CHARTER:
        screens = [(i18n.t(language, "enrolment.join_first", sector=sector.name), None),
                   *charter_screens(svc, language)]
        for text, markup in screens:
            await context.bot.send_message(request.user_chat_id, text, reply_markup=markup)
    elif outcome is Verdict.ASK_REFERENT:
        await context.bot.send_message(request.user_chat_id,
                                       i18n.t(language, "enrolment.request_under_review"))


async def load_join_request(turn: Turn) -> JoinRequest | None:
    return await turn.svc.store.join_requests.get(turn.button(JoinDecision).request_id)


@guarded(Action.DECIDE_JOIN, subject=load_join_request)
async def decide_join(turn: Turn) -> None:
    """A referent (or an official) pressed Approve or Decline on a join card."""
    request: JoinRequest = turn.subject
    approve = turn.button(JoinDecision).decision is Decision.APPROVE
    if not await settle_join(turn.svc, turn.context.bot, request, approve,
                             turn.actor.user_id):
        await turn.answer("enrolment.already_decided", alert=True)
        return
    await turn.answer()
    await turn.reply("enrolment.decided_approved" if approve else "enrolment.decided_declined")


async def member_changed(update: Update, context: VigieContext) -> None:
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
    if await mute(context.bot, change.chat.id, new.user.id):
        await svc.store.audit.record(None, "group.muted_unqualified", f"user:{new.user.id}",
                                     sector=sector.id)
        await notify(svc, new.user.id, "groups.muted_dm", Purpose.MUTED, language=language,
                     sector=sector.name)


async def bot_status_changed(update: Update, context: VigieContext) -> None:
    change = update.my_chat_member
    assert change is not None
    if change.new_chat_member.status not in LEFT:
        return
    svc = context.svc
    sector = await svc.store.sectors.by_chat(change.chat.id)
    if sector is None:
        return
    await domain.unlink_sector(svc.store, change.from_user.id, sector, "sector.bot_removed")
    await notify_staff(svc, "groups.bot_removed", Purpose.BOT_REMOVED, sector=sector.name)


async def migrated(update: Update, context: VigieContext) -> None:
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


def register(app: VigieApp) -> None:
    app.add_handler(CommandHandler(command(Action.LINK_SECTOR).names, link_sector))
    app.add_handler(CommandHandler(command(Action.UNLINK_SECTOR).names, unlink_sector))
    app.add_handler(ChatJoinRequestHandler(join_request))
    app.add_handler(CallbackQueryHandler(decide_join, pattern=JoinDecision.pattern()))
    app.add_handler(ChatMemberHandler(member_changed, ChatMemberHandler.CHAT_MEMBER))
    app.add_handler(ChatMemberHandler(bot_status_changed, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, migrated))
