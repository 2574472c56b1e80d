"""Data protection for residents: what is kept and why, a copy of it, and erasure."""

from __future__ import annotations

import json
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.ext import CallbackQueryHandler, CommandHandler

from core import logs
from core.buttons import Button
from core.commands import command
from core.permissions import Action
from core.services import VigieApp
from core.turn import Turn, guarded
from handlers.enrolment.buttons import Confirm
from handlers.enrolment.groups import remove_from_group

log = logs.get("handlers.privacy")


@dataclass(frozen=True)
class Erase(Button, prefix="erase"):
    """/supprimer_mes_donnees: confirm the erasure, or keep everything."""

    answer: Confirm


def erase_keyboard(turn: Turn) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(turn.t("privacy.erase_yes"), callback_data=Erase(Confirm.YES).pack()),
        InlineKeyboardButton(turn.t("privacy.erase_no"), callback_data=Erase(Confirm.NO).pack()),
    ]])


@guarded(Action.PRIVACY_NOTICE)
async def privacy_notice(turn: Turn) -> None:
    settings = turn.svc.settings
    await turn.reply("privacy.notice", commune=settings.commune.name,
                     retention=settings.privacy.retention_days,
                     keep=int(settings.outbox.keep_days),
                     audit=settings.privacy.audit_retention_days)


@guarded(Action.MY_DATA)
async def my_data(turn: Turn) -> None:
    data = await turn.svc.store.privacy.export(turn.actor.user_id)
    document = InputFile(json.dumps(data, ensure_ascii=False, indent=2).encode(),
                         filename="mes-donnees-vigie.json")
    await turn.context.bot.send_document(turn.place.chat_id, document,
                                         caption=turn.t("privacy.export_caption"))
    person = data["person"] or {}
    await turn.reply("privacy.summary", sector=person.get("sector") or "—",
                     street=person.get("street") or "—", status=person.get("status") or "—",
                     charter=len(data["charter_acceptances"]), reports=len(data["reports"]),
                     actions=len(data["actions"]))


def role_first(turn: Turn) -> str | None:
    """Someone who holds a role gives it up before erasing: the scheme must not lose its
    referent, official or liaison without anyone deciding it. The refusal's key, if any."""
    actor = turn.actor
    if actor.referent_of:
        return "privacy.referent_first"
    if actor.is_staff or (actor.is_liaison and actor.user_id == turn.svc.roles.liaison_chat_id):
        return "privacy.staff_first"
    return None


@guarded(Action.ERASE_MY_DATA)
async def ask_erase(turn: Turn) -> None:
    refusal = role_first(turn)
    if refusal is not None:
        await turn.reply(refusal)
        return
    await turn.reply("privacy.erase_confirm", erase_keyboard(turn))


@guarded(Action.ERASE_MY_DATA)
async def erase(turn: Turn) -> None:
    await turn.answer()
    if turn.button(Erase).answer is not Confirm.YES:
        await turn.reply("privacy.erase_kept")
        return
    refusal = role_first(turn)  # appointed between the question and the answer
    if refusal is not None:
        await turn.reply(refusal)
        return
    sector = await turn.svc.store.sectors.get(turn.actor.sector_id or 0)
    if sector is not None and sector.chat_id is not None:
        await remove_from_group(turn.context.bot, sector.chat_id, turn.actor.user_id)
    # A report being written is dropped with the rest (a private chat always has user data).
    if turn.context.user_data is not None:
        turn.context.user_data.clear()
    await turn.svc.store.privacy.erase(turn.actor.user_id)
    log.info("privacy.erased")
    await turn.reply("privacy.erased")


def register(app: VigieApp) -> None:
    app.add_handler(CommandHandler(command(Action.PRIVACY_NOTICE).names, privacy_notice))
    app.add_handler(CommandHandler(command(Action.MY_DATA).names, my_data))
    app.add_handler(CommandHandler(command(Action.ERASE_MY_DATA).names, ask_erase))
    app.add_handler(CallbackQueryHandler(erase, pattern=Erase.pattern()))
