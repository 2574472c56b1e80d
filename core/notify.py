"""Telling someone other than the person acting: a notice in their language, through the
outbox. Used by every flow (enrolment, moderation, reports, notices).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from html import escape

from telegram import Bot

from core import i18n
from core.names import current_name
from core.runtime.outbox import html_message
from core.services import Services
from storage.statuses import Purpose


def mention(user_id: int, language: str) -> str:
    """A link to the person's profile, labelled "see the profile": the outbox labels it
    with their current name when it sends the text (core/names.py); we never store it."""
    return f'<a href="tg://user?id={user_id}">{i18n.t(language, "enrolment.profile")}</a>'


def named(user_id: int, name: str | None, language: str) -> str:
    """A link to the person's profile labelled with `name` (as Telegram gave it just now),
    or the neutral "see the profile" when Telegram did not say."""
    label = escape(name) if name else i18n.t(language, "enrolment.profile")
    return f'<a href="tg://user?id={user_id}">{label}</a>'


async def mention_now(bot: Bot, user_id: int, language: str, chat_id: int | None = None
                      ) -> str:
    """`named` with the name Telegram gives now."""
    return named(user_id, await current_name(bot, user_id, chat_id), language)


async def mentions_now(bot: Bot, people: Iterable[tuple[int, int | None]], language: str
                       ) -> dict[int, str]:
    """`mention_now` for several (user id, chat id) at once, asked concurrently."""
    wanted = list(dict(people).items())
    found = await asyncio.gather(*(mention_now(bot, user_id, language, chat_id)
                                   for user_id, chat_id in wanted))
    return {user_id: text for (user_id, _), text in zip(wanted, found, strict=True)}


async def language_of(svc: Services, user_id: int) -> str:
    """The language we speak to this person: theirs, else the commune's."""
    person = await svc.store.people.get(user_id)
    return person.language if person else svc.settings.commune.language


async def notify(svc: Services, user_id: int, key: str, purpose: Purpose, *,
                 language: str | None = None, **values: object) -> None:
    """A notice to one person, in their language, through the outbox; text values are
    HTML-escaped. `language` is for people the bot has no record of (Telegram's guess)."""
    safe = {name: escape(v) if isinstance(v, str) else v for name, v in values.items()}
    text = i18n.t(language or await language_of(svc, user_id), key, **safe)
    await svc.outbox.send(html_message(user_id, text, purpose))


async def notify_staff(svc: Services, key: str, purpose: Purpose, **values: object) -> None:
    """The same notice to every official and administrator, once each."""
    roles = svc.roles
    for user_id in dict.fromkeys([*roles.officials, *roles.admins]):
        await notify(svc, user_id, key, purpose, language=None, **values)
