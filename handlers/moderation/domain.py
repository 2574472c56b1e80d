"""What the bot does with a message in a sector group, as outbox rows written in one
transaction with the action, the strike and the audit entry.

Everything here reaches someone else, so it all goes through the outbox: the deletion
(first, priority 1), the author's private explanation with their text handed back, the
referents' protected card, the suspension (restrictChatMember with an until_date) and the
exclusion card. The outbox paces them to Telegram's limits and drops nothing; a deletion
of a message already gone, or a notice to someone who blocked the bot, fails alone.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from core import i18n, logs
from core.notify import language_of, mention
from core.runtime.outbox import Buttons, html_message
from core.screening import Finding
from core.services import Services
from handlers.moderation.buttons import (
    Contest,
    Exclusion,
    ExclusionChoice,
    Review,
    ReviewCard,
    Transmit,
)
from storage import Message, ModerationAction, OutboxRow, Sector
from storage.moderation import Strike
from storage.statuses import ModerationKind, ModerationStatus, Purpose

log = logs.get("handlers.moderation")

URGENT = 1  # before ordinary rows: a plate leaves the group first
# What may be passed to the gendarmerie as a report instead of being posted.
REPORTABLE = frozenset({Finding.PLATE, Finding.PHONE, Finding.EMAIL, Finding.NAMED_PERSON})
NO_RIGHTS = {name: False for name in (
    "can_send_messages", "can_send_audio", "can_send_documents", "can_send_photos",
    "can_send_videos", "can_send_video_notes", "can_send_voice_notes", "can_send_polls",
    "can_send_other_messages", "can_add_web_page_previews", "can_change_info",
    "can_invite_users", "can_pin_messages", "can_manage_topics")}
CARD_TEXT_MAX = 3000  # the card quotes the text; the author got all of it back
# Media a resident may post, and the Bot API method that reposts each by its file id.
MEDIA_METHODS = {"photo": "sendPhoto", "video": "sendVideo", "document": "sendDocument",
                 "animation": "sendAnimation", "audio": "sendAudio", "voice": "sendVoice",
                 "video_note": "sendVideoNote"}


@dataclass(frozen=True)
class Post:
    """A message in a sector group, as moderation sees it."""

    chat_id: int
    message_id: int
    sector: Sector
    author_id: int | None  # None: posted as the group, or by its linked channel
    text: str
    staff: bool  # referents, officials, admins, the liaison: reminded, never struck
    media: dict[str, str] | None = None  # {"type": "photo", "file_id": "..."}
    forwarded: bool = False
    edited: bool = False


@dataclass
class Outcome:
    """What one post led to, for the log line (counts and codes, never the text)."""

    action_id: int | None = None
    findings: list[str] = field(default_factory=list)
    strike_step: int | None = None


def ref_of(action_id: int) -> str:
    return f"moderation:{action_id}"


def action_id_in(ref: str | None) -> int | None:
    if ref is None or not ref.startswith("moderation:"):
        return None
    tail = ref.split(":", 1)[1]
    return int(tail) if tail.isdigit() else None


def subject_of(author_id: int | None, action_id: int) -> str:
    """The audit log's subject: the author, or the action when nobody wrote it (posted as
    the group)."""
    return f"user:{author_id}" if author_id is not None else ref_of(action_id)


def _t(language: str, key: str, **values: Any) -> str:
    return i18n.t(language, key, **values)


def _checks(language: str, findings: list[str]) -> str:
    return ", ".join(_t(language, f"moderation.finding.{name}") for name in findings)


def _quote(text: str) -> str:
    shown = text if len(text) <= CARD_TEXT_MAX else text[:CARD_TEXT_MAX] + "…"
    return f"<blockquote>{escape(shown)}</blockquote>"


def _until(svc: Services, at: float) -> str:
    zone = ZoneInfo(svc.settings.commune.timezone)
    return dt.datetime.fromtimestamp(at, zone).strftime("%d/%m/%Y %H:%M")


def delete_row(post: Post, action_id: int) -> Message:
    return Message(post.chat_id, "deleteMessage", {"message_id": post.message_id},
                   Purpose.MOD_DELETE, ref_of(action_id), priority=URGENT)


async def deciders(svc: Services, sector_id: int, officials: bool = False) -> list[int]:
    """Who decides for a sector: its referents (the officials when it has none, or too
    when `officials`)."""
    referents = await svc.store.referents.of_sector(sector_id)
    staff = list(svc.roles.officials) if officials or not referents else []
    return list(dict.fromkeys([*referents, *staff]))


def review_buttons(language: str, action: ModerationAction) -> Buttons:
    if action.kind is ModerationKind.REMOVED:
        pair = (Review.RESTORE, Review.CONFIRM)
    else:
        pair = (Review.PUBLISH, Review.DECLINE)
    return [[(_t(language, f"moderation.button.{choice}"),
              ReviewCard(action.id, choice).pack()) for choice in pair]]


def _author(language: str, post_or_action: Post | ModerationAction) -> str:
    author = post_or_action.author_id
    if author is None:
        return _t(language, "moderation.anonymous")
    return mention(author, language)


async def _cards(svc: Services, post: Post, action: ModerationAction,
                 strike: Strike | None) -> list[Message]:
    """The referents' protected card: which check fired, the text, Rétablir / Confirmer."""
    messages = []
    for user_id in await deciders(svc, post.sector.id):
        language = await language_of(svc, user_id)
        lines = [_t(language, "moderation.card.removed", sector=escape(post.sector.name),
                    checks=_checks(language, action.finding_list),
                    author=_author(language, post)),
                 _quote(post.text),
                 _t(language, "moderation.card.kept", hours=_hours(svc))]
        if strike is not None:
            lines.append(_t(language, f"moderation.card.strike_{min(strike.step, 3)}",
                            count=strike.step))
        elif post.staff:
            lines.append(_t(language, "moderation.card.staff"))
        messages.append(html_message(user_id, "\n".join(lines), Purpose.MOD_CARD,
                                     ref_of(action.id), protect=True,
                                     buttons=review_buttons(language, action)))
    return messages


def _hours(svc: Services) -> str:
    return f"{svc.settings.moderation.keep_hours:g}"


async def _notice(svc: Services, post: Post, action: ModerationAction,
                  strike: Strike | None, until: float | None) -> list[Message]:
    """The author's private explanation, then their own text, exactly as written."""
    assert post.author_id is not None
    language = await language_of(svc, post.author_id)
    findings = action.finding_list
    lines = [_t(language, "moderation.notice.removed", sector=escape(post.sector.name),
                checks=_checks(language, findings))]
    lines += [f"• {_t(language, f'moderation.rule.{name}')}" for name in findings
              if name != Finding.EMERGENCY]
    if strike is not None:
        step = min(strike.step, 3)
        lines.append(_t(language, f"moderation.ladder.step_{step}", count=strike.step,
                        days=svc.settings.moderation.strike_days,
                        until=_until(svc, until) if until else ""))
    elif post.staff:
        lines.append(_t(language, "moderation.notice.staff"))
    buttons: Buttons = []
    if REPORTABLE & set(findings):
        lines.append(_t(language, "moderation.notice.transmit_hint"))
        buttons.append([(_t(language, "moderation.button.transmit"),
                         Transmit(action.id).pack())])
    buttons.append([(_t(language, "moderation.button.contest"), Contest(action.id).pack())])
    lines.append(_t(language, "moderation.notice.your_text"))
    return given_back(post.author_id, "\n".join(lines), post.text, ref_of(action.id), buttons)


def given_back(user_id: int, header: str, text: str, ref: str,
               buttons: Buttons | None = None) -> list[Message]:
    """An explanation with the person's own text quoted in it, so nothing they wrote is
    lost; a text too long to quote comes right after, alone and exactly as written."""
    quoted = f"<blockquote>{escape(text)}</blockquote>" if text else ""
    if len(header) + len(quoted) < 4000:
        return [html_message(user_id, f"{header}\n{quoted}" if quoted else header,
                             Purpose.MOD_NOTICE, ref, buttons=buttons)]
    return [html_message(user_id, header, Purpose.MOD_NOTICE, ref, buttons=buttons),
            Message(user_id, "sendMessage", {"text": text}, Purpose.MOD_NOTICE, ref)]


async def _ladder(svc: Services, post: Post, strike: Strike) -> tuple[list[Message], float | None]:
    """Step 2 mutes the member until a date; step 3 asks the referents and the official."""
    settings = svc.settings.moderation
    assert post.author_id is not None
    if strike.step == 2:
        until = time.time() + settings.suspension_days * 86400
        restrict = Message(post.chat_id, "restrictChatMember",
                           {"user_id": post.author_id, "permissions": NO_RIGHTS,
                            "until_date": int(until), "use_independent_chat_permissions": True},
                           Purpose.MOD_RESTRICT, ref_of(strike.action_id or 0), priority=URGENT)
        return [restrict], until
    if strike.step < 2:
        return [], None
    cards = []
    for user_id in await deciders(svc, post.sector.id, officials=True):
        language = await language_of(svc, user_id)
        text = _t(language, "moderation.exclusion.card", author=mention(post.author_id, language),
                  sector=escape(post.sector.name), count=strike.step,
                  days=settings.strike_days)
        cards.append(html_message(user_id, text, Purpose.MOD_EXCLUSION,
                                  ref_of(strike.action_id or 0), protect=True, buttons=[[
                                      (_t(language, f"moderation.button.{choice}"),
                                       Exclusion(strike.id, post.author_id, choice).pack())
                                      for choice in ExclusionChoice]]))
    return cards, None


async def remove(svc: Services, post: Post, findings: list[str], strike: bool) -> Outcome:
    """Delete the post, tell the author why with their text, card the referents, and on a
    strike-worthy finding climb the ladder (never for staff)."""
    store = svc.store
    outcome = Outcome(findings=findings)
    async with store.transaction():
        action = await store.moderation.record(
            sector_id=post.sector.id, chat_id=post.chat_id, message_id=post.message_id,
            author_id=post.author_id, kind=ModerationKind.REMOVED, findings=findings,
            text=post.text,
            author_text=post.text if post.author_id and REPORTABLE & set(findings) else None)
        if action is None:
            return outcome  # acted on already (an edit after the removal, a replay)
        outcome.action_id = action.id
        messages = [delete_row(post, action.id)]
        struck = None
        until = None
        if strike and not post.staff and post.author_id is not None:
            struck = await store.moderation.add_strike(
                post.author_id, post.sector.id, action.id,
                svc.settings.moderation.strike_days * 86400)
            outcome.strike_step = struck.step
            steps, until = await _ladder(svc, post, struck)
            messages += steps
        if post.author_id is not None:
            messages += await _notice(svc, post, action, struck, until)
        messages += await _cards(svc, post, action, struck)
        await store.outbox.enqueue(messages)
        subject = subject_of(post.author_id, action.id)
        await store.audit.record(None, "moderation.removed", subject, entry=action.id,
                                 sector=post.sector.id, findings=findings)
        if struck is not None:
            await store.audit.record(None, f"moderation.strike_{min(struck.step, 3)}", subject,
                                     entry=action.id, strike=struck.id, step=struck.step)
    svc.outbox.wake()
    return outcome


async def hold(svc: Services, post: Post, kind: ModerationKind) -> Outcome:
    """A resident's media (or a forward from outside) leaves the group at once and goes to
    the sector's referents, who publish it or decline it; the author is told."""
    store = svc.store
    outcome = Outcome()
    async with store.transaction():
        action = await store.moderation.record(
            sector_id=post.sector.id, chat_id=post.chat_id, message_id=post.message_id,
            author_id=post.author_id, kind=kind, findings=[], text=post.text or None,
            media=json.dumps(post.media) if post.media else None)
        if action is None:
            return outcome
        outcome.action_id = action.id
        messages = [delete_row(post, action.id)]
        if post.author_id is not None:
            language = await language_of(svc, post.author_id)
            key = "moderation.media.held_dm" if kind is ModerationKind.MEDIA \
                else "moderation.forward.held_dm"
            messages += given_back(post.author_id, _t(
                language, key, media=_media_name(language, post.media),
                sector=escape(post.sector.name)), post.text, ref_of(action.id))
        for user_id in await deciders(svc, post.sector.id):
            messages.append(await _held_card(svc, user_id, post, action))
        await store.outbox.enqueue(messages)
        await store.audit.record(None, f"moderation.{kind}_held",
                                 subject_of(post.author_id, action.id),
                                 entry=action.id, sector=post.sector.id)
    svc.outbox.wake()
    return outcome


def _media_name(language: str, media: dict[str, str] | None) -> str:
    return _t(language, f"moderation.media_kind.{media['type'] if media else 'text'}")


async def _held_card(svc: Services, user_id: int, post: Post,
                     action: ModerationAction) -> Message:
    language = await language_of(svc, user_id)
    key = "moderation.media.card" if action.kind is ModerationKind.MEDIA \
        else "moderation.forward.card"
    header = _t(language, key, media=_media_name(language, post.media),
                sector=escape(post.sector.name), author=_author(language, post))
    buttons = review_buttons(language, action)
    if post.media is None:
        return html_message(user_id, f"{header}\n{_quote(post.text)}", Purpose.MOD_CARD,
                            ref_of(action.id), protect=True, buttons=buttons)
    caption = header + (f"\n{_quote(post.text[:700])}" if post.text else "")
    card = html_message(user_id, caption, Purpose.MOD_CARD, ref_of(action.id), protect=True,
                        buttons=buttons)
    payload = dict(card.payload)
    payload.pop("text")
    payload.pop("link_preview_options", None)
    payload["caption"] = caption
    payload[post.media["type"]] = post.media["file_id"]
    return Message(user_id, MEDIA_METHODS[post.media["type"]], payload, Purpose.MOD_CARD,
                   ref_of(action.id))


async def refuse_media(svc: Services, post: Post) -> Outcome:
    """moderation.media = "remove": out of the group, the author told how to report it."""
    store = svc.store
    outcome = Outcome()
    async with store.transaction():
        action = await store.moderation.record(
            sector_id=post.sector.id, chat_id=post.chat_id, message_id=post.message_id,
            author_id=post.author_id, kind=ModerationKind.MEDIA, findings=[], text=None)
        if action is None:
            return outcome
        await store.moderation.decide(action.id, ModerationStatus.DECLINED, None)
        outcome.action_id = action.id
        messages = [delete_row(post, action.id)]
        if post.author_id is not None:
            language = await language_of(svc, post.author_id)
            messages += given_back(post.author_id, _t(
                language, "moderation.media.removed_dm", sector=escape(post.sector.name)),
                post.text, ref_of(action.id))
        await store.outbox.enqueue(messages)
        await store.audit.record(None, "moderation.media_removed",
                                 subject_of(post.author_id, action.id),
                                 entry=action.id, sector=post.sector.id)
    svc.outbox.wake()
    return outcome


async def remind(svc: Services, post: Post, key: str, every_seconds: float | None) -> bool:
    """A short reply in the group (the emergency numbers, "unverified"); the emergency one
    at most once per group every `every_seconds`."""
    store = svc.store
    if every_seconds is not None and not await store.moderation.claim_reminder(
            post.chat_id, key, every_seconds):
        return False
    language = svc.settings.commune.language
    message = html_message(post.chat_id, _t(language, key), Purpose.MOD_GROUP_REPLY,
                           f"moderation:reply:{post.message_id}", priority=URGENT,
                           dedupe_key=f"mod_reply:{post.chat_id}:{post.message_id}:{key}")
    payload = {**message.payload, "reply_parameters": {
        "message_id": post.message_id, "allow_sending_without_reply": True}}
    await svc.outbox.send(Message(message.chat_id, message.method, payload, message.purpose,
                                  message.ref, message.dedupe_key, message.priority))
    return True


# --- decisions -----------------------------------------------------------------------------


async def _edit_cards(svc: Services, action: ModerationAction, key: str) -> list[Message]:
    """Every referent's card of this action loses its text and its buttons: decided."""
    messages = []
    for row in await svc.store.outbox.by_ref(Purpose.MOD_CARD, ref_of(action.id)):
        language = await language_of(svc, row.chat_id)
        text = _t(language, key)
        method = "editMessageText" if row.method == "sendMessage" else "editMessageCaption"
        field_name = "text" if method == "editMessageText" else "caption"
        messages.append(Message(row.chat_id, method, {
            "message_id_of": row.id, field_name: text, "parse_mode": "HTML",
            "reply_markup": {"inline_keyboard": []}}, Purpose.MOD_CARD, ref_of(action.id)))
    return messages


async def decide(svc: Services, action: ModerationAction, decision: Review,
                 referent_id: int) -> bool:
    """A referent's press on a card, applied once: the text is erased with the decision."""
    store = svc.store
    status = {Review.RESTORE: ModerationStatus.RESTORED, Review.CONFIRM: ModerationStatus.CONFIRMED,
              Review.PUBLISH: ModerationStatus.PUBLISHED,
              Review.DECLINE: ModerationStatus.DECLINED}[decision]
    allowed = (Review.RESTORE, Review.CONFIRM) if action.kind is ModerationKind.REMOVED \
        else (Review.PUBLISH, Review.DECLINE)
    if decision not in allowed:
        return False
    language = svc.settings.commune.language
    async with store.transaction():
        if not await store.moderation.decide(action.id, status, referent_id):
            return False
        messages: list[Message] = []
        ref = ref_of(action.id)
        if decision in (Review.RESTORE, Review.PUBLISH):
            messages += _repost(svc, action, language)
            if action.strike_id is not None:
                await store.moderation.cancel_strike(action.strike_id)
        if action.author_id is not None:
            author_language = await language_of(svc, action.author_id)
            messages.append(html_message(action.author_id, _t(
                author_language, f"moderation.decided_dm.{decision}"), Purpose.MOD_NOTICE, ref))
        messages += await _edit_cards(svc, action, f"moderation.card.decided_{decision}")
        await store.outbox.enqueue(messages)
        await store.moderation.scrub_cards(action.id)
        await store.audit.record(referent_id, f"moderation.{decision}",
                                 subject_of(action.author_id, action.id),
                                 entry=action.id, sector=action.sector_id)
    svc.outbox.wake()
    return True


def _repost(svc: Services, action: ModerationAction, language: str) -> list[Message]:
    """The text (or media) back in the group, as restored by a referent, crediting the
    author by a link to their profile (the bot never stores a name)."""
    credit = _author(language, action)
    ref = ref_of(action.id)
    if action.kind is ModerationKind.MEDIA and action.media:
        media = json.loads(action.media)
        caption = _t(language, "moderation.media.published", author=credit)
        if action.text:
            caption += f"\n{escape(action.text[:800])}"
        return [Message(action.chat_id, MEDIA_METHODS[media["type"]],
                        {media["type"]: media["file_id"], "caption": caption,
                         "parse_mode": "HTML"}, Purpose.MOD_REPOST, ref)]
    key = "moderation.restored_post" if action.kind is ModerationKind.REMOVED \
        else "moderation.forward.published"
    header = _t(language, key, author=credit)
    text = action.text or ""
    room = 4000 - len(header)
    return [html_message(action.chat_id, f"{header}\n{escape(text[:room])}",
                         Purpose.MOD_REPOST, ref)]


async def contest(svc: Services, action: ModerationAction) -> bool:
    """The author disagrees: a card to the referents with the text, Rétablir / Confirmer."""
    store = svc.store
    if action.sector_id is None:
        return False
    sector = await store.sectors.get(action.sector_id)
    async with store.transaction():
        if not await store.moderation.contest(action.id):
            return False
        messages = []
        for user_id in await deciders(svc, action.sector_id):
            language = await language_of(svc, user_id)
            text = "\n".join([
                _t(language, "moderation.contest.card", author=_author(language, action),
                   sector=escape(sector.name if sector else "?"),
                   checks=_checks(language, action.finding_list)),
                _quote(action.text or "")])
            messages.append(html_message(user_id, text, Purpose.MOD_CARD, ref_of(action.id),
                                         protect=True, buttons=review_buttons(language, action)))
        await store.outbox.enqueue(messages)
        await store.audit.record(action.author_id, "moderation.contested",
                                 f"user:{action.author_id}", entry=action.id,
                                 sector=action.sector_id)
    svc.outbox.wake()
    return True


# --- what the outbox reports back ------------------------------------------------------------

# Telegram's answers when the bot is not allowed to act (lower-cased by PTB after the first
# letter): the right to name to the referents.
MISSING_RIGHTS = (("message can't be deleted", "can_delete_messages"),
                  ("not enough rights to delete", "can_delete_messages"),
                  ("not enough rights to restrict", "can_restrict_members"),
                  ("chat_admin_required", "can_restrict_members"))


async def on_failed(svc: Services, row: OutboxRow, reason: str) -> None:
    """A deletion or a suspension refused for lack of rights: the sector's referents and
    the official are told once per group and right, and screening goes on. A private
    explanation that could not be delivered (the member blocked the bot) is recorded."""
    action_id = action_id_in(row.ref)
    if row.purpose == Purpose.MOD_NOTICE and action_id is not None:
        await svc.store.moderation.notice_failed(action_id)
        await svc.store.audit.record(None, "moderation.notice_failed", ref_of(action_id))
        return
    if row.purpose not in (Purpose.MOD_DELETE, Purpose.MOD_RESTRICT):
        return
    lowered = reason.lower()
    right = next((name for text, name in MISSING_RIGHTS if text in lowered), None)
    if right is None:
        return  # e.g. "message to delete not found": someone else deleted it first
    sector = await svc.store.sectors.by_chat(row.chat_id)
    if sector is None or not await svc.store.moderation.first_time_missing(row.chat_id, right):
        return
    messages = []
    for user_id in await deciders(svc, sector.id, officials=True):
        language = await language_of(svc, user_id)
        messages.append(html_message(user_id, _t(
            language, "moderation.rights.missing", sector=escape(sector.name),
            right=_t(language, f"moderation.right.{right}"),
            effect=_t(language, f"moderation.right_effect.{right}")), Purpose.MOD_RIGHTS))
    await svc.outbox.send(*messages)
    await svc.store.audit.record(None, "moderation.right_missing", row.ref, sector=sector.id,
                                 right=right)
    log.warning("moderation.right_missing", sector=sector.id, right=right)
