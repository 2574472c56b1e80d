"""One mairie notice to 1,000 sector groups and 1,000 residents in private, through the
whole bot: the real Application, the notice's launch (one transaction), the outbox, the
live progress edits and the final delivery report, against the emulator with Telegram's
limits switched on.

Time is scaled by SCALE on both sides so the run takes under a minute. The physical lower
bound for N messages under "30 in any one second" is (ceil(N / 30) - 1) seconds, scaled;
N counts every message the bot sent meanwhile (the copies, and the author's progress edits
and report, which share the same 30/s). Printed: elapsed time, the bound, their ratio
(target under 1.05) and the number of 429 answers met (target 0).

    python3 dev.py bench notice_fanout
    VIGIE_BENCH_CHATS=200 python3 dev.py bench notice_fanout
    VIGIE_BENCH_RESIDENTS=10000 python3 dev.py bench notice_fanout
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path

from telegram import Bot

from bench.outbox_fanout import crowd
from core import logs
from core.runtime.application import build_application
from core.runtime.lifecycle import running
from core.services import services_of
from emulator import Limits, TelegramEmulator
from handlers.broadcast import domain as broadcast
from storage import NewBroadcast
from storage.statuses import BroadcastKind
from testing.local import local_settings

SCALE = float(os.environ.get("VIGIE_BENCH_SCALE", "2"))
CHATS = int(os.environ.get("VIGIE_BENCH_CHATS", "1000"))
# Residents in private, spread over the sectors (one per sector unless told otherwise).
RESIDENTS = int(os.environ.get("VIGIE_BENCH_RESIDENTS", str(CHATS)))
SENDING = {"sendMessage", "editMessageText", "sendPhoto", "sendPoll"}


async def main() -> None:
    logs.configure("WARNING", "console", ())
    with TelegramEmulator(limits=Limits(scale=SCALE)) as emu, \
            tempfile.TemporaryDirectory() as tmp:
        official, groups, residents = crowd(emu, CHATS)
        for number in range(CHATS, RESIDENTS):
            person = emu.create_user(f"R{number}")
            person.send_command("/start")
            residents.append(person)
        official.send_command("/start")
        probe = Bot(emu.token, base_url=emu.base_url)
        async with probe:  # their /start is not what is measured: drop it
            await probe.delete_webhook(drop_pending_updates=True)

        app = build_application(local_settings(emu, Path(tmp) / "bench.db", SCALE, {
            "sectors": [{"name": f"Secteur {n}"} for n in range(CHATS)],
            "roles": {"officials": [official.id]}, "logging": {"level": "WARNING"}}))
        async with running(app):
            svc = services_of(app)
            store = svc.store
            sectors = await store.sectors.active()
            async with store.transaction():  # the set-up is not measured: one commit
                for sector, group in zip(sectors, groups, strict=True):
                    await store.sectors.link(sector.id, group.id, None)
                for number, person in enumerate(residents):
                    await store.people.ensure(person.id, "fr")
                    await store.people.enrol(person.id, sectors[number % CHATS].id, None)
            sector_ids = [sector.id for sector in sectors]
            calls_before = len([c for c in emu.calls if c.method in SENDING])
            before_429 = emu.stats.responses_429
            started = time.monotonic()
            sent = await broadcast.launch(svc, NewBroadcast(
                BroadcastKind.NOTICE, official.id, "Réunion publique sur la sécurité jeudi à 18 h.",
                sector_ids, to_residents=True), official.id, "fr")
            await official.wait_for(text=f"Envoi n°{sent.id} (annonce) terminé",
                                    timeout=600, since=None)
            elapsed = time.monotonic() - started
            messages = len([c for c in emu.calls if c.method in SENDING]) - calls_before
            met_429 = emu.stats.responses_429 - before_429
            final = await store.broadcasts.get(sent.id)
    assert final is not None
    bound = (math.ceil(messages / 30) - 1) / SCALE
    print(f"notice_fanout: one notice to {CHATS} groups + {len(residents)} residents in "
          f"private, time scale x{SCALE:g}")
    print(f"  delivered {final.delivered}/{final.recipients}, failed {final.failed}; "
          f"{messages} messages sent in all (copies + progress edits + report)")
    print(f"  elapsed {elapsed:.2f} s, physical lower bound {bound:.2f} s (30 msg/s), "
          f"ratio {elapsed / bound:.3f}; 429s met: {met_429}")
