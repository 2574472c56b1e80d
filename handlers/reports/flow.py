"""/signaler: a resident's observation, step by step, then triage and the liaison's answer.

Predefined choices come before free text (category, when), the description is screened,
location and photo are optional, and nothing is sent before the resident confirms a
summary. The draft lives in the conversation until then (kept in SQLite, so a restart
resumes it: core/persistence.py); the report, from confirmation on.
"""

from __future__ import annotations

import secrets
import time
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
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)

from core import geo, logs
from core.commands import command
from core.permissions import Action, ChatKind
from core.screening import plate_in, screen, sounds_like_emergency
from core.services import Services
from core.turn import Turn, guarded
from handlers.common import cancel_conversation
from handlers.reports import domain
from storage import NewReport, OutboxRow, Report

log = logs.get("handlers.reports.flow")

CATEGORY, WHEN, DESCRIPTION, SCREENED, LOCATION, PHOTO, CONFIRM = range(7)
PHOTO_MAX_BYTES = 10 * 1024 * 1024  # Telegram's limit for photos sent by bots


def draft(turn: Turn) -> dict[str, Any]:
    return turn.context.user_data.setdefault("report", {})  # type: ignore[union-attr]


def buttons(turn: Turn, prefix: str, codes: tuple[str, ...], key: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(turn.t(f"{key}.{code}"), callback_data=f"{prefix}:{code}")]
         for code in codes]
    )


def skip_photo_button(turn: Turn) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(turn.t("reports.skip"), callback_data="rep:skip:photo")]])


@guarded(Action.REPORT)
async def start_report(turn: Turn) -> int | None:
    limit = turn.svc.settings.reports.max_per_hour
    sent = await turn.svc.store.reports.count_since(turn.actor.user_id, time.time() - 3600)
    if sent >= limit:
        await turn.reply("reports.rate_limited", limit=limit)
        return ConversationHandler.END
    # The draft lives in user_data, persisted as JSON (core/persistence.py) so a restart
    # resumes it; its random key makes the confirmation idempotent (core/reports.submit).
    turn.context.user_data["report"] = {"key": secrets.token_hex(8)}  # type: ignore[index]
    await turn.reply("reports.not_emergency", InlineKeyboardMarkup(
        [[InlineKeyboardButton(turn.t("reports.sos_button"), callback_data="rep:sos")]]))
    await turn.reply("reports.ask_category",
                     buttons(turn, "rep:cat", domain.CATEGORIES, "reports.category"))
    return CATEGORY


@guarded(Action.HELP)
async def emergency_numbers(turn: Turn) -> None:
    await turn.answer("reports.sos_numbers", alert=True)


@guarded(Action.REPORT)
async def choose_category(turn: Turn) -> int:
    await turn.answer()
    draft(turn)["category"] = turn.data[2]
    await turn.reply("reports.ask_when", buttons(turn, "rep:when", domain.WHEN, "reports.when"))
    return WHEN


@guarded(Action.REPORT)
async def choose_when(turn: Turn) -> int:
    await turn.answer()
    draft(turn)["occurred"] = turn.data[2]
    behaviour = draft(turn).get("category") == "behaviour"
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
    draft(turn)["description"] = text
    flags = screen(text)
    if flags:
        draft(turn)["flags"] = [str(flag) for flag in flags]
        listed = ", ".join(turn.t(f"reports.flag.{flag}") for flag in flags)
        await turn.reply("reports.rephrase", InlineKeyboardMarkup([[InlineKeyboardButton(
            turn.t("reports.keep_text"), callback_data="rep:keep")]]), flags=listed)
        return SCREENED
    draft(turn).pop("flags", None)
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
    assert location is not None
    polygons = [p for ps in turn.svc.sector_polygons.values() for p in ps]
    if polygons and not geo.contains(polygons, location.latitude, location.longitude):
        await turn.reply("reports.outside_commune")
        return LOCATION
    draft(turn)["location"] = [location.latitude, location.longitude]
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
    draft(turn)["photo"] = largest.file_id
    return await summary(turn)


async def summary(turn: Turn) -> int:
    report = draft(turn)
    lines = [
        turn.t("reports.summary_title"),
        turn.t("reports.summary_category", category=turn.t(
            f"reports.category.{report['category']}")),
        turn.t("reports.summary_when", when=turn.t(f"reports.when.{report['occurred']}")),
        turn.t("reports.summary_description", description=report["description"]),
        turn.t("reports.summary_location_yes" if "location" in report
               else "reports.summary_location_no"),
        turn.t("reports.summary_photo_yes" if "photo" in report else "reports.summary_photo_no"),
    ]
    await turn.say("\n".join(lines), InlineKeyboardMarkup([[
        InlineKeyboardButton(turn.t("reports.confirm"), callback_data="rep:ok"),
        InlineKeyboardButton(turn.t("reports.cancel"), callback_data="rep:no"),
    ]]))
    return CONFIRM


@guarded(Action.REPORT)
async def confirm(turn: Turn) -> int:
    await turn.answer()
    report = turn.context.user_data.pop("report", {})  # type: ignore[union-attr]
    if turn.data[1] == "no" or not report.get("description"):
        await turn.reply("reports.cancelled")
        return ConversationHandler.END
    latitude, longitude = report.get("location", (None, None))
    assert turn.actor.sector_id is not None
    saved = await domain.submit(turn.svc, NewReport(
        reporter_id=turn.actor.user_id, sector_id=turn.actor.sector_id,
        category=report["category"], occurred=report["occurred"],
        description=report["description"], latitude=latitude, longitude=longitude,
        photo_file_id=report.get("photo"), screen_flags=",".join(report.get("flags", []))
        or None, plate=plate_in(report["description"]), draft_key=report.get("key"),
    ))
    log.info("report.submitted", report=saved.id, status=saved.status)
    await turn.reply("reports.sent", id=saved.id)
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
    await turn.say("\n".join(lines))


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
    assert turn.place.sector_id is not None
    report = await domain.flag(turn.svc, NewReport(
        reporter_id=author.user_id if author else None, sector_id=turn.place.sector_id,
        category="other", occurred="today", description=text,
        latitude=location.latitude if location else None,
        longitude=location.longitude if location else None,
        photo_file_id=flagged.photo[-1].file_id if flagged.photo else None,
        plate=plate_in(text)), turn.actor.user_id)
    # What went to the gendarmerie leaves the group: plates, photos and descriptions of
    # people are never shared with neighbours.
    for message in (flagged, command_message):
        try:
            await message.delete()  # type: ignore[union-attr]
        except TelegramError as error:
            log.info("reports.flag_delete_failed", error=error.message)
    await turn.reply("reports.flagged", id=report.id)


async def load_report(turn: Turn) -> Report | None:
    return await turn.svc.store.reports.get(int(turn.data[1]))


@guarded(Action.TRIAGE_REPORT, subject=load_report)
async def triage(turn: Turn) -> None:
    report: Report = turn.subject
    if turn.data[2] == "q":
        if not await domain.ask_precision(turn.svc, report, turn.actor.user_id):
            await turn.answer("reports.already_handled", alert=True)
            return
        await turn.answer("reports.precision_asked")
        return
    if turn.data[2] == "f":
        if await domain.relay(turn.svc, report, turn.actor.user_id) is None:
            await turn.answer("reports.already_handled", alert=True)
            return
        await turn.answer()
        await turn.reply("reports.forwarded", id=report.id)
        return
    await turn.answer()
    await turn.reply("reports.ask_reason", InlineKeyboardMarkup(
        [[InlineKeyboardButton(turn.t(f"reports.reason.{code}"),
                               callback_data=f"dis:{report.id}:{code}")]
         for code in domain.DISMISS_REASONS]), id=report.id)


@guarded(Action.TRIAGE_REPORT, subject=load_report)
async def dismiss(turn: Turn) -> None:
    report: Report = turn.subject
    if await domain.dismiss(turn.svc, report, turn.actor.user_id, turn.data[2]) is None:
        await turn.answer("reports.already_handled", alert=True)
        return
    await turn.answer()
    await turn.reply("reports.dismissed", id=report.id)


@guarded(Action.SET_REPORT_STATUS, subject=load_report)
async def set_status(turn: Turn) -> None:
    report: Report = turn.subject
    status = domain.STATUS_CODES[turn.data[2]]
    if await domain.set_status(turn.svc, report, status, turn.actor.user_id) is None:
        await turn.answer("reports.status_not_allowed", alert=True,
                          status=turn.t(f"reports.status.{report.status}"))
        return
    await turn.answer("reports.status_recorded", status=turn.t(f"reports.status.{status}"))


async def acknowledge(turn: Turn, done: bool, done_key: str, refused_key: str) -> None:
    """A toast when the button did its work, an alert saying why when it could not."""
    await turn.answer(done_key if done else refused_key, alert=not done)


@guarded(Action.WARN_SECTOR, subject=load_report)
async def warn_sector(turn: Turn) -> None:
    done = await domain.warn_sector(turn.svc, turn.subject, turn.actor.user_id)
    await acknowledge(turn, done, "reports.sector_warned", "reports.sector_not_warned")


@guarded(Action.ASK_CONTACT, subject=load_report)
async def ask_contact(turn: Turn) -> None:
    done = await domain.ask_contact(turn.svc, turn.subject, turn.actor.user_id)
    await acknowledge(turn, done, "reports.contact_asked", "reports.contact_not_possible")


@guarded(Action.REPORTER_ANSWER, subject=load_report)
async def answer_contact(turn: Turn) -> None:
    report: Report = turn.subject
    accept = turn.data[2] == "y"
    await turn.answer()
    if not await domain.answer_contact(turn.svc, report, accept):
        await turn.reply("reports.already_answered")
        return
    await turn.reply("reports.contact_shared" if accept else "reports.contact_kept_private")


class ReplyToBot(filters.MessageFilter):
    """A message answering one of the bot's own messages."""

    def __init__(self, app: Application) -> None:  # type: ignore[type-arg]
        super().__init__()
        self.app = app

    def filter(self, message: Any) -> bool:
        replied = message.reply_to_message
        return bool(replied and replied.from_user and replied.from_user.id == self.app.bot.id)


async def replied_row(turn: Turn) -> OutboxRow | None:
    """The outbox row that became the bot message being answered."""
    replied = turn.message.reply_to_message if turn.message else None
    assert replied is not None
    return await turn.svc.store.outbox.sent_as(replied.chat.id, replied.message_id)


async def _report_behind(turn: Turn, purpose: str) -> Report | None:
    row = await replied_row(turn)
    if row is None or row.ref is None or row.purpose != purpose:
        return None
    return await turn.svc.store.reports.get(int(row.ref.split(":")[1]))


async def answered_question(turn: Turn) -> Report | None:
    return await _report_behind(turn, "precision_request")


async def answered_card(turn: Turn) -> Report | None:
    return await _report_behind(turn, "relay_card")


async def answer_to_bot(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A reply to the bot: the reporter's precision, or the liaison's comment on a card."""
    turn = await Turn.build(update, context)
    row = await replied_row(turn)
    purpose = row.purpose if row else None
    if purpose == "precision_request":
        await add_precision(update, context)
    elif purpose == "relay_card":
        await liaison_comment(update, context)
    elif turn.place.kind is ChatKind.PRIVATE:
        await turn.reply("fallback.text")


@guarded(Action.REPORTER_ANSWER, subject=answered_question)
async def add_precision(turn: Turn) -> None:
    report: Report = turn.subject
    text = turn.text.strip()[: turn.svc.settings.reports.description_max]
    flags = ",".join(screen(text)) or None
    if await domain.add_precision(turn.svc, report, text, flags):
        await turn.reply("reports.precision_added", id=report.id)
    else:
        await turn.reply("reports.already_handled")


@guarded(Action.SET_REPORT_STATUS, subject=answered_card)
async def liaison_comment(turn: Turn) -> None:
    report: Report = turn.subject
    text = turn.text.strip()[: turn.svc.settings.reports.description_max]
    await domain.comment(turn.svc, report, text, turn.actor.user_id)
    await turn.reply("reports.comment_sent", id=report.id)


async def sweep_triage(svc: Services, context: object) -> None:
    relayed = await domain.relay_overdue(svc)
    if relayed:
        log.info("reports.relayed_untriaged", count=relayed)


def one_of(prefix: str, codes: tuple[str, ...]) -> str:
    """A callback pattern accepting only known codes: forged ones fall to the fallback."""
    return rf"^{prefix}:({'|'.join(codes)})$"


def register(app: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    # In a sector group, /signaler (as a reply) flags a message; in private, it starts one.
    app.add_handler(CommandHandler(command(Action.REPORT).names, flag_message,
                                   filters=filters.ChatType.GROUPS))
    app.add_handler(ConversationHandler(
        entry_points=[CommandHandler(command(Action.REPORT).names, start_report)],
        states={
            CATEGORY: [CallbackQueryHandler(choose_category,
                                            pattern=one_of("rep:cat", domain.CATEGORIES))],
            WHEN: [CallbackQueryHandler(choose_when, pattern=one_of("rep:when", domain.WHEN))],
            DESCRIPTION: [MessageHandler(filters.TEXT & ~filters.COMMAND & private, describe)],
            SCREENED: [MessageHandler(filters.TEXT & ~filters.COMMAND & private, describe),
                       CallbackQueryHandler(keep_text, pattern=r"^rep:keep$")],
            LOCATION: [MessageHandler(filters.LOCATION & private, locate),
                       MessageHandler(filters.TEXT & ~filters.COMMAND & private, skip_location)],
            PHOTO: [MessageHandler(filters.PHOTO & private, photo),
                    CallbackQueryHandler(skip_photo, pattern=r"^rep:skip:photo$")],
            CONFIRM: [CallbackQueryHandler(confirm, pattern=r"^rep:(ok|no)$")],
        },
        fallbacks=[CommandHandler(command(Action.CANCEL).names, cancel_conversation),
                   CallbackQueryHandler(emergency_numbers, pattern=r"^rep:sos$"),
                   MessageHandler(private & ~filters.COMMAND, expect_answer)],
        name="report",
        persistent=True,
        conversation_timeout=1800,
    ))
    app.add_handler(CallbackQueryHandler(emergency_numbers, pattern=r"^rep:sos$"))
    app.add_handler(CommandHandler(command(Action.MY_REPORTS).names, my_reports))
    app.add_handler(CallbackQueryHandler(triage, pattern=r"^tri:\d{1,9}:[fdq]$"))
    app.add_handler(MessageHandler(filters.REPLY & filters.TEXT & ~filters.COMMAND
                                   & ReplyToBot(app), answer_to_bot))
    app.add_handler(CallbackQueryHandler(
        dismiss, pattern=one_of(r"dis:\d{1,9}", domain.DISMISS_REASONS)))
    app.add_handler(CallbackQueryHandler(set_status, pattern=r"^st:\d{1,9}:[rpcu]$"))
    app.add_handler(CallbackQueryHandler(warn_sector, pattern=r"^wn:\d{1,9}$"))
    app.add_handler(CallbackQueryHandler(ask_contact, pattern=r"^ct:\d{1,9}$"))
    app.add_handler(CallbackQueryHandler(answer_contact, pattern=r"^ctr:\d{1,9}:[yn]$"))
