"""People's names, as Telegram gives them at the moment they are shown: never stored, never
logged. A mention is a `tg://user?id=N` link; stored texts (outbox rows) carry it with the
neutral "see the profile" label, which is replaced by the current name only when the text
is sent (core/runtime/outbox.py), so the name lives in Telegram's message and nowhere else.
"""

from __future__ import annotations

import re
from html import escape

from telegram import Bot
from telegram.error import TelegramError

LINK = re.compile(r'<a href="tg://user\?id=(\d{1,15})">([^<]*)</a>')


async def current_name(bot: Bot, user_id: int, chat_id: int | None = None) -> str | None:
    """The person's Telegram name now: their private chat first (anyone who started the
    bot), else `chat_id` (their sector group); None when Telegram does not say."""
    try:
        chat = await bot.get_chat(user_id)
        name = " ".join(part for part in (chat.first_name, chat.last_name) if part)
        if name:
            return name
    except TelegramError:
        pass
    if chat_id is not None:
        try:
            return (await bot.get_chat_member(chat_id, user_id)).user.full_name or None
        except TelegramError:
            pass
    return None


async def name_links(bot: Bot, text: str) -> str:
    """`text` (HTML) with each profile link labelled with the person's current name; a link
    Telegram says nothing about keeps its label."""
    found = {int(match.group(1)) for match in LINK.finditer(text)}
    if not found:
        return text
    names = {user_id: await current_name(bot, user_id) for user_id in sorted(found)}

    def label(match: re.Match[str]) -> str:
        name = names.get(int(match.group(1)))
        return match.group(0) if not name else \
            f'<a href="tg://user?id={match.group(1)}">{escape(name)}</a>'

    return LINK.sub(label, text)
