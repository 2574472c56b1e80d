"""Cheap updates through the whole bot, beside a bare PTB echo bot, limits lifted.

500 different people each send /aide at once; the time from the first send to the last
reply gives Vigie's rate. The same run then measures a bare python-telegram-bot
Application (default settings: one update at a time, no rate limiter) answering 500 texts
from 500 people with one reply each, on the same emulator: the ratio of the two rates is
printed (target at least 0.6). Then both again with 500 updates from one person, which a
bot must handle in order. Telegram's flood limits are switched off in the emulator and
PTB's limiter on direct replies is lifted (`build_application(rate_limited=False)`): what
is measured is the cost of handling, not Telegram's limits.

    python3 dev.py bench updates
    VIGIE_BENCH_PEOPLE=200 python3 dev.py bench updates
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from core import logs
from core.runtime.application import build_application
from core.runtime.lifecycle import rss_mb, running
from emulator import Limits, Person, TelegramEmulator
from testing.local import local_settings

PEOPLE = int(os.environ.get("VIGIE_BENCH_PEOPLE", "500"))
ROUNDS = int(os.environ.get("VIGIE_BENCH_ROUNDS", "5"))
TIMEOUT = 300.0


async def replies_counted(emu: TelegramEmulator, expected: int, before: int) -> float:
    """Wait until `expected` more sendMessage calls were answered; returns when (monotonic)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        now = time.monotonic()
        if sent_so_far(emu) - before >= expected:
            return now
        if now > deadline:
            raise TimeoutError(f"fewer than {expected} replies after {TIMEOUT:g} s")
        await asyncio.sleep(0.005)


def sent_so_far(emu: TelegramEmulator) -> int:
    return emu.stats.calls["sendMessage"]


CPU: dict[str, float] = {}  # the latest burst's CPU seconds per update, by bot


async def burst(emu: TelegramEmulator, senders: list[Person],
                send: Callable[[Person, int], object], bot: str = "") -> float:
    """Everyone's updates at once; seconds until the last reply. The process's CPU time
    per update meanwhile (the emulator's included, the same for both bots) is kept in
    CPU[bot]: unlike the rate, it hardly depends on what else the machine runs."""
    before = sent_so_far(emu)
    started, cpu = time.monotonic(), time.process_time()
    for number, person in enumerate(senders):
        send(person, number)
    finished = await replies_counted(emu, len(senders), before)
    CPU[bot] = min(CPU.get(bot, float("inf")), (time.process_time() - cpu) / len(senders))
    return finished - started


async def vigie_runs(emu: TelegramEmulator, folder: Path) -> tuple[float, float, float | None]:
    people = [emu.create_user(f"Habitant {n}") for n in range(PEOPLE)]
    one = emu.create_user("Bavard")
    settings = local_settings(emu, folder / "bench.db", 1.0, {
        "sectors": [{"name": "Centre"}], "logging": {"level": "ERROR"}})
    async with running(build_application(settings, rate_limited=False)):
        ready_rss = rss_mb()
        # Warm-up: one update handled, so that lazy imports are not measured.
        await burst(emu, [emu.create_user("Premier")], lambda p, n: p.send_command("/aide"))
        many = await burst(emu, people, lambda p, n: p.send_command("/aide"), "vigie")
        single = await burst(emu, [one] * PEOPLE, lambda p, n: p.send_command("/aide"))
    return many, single, ready_rss


async def echo_runs(emu: TelegramEmulator) -> tuple[float, float]:
    """A plain Application replying to each message: the floor any bot pays."""
    people = [emu.create_user(f"Écho {n}") for n in range(PEOPLE)]
    one = emu.create_user("Écho seul")

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text(f"écho {update.message.text}")

    app = Application.builder().token(emu.token).base_url(emu.base_url).build()
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        await burst(emu, [emu.create_user("Écho premier")], lambda p, n: p.send_text("0"))
        many = await burst(emu, people, lambda p, n: p.send_text(str(n)), "echo")
        single = await burst(emu, [one] * PEOPLE, lambda p, n: p.send_text(str(n)))
        await app.updater.stop()
        await app.stop()
    return many, single


async def main() -> None:
    logs.configure("ERROR", "console")
    vigie: list[tuple[float, float]] = []
    echo: list[tuple[float, float]] = []
    with TelegramEmulator(limits=Limits(enabled=False)) as emu, \
            tempfile.TemporaryDirectory() as tmp:
        # Alternated, best of ROUNDS each: the machine is shared, a slow moment should not
        # be counted against either side.
        for round_ in range(ROUNDS):
            many, single, ready_rss = await vigie_runs(emu, Path(tmp) / str(round_))
            vigie.append((many, single))
            echo.append(await echo_runs(emu))
    many, single = min(v[0] for v in vigie), min(v[1] for v in vigie)
    echo_many, echo_single = min(e[0] for e in echo), min(e[1] for e in echo)
    print(f"updates: {PEOPLE} cheap updates, Telegram's limits and PTB's limiter lifted, "
          f"best of {ROUNDS} alternated rounds")
    print(f"  {PEOPLE} people, /aide each: vigie {PEOPLE / many:.0f} updates/s, bare PTB "
          f"echo {PEOPLE / echo_many:.0f}/s: ratio {echo_many / many:.2f} (target >= 0.6)")
    print(f"  one person, {PEOPLE} in order: vigie {PEOPLE / single:.0f} updates/s, bare PTB "
          f"echo {PEOPLE / echo_single:.0f}/s: ratio {echo_single / single:.2f}")
    print(f"  CPU per update, {PEOPLE} people (whole process, emulator included; best "
          f"round): vigie {CPU['vigie'] * 1000:.2f} ms, bare PTB echo "
          f"{CPU['echo'] * 1000:.2f} ms: ratio {CPU['echo'] / CPU['vigie']:.2f}")
    print(f"  RSS at ready (this process, emulator included): {ready_rss} MB; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
