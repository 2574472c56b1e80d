"""The sector groups' first moderator: every text and caption is screened when posted and
again when edited; media and forwards from outside follow the commune's policy.

Runs in its own handler group (before the flows), so it sees every message of a sector
group whatever else answers it. Staff (referents, officials, the liaison, an anonymous
administrator, the linked channel) are screened too, but never struck, and may post media.
"""

from __future__ import annotations

from telegram import Message as TgMessage
from telegram import Update

from core import logs
from core.permissions import ChatKind
from core.screening import Finding, screen_for
from core.services import Services, VigieContext
from core.turn import Turn
from handlers.moderation import domain
from handlers.moderation.domain import MEDIA_METHODS, Outcome, Post
from storage import Sector
from storage.statuses import ModerationKind

log = logs.get("handlers.moderation.groups")


def text_of(message: TgMessage) -> str:
    """What a person wrote: the text, a caption, or a poll's question and options."""
    if message.text:
        return message.text
    if message.caption:
        return message.caption
    if message.poll is not None:
        return "\n".join([message.poll.question, *(o.text for o in message.poll.options)])
    return ""


def media_of(message: TgMessage) -> dict[str, str] | None:
    if message.photo:
        return {"type": "photo", "file_id": message.photo[-1].file_id}
    for kind in MEDIA_METHODS:
        if kind == "photo":
            continue
        item = getattr(message, kind, None)
        if item is not None and getattr(item, "file_id", None):
            return {"type": kind, "file_id": item.file_id}
    return None


def forwarded_from_outside(message: TgMessage) -> bool:
    """A forward a member brought in (a chain message, a rumour), not the linked channel's
    own post that Telegram copies into its discussion group."""
    return message.forward_origin is not None and not message.is_automatic_forward


async def _post(turn: Turn, message: TgMessage, sector: Sector, edited: bool) -> Post:
    sender_chat = message.sender_chat
    if sender_chat is not None:  # "as the group" (anonymous admin) or the linked channel
        author_id, staff = None, True
    else:
        assert message.from_user is not None
        actor = turn.actor
        author_id = message.from_user.id
        staff = actor.is_staff or actor.is_liaison or sector.id in actor.referent_of
    return Post(chat_id=message.chat.id, message_id=message.message_id, sector=sector,
                author_id=author_id, text=text_of(message), staff=staff,
                media=media_of(message), forwarded=forwarded_from_outside(message),
                edited=edited)


async def moderate(svc: Services, post: Post) -> Outcome:
    """Decide what the post's findings, media and origin lead to, and do it."""
    settings = svc.settings.moderation
    actions = settings.actions
    screening = screen_for(settings.extra_terms).examine(post.text) if post.text else None
    findings = sorted(str(f) for f in screening.findings) if screening else []
    removing = [name for name in findings if getattr(actions, name) in ("remove", "strike")]
    if removing:
        strike = any(getattr(actions, name) == "strike" for name in removing)
        outcome = await domain.remove(svc, post, removing, strike)
    elif post.media is not None and not post.staff and settings.media != "allow":
        if settings.media == "hold":
            outcome = await domain.hold(svc, post, ModerationKind.MEDIA)
        else:
            outcome = await domain.refuse_media(svc, post)
    elif post.forwarded and not post.staff and settings.forwarded == "hold":
        outcome = await domain.hold(svc, post, ModerationKind.FORWARDED)
    else:
        outcome = Outcome(findings=findings)
        if post.forwarded and settings.forwarded == "label" and not post.edited:
            await domain.remind(svc, post, "moderation.forward.label", None)
    if Finding.EMERGENCY in findings and actions.emergency == "remind":
        every = settings.emergency_reminder_minutes * 60 / svc.settings.outbox.time_scale
        await domain.remind(svc, post, "moderation.emergency.reminder", every)
    return outcome


async def screen_post(update: Update, context: VigieContext) -> None:
    """Every message and edit in a group: only sector groups are moderated."""
    svc = context.svc
    message = update.effective_message
    if not svc.settings.moderation.enabled or message is None or update.effective_user is None:
        return
    if (message.from_user is not None and message.from_user.id == context.bot.id) or \
            message.new_chat_members or message.left_chat_member:
        return
    turn = await Turn.build(update, context)
    if turn.place.kind is not ChatKind.SECTOR_GROUP or turn.place.sector_id is None:
        return
    sector = await svc.store.sectors.get(turn.place.sector_id)
    if sector is None:
        return
    if await svc.store.moderation.acted_on(message.chat.id, message.message_id):
        return  # removed or held already: a later edit changes nothing
    post = await _post(turn, message, sector, edited=update.edited_message is not None)
    if not post.text and post.media is None:
        return  # a sticker, a dice, a location: nothing to read, nothing to hold
    outcome = await moderate(svc, post)
    log.info("moderation.screened", sector=sector.id, edited=post.edited,
             findings=outcome.findings, action=outcome.action_id, strike=outcome.strike_step,
             staff=post.staff, media=post.media["type"] if post.media else None,
             forwarded=post.forwarded, length=len(post.text))
