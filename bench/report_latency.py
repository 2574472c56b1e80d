"""Reports from confirmation to the gendarmerie's card, beside a bare PTB echo handler.

N residents each prepare a report up to its summary, then all confirm at once. For each
report the bench measures the time from the "Envoyer" press to the liaison's card, and the
throughput over the burst. A liaison that is a private chat receives at most one message
per second (Telegram's per-chat limit, scaled here), so that is the physical bound of the
throughput; grouping similar reports is what keeps a real burst under it. The baseline is
a plain python-telegram-bot Application answering each message with one reply, on the
same emulator with the same limits, in the same run.

    python3 dev.py bench report_latency
    VIGIE_BENCH_REPORTS=60 VIGIE_BENCH_SCALE=10 python3 dev.py bench report_latency
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

from telegram import Update
from telegram.ext import AIORateLimiter, Application, ContextTypes, MessageHandler, filters

from core import logs
from core.runtime.application import build_application
from core.runtime.lifecycle import running, services_of
from emulator import Limits, Person, TelegramEmulator
from testing.local import local_settings
from testing.scripts import draft_report, fr

SCALE = float(os.environ.get("VIGIE_BENCH_SCALE", "5"))
REPORTS = int(os.environ.get("VIGIE_BENCH_REPORTS", "30"))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def watch(person: Person, pattern: re.Pattern[str], seen: dict[int, float],
                expected: int) -> None:
    """Note when each expected message first appears in a chat (5 ms resolution)."""
    while len(seen) < expected:
        now = time.monotonic()
        for message in person.inbox():
            match = pattern.search(message.text or "")
            if match:
                seen.setdefault(int(match.group(1)), now)
        await asyncio.sleep(0.005)


async def vigie_run(emu: TelegramEmulator, folder: Path) -> tuple[list[float], float]:
    official = emu.create_user("Élue")
    liaison = emu.create_user("Gendarme")
    residents = [emu.create_user(f"Habitant {n}") for n in range(REPORTS)]
    settings = local_settings(emu, folder / "bench.db", SCALE, {
        "sectors": [{"name": "Centre"}],
        "roles": {"officials": [official.id], "liaison_chat_id": liaison.id},
        "reports": {"relay_mode": "direct", "max_per_hour": 100},
        "outbox": {"poll_interval_seconds": 0.02}, "logging": {"level": "ERROR"},
    })
    async with running(build_application(settings)) as app:
        store = services_of(app).store
        sector = (await store.sectors.active())[0]
        version = services_of(app).charter.version
        for person in (official, liaison, *residents):
            person.send_command("/aide")  # Telegram lets the bot write only to who started it
        for person in residents:  # enrolled residents, set up directly: not what is measured
            await store.people.ensure(person.id, "fr")
            await store.charter.accept(person.id, version, "fr")
            await store.people.enrol(person.id, sector.id, None)
        for number, person in enumerate(residents):
            # Unrelated texts: similar ones would be grouped into one card, not measured here.
            await draft_report(person, " ".join(f"fait{number}x{word}" for word in range(6)),
                               step_timeout=30)

        confirmed: dict[int, float] = {}
        cards: dict[int, float] = {}
        watcher = asyncio.create_task(
            watch(liaison, re.compile(r"Signalement n°(\d+)"), cards, REPORTS))
        for person in residents:
            confirmed[person.id] = time.monotonic()
            person.press(fr("reports.confirm"))
        await asyncio.wait_for(watcher, timeout=120)
        latencies = []
        for person in residents:
            sent = await person.wait_for(text="Envoyé", since=0, timeout=30)
            report_id = int(re.findall(r"n°(\d+)", sent.text or "")[0])
            latencies.append(cards[report_id] - confirmed[person.id])
        span = max(cards.values()) - min(confirmed.values())
    return latencies, span


async def main() -> None:
    logs.configure("ERROR", "console")
    with TelegramEmulator(limits=Limits(scale=SCALE)) as emu, \
            tempfile.TemporaryDirectory() as tmp:
        latencies, span = await vigie_run(emu, Path(tmp))
        echo_latencies, echo_span = await echo_baseline(emu)
    bound = 1.0 * SCALE  # a private liaison chat: one message per second, scaled
    rate = REPORTS / span
    print(f"report_latency: {REPORTS} reports confirmed at once, time scale x{SCALE:g}")
    print(f"  vigie: {rate:.2f} reports/s = {rate / bound:.3f} of the liaison chat's limit "
          f"({bound:g}/s scaled); confirm→liaison card: first {min(latencies) * 1000:.0f} ms "
          f"(no queue), median {statistics.median(latencies) * 1000:.0f} ms, p99 "
          f"{percentile(latencies, 0.99) * 1000:.0f} ms (the burst queues behind the limit)")
    print(f"  bare PTB echo, same emulator: {REPORTS / echo_span:.2f} replies/s; message→reply "
          f"median {statistics.median(echo_latencies) * 1000:.0f} ms, p99 "
          f"{percentile(echo_latencies, 0.99) * 1000:.0f} ms")


async def echo_baseline(emu: TelegramEmulator) -> tuple[list[float], float]:
    """A plain Application replying to each message: the floor any bot pays."""
    people = [emu.create_user(f"Écho {n}") for n in range(REPORTS)]

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text(f"écho {update.message.text}")

    app = (Application.builder().token(emu.token).base_url(emu.base_url)
           .rate_limiter(AIORateLimiter(max_retries=5)).build())
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    sent: dict[int, float] = {}
    arrived: dict[int, float] = {}
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        for number, person in enumerate(people):
            sent[number] = time.monotonic()
            person.send_text(str(number))
        while len(arrived) < len(people):
            now = time.monotonic()
            for number, person in enumerate(people):
                if number not in arrived and any(m.text == f"écho {number}"
                                                 for m in person.inbox()):
                    arrived[number] = now
            await asyncio.sleep(0.005)
        await app.updater.stop()
        await app.stop()
    latencies = [arrived[n] - sent[n] for n in sent]
    return latencies, max(arrived.values()) - min(sent.values())
