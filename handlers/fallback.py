"""Whatever no flow understood gets a short, polite answer; nothing changes.

Registered last: within a handler group PTB runs the first handler that matches, so these
only see updates every other module passed over.
"""

from __future__ import annotations

from telegram import Message, Update
from telegram.ext import CallbackQueryHandler, MessageHandler, filters

from core import logs
from core.services import VigieApp, VigieContext
from core.turn import Turn

log = logs.get("handlers.fallback")

# Telegram itself caps a message at 4096 characters; anything longer is not from a client.
MAX_TEXT = 4096


async def _turn(update: Update, context: VigieContext, name: str) -> Turn:
    log.info("fallback", kind=name)
    return await Turn.build(update, context)


async def stale_button(update: Update, context: VigieContext) -> None:
    turn = await _turn(update, context, "button")
    await turn.answer("fallback.stale_button", alert=True)


async def unknown_command(update: Update, context: VigieContext) -> None:
    turn = await _turn(update, context, "command")
    await turn.reply("fallback.unknown_command")


async def unexpected_text(update: Update, context: VigieContext) -> None:
    turn = await _turn(update, context, "text")
    if len(turn.text) > MAX_TEXT:
        await turn.reply("fallback.too_long", limit=MAX_TEXT)
    else:
        await turn.reply("fallback.text")


async def unexpected_media(update: Update, context: VigieContext) -> None:
    turn = await _turn(update, context, "media")
    await turn.reply("fallback.media")


def addressed_to_bot(app: VigieApp) -> filters.MessageFilter:
    """In a group, only commands written `/cmd@our_bot` are ours to answer."""

    class _Addressed(filters.MessageFilter):
        def filter(self, message: Message) -> bool:
            first = (message.text or "").split(maxsplit=1)[0] if message.text else ""
            return first.lower().endswith(f"@{app.bot.username}".lower())

    return _Addressed()


def register(app: VigieApp) -> None:
    private = filters.ChatType.PRIVATE
    app.add_handler(CallbackQueryHandler(stale_button))
    app.add_handler(MessageHandler(filters.COMMAND & private, unknown_command))
    app.add_handler(
        MessageHandler(filters.COMMAND & filters.ChatType.GROUPS & addressed_to_bot(app),
                       unknown_command)
    )
    app.add_handler(MessageHandler(filters.TEXT & private, unexpected_text))
    app.add_handler(
        MessageHandler(private & ~filters.TEXT & ~filters.StatusUpdate.ALL, unexpected_media)
    )

