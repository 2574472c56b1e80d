"""Referents: a member applies (/devenir_referent), an official decides, /referents manages.

A new referent is announced in their sector group and, where the bot may, promoted with
the custom title "Référent" so neighbours know whom to ask.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from core import i18n, logs, menus
from core.commands import command
from core.notify import mention, mentions_now, notify
from core.permissions import Action
from core.runtime.outbox import html_message
from core.services import Services, VigieApp
from core.turn import Turn, guarded
from handlers.common import cancel_conversation
from handlers.enrolment import domain
from handlers.enrolment.buttons import Decision, ReferentDecision, RevokeReferent
from handlers.enrolment.keyboards import revoke_rows
from storage import ReferentApplication, ReferentRole
from storage.statuses import PersonStatus, Purpose, RequestStatus

log = logs.get("handlers.enrolment.referents")

MOTIVATION = 0
MOTIVATION_MAX = 500


@guarded(Action.APPLY_REFERENT)
async def apply(turn: Turn) -> int:
    if turn.actor.sector_id in turn.actor.referent_of:
        await turn.reply("referents.already")
        return ConversationHandler.END
    await turn.reply("referents.ask_motivation", limit=MOTIVATION_MAX)
    return MOTIVATION


@guarded(Action.APPLY_REFERENT)
async def motivation(turn: Turn) -> int | None:
    text = " ".join(turn.text.split())
    if not text or len(text) > MOTIVATION_MAX:
        await turn.reply("referents.motivation_length", limit=MOTIVATION_MAX)
        return None
    svc, user_id = turn.svc, turn.actor.user_id
    assert turn.actor.sector_id is not None
    application_id = await svc.store.referent_applications.submit(
        user_id, turn.actor.sector_id, text)
    if application_id is None:
        await turn.reply("referents.already_pending")
        return ConversationHandler.END
    await svc.store.audit.record(user_id, "referent.applied", f"sector:{turn.actor.sector_id}")
    sector = await svc.store.sectors.get(turn.actor.sector_id)
    assert sector is not None
    await svc.outbox.send(*await domain.referent_cards(svc, application_id, user_id, sector, text))
    await turn.reply("referents.applied")
    return ConversationHandler.END


async def load_application(turn: Turn) -> ReferentApplication | None:
    return await turn.svc.store.referent_applications.get(
        turn.button(ReferentDecision).application_id)


async def appoint(svc: Services, turn: Turn, user_id: int, sector_id: int) -> None:
    """Make someone a referent: record, tell them, announce, give the title if possible."""
    store, bot = svc.store, turn.context.bot
    await domain.appoint_referent(store, user_id, sector_id, turn.actor.user_id)
    sector = await store.sectors.get(sector_id)
    assert sector is not None
    await notify(svc, user_id, "referents.appointed_dm", Purpose.REFERENT, sector=sector.name)
    if sector.chat_id is not None:
        language = svc.settings.commune.language
        text = i18n.t(language, "referents.announce", person=mention(user_id, language))
        await svc.outbox.send(html_message(sector.chat_id, text, Purpose.REFERENT_ANNOUNCE))
        try:
            await bot.promote_chat_member(sector.chat_id, user_id, can_delete_messages=True,
                                          can_pin_messages=True)
            await bot.set_chat_administrator_custom_title(
                sector.chat_id, user_id, i18n.t(language, "referents.title"))
        except TelegramError as error:
            log.info("referents.title_not_set", error=error.message)
    await menus.publish_for(svc, bot, user_id)


@guarded(Action.DECIDE_REFERENT, subject=load_application)
async def decide_application(turn: Turn) -> None:
    application: ReferentApplication = turn.subject
    approve = turn.button(ReferentDecision).decision is Decision.APPROVE
    store = turn.svc.store
    if not await store.referent_applications.decide(
        application.id, RequestStatus.APPROVED if approve else RequestStatus.DECLINED,
        turn.actor.user_id,
    ):
        await turn.answer("referents.already_decided", alert=True)
        return
    await turn.answer()
    if approve:
        await appoint(turn.svc, turn, application.user_id, application.sector_id)
    else:
        await store.audit.record(turn.actor.user_id, "referent.declined",
                                 f"user:{application.user_id}")
        await notify(turn.svc, application.user_id, "referents.declined_dm", Purpose.REFERENT)
    await turn.reply("referents.decided_approved" if approve else "referents.decided_declined")


@guarded(Action.MANAGE_REFERENTS)
async def manage(turn: Turn) -> None:
    """List referents per sector with revoke buttons; `/referents nommer <id> <secteur>`."""
    if turn.args[:1] in (["nommer"], ["appoint"]):
        await appoint_by_command(turn)
        return
    store = turn.svc.store
    lines, rows = [turn.t("referents.list_title")], []
    for sector in await store.sectors.active():
        referents = await store.referents.of_sector(sector.id)
        # Each by the name Telegram gives now (never stored), numbered as its Revoke button.
        shown = await mentions_now(turn.context.bot, [(r, sector.chat_id) for r in referents],
                                   turn.language)
        names = ", ".join(f"{n}. {shown[r]}" for n, r in enumerate(referents, 1))
        lines.append(f"• {sector.name} : {names or turn.t('referents.none')}")
        rows += revoke_rows(turn.language, sector, referents)
    pending = await store.referent_applications.pending()
    lines.append(turn.t("referents.pending", count=len(pending)))
    lines.append(turn.t("referents.how_to_appoint"))
    await turn.context.bot.send_message(
        turn.place.chat_id, "\n".join(lines), parse_mode=ParseMode.HTML,
        reply_markup=InlineKeyboardMarkup(rows) if rows else None,
    )


async def appoint_by_command(turn: Turn) -> None:
    store = turn.svc.store
    args = turn.args[1:]
    sector = await store.sectors.by_name(" ".join(args[1:])) if len(args) >= 2 else None
    is_id = bool(args) and args[0].isascii() and args[0].isdigit() and len(args[0]) <= 16
    person = await store.people.get(int(args[0])) if is_id else None
    if sector is None or person is None or person.status != PersonStatus.ENROLLED:
        await turn.reply("referents.appoint_usage")
        return
    await appoint(turn.svc, turn, person.user_id, sector.id)
    await turn.reply("referents.decided_approved")


async def load_role(turn: Turn) -> ReferentRole | None:
    """The referent role a revoke button names, if it still exists."""
    button = turn.button(RevokeReferent)
    return await turn.svc.store.referents.role(button.user_id, button.sector_id)


@guarded(Action.MANAGE_REFERENTS, subject=load_role)
async def revoke(turn: Turn) -> None:
    role: ReferentRole = turn.subject
    await domain.revoke_referent(turn.svc.store, role, turn.actor.user_id)
    await turn.answer()
    await notify(turn.svc, role.user_id, "referents.revoked_dm", Purpose.REFERENT)
    await menus.publish_for(turn.svc, turn.context.bot, role.user_id)
    await turn.reply("referents.revoked_done")


def register(app: VigieApp) -> None:
    private = filters.ChatType.PRIVATE
    app.add_handler(ConversationHandler(
        entry_points=[CommandHandler(command(Action.APPLY_REFERENT).names, apply)],
        states={MOTIVATION: [MessageHandler(filters.TEXT & ~filters.COMMAND & private,
                                            motivation)]},
        fallbacks=[CommandHandler(command(Action.CANCEL).names, cancel_conversation)],
        name="referent_application",
        persistent=True,
        conversation_timeout=3600,
    ))
    app.add_handler(CallbackQueryHandler(decide_application,
                                         pattern=ReferentDecision.pattern()))
    app.add_handler(CommandHandler(command(Action.MANAGE_REFERENTS).names, manage))
    app.add_handler(CallbackQueryHandler(revoke, pattern=RevokeReferent.pattern()))
