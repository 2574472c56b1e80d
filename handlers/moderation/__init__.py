"""Moderation: the bot as the sector groups' first moderator, the referents deciding.

    groups.py     every text, caption, edit, media and forward in a sector group, screened
    domain.py     removal, hold, the ladder (reminder, suspension, exclusion card), the
                  referents' decisions, as outbox rows in one transaction
    cards.py      the buttons: Rétablir / Confirmer, Publier / Refuser, Contester,
                  Transmettre à la gendarmerie (a prefilled report), the exclusion card
    exclusion.py  /exclure and /reintegrer
    log.py        /moderation
    buttons.py    the button kinds
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from core.commands import command
from core.permissions import Action
from core.services import Services, VigieApp, VigieContext
from handlers.moderation import cards, exclusion, groups
from handlers.moderation import log as moderation_log
from handlers.moderation.buttons import (
    Contest,
    Exclusion,
    ReviewCard,
    Transmit,
    TransmitCategory,
    TransmitSend,
)

__all__ = ["register"]

# Before the flows (group 0): every message of a sector group is screened, whatever else
# answers it; after the charter notice (-50) and the log binding (-100).
SCREEN_GROUP = -10
PURGE_EVERY_SECONDS = 600.0


async def purge(svc: Services, context: Any) -> None:
    await svc.store.moderation.purge(svc.settings.moderation.keep_hours * 3600)


async def rights_changed(update: Update, context: VigieContext) -> None:
    """The bot's own rights changed in a group: a right lost again later is told again."""
    change = update.my_chat_member
    if change is None or change.new_chat_member.status != "administrator":
        return
    for right in ("can_delete_messages", "can_restrict_members"):
        if getattr(change.new_chat_member, right, False):
            await context.svc.store.moderation.right_restored(change.chat.id, right)


def register(app: VigieApp) -> None:
    app.add_handler(MessageHandler(
        filters.ChatType.GROUPS & (filters.UpdateType.MESSAGE | filters.UpdateType.EDITED_MESSAGE)
        & ~filters.COMMAND & ~filters.StatusUpdate.ALL, groups.screen_post), group=SCREEN_GROUP)
    app.add_handler(ChatMemberHandler(rights_changed, ChatMemberHandler.MY_CHAT_MEMBER),
                    group=SCREEN_GROUP)
    app.add_handler(CommandHandler(command(Action.EXCLUDE).names, exclusion.exclude))
    app.add_handler(CommandHandler(command(Action.REINSTATE).names, exclusion.reinstate))
    app.add_handler(CommandHandler(command(Action.MODERATION_LOG).names, moderation_log.show))
    app.add_handler(CallbackQueryHandler(cards.review, pattern=ReviewCard.pattern()))
    app.add_handler(CallbackQueryHandler(cards.contest, pattern=Contest.pattern()))
    app.add_handler(CallbackQueryHandler(cards.transmit, pattern=Transmit.pattern()))
    app.add_handler(CallbackQueryHandler(cards.transmit_category,
                                         pattern=TransmitCategory.pattern()))
    app.add_handler(CallbackQueryHandler(cards.transmit_send, pattern=TransmitSend.pattern()))
    app.add_handler(CallbackQueryHandler(cards.decide_exclusion, pattern=Exclusion.pattern()))
