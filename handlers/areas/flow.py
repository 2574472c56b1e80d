"""/zone and /rues: a sector's area and its street list, set in a private chat by the staff.

/zone: pick the sector from buttons (or name it: "/zone Centre-bourg"), then send the
GeoJSON file as a document; or send the file with "/zone [sector]" as its caption. /rues:
pick the sector; its streets are shown with their count and a Clear button, and the next
text (one street per line) or .txt/.csv file replaces the list. Every bad input gets its
own answer and changes nothing; a replaced area or list is handed back as a file.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from telegram import Document, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from core import logs, streets
from core.commands import command
from core.drafts import draft, key_of
from core.permissions import Action
from core.services import VigieApp
from core.turn import Turn, guarded
from handlers.areas import domain
from handlers.areas.buttons import AreaPick, StreetsClear, StreetsPick
from handlers.areas.domain import Refusal
from handlers.common import cancel_conversation
from storage import Sector

log = logs.get("handlers.areas")

PICK_AREA, AREA_FILE, PICK_STREETS, STREET_LIST = range(4)
SHOWN_STREETS = 40  # streets listed in the message; the rest are counted
CAPTION = re.compile(r"^/(?:zone|area)(?:@\w+)?(?:\s+(?P<sector>.+))?$", re.DOTALL)


@draft("areas")
@dataclass
class AreaDraft:
    """Which sector the next file or list is for, and a GeoJSON document sent with /zone
    as its caption while its sector is being picked."""

    sector_id: int | None = None
    file_id: str | None = None
    file_size: int | None = None


def _draft(turn: Turn) -> AreaDraft:
    data = turn.context.user_data
    found = data.get(key_of(AreaDraft)) if data is not None else None
    if isinstance(found, AreaDraft):
        return found
    fresh = AreaDraft()
    if data is not None:
        data[key_of(AreaDraft)] = fresh
    return fresh


def _remember_sector(turn: Turn, sector_id: int) -> None:
    _draft(turn).sector_id = sector_id


def _remembered_sector(turn: Turn) -> int | None:
    return _draft(turn).sector_id


def _done(turn: Turn) -> int:
    """The conversation ends: its draft goes with it."""
    if turn.context.user_data is not None:
        turn.context.user_data.pop(key_of(AreaDraft), None)
    return ConversationHandler.END


async def _sector_named(turn: Turn, name: str) -> Sector | None:
    """The active sector with this name, case and spacing aside ("/zone les hauts")."""
    wanted = " ".join(name.split()).casefold()
    if not wanted:
        return None
    return next((s for s in await turn.svc.store.sectors.active()
                 if " ".join(s.name.split()).casefold() == wanted), None)


async def _pickers(turn: Turn, pick: type[AreaPick] | type[StreetsPick]
                   ) -> InlineKeyboardMarkup | None:
    store = turn.svc.store
    sectors = await store.sectors.active()
    if not sectors:
        return None
    counts, zones = await store.sectors.street_counts(), turn.svc.sector_polygons
    return InlineKeyboardMarkup([[InlineKeyboardButton(turn.t(
        "areas.sector_button", sector=s.name, count=counts.get(s.id, 0),
        zone=turn.t("areas.has_zone") if s.id in zones else ""),
        callback_data=pick(s.id).pack())] for s in sectors])


async def _picked(turn: Turn, sector_id: int) -> Sector | None:
    await turn.answer()
    sector = await turn.svc.store.sectors.get(sector_id)
    if sector is None or not sector.active:
        await turn.reply("enrolment.unknown_sector")
        return None
    return sector


async def _hand_back(turn: Turn, content: str, name: str, key: str, sector: Sector) -> None:
    """What a change replaced, sent back to its author as a file."""
    await turn.context.bot.send_document(
        turn.place.chat_id, InputFile(io.BytesIO(content.encode()), filename=name),
        caption=turn.t(key, sector=sector.name))


async def _download(turn: Turn, file_id: str, size: int | None, limit: int
                    ) -> bytes | Refusal:
    refusal = domain.too_big(size, limit)
    if refusal is not None:
        return refusal
    try:
        file = await turn.context.bot.get_file(file_id)
        data = bytes(await file.download_as_bytearray())
    except TelegramError as error:
        log.info("areas.download_failed", error=type(error).__name__)
        if "too big" in str(error).lower():
            return Refusal("areas.too_big", {"size": limit // 1024 + 1, "limit": limit // 1024})
        return Refusal("areas.unreadable")
    return domain.too_big(len(data), limit) or data


# --- /zone ------------------------------------------------------------------------------

@guarded(Action.SET_AREA)
async def zone(turn: Turn) -> int | None:
    sector = await _sector_named(turn, " ".join(turn.args))
    if sector is not None:
        await turn.reply("areas.ask_file", sector=sector.name,
                         limit=domain.AREA_MAX_BYTES // 1024)
        _remember_sector(turn, sector.id)
        return AREA_FILE
    return await _ask_area_sector(turn, " ".join(turn.args))


async def _ask_area_sector(turn: Turn, name: str) -> int | None:
    return await _ask_sector(turn, name, AreaPick, "areas.pick_sector_zone", PICK_AREA)


async def _ask_sector(turn: Turn, name: str, pick: type[AreaPick] | type[StreetsPick],
                      prompt: str, step: int) -> int | None:
    """The sector buttons, after saying that `name` (typed after the command) is unknown."""
    markup = await _pickers(turn, pick)
    if markup is None:
        await turn.reply("areas.no_sectors")
        return _done(turn)
    if name.strip():
        await turn.reply("areas.unknown_sector_name", markup, name=name.strip()[:60])
    else:
        await turn.reply(prompt, markup)
    return step


@guarded(Action.SET_AREA)
async def zone_with_file(turn: Turn) -> int | None:
    """A document whose caption is /zone [sector]."""
    message = turn.message
    assert message is not None and message.document is not None
    match = CAPTION.match((message.caption or "").strip())
    name = (match.group("sector") or "") if match else ""
    sector = await _sector_named(turn, name)
    if sector is not None:
        return await _store_area(turn, sector, message.document)
    waiting = _draft(turn)
    waiting.file_id, waiting.file_size = message.document.file_id, message.document.file_size
    return await _ask_area_sector(turn, name)


@guarded(Action.SET_AREA)
async def area_sector(turn: Turn) -> int | None:
    sector = await _picked(turn, turn.button(AreaPick).sector_id)
    if sector is None:
        return None
    waiting = _draft(turn)
    if waiting.file_id:
        file_id, size = waiting.file_id, waiting.file_size
        waiting.file_id = waiting.file_size = None
        return await _store_area_file(turn, sector, file_id, size)
    _remember_sector(turn, sector.id)
    await turn.reply("areas.ask_file", sector=sector.name, limit=domain.AREA_MAX_BYTES // 1024)
    return AREA_FILE


@guarded(Action.SET_AREA)
async def area_file(turn: Turn) -> int | None:
    message = turn.message
    assert message is not None and message.document is not None
    sector = await turn.svc.store.sectors.get(_remembered_sector(turn) or 0)
    if sector is None or not sector.active:
        await turn.reply("enrolment.unknown_sector")
        return _done(turn)
    return await _store_area(turn, sector, message.document)


@guarded(Action.SET_AREA)
async def area_expected(turn: Turn) -> None:
    await turn.reply("areas.file_expected")


async def _store_area(turn: Turn, sector: Sector, document: Document) -> int | None:
    return await _store_area_file(turn, sector, document.file_id, document.file_size)


async def _store_area_file(turn: Turn, sector: Sector, file_id: str, size: int | None
                           ) -> int | None:
    """Check the file and store it; a refusal keeps the conversation waiting for another."""
    _remember_sector(turn, sector.id)
    data = await _download(turn, file_id, size, domain.AREA_MAX_BYTES)
    text = data if isinstance(data, Refusal) else domain.decode(data)
    checked = text if isinstance(text, Refusal) else domain.check_area(
        text, await domain.other_areas(turn.svc, sector.id))
    if isinstance(checked, Refusal):
        await turn.reply(checked.key, **checked.values)
        return AREA_FILE
    assert isinstance(text, str)
    previous = await domain.set_area(turn.svc, turn.actor.user_id, sector, text, len(checked))
    await turn.reply("areas.area_saved", sector=sector.name, polygons=len(checked))
    if previous is not None and previous != text:
        await _hand_back(turn, previous, f"zone-{sector.id}.geojson", "areas.previous_area",
                         sector)
    return _done(turn)


# --- /rues ------------------------------------------------------------------------------

@guarded(Action.SET_STREETS)
async def rues(turn: Turn) -> int | None:
    name = " ".join(turn.args)
    sector = await _sector_named(turn, name)
    if sector is not None:
        return await _show_streets(turn, sector)
    return await _ask_sector(turn, name, StreetsPick, "areas.pick_sector_streets", PICK_STREETS)


@guarded(Action.SET_STREETS)
async def streets_sector(turn: Turn) -> int | None:
    sector = await _picked(turn, turn.button(StreetsPick).sector_id)
    return None if sector is None else await _show_streets(turn, sector)


async def _show_streets(turn: Turn, sector: Sector) -> int:
    listed = await turn.svc.store.sectors.streets(sector.id)
    if listed:
        lines = [turn.t("areas.streets_title", sector=sector.name, count=len(listed)), "",
                 *listed[:SHOWN_STREETS]]
        if len(listed) > SHOWN_STREETS:
            lines.append(turn.t("areas.streets_more", more=len(listed) - SHOWN_STREETS))
        clear = InlineKeyboardMarkup([[InlineKeyboardButton(
            turn.t("areas.clear_button"), callback_data=StreetsClear(sector.id).pack())]])
        await turn.say("\n".join(lines), clear)
    else:
        await turn.reply("areas.streets_none", sector=sector.name)
    _remember_sector(turn, sector.id)
    await turn.reply("areas.streets_ask")
    return STREET_LIST


async def _list_sector(turn: Turn) -> Sector | None:
    sector = await turn.svc.store.sectors.get(_remembered_sector(turn) or 0)
    if sector is None or not sector.active:
        await turn.reply("enrolment.unknown_sector")
        return None
    return sector


@guarded(Action.SET_STREETS)
async def streets_text(turn: Turn) -> int | None:
    sector = await _list_sector(turn)
    if sector is None:
        return _done(turn)
    return await _store_streets(turn, sector, streets.parse_street_list(turn.text))


def _is_text_file(document: Document) -> bool:
    name = (document.file_name or "").lower()
    return name.endswith((".txt", ".csv")) or (document.mime_type or "").startswith("text/")


@guarded(Action.SET_STREETS)
async def streets_file(turn: Turn) -> int | None:
    message = turn.message
    assert message is not None and message.document is not None
    document = message.document
    if not _is_text_file(document):
        await turn.reply("areas.list_expected")
        return None
    sector = await _list_sector(turn)
    if sector is None:
        return _done(turn)
    data = await _download(turn, document.file_id, document.file_size,
                           domain.STREETS_FILE_MAX_BYTES)
    text = data if isinstance(data, Refusal) else domain.decode(data)
    if isinstance(text, Refusal):
        await turn.reply(text.key, **text.values)
        return None
    is_csv = (document.file_name or "").lower().endswith(".csv")
    return await _store_streets(turn, sector, streets.parse_street_list(text, csv=is_csv))


async def _store_streets(turn: Turn, sector: Sector, names: list[str]) -> int | None:
    checked = domain.check_streets(names)
    if isinstance(checked, Refusal):
        await turn.reply(checked.key, **checked.values)
        return None
    previous, held = await domain.set_streets(turn.svc, turn.actor.user_id, sector, checked)
    if held:
        lines = "\n".join(turn.t("areas.held_line", street=street, sector=other)
                          for street, other in held[:SHOWN_STREETS])
        await turn.reply("areas.held", lines=lines)
        return None
    saved = turn.t("areas.streets_saved", sector=sector.name, count=len(checked.entries))
    if checked.folded:
        saved += " " + turn.t("areas.folded", count=checked.folded)
    await turn.say(saved)
    if previous and sorted(previous) != sorted(name for name, _ in checked.entries):
        await _hand_back(turn, "\n".join(previous) + "\n", f"rues-{sector.id}.txt",
                         "areas.previous_streets", sector)
    return _done(turn)


@guarded(Action.SET_STREETS)
async def streets_clear(turn: Turn) -> int | None:
    """Clear: only the list being edited (a press from another sector's older list is
    answered as stale); the list as it was is handed back as a file."""
    sector_id = turn.button(StreetsClear).sector_id
    sector = await turn.svc.store.sectors.get(sector_id)
    if sector is None or not sector.active or sector_id != _remembered_sector(turn):
        await turn.answer("fallback.stale_button", alert=True)
        return None
    await turn.answer()
    previous = await domain.clear_streets(turn.svc, turn.actor.user_id, sector)
    await turn.edit(None, None)
    await turn.reply("areas.cleared", sector=sector.name)
    if previous:
        await _hand_back(turn, "\n".join(previous) + "\n", f"rues-{sector.id}.txt",
                         "areas.previous_streets", sector)
    return _done(turn)


@guarded(Action.SET_STREETS)
async def list_expected(turn: Turn) -> None:
    await turn.reply("areas.list_expected")


@guarded(Action.SET_STREETS)
async def use_buttons(turn: Turn) -> None:
    await turn.reply("enrolment.use_buttons")


def register(app: VigieApp) -> None:
    private = filters.ChatType.PRIVATE
    document = filters.Document.ALL & private
    other = private & ~filters.COMMAND
    app.add_handler(ConversationHandler(
        entry_points=[
            CommandHandler(command(Action.SET_AREA).names, zone),
            CommandHandler(command(Action.SET_STREETS).names, rues),
            MessageHandler(document & filters.CaptionRegex(CAPTION), zone_with_file),
        ],
        states={
            PICK_AREA: [CallbackQueryHandler(area_sector, pattern=AreaPick.pattern()),
                        MessageHandler(other, use_buttons)],
            AREA_FILE: [MessageHandler(document, area_file),
                        MessageHandler(other, area_expected)],
            PICK_STREETS: [CallbackQueryHandler(streets_sector, pattern=StreetsPick.pattern()),
                           MessageHandler(other, use_buttons)],
            STREET_LIST: [CallbackQueryHandler(streets_clear, pattern=StreetsClear.pattern()),
                          MessageHandler(document, streets_file),
                          MessageHandler(filters.TEXT & other, streets_text),
                          MessageHandler(other, list_expected)],
        },
        fallbacks=[CommandHandler(command(Action.CANCEL).names, cancel_conversation)],
        name="areas",
        persistent=True,
        allow_reentry=True,
        conversation_timeout=3600,
    ))

