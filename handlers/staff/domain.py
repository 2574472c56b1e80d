"""What changes the team: each change checked, stored with its audit row in one
transaction, applied at once (`svc.reload_roles`), the person concerned told in private
through the outbox, and the menus concerned set again in the background.

Bad input changes nothing and names its reason (a catalogue key): a person the bot cannot
reach (they never wrote /start to it: a bot never can, so a bot is refused too), an
excluded person, a role already held or no longer held, the last administrator, a sector
group (its members are residents) or the current chat as the liaison.
"""

from __future__ import annotations

from telegram import Bot

from core import menus
from core.menus import TaskRunner
from core.notify import notify
from core.services import Services
from handlers.reports import domain as reports
from storage.statuses import PersonStatus, Purpose, StaffRole

ROLE_KEYS = {StaffRole.OFFICIAL: "staff.role_official", StaffRole.ADMIN: "staff.role_admin"}


def subject_of(chat_id: int) -> str:
    """The audit row's subject: a person, or a group."""
    return f"user:{chat_id}" if chat_id > 0 else f"chat:{chat_id}"


async def reachable_refusal(svc: Services, user_id: int) -> str | None:
    """None if the bot can write to this person and they may hold a role."""
    person = await svc.store.people.get(user_id)
    if person is None:
        return "staff.unknown_person"
    if person.status == PersonStatus.EXCLUDED:
        return "staff.excluded_person"
    return None


async def appoint(svc: Services, app: TaskRunner, bot: Bot, actor_id: int, user_id: int,
                  role: StaffRole) -> str | None:
    """Appoint; a refusal's catalogue key, or None when done."""
    if await svc.store.staff.holds(user_id, role):
        return "staff.already"
    refusal = await reachable_refusal(svc, user_id)
    if refusal is not None:
        return refusal
    async with svc.store.transaction():
        if not await svc.store.staff.appoint(user_id, role, actor_id):
            return "staff.already"
        await svc.store.audit.record(actor_id, "staff.appointed", subject_of(user_id),
                                     role=str(role))
    await _applied(svc, app, bot, user_id, f"staff.appointed_dm_{role}")
    return None


async def dismiss(svc: Services, app: TaskRunner, bot: Bot, actor_id: int, user_id: int,
                  role: StaffRole) -> str | None:
    """Dismiss; a refusal's catalogue key, or None when done. The count of administrators
    is read in the same transaction as the removal, so two removals at once cannot leave
    none."""
    async with svc.store.transaction():
        staff = svc.store.staff
        if not await staff.holds(user_id, role):
            return "staff.not_in_role"
        if role is StaffRole.ADMIN and await staff.count(StaffRole.ADMIN) <= 1:
            return "staff.last_admin"
        await staff.dismiss(user_id, role)
        await svc.store.audit.record(actor_id, "staff.dismissed", subject_of(user_id),
                                     role=str(role))
    await _applied(svc, app, bot, user_id, f"staff.dismissed_dm_{role}")
    return None


async def _applied(svc: Services, app: TaskRunner, bot: Bot, user_id: int, told: str) -> None:
    """A role changed: in force from the next update, the person told (through the
    outbox), their menu set again in the background."""
    await svc.reload_roles()
    await notify(svc, user_id, told, Purpose.STAFF)
    menus.refresh(app, svc, bot, [user_id])


async def liaison_refusal(svc: Services, chat_id: int) -> str | None:
    """None if `chat_id` (a person or a group) may become the liaison chat."""
    if chat_id == svc.roles.liaison_chat_id:
        return "staff.liaison_already"
    if chat_id > 0:
        return await reachable_refusal(svc, chat_id)
    if await svc.store.sectors.by_chat(chat_id) is not None:
        return "staff.liaison_sector_group"
    return None


async def set_liaison(svc: Services, app: TaskRunner, bot: Bot, actor_id: int,
                      chat_id: int) -> str | None:
    """Make `chat_id` the liaison chat; a refusal's catalogue key, or None when done."""
    refusal = await liaison_refusal(svc, chat_id)
    if refusal is not None:
        return refusal
    before = svc.roles.liaison_chat_id
    async with svc.store.transaction():
        await svc.store.staff.set_liaison(chat_id)
        await svc.store.audit.record(actor_id, "staff.liaison_set", subject_of(chat_id),
                                     before=None if before is None else subject_of(before))
    await svc.reload_roles()
    svc.liaison_pending.clear()  # people waiting to be asked about the previous group
    if chat_id > 0:
        await notify(svc, chat_id, "staff.liaison_dm", Purpose.STAFF)
    if before is not None and before > 0:
        await notify(svc, before, "staff.liaison_removed_dm", Purpose.STAFF)
    menus.refresh_liaison(app, svc, bot, before)
    if before is None:
        # Reports kept while nobody could receive them go out now (issue 12).
        await reports.relay_held(svc)
    return None
