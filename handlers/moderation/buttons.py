"""The moderation flow's buttons: each kind names its prefix once (core/buttons.py)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.buttons import Button
from handlers.reports.buttons import Category, Confirmation


class Review(StrEnum):
    """A referent's answer on a removal card, or on held media / a held forward."""

    RESTORE = "restore"  # "Rétablir": repost the text, cancel the strike
    CONFIRM = "confirm"  # "Confirmer": the removal stands
    PUBLISH = "publish"  # "Publier": the bot reposts the held media, crediting the author
    DECLINE = "decline"  # "Refuser"


class ExclusionChoice(StrEnum):
    EXCLUDE = "exclude"
    KEEP = "keep"


@dataclass(frozen=True)
class ReviewCard(Button, prefix="mod_review"):
    action_id: int
    decision: Review


@dataclass(frozen=True)
class Contest(Button, prefix="mod_contest"):
    """The author contests a removal (and its strike): a card goes to the referents."""

    action_id: int


@dataclass(frozen=True)
class Transmit(Button, prefix="mod_transmit"):
    """"Transmettre à la gendarmerie": the removed text becomes a report (prefilled)."""

    action_id: int


@dataclass(frozen=True)
class TransmitCategory(Button, prefix="mod_tr_cat"):
    action_id: int
    category: Category


@dataclass(frozen=True)
class TransmitSend(Button, prefix="mod_tr_send"):
    action_id: int
    category: Category
    answer: Confirmation


@dataclass(frozen=True)
class Exclusion(Button, prefix="mod_exclusion"):
    """The ladder's third step: the referents and the official decide with one press."""

    strike_id: int
    user_id: int
    choice: ExclusionChoice
