"""The membership rule, as a pure function: who gets into a sector group.

Carrying a decision out lives elsewhere: the records in `domain`, the Telegram side (join
requests, muting) in `groups`, what reaches someone else in `core.notify` and the outbox.
"""

from __future__ import annotations

from enum import StrEnum

from storage import Person
from storage.statuses import PersonStatus


class Verdict(StrEnum):
    APPROVE = "approve"
    ASK_REFERENT = "ask_referent"
    NEEDS_CHARTER = "needs_charter"
    WRONG_SECTOR = "wrong_sector"
    EXCLUDED = "excluded"


def verdict(person: Person, charter_current: bool, sector_id: int, auto: bool) -> Verdict:
    """What to do with a join request to `sector_id`'s group."""
    if person.status == PersonStatus.EXCLUDED:
        return Verdict.EXCLUDED
    if not charter_current or person.status == PersonStatus.REFUSED:
        return Verdict.NEEDS_CHARTER
    if person.sector_id is not None and person.sector_id != sector_id:
        return Verdict.WRONG_SECTOR
    return Verdict.APPROVE if auto else Verdict.ASK_REFERENT
