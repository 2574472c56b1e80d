"""The rules of a broadcast that need neither Telegram nor the database: the limits a
notice, an alert or a poll must keep, the switches each kind offers, and the texts of a
copy, of the author's progress message and of the final report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from html import escape
from typing import Any

from telegram.constants import ParseMode

from core import i18n
from core.settings import CommuneSettings
from storage import Broadcast, NewBroadcast
from storage.broadcasts import PollCopy
from storage.statuses import BroadcastKind

TEXT_MAX = 4096  # Telegram's limit for a message, counted on the visible text
CAPTION_MAX = 1024  # and for a photo's caption
POLL_QUESTION_MAX = 300
POLL_OPTION_MAX = 100
# Telegram accepts up to 12 options; past 10 a poll no longer fits a phone screen.
POLL_OPTIONS = (2, 10)


class Switch(StrEnum):
    """An on/off choice under the sector list (catalogue key `broadcast.option.<value>`)."""

    TO_RESIDENTS = "to_residents"
    PIN = "pin"
    SILENT = "silent"
    REFERENTS_ONLY = "referents_only"


# The switches offered for each kind, in the order they are shown.
SWITCHES: dict[BroadcastKind, tuple[Switch, ...]] = {
    BroadcastKind.NOTICE: (Switch.TO_RESIDENTS, Switch.PIN, Switch.SILENT),
    BroadcastKind.ALERT: (Switch.REFERENTS_ONLY, Switch.SILENT),
    BroadcastKind.POLL: (Switch.SILENT,),
}


@dataclass(frozen=True)
class Target:
    chat_id: int
    language: str
    sector_ids: tuple[int, ...]  # the sectors this copy is for (a referent may have several)


Problem = tuple[str, dict[str, Any]]  # a catalogue key and its values


def header(commune: CommuneSettings, kind: BroadcastKind, language: str) -> str:
    return i18n.t(language, f"broadcast.header.{kind}", commune=escape(commune.name))


def visible_length(commune: CommuneSettings, kind: BroadcastKind, body: str) -> int:
    """How long Telegram will count the message (tags do not count, the header does)."""
    plain_header = header(commune, kind, commune.language).replace("<b>", "")
    return len(plain_header.replace("</b>", "")) + 2 + len(body)


def problem(commune: CommuneSettings, new: NewBroadcast) -> Problem | None:
    """Why this broadcast cannot be sent as it is (a catalogue key and its values)."""
    if new.kind == BroadcastKind.POLL:
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
    length = visible_length(commune, new.kind, new.body)
    if length > limit:
        key = "broadcast.caption_too_long" if new.photo_file_id else "broadcast.too_long"
        return key, {"limit": limit - (length - len(new.body)), "length": len(new.body)}
    return None


def copy_payload(commune: CommuneSettings, broadcast: Broadcast | NewBroadcast, language: str
                 ) -> tuple[str, dict[str, Any]]:
    """The Bot API method and parameters of one copy, as its recipient will see it."""
    common: dict[str, Any] = {"disable_notification": broadcast.silent}
    if broadcast.kind == BroadcastKind.POLL:
        return "sendPoll", {**common, "question": broadcast.body, "is_anonymous": True,
                            "options": [{"text": option} for option in broadcast.options]}
    text = f"{header(commune, broadcast.kind, language)}\n\n{escape(broadcast.body)}"
    if broadcast.photo_file_id:
        return "sendPhoto", {**common, "photo": broadcast.photo_file_id, "caption": text,
                             "parse_mode": ParseMode.HTML}
    return "sendMessage", {**common, "text": text, "parse_mode": ParseMode.HTML,
                           "link_preview_options": {"is_disabled": True}}


def progress_text(language: str, broadcast: Broadcast, delivered: int, failed: int) -> str:
    left = max(broadcast.recipients - delivered - failed, 0)
    return i18n.t(language, "broadcast.progress", id=broadcast.id,
                  kind=i18n.t(language, f"broadcast.kind.{broadcast.kind}"),
                  delivered=delivered, failed=failed, left=left, total=broadcast.recipients)


def report_text(language: str, broadcast: Broadcast, delivered: int, failed: int) -> str:
    return i18n.t(language, "broadcast.report", id=broadcast.id,
                  kind=i18n.t(language, f"broadcast.kind.{broadcast.kind}"),
                  delivered=delivered, failed=failed, total=broadcast.recipients)


@dataclass(frozen=True)
class PollResults:
    broadcast: Broadcast
    counts: list[int]
    groups: int
    closed_groups: int

    @property
    def voters(self) -> int:
        return sum(self.counts)


def add_up(broadcast: Broadcast, copies: Iterable[PollCopy]) -> PollResults:
    """A poll's answers added up across every group it was posted in."""
    counts = [0] * len(broadcast.options)
    groups = closed = 0
    for copy in copies:
        groups += 1
        closed += copy.closed
        for index, count in enumerate(copy.counts[: len(counts)]):
            counts[index] += count
    return PollResults(broadcast, counts, groups, closed)
