"""Moved to `testing.scripts` (shared by tests, demo and benchmarks); kept as an alias."""

from testing.scripts import (
    BROADCAST_KINDS,
    CHARTER_QUESTION,
    buttons_now,
    compose_broadcast,
    confirm_broadcast,
    confirm_report,
    draft_report,
    enrol,
    fr,
    send_report,
    write_broadcast,
)

__all__ = [
    "BROADCAST_KINDS",
    "CHARTER_QUESTION",
    "buttons_now",
    "compose_broadcast",
    "confirm_broadcast",
    "confirm_report",
    "draft_report",
    "enrol",
    "fr",
    "send_report",
    "write_broadcast",
]
