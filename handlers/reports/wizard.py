"""/signaler: a resident's observation, step by step; a referent's flag in a sector group;
/mes_signalements (with, on each report still open, the button to add a detail: details.py).

Predefined choices come before free text (category, when), the description is screened,
location and photo are optional, and nothing is sent before the resident confirms a
summary. The draft lives in `user_data` until then (handlers/reports/draft.py, kept in
SQLite, so a restart resumes it); the report, from confirmation on.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    Update,
)
from telegram import ReplyKeyboardRemove as NoKeyboard
from telegram.error import TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from core import geo, logs
from core.buttons import Button
from core.commands import command
from core.permissions import Action
from core.screening import plate_in, screen, sounds_like_emergency
from core.services import VigieContext
from core.turn import Turn, guarded
from handlers.common import cancel_conversation
from handlers.reports import domain
from handlers.reports import draft as drafts
from handlers.reports.buttons import (
    AddDetail,
    Category,
    Confirm,
    Confirmation,
    Emergency,
    KeepText,
    PickCategory,
    PickWhen,
    SkipPhoto,
    When,
)
from handlers.reports.draft import ReportDraft
from storage import NewReport

log = logs.get("handlers.reports.wizard")

CATEGORY, WHEN, DESCRIPTION, SCREENED, LOCATION, PHOTO, CONFIRM = range(7)
PHOTO_MAX_BYTES = 10 * 1024 * 1024  # Telegram's limit for photos sent by bots
TIMEOUT = 1800  # seconds: a draft left alone this long is given up


def draft(turn: Turn) -> ReportDraft:
    """The report this person is writing."""
    return drafts.current(turn.context.user_data)


def one_button(label: str, data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)]])


def choices(turn: Turn, key: str, options: Iterable[tuple[StrEnum, Button]]
            ) -> InlineKeyboardMarkup:
    """One button a line, each labelled by `key.value`."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(turn.t(f"{key}.{value}"), callback_data=button.pack())]
         for value, button in options])


def skip_photo_button(turn: Turn) -> InlineKeyboardMarkup:
    return one_button(turn.t("reports.skip"), SkipPhoto().pack())


@guarded(Action.REPORT)
async def start_report(turn: Turn) -> int | None:
    limit = turn.svc.settings.reports.max_per_hour
    if await domain.sent_last_hour(turn.svc, turn.actor.user_id) >= limit:
        await turn.reply("reports.rate_limited", limit=limit)
        return ConversationHandler.END
    drafts.begin(turn.context.user_data)
    await turn.reply("reports.not_emergency",
                     one_button(turn.t("reports.sos_button"), Emergency().pack()))
    await turn.reply("reports.ask_category",
                     choices(turn, "reports.category",
                             [(category, PickCategory(category)) for category in Category]))
    return CATEGORY


@guarded(Action.HELP)
async def emergency_numbers(turn: Turn) -> None:
    await turn.answer("reports.sos_numbers", alert=True)


@guarded(Action.REPORT)
async def choose_category(turn: Turn) -> int:
    await turn.answer()
    draft(turn).category = turn.button(PickCategory).category
    await turn.reply("reports.ask_when", choices(
        turn, "reports.when", [(when, PickWhen(when)) for when in When]))
    return WHEN


@guarded(Action.REPORT)
async def choose_when(turn: Turn) -> int:
    await turn.answer()
    report = draft(turn)
    report.occurred = turn.button(PickWhen).when
    behaviour = report.category == Category.BEHAVIOUR
    await turn.reply("reports.ask_behaviour" if behaviour else "reports.ask_description",
                     limit=turn.svc.settings.reports.description_max)
    return DESCRIPTION


@guarded(Action.REPORT)
async def describe(turn: Turn) -> int:
    text = turn.text.strip()
    limit = turn.svc.settings.reports.description_max
    if len(text) > limit:
        await turn.reply("reports.too_long", limit=limit, length=len(text))
        return DESCRIPTION
    if sounds_like_emergency(text):
        await turn.reply("reports.emergency_words")
    report = draft(turn)
    report.description = text
    flags = screen(text)
    report.flags = [str(flag) for flag in flags]
    if flags:
        listed = ", ".join(turn.t(f"reports.flag.{flag}") for flag in flags)
        await turn.reply("reports.rephrase", one_button(turn.t("reports.keep_text"),
                                                        KeepText().pack()), flags=listed)
        return SCREENED
    return await ask_location(turn)


@guarded(Action.REPORT)
async def keep_text(turn: Turn) -> int:
    await turn.answer()
    return await ask_location(turn)


async def ask_location(turn: Turn) -> int:
    # One message, one keyboard: sharing the place or skipping are both on it.
    await turn.reply("reports.ask_location", ReplyKeyboardMarkup(
        [[KeyboardButton(turn.t("reports.share_place"), request_location=True)],
         [KeyboardButton(turn.t("reports.skip"))]],
        resize_keyboard=True, one_time_keyboard=True))
    return LOCATION


@guarded(Action.REPORT)
async def locate(turn: Turn) -> int:
    location = turn.message.location if turn.message else None
    assert location is not None  # the handler's filter is filters.LOCATION
    polygons = [p for ps in turn.svc.sector_polygons.values() for p in ps]
    if polygons and not geo.contains(polygons, location.latitude, location.longitude):
        await turn.reply("reports.outside_commune")
        return LOCATION
    draft(turn).location = [location.latitude, location.longitude]
    await turn.reply("reports.location_noted", NoKeyboard())
    return await ask_photo(turn)


@guarded(Action.REPORT)
async def skip_location(turn: Turn) -> int:
    if turn.text.strip() != turn.t("reports.skip"):
        await turn.reply("reports.use_the_steps")
        return LOCATION
    await turn.reply("reports.location_skipped", NoKeyboard())
    return await ask_photo(turn)


@guarded(Action.REPORT)
async def skip_photo(turn: Turn) -> int:
    await turn.answer()
    return await summary(turn)


async def ask_photo(turn: Turn) -> int:
    await turn.reply("reports.ask_photo", skip_photo_button(turn))
    return PHOTO


@guarded(Action.REPORT)
async def photo(turn: Turn) -> int:
    sizes = turn.message.photo if turn.message else ()
    largest = max(sizes, key=lambda size: size.file_size or 0)
    if (largest.file_size or 0) > PHOTO_MAX_BYTES:
        await turn.reply("reports.photo_too_large", skip_photo_button(turn))
        return PHOTO
    draft(turn).photo = largest.file_id
    return await summary(turn)


async def summary(turn: Turn) -> int:
    report = draft(turn)
    lines = [
        turn.t("reports.summary_title"),
        turn.t("reports.summary_category",
               category=turn.t(f"reports.category.{report.category}")),
        turn.t("reports.summary_when", when=turn.t(f"reports.when.{report.occurred}")),
        turn.t("reports.summary_description", description=report.description or ""),
        turn.t("reports.summary_location_yes" if report.location is not None
               else "reports.summary_location_no"),
        turn.t("reports.summary_photo_yes" if report.photo is not None
               else "reports.summary_photo_no"),
    ]
    await turn.say("\n".join(lines), InlineKeyboardMarkup([[
        InlineKeyboardButton(turn.t("reports.confirm"),
                             callback_data=Confirm(Confirmation.SEND).pack()),
        InlineKeyboardButton(turn.t("reports.cancel"),
                             callback_data=Confirm(Confirmation.CANCEL).pack()),
    ]]))
    return CONFIRM


@guarded(Action.REPORT)
async def confirm(turn: Turn) -> int:
    await turn.answer()
    report = drafts.take(turn.context.user_data)
    sector_id = turn.actor.sector_id
    new = report.as_new(turn.actor.user_id, sector_id) if report and sector_id else None
    if turn.button(Confirm).choice is Confirmation.CANCEL or new is None:
        await turn.reply("reports.cancelled")
        return ConversationHandler.END
    saved = await domain.submit(turn.svc, new)
    log.info("report.submitted", report=saved.id, status=str(saved.status))
    # With nobody to receive it yet, the report is kept, and the resident told so honestly.
    await turn.reply("reports.sent_held" if domain.held(turn.svc) else "reports.sent",
                     id=saved.id)
    return ConversationHandler.END


@guarded(Action.REPORT)
async def expect_answer(turn: Turn) -> None:
    await turn.reply("reports.use_the_steps")


@guarded(Action.MY_REPORTS)
async def my_reports(turn: Turn) -> None:
    mine = await turn.svc.store.reports.of_reporter(turn.actor.user_id)
    if not mine:
        await turn.reply("reports.none_yet")
        return
    lines = [turn.t("reports.mine_title")]
    lines += [turn.t("reports.mine_line", id=r.id,
                     category=turn.t(f"reports.category.{r.category}"),
                     date=time.strftime("%d/%m", time.localtime(r.created_at)),
                     status=turn.t(f"reports.status.{r.status}")) for r in mine]
    # A detail may still be added to each report that is not over.
    buttons = [[InlineKeyboardButton(turn.t("reports.detail.button", id=r.id),
                                     callback_data=AddDetail(r.id).pack())]
               for r in mine if domain.open_for_details(r)]
    await turn.say("\n".join(lines), InlineKeyboardMarkup(buttons) if buttons else None)


@guarded(Action.FLAG_MESSAGE)
async def flag_message(turn: Turn) -> None:
    """A referent replied /signaler to a message in their sector group."""
    command_message = turn.message
    flagged = command_message.reply_to_message if command_message else None
    if flagged is None or flagged.from_user is None or flagged.from_user.is_bot or not (
        flagged.text or flagged.caption or flagged.photo or flagged.location
    ):
        await turn.reply("reports.flag_how")
        return
    author = await turn.svc.store.people.get(flagged.from_user.id)
    text = flagged.text or flagged.caption or turn.t("reports.flag_no_text")
    location = flagged.location
    assert turn.place.sector_id is not None  # Action.FLAG_MESSAGE is for sector groups
    report = await domain.flag(turn.svc, NewReport(
        reporter_id=author.user_id if author else None, sector_id=turn.place.sector_id,
        category=Category.OTHER, occurred=When.TODAY, description=text,
        latitude=location.latitude if location else None,
        longitude=location.longitude if location else None,
        photo_file_id=flagged.photo[-1].file_id if flagged.photo else None,
        plate=plate_in(text)), turn.actor.user_id)
    # What went to the gendarmerie leaves the group: plates, photos and descriptions of
    # people are never shared with neighbours.
    for message in (flagged, command_message):
        if message is None:
            continue
        try:
            await message.delete()
        except TelegramError as error:
            log.info("reports.flag_delete_failed", error=error.message)
    await turn.reply("reports.flagged", id=report.id)


def handlers() -> list[BaseHandler[Update, VigieContext, Any]]:
    """In this order: a flag in a group, then the wizard in private."""
    private = filters.ChatType.PRIVATE
    text = filters.TEXT & ~filters.COMMAND & private
    return [
        # In a sector group, /signaler (as a reply) flags a message; in private, it starts one.
        CommandHandler(command(Action.REPORT).names, flag_message,
                       filters=filters.ChatType.GROUPS),
        ConversationHandler(
            entry_points=[CommandHandler(command(Action.REPORT).names, start_report)],
            states={
                CATEGORY: [CallbackQueryHandler(choose_category, pattern=PickCategory.pattern())],
                WHEN: [CallbackQueryHandler(choose_when, pattern=PickWhen.pattern())],
                DESCRIPTION: [MessageHandler(text, describe)],
                SCREENED: [MessageHandler(text, describe),
                           CallbackQueryHandler(keep_text, pattern=KeepText.pattern())],
                LOCATION: [MessageHandler(filters.LOCATION & private, locate),
                           MessageHandler(text, skip_location)],
                PHOTO: [MessageHandler(filters.PHOTO & private, photo),
                        CallbackQueryHandler(skip_photo, pattern=SkipPhoto.pattern())],
                CONFIRM: [CallbackQueryHandler(confirm, pattern=Confirm.pattern())],
            },
            fallbacks=[CommandHandler(command(Action.CANCEL).names, cancel_conversation),
                       CallbackQueryHandler(emergency_numbers, pattern=Emergency.pattern()),
                       MessageHandler(private & ~filters.COMMAND, expect_answer)],
            name="report",
            persistent=True,
            conversation_timeout=TIMEOUT,
        ),
        # The emergency numbers stay available once the wizard is over.
        CallbackQueryHandler(emergency_numbers, pattern=Emergency.pattern()),
        CommandHandler(command(Action.MY_REPORTS).names, my_reports),
    ]
