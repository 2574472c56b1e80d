"""The enrolment flows' keyboards, built from their typed buttons (`buttons.py`)."""

from __future__ import annotations

from collections.abc import Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from core import i18n
from core.buttons import Button
from core.services import Services
from handlers.enrolment.buttons import (
    AskMove,
    CharterAnswer,
    CharterChoice,
    Confirm,
    Decision,
    JoinDecision,
    Leave,
    ReferentDecision,
    RevokeReferent,
    SkipStreet,
    StreetConfirm,
)
from storage import Sector

# A card's buttons as the outbox stores them: rows of (label, callback data).
CardButtons = list[list[tuple[str, str]]]


def _button(label: str, button: Button) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=button.pack())


def charter_screens(svc: Services, language: str) -> list[tuple[str, InlineKeyboardMarkup | None]]:
    """The charter, then the question with its Accept / Refuse buttons."""
    text, version = svc.charter.current(language), svc.charter.version
    buttons = InlineKeyboardMarkup([[
        _button(i18n.t(language, "charter.accept"), CharterChoice(CharterAnswer.ACCEPT, version)),
        _button(i18n.t(language, "charter.refuse"), CharterChoice(CharterAnswer.REFUSE, version)),
    ]])
    return [(f"{text.title}\n\n{text.body}", None),
            (i18n.t(language, "charter.question", summary=text.summary), buttons)]


async def sector_keyboard(svc: Services, pick: Callable[[int], Button]) -> InlineKeyboardMarkup:
    """One button per active sector; `pick` (a button kind taking a sector id) says which
    flow the choice belongs to."""
    sectors = await svc.store.sectors.active()
    return InlineKeyboardMarkup([[_button(s.name, pick(s.id))] for s in sectors])


def street_keyboard(language: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[_button(i18n.t(language, "enrolment.skip_street"),
                                          SkipStreet())]])


def street_match_keyboard(language: str, sector_id: int) -> InlineKeyboardMarkup:
    """"Rue des Lilas → secteur Centre-bourg ?": Yes, or choose the sector myself."""
    return InlineKeyboardMarkup([[
        _button(i18n.t(language, "areas.enrolment.yes"), StreetConfirm(sector_id, Confirm.YES)),
        _button(i18n.t(language, "areas.enrolment.choose"),
                StreetConfirm(sector_id, Confirm.NO)),
    ]])


def move_keyboard(language: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[_button(i18n.t(language, "membership.move"), AskMove())]])


def leave_keyboard(language: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        _button(i18n.t(language, "membership.leave_yes"), Leave(Confirm.YES)),
        _button(i18n.t(language, "membership.leave_no"), Leave(Confirm.NO)),
    ]])


def join_card_buttons(language: str, request_id: int) -> CardButtons:
    return [[(i18n.t(language, "enrolment.approve"),
              JoinDecision(request_id, Decision.APPROVE).pack()),
             (i18n.t(language, "enrolment.decline"),
              JoinDecision(request_id, Decision.DECLINE).pack())]]


def referent_card_buttons(language: str, application_id: int) -> CardButtons:
    return [[(i18n.t(language, "enrolment.approve"),
              ReferentDecision(application_id, Decision.APPROVE).pack()),
             (i18n.t(language, "enrolment.decline"),
              ReferentDecision(application_id, Decision.DECLINE).pack())]]


def revoke_rows(language: str, sector: Sector, referents: list[int]
                ) -> list[list[InlineKeyboardButton]]:
    """/referents: one Revoke button per referent of the sector, numbered."""
    return [[_button(i18n.t(language, "referents.revoke", sector=sector.name, n=i + 1),
                     RevokeReferent(user_id, sector.id))]
            for i, user_id in enumerate(referents)]
