"""/secteurs: the staff's view of the active sectors and their live administration.

The list shows each sector's members, referents, group, area and streets, with four
buttons: Ajouter and Renommer ask for a name (the only typed steps: a ConversationHandler,
kept across a restart), Retirer and Fusionner pick sectors and ask for a confirmation. Every
step is guarded again, so someone who lost the role meanwhile is refused at the next one;
every button's sectors are read again from the database, so a sector retired meanwhile is
answered so and nothing changes.
"""

from __future__ import annotations

import contextlib
from html import escape
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from core.buttons import Button
from core.commands import command
from core.drafts import key_of
from core.permissions import Action
from core.services import VigieApp, VigieContext
from core.turn import NO_PREVIEW, Turn, guarded
from handlers.common import cancel_conversation
from handlers.enrolment.buttons import Confirm
from handlers.sectors import domain
from handlers.sectors.buttons import (
    MergeInto,
    SectorConfirm,
    SectorMenu,
    SectorOp,
    SectorRestore,
    SectorTarget,
)
from handlers.sectors.draft import SectorDraft
from storage import Sector
from storage.sectors import NAME_MAX, Retired, SectorRefusal, SectorSummary

NAME_NEW, NAME_RENAME = range(2)
LIST_CHARS = 3500  # per message of the list: Telegram's 4096, with room for the markup
END = ConversationHandler.END


def _button(label: str, button: Button) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=button.pack())


def menu(turn: Turn) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([
        [_button(turn.t("sectors.add"), SectorMenu(SectorOp.ADD)),
         _button(turn.t("sectors.rename"), SectorMenu(SectorOp.RENAME))],
        [_button(turn.t("sectors.retire"), SectorMenu(SectorOp.RETIRE)),
         _button(turn.t("sectors.merge"), SectorMenu(SectorOp.MERGE))],
    ])


def summary_line(turn: Turn, item: SectorSummary) -> str:
    group = turn.t("sectors.group_linked") if item.sector.linked \
        else turn.t("sectors.group_none")
    area = turn.t("sectors.area_yes") if item.has_area else turn.t("sectors.area_none")
    return turn.t("sectors.line", sector=escape(item.sector.name), members=item.members,
                  referents=item.referents, group=group, area=area, streets=item.streets)


async def say_html(turn: Turn, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    await turn.context.bot.send_message(turn.place.chat_id, text, parse_mode=ParseMode.HTML,
                                        reply_markup=markup, link_preview_options=NO_PREVIEW)


async def show_list(turn: Turn) -> None:
    """The list, in as many messages as Telegram's length allows (many sectors), the
    buttons under the last one."""
    summaries = await turn.svc.store.sectors.summaries()
    pages: list[list[str]] = [[turn.t("sectors.title", count=len(summaries))]]
    for line in (summary_line(turn, item) for item in summaries):
        if sum(len(kept) + 1 for kept in pages[-1]) + len(line) > LIST_CHARS:
            pages.append([])
        pages[-1].append(line)
    for page in pages[:-1]:
        await say_html(turn, "\n".join(page))
    await say_html(turn, "\n".join(pages[-1]), menu(turn))


@guarded(Action.MANAGE_SECTORS)
async def sectors_list(turn: Turn) -> int:
    await show_list(turn)
    return END


async def active(turn: Turn, sector_id: int) -> Sector | None:
    """The sector if it is still active; otherwise the person is told (a stale button)."""
    sector = await turn.svc.store.sectors.get(sector_id)
    if sector is None or not sector.active:
        await turn.reply("sectors.gone")
        return None
    return sector


async def pick_list(turn: Turn, key: str, buttons: list[tuple[Sector, Button]]) -> None:
    rows = [[_button(sector.name, button)] for sector, button in buttons]
    await turn.reply(key, InlineKeyboardMarkup(rows))


@guarded(Action.MANAGE_SECTORS)
async def menu_pressed(turn: Turn) -> int:
    await turn.answer()
    op = turn.button(SectorMenu).op
    sectors = await turn.svc.store.sectors.active()
    if op is SectorOp.ADD:
        drafts(turn)[key_of(SectorDraft)] = SectorDraft(None)
        await turn.reply("sectors.ask_name", limit=NAME_MAX)
        return NAME_NEW
    if op is SectorOp.RETIRE and len(sectors) <= 1:
        await turn.reply("sectors.last")
        return END
    if op is SectorOp.MERGE and len(sectors) <= 1:
        await turn.reply("sectors.merge_needs_two")
        return END
    await pick_list(turn, f"sectors.pick_{op}", [(s, SectorTarget(op, s.id)) for s in sectors])
    return END


def drafts(turn: Turn) -> dict[Any, Any]:
    data = turn.context.user_data
    assert data is not None
    return data


@guarded(Action.MANAGE_SECTORS)
async def target_pressed(turn: Turn) -> int:
    await turn.answer()
    pressed = turn.button(SectorTarget)
    sector = await active(turn, pressed.sector_id)
    if sector is None:
        return END
    name = escape(sector.name)
    if pressed.op is SectorOp.RENAME:
        drafts(turn)[key_of(SectorDraft)] = SectorDraft(sector.id)
        await say_html(turn, turn.t("sectors.ask_new_name", sector=name, limit=NAME_MAX))
        return NAME_RENAME
    if pressed.op is SectorOp.RETIRE:
        await ask_retire(turn, sector)
    elif pressed.op is SectorOp.MERGE:
        others = [s for s in await turn.svc.store.sectors.active() if s.id != sector.id]
        await pick_list(turn, "sectors.pick_into", [(s, MergeInto(sector.id, s.id))
                                                    for s in others])
    else:  # never offered (a sector is added by its name): forged
        await turn.reply("fallback.stale_button")
    return END


def confirm_keyboard(turn: Turn, op: SectorOp, sector_id: int, target_id: int | None
                     ) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        _button(turn.t(f"sectors.confirm_{op}"),
                SectorConfirm(op, sector_id, target_id, Confirm.YES)),
        _button(turn.t("sectors.keep"), SectorConfirm(op, sector_id, target_id, Confirm.NO)),
    ]])


async def counts(turn: Turn, sector_id: int) -> SectorSummary | None:
    return next((s for s in await turn.svc.store.sectors.summaries()
                 if s.sector.id == sector_id), None)


async def ask_retire(turn: Turn, sector: Sector) -> None:
    if len(await turn.svc.store.sectors.active()) <= 1:
        await turn.reply("sectors.last")
        return
    found = await counts(turn, sector.id)
    members, referents = (found.members, found.referents) if found else (0, 0)
    await say_html(turn, turn.t("sectors.retire_confirm", sector=escape(sector.name),
                                members=members, referents=referents),
                   confirm_keyboard(turn, SectorOp.RETIRE, sector.id, None))


@guarded(Action.MANAGE_SECTORS)
async def into_pressed(turn: Turn) -> int:
    await turn.answer()
    pressed = turn.button(MergeInto)
    if pressed.source_id == pressed.target_id:
        await turn.reply("sectors.same")
        return END
    source = await active(turn, pressed.source_id)
    target = source and await active(turn, pressed.target_id)
    if source is None or target is None:
        return END
    found = await counts(turn, source.id)
    await say_html(turn, turn.t("sectors.merge_confirm", sector=escape(source.name),
                                target=escape(target.name),
                                members=found.members if found else 0,
                                referents=found.referents if found else 0),
                   confirm_keyboard(turn, SectorOp.MERGE, source.id, target.id))
    return END


REFUSALS = {SectorRefusal.NAME_TAKEN: "sectors.name_taken",
            SectorRefusal.NAME_RETIRED: "sectors.name_retired",
            SectorRefusal.GONE: "sectors.gone", SectorRefusal.LAST: "sectors.last",
            SectorRefusal.SAME: "sectors.same"}


@guarded(Action.MANAGE_SECTORS)
async def confirm_pressed(turn: Turn) -> int:
    await turn.answer()
    pressed = turn.button(SectorConfirm)
    with contextlib.suppress(BadRequest):  # too old to edit: the answer below still goes
        await turn.edit(None, None)  # the question is answered: its buttons go
    if pressed.answer is not Confirm.YES:
        await turn.reply("sectors.kept")
        return END
    actor = turn.actor.user_id
    if pressed.op is SectorOp.RETIRE:
        result = await domain.retire(turn.svc, actor, pressed.sector_id)
    elif pressed.op is SectorOp.MERGE and pressed.target_id is not None:
        result = await domain.merge(turn.svc, actor, pressed.sector_id, pressed.target_id)
    else:
        result = SectorRefusal.GONE  # forged: no such confirmation is ever offered
    if isinstance(result, SectorRefusal):
        await turn.reply(REFUSALS[result])
        return END
    await tell_done(turn, result)
    await show_list(turn)
    return END


async def tell_done(turn: Turn, result: Retired) -> None:
    values = {"sector": escape(result.sector.name), "members": len(result.members),
              "referents": len(result.referents)}
    if result.target is None:
        await say_html(turn, turn.t("sectors.retired", **values))
    else:
        await say_html(turn, turn.t("sectors.merged", target=escape(result.target.name),
                                    **values))


@guarded(Action.MANAGE_SECTORS)
async def restore_pressed(turn: Turn) -> int:
    await turn.answer()
    restored = await domain.restore(turn.svc, turn.actor.user_id,
                                    turn.button(SectorRestore).sector_id)
    if isinstance(restored, SectorRefusal):
        await turn.reply("sectors.gone")
        return END
    await say_html(turn, turn.t("sectors.restored", sector=escape(restored.name)))
    await show_list(turn)
    return END


async def name_refused(turn: Turn, name: str, result: SectorRefusal) -> None:
    markup = None
    if result is SectorRefusal.NAME_RETIRED:
        retired = await turn.svc.store.sectors.named(name)
        if retired is not None and not retired.active:
            markup = InlineKeyboardMarkup([[_button(turn.t("sectors.restore"),
                                                    SectorRestore(retired.id))]])
    await say_html(turn, turn.t(REFUSALS[result], sector=escape(name)), markup)


async def bad_name(turn: Turn) -> bool:
    """Empty or too long: told, with their text handed back; True if so."""
    name = " ".join(turn.text.split())
    if name and len(name) <= NAME_MAX:
        return False
    if not name:
        await turn.reply("sectors.name_empty", limit=NAME_MAX)
    else:
        await turn.reply("sectors.name_too_long", limit=NAME_MAX, length=len(name))
        await turn.say(turn.text[:4000])  # what they wrote, handed back
    return True


@guarded(Action.MANAGE_SECTORS)
async def new_name(turn: Turn) -> int:
    if await bad_name(turn):
        return NAME_NEW
    name = " ".join(turn.text.split())
    added = await domain.add(turn.svc, turn.actor.user_id, name)
    if isinstance(added, SectorRefusal):
        await name_refused(turn, name, added)
        return NAME_NEW
    drafts(turn).pop(key_of(SectorDraft), None)
    await say_html(turn, turn.t("sectors.added", sector=escape(added.name)))
    await show_list(turn)
    return END


@guarded(Action.MANAGE_SECTORS)
async def renamed_to(turn: Turn) -> int:
    draft = drafts(turn).get(key_of(SectorDraft))
    sector_id = draft.sector_id if isinstance(draft, SectorDraft) else None
    before = await turn.svc.store.sectors.get(sector_id or 0)
    if sector_id is None or before is None or not before.active:
        await turn.reply("sectors.gone")
        return END
    if await bad_name(turn):
        return NAME_RENAME
    name = " ".join(turn.text.split())
    renamed = await domain.rename(turn.svc, turn.actor.user_id, sector_id, name)
    if isinstance(renamed, SectorRefusal):
        if renamed is SectorRefusal.GONE:
            await turn.reply("sectors.gone")
            return END
        await name_refused(turn, name, renamed)
        return NAME_RENAME
    drafts(turn).pop(key_of(SectorDraft), None)
    await say_html(turn, turn.t("sectors.renamed", before=escape(before.name),
                                sector=escape(renamed.name)))
    await show_list(turn)
    return END


@guarded(Action.MANAGE_SECTORS)
async def name_expected(turn: Turn) -> None:
    await turn.reply("sectors.name_expected")


def ending(callback: Any) -> Any:
    """A step whose guard refused (the role was lost meanwhile) ends the conversation
    instead of keeping the person in it."""
    async def step(update: Update, context: VigieContext) -> int:
        state = await callback(update, context)
        return END if state is None else int(state)
    step.__name__ = callback.__name__
    return step


def register(app: VigieApp) -> None:
    private = filters.ChatType.PRIVATE
    buttons = [CallbackQueryHandler(ending(callback), pattern=kind.pattern())
               for callback, kind in ((menu_pressed, SectorMenu), (target_pressed, SectorTarget),
                                      (into_pressed, MergeInto),
                                      (confirm_pressed, SectorConfirm),
                                      (restore_pressed, SectorRestore))]
    entry = [CommandHandler(command(Action.MANAGE_SECTORS).names, ending(sectors_list)),
             *buttons]
    text = filters.TEXT & ~filters.COMMAND & private
    app.add_handler(ConversationHandler(
        entry_points=entry,
        states={
            NAME_NEW: [MessageHandler(text, ending(new_name))],
            NAME_RENAME: [MessageHandler(text, ending(renamed_to))],
        },
        fallbacks=[CommandHandler(command(Action.CANCEL).names, cancel_conversation),
                   MessageHandler(private & ~filters.COMMAND, name_expected)],
        name="sectors",
        persistent=True,  # a name half-chosen survives a restart
        allow_reentry=True,
        conversation_timeout=3600,
    ))
