"""Membership decisions shared by the onboarding, group and referent flows.

`verdict()` is the rule for a join request, as a pure function. The rest carries decisions
out on Telegram: what must reach someone else (cards, notices) goes through the outbox;
what answers the person acting, or must happen now (approving a request), is a direct call.
"""

from __future__ import annotations

from enum import StrEnum
from html import escape

from telegram import Bot, ChatMember, ChatPermissions, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError

from core import i18n, logs
from core.runtime.outbox import html_message
from core.services import Services
from storage import JoinRequest, Person, Sector

log = logs.get("enrolment")


class Verdict(StrEnum):
    APPROVE = "approve"
    ASK_REFERENT = "ask_referent"
    NEEDS_CHARTER = "needs_charter"
    WRONG_SECTOR = "wrong_sector"
    EXCLUDED = "excluded"


def verdict(person: Person, charter_current: bool, sector_id: int, auto: bool) -> Verdict:
    """What to do with a join request to `sector_id`'s group."""
    if person.status == "excluded":
        return Verdict.EXCLUDED
    if not charter_current or person.status == "refused":
        return Verdict.NEEDS_CHARTER
    if person.sector_id is not None and person.sector_id != sector_id:
        return Verdict.WRONG_SECTOR
    return Verdict.APPROVE if auto else Verdict.ASK_REFERENT


def charter_screens(svc: Services, language: str) -> list[tuple[str, InlineKeyboardMarkup | None]]:
    """The charter, then the question with its Accept / Refuse buttons."""
    text, version = svc.charter.current(language), svc.charter.version
    buttons = InlineKeyboardMarkup([[
        InlineKeyboardButton(i18n.t(language, "charter.accept"),
                             callback_data=f"charter:yes:{version}"),
        InlineKeyboardButton(i18n.t(language, "charter.refuse"),
                             callback_data=f"charter:no:{version}"),
    ]])
    return [(f"{text.title}\n\n{text.body}", None),
            (i18n.t(language, "charter.question", summary=text.summary), buttons)]


async def sector_keyboard(svc: Services, prefix: str) -> InlineKeyboardMarkup:
    """One button per active sector; `prefix` says which flow the choice belongs to."""
    sectors = await svc.store.sectors.active()
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(s.name, callback_data=f"{prefix}:{s.id}")] for s in sectors]
    )


def mention(user_id: int, language: str) -> str:
    """A link to the person's profile: Telegram shows their name, we never store it."""
    return f'<a href="tg://user?id={user_id}">{i18n.t(language, "enrolment.profile")}</a>'


async def language_of(svc: Services, user_id: int) -> str:
    person = await svc.store.people.get(user_id)
    return person.language if person else svc.settings.commune.language


async def notify(svc: Services, user_id: int, key: str, purpose: str,
                 language: str | None = None, **values: object) -> None:
    """A notice to one person, in their language, through the outbox.

    `language` is for people the bot has no record of (Telegram's guess for them)."""
    safe = {name: escape(v) if isinstance(v, str) else v for name, v in values.items()}
    text = i18n.t(language or await language_of(svc, user_id), key, **safe)
    await svc.outbox.send(html_message(user_id, text, purpose))


async def notify_staff(svc: Services, key: str, purpose: str, **values: object) -> None:
    roles = svc.settings.roles
    for user_id in dict.fromkeys([*roles.officials, *roles.admins]):
        await notify(svc, user_id, key, purpose, **values)


async def deciders(svc: Services, sector_id: int) -> list[int]:
    """Who reviews a join request: the sector's referents, or the officials if it has none."""
    referents = await svc.store.referents.of_sector(sector_id)
    return referents or list(svc.settings.roles.officials) or list(svc.settings.roles.admins)


async def send_join_card(svc: Services, request: JoinRequest, sector: Sector,
                         person: Person) -> None:
    messages = []
    for user_id in await deciders(svc, sector.id):
        language = await language_of(svc, user_id)
        text = i18n.t(language, "enrolment.join_card", sector=escape(sector.name),
                      person=mention(person.user_id, language),
                      street=escape(person.street or i18n.t(language, "enrolment.no_street")))
        buttons = [[(i18n.t(language, "enrolment.approve"), f"join:ok:{request.id}"),
                    (i18n.t(language, "enrolment.decline"), f"join:no:{request.id}")]]
        messages.append(html_message(user_id, text, "join_card", f"join:{request.id}",
                                     buttons=buttons,
                                     dedupe_key=f"join-card:{request.id}:{user_id}"))
    await svc.outbox.send(*messages)


async def settle_join(svc: Services, bot: Bot, request: JoinRequest, approve: bool,
                      decided_by: int | None, reason_key: str | None = None) -> bool:
    """Approve or decline on Telegram and in our records; False if already settled."""
    status = "approved" if approve else "declined"
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
        await notify(svc, request.user_id, "enrolment.join_approved", "join_result", sector=name)
    elif approve and sector is not None:
        text = await invite_text(svc, await language_of(svc, request.user_id), sector)
        await notify(svc, request.user_id, "enrolment.join_expired", "join_result",
                     invite=text)
    else:
        await notify(svc, request.user_id, reason_key or "enrolment.join_declined",
                     "join_result", sector=name)
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
        await send_join_card(svc, request, sector, person)
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


async def invite_text(svc: Services, language: str, sector: Sector) -> str:
    if sector.invite_link:
        return i18n.t(language, "enrolment.invite", sector=sector.name, link=sector.invite_link)
    return i18n.t(language, "enrolment.group_not_ready", sector=sector.name)
