"""The team as /equipe shows it: officials, administrators and the liaison chat, each
person a link labelled with the name Telegram gives now (never stored), and only the
buttons the viewer may use (`permissions.check`)."""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError

from core.buttons import Button
from core.notify import mention_now, mentions_now
from core.permissions import Action, check
from core.turn import Turn
from handlers.staff.buttons import (
    AppointAdmin,
    AppointOfficial,
    DismissStep,
    PickLiaison,
    StaffDismiss,
    StaffRefresh,
)
from storage.statuses import StaffRole

Screen = tuple[str, InlineKeyboardMarkup]
PER_ROW = 3


def _button(label: str, button: Button) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=button.pack())


def may(turn: Turn, action: Action) -> bool:
    return bool(check(turn.actor, action, turn.place))


async def liaison_line(turn: Turn) -> str:
    chat_id = turn.svc.roles.liaison_chat_id
    if chat_id is None:
        return turn.t("staff.liaison_none")
    if chat_id > 0:
        person = await mention_now(turn.context.bot, chat_id, turn.language)
        return turn.t("staff.liaison_person", person=person)
    try:
        title = (await turn.context.bot.get_chat(chat_id)).title or str(chat_id)
    except TelegramError:
        title = str(chat_id)  # the bot was removed from it: the id still says which
    return turn.t("staff.liaison_group", title=escape(title))


async def team_screen(turn: Turn) -> Screen:
    roles = turn.svc.roles
    held = [(StaffRole.OFFICIAL, user_id) for user_id in roles.officials]
    held += [(StaffRole.ADMIN, user_id) for user_id in roles.admins]
    names = await mentions_now(turn.context.bot, [(user_id, None) for _, user_id in held],
                               turn.language)
    may_dismiss = may(turn, Action.DISMISS_STAFF)
    lines = [turn.t("staff.title")]
    dismissals = []
    number = 0
    for role, header in ((StaffRole.OFFICIAL, "staff.officials"),
                         (StaffRole.ADMIN, "staff.admins")):
        lines += ["", turn.t(header)]
        people = [user_id for held_role, user_id in held if held_role is role]
        if not people:
            lines.append(turn.t("staff.nobody"))
        for user_id in people:
            number += 1
            lines.append(turn.t("staff.line", n=number, person=names[user_id]))
            if may_dismiss:
                dismissals.append(_button(turn.t("staff.dismiss_button", n=number),
                                          StaffDismiss(user_id, role, DismissStep.ASK)))
    lines += ["", await liaison_line(turn)]
    if not may(turn, Action.SET_LIAISON):
        lines += ["", turn.t("staff.official_hint")]
    rows = []
    if may(turn, Action.APPOINT_OFFICIAL):
        rows.append([_button(turn.t("staff.appoint_official"), AppointOfficial())])
    if may(turn, Action.APPOINT_ADMIN):
        rows.append([_button(turn.t("staff.appoint_admin"), AppointAdmin())])
    rows += [dismissals[i:i + PER_ROW] for i in range(0, len(dismissals), PER_ROW)]
    if may(turn, Action.SET_LIAISON):
        rows.append([_button(turn.t("staff.set_liaison"), PickLiaison())])
    rows.append([_button(turn.t("staff.refresh"), StaffRefresh())])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def dismiss_screen(turn: Turn, user_id: int, role: StaffRole) -> Screen:
    person = await mention_now(turn.context.bot, user_id, turn.language)
    text = turn.t("staff.dismiss_confirm", person=person,
                  role=turn.t(f"staff.role_{role}"))
    markup = InlineKeyboardMarkup([[
        _button(turn.t("staff.dismiss_yes"), StaffDismiss(user_id, role, DismissStep.CONFIRM)),
        _button(turn.t("staff.dismiss_no"), StaffDismiss(user_id, role, DismissStep.KEEP)),
    ]])
    return text, markup
