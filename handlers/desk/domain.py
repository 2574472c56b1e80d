"""What the desk changes, and what its buttons act on.

Approving, declining, excluding and reinstating go through the paths the rest of the bot
uses (handlers/enrolment/groups.settle_join, handlers/moderation/exclusion); the desk adds
only the charter reminder.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.notify import notify
from core.services import Services
from storage import Person
from storage.statuses import PersonStatus, Purpose


@dataclass(frozen=True)
class Listed:
    """A person a list button names, as our records know them now. `sector_id` is the
    sector they were listed under (what the permission is checked against); `person` is
    None when they erased their data or were never known."""

    user_id: int
    sector_id: int | None
    person: Person | None

    @property
    def is_member(self) -> bool:
        """Still an enrolled member of the sector they were listed under."""
        return (self.person is not None and self.person.status == PersonStatus.ENROLLED
                and self.person.sector_id == self.sector_id)

    @property
    def is_excluded(self) -> bool:
        return self.person is not None and self.person.status == PersonStatus.EXCLUDED


async def listed(svc: Services, user_id: int, sector_id: int | None) -> Listed:
    return Listed(user_id, sector_id, await svc.store.people.get(user_id))


async def remind(svc: Services, actor_id: int, member: Listed) -> None:
    """The charter's summary, in private, in the member's language; audited."""
    assert member.person is not None
    summary = svc.charter.current(member.person.language).summary
    await svc.store.audit.record(actor_id, "member.reminded", f"user:{member.user_id}",
                                 sector=member.sector_id)
    await notify(svc, member.user_id, "desk.reminder_dm", Purpose.MODERATION, summary=summary)
