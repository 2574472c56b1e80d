"""A member of a retired sector chooses another one from the bot's notice.

The notice carries the enrolment's own sector buttons (`SectorPick`). Inside the enrolment
conversation they are handled there; outside it (the notice of a retirement, or an old
enrolment message) this handler places the person as if they had chosen at enrolment:
the sector is recorded, then a waiting join request is reviewed or the group's link given
(`onboarding.finish`). Registered after the enrolment conversation, so it never takes a
press the conversation is waiting for.
"""

from __future__ import annotations

from telegram.ext import CallbackQueryHandler

from core.permissions import Action
from core.services import VigieApp
from core.turn import Turn, guarded
from handlers.enrolment import domain as enrolment
from handlers.enrolment.buttons import SectorPick
from handlers.enrolment.onboarding import finish


@guarded(Action.CHOOSE_SECTOR)
async def pick_after_retirement(turn: Turn) -> None:
    await turn.answer()
    store = turn.svc.store
    current = await store.sectors.get(turn.actor.sector_id or 0)
    if current is not None and current.active:
        await turn.reply("sectors.already_placed", sector=current.name)
        return
    target = await store.sectors.get(turn.button(SectorPick).sector_id)
    if target is None or not target.active:
        await turn.reply("enrolment.unknown_sector")
        return
    await enrolment.choose_sector(store, turn.actor.user_id, target)
    await turn.reply("enrolment.sector_chosen", sector=target.name)
    await finish(turn)


def register(app: VigieApp) -> None:
    app.add_handler(CallbackQueryHandler(pick_after_retirement, pattern=SectorPick.pattern()))
