"""Telling someone other than the person acting: a notice in their language, through the
outbox. Used by every flow (enrolment, moderation, reports, notices).
"""

from __future__ import annotations

from html import escape

from core import i18n
from core.runtime.outbox import html_message
from core.services import Services
from storage.statuses import Purpose


def mention(user_id: int, language: str) -> str:
    """A link to the person's profile: Telegram shows their name, we never store it."""
    return f'<a href="tg://user?id={user_id}">{i18n.t(language, "enrolment.profile")}</a>'


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
    roles = svc.settings.roles
    for user_id in dict.fromkeys([*roles.officials, *roles.admins]):
        await notify(svc, user_id, key, purpose, language=None, **values)
