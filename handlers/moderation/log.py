"""/moderation: a sector's recent moderation actions and the contests waiting for a
decision (referents see their sectors, officials every sector). Codes, never texts."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

from core.permissions import Action
from core.turn import Turn, guarded
from storage.statuses import ModerationStatus

DAYS = 14


@guarded(Action.MODERATION_LOG)
async def show(turn: Turn) -> None:
    store = turn.svc.store
    sectors = {sector.id: sector.name for sector in await store.sectors.active()}
    mine = None if turn.actor.is_staff else sorted(turn.actor.referent_of)
    actions = await store.moderation.recent(mine, time.time() - DAYS * 86400)
    if not actions:
        await turn.reply("moderation.log.none", days=DAYS)
        return
    zone = ZoneInfo(turn.svc.settings.commune.timezone)
    lines = [turn.t("moderation.log.title", days=DAYS)]
    for action in actions:
        checks = ", ".join(turn.t(f"moderation.finding.{name}") for name in action.finding_list)
        lines.append(turn.t(
            "moderation.log.line",
            date=dt.datetime.fromtimestamp(action.created_at, zone).strftime("%d/%m %H:%M"),
            sector=sectors.get(action.sector_id or 0, "?"),
            kind=turn.t(f"moderation.kind.{action.kind}"), checks=checks or "-",
            status=turn.t(f"moderation.status.{action.status}")
            + (turn.t("moderation.log.contested") if action.contested else "")))
    pending = [a for a in actions if a.status is ModerationStatus.PENDING]
    lines.append(turn.t("moderation.log.pending", count=len(pending),
                        contested=sum(1 for a in pending if a.contested)))
    await turn.say("\n".join(lines))
