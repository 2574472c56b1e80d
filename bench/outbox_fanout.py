"""One notice to many groups and private chats, through the outbox, at Telegram's limits.

The emulator enforces Telegram's limits (30 messages/s overall, 20/min per group, about
1/s per private chat), scaled in time by SCALE so the run takes well under a minute; the
outbox is told the same scale. The physical lower bound for N messages under "30 in any
one-second window" is (ceil(N / 30) - 1) seconds, scaled. The figure that matters is the
ratio elapsed / bound (1.00 is the limit itself) and the number of 429s met (target: 0).

    python3 dev.py bench outbox_fanout            # 1,000 groups + 1,000 private chats
    VIGIE_BENCH_CHATS=200 python3 dev.py bench    # smaller
"""

from __future__ import annotations

import asyncio
import math
import os
import tempfile
import time
from pathlib import Path

from telegram import Bot
from telegram.request import HTTPXRequest

from core.runtime.outbox import MAX_IN_FLIGHT, OutboxWorker
from core.settings import OutboxSettings
from emulator import Group, Limits, Person, TelegramEmulator
from storage import Message, Store

SCALE = float(os.environ.get("VIGIE_BENCH_SCALE", "2"))
CHATS = int(os.environ.get("VIGIE_BENCH_CHATS", "1000"))


def crowd(emu: TelegramEmulator, chats: int) -> tuple[Person, list[Group], list[Person]]:
    """A mayor, `chats` groups with the bot in them, and `chats` residents who started it
    (Telegram lets bots write only to people who did)."""
    owner = emu.create_user("Maire")
    groups = [emu.create_group(f"Secteur {n}", creator=owner) for n in range(chats)]
    for group in groups:
        group.add_bot(by=owner, admin=False)
    residents = [emu.create_user(f"R{n}") for n in range(chats)]
    for person in residents:
        person.send_command("/start")
    return owner, groups, residents


async def main() -> None:
    with TelegramEmulator(limits=Limits(scale=SCALE)) as emu, \
            tempfile.TemporaryDirectory() as tmp:
        _, groups, residents = crowd(emu, CHATS)
        chats = [g.id for g in groups] + [p.id for p in residents]

        store = Store(Path(tmp) / "bench.db")
        await store.open()
        bot = Bot(emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url,
                  request=HTTPXRequest(connection_pool_size=MAX_IN_FLIGHT + 8))
        await bot.initialize()
        worker = OutboxWorker(store, bot, OutboxSettings(time_scale=SCALE,
                                                         poll_interval_seconds=0.05))
        await store.outbox.enqueue(
            Message(chat, "sendMessage", {"text": "Avis de la mairie : réunion publique."},
                    "notice") for chat in chats)
        delivered, done = 0, asyncio.Event()

        async def count(row: object, result: object) -> None:
            nonlocal delivered
            delivered += 1
            if delivered == len(chats):
                done.set()

        worker.on_delivered["notice"] = count
        before = emu.stats.responses_429
        started = time.monotonic()
        await worker.start()
        await done.wait()
        elapsed = time.monotonic() - started
        await worker.stop()
        await bot.shutdown()
        await store.close()
        met_429 = emu.stats.responses_429 - before

    bound = (math.ceil(len(chats) / 30) - 1) / SCALE
    print(f"outbox_fanout: {len(chats)} messages ({CHATS} groups + {CHATS} private chats), "
          f"time scale x{SCALE:g}")
    print(f"  elapsed {elapsed:.2f} s, physical lower bound {bound:.2f} s "
          f"(30 msg/s), ratio {elapsed / bound:.3f}")
    print(f"  throughput {len(chats) / elapsed * 1:.1f} msg/s scaled = "
          f"{len(chats) / elapsed / SCALE:.2f} msg/s in Telegram time; 429s met: {met_429}")
