"""Kill drill: the bot is SIGKILLed at random moments while residents write reports.

The emulator runs in this process; the bot is a separate one (`python bot.py --config …`,
pointed at the emulator on localhost), killed with SIGKILL `KILLS` times at a random moment
after it started polling, and restarted at once. Scripted residents keep writing reports
the whole time. Then the bot gets a SIGTERM (a clean stop: exit code 0 expected) and the
drill counts what the residents confirmed against the database and the liaison's chat:
every report must be stored once and reach the liaison once; the only duplicates allowed
are sends the outbox recorded as uncertain.

    python3 dev.py bench kill_drill
    VIGIE_DRILL_KILLS=50 VIGIE_DRILL_RESIDENTS=6 VIGIE_DRILL_SEED=7 python3 dev.py bench kill_drill
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.drills import Tally, confirm, draft, enrol_directly, report_text, tally, tally_line
from core import logs
from core.settings import load_settings
from emulator import Limits, Person, TelegramEmulator

ROOT = Path(__file__).resolve().parent.parent
KILLS = int(os.environ.get("VIGIE_DRILL_KILLS", "20"))
RESIDENTS = int(os.environ.get("VIGIE_DRILL_RESIDENTS", "4"))
SEED = int(os.environ.get("VIGIE_DRILL_SEED", str(int(time.time()))))
SCALE = 10.0
SECTOR = "Centre"
UPTIME = (0.1, 2.5)  # seconds between a restart's first poll and the next SIGKILL
STEP_TIMEOUT = 60.0  # a step may wait for a restart (or two)


@dataclass
class DrillResult:
    kills: int
    residents: int
    tally: Tally
    stuck: int  # resident steps that never got their answer
    exit_code: int | None  # of the final SIGTERM
    left_pending: int  # inbox rows not handled at the end, outbox rows not settled
    restart_seconds: list[float] = field(default_factory=list)  # SIGKILL → polling again
    elapsed: float = 0.0
    crashes: CrashFigures | None = None


@dataclass
class CrashFigures:
    """What the kills actually hit, read from the bot's own log (ids only)."""

    resumed: int  # updates stored but not handled when a process died, taken up at restart
    handled_again: int  # updates whose handling a kill cut short, so handled once more
    interrupted_sends: int  # outbox rows found "sending" at restart (became uncertain)


def crash_figures(log_file: Path) -> CrashFigures:
    resumed = again = interrupted = 0
    for line in log_file.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        event = entry.get("event")
        if event == "inbox.resuming":
            resumed += int(entry.get("updates", 0))
        elif event == "inbox.handling_again":
            again += 1
        elif event == "outbox.requeued_interrupted":
            interrupted += int(entry.get("rows", 0))
    return CrashFigures(resumed, again, interrupted)


class BotProcess:
    """`python bot.py --config …` as a child process, started, killed, stopped."""

    def __init__(self, config: Path, stderr: Path) -> None:
        self.config = config
        self.stderr = stderr
        self.process: subprocess.Popen[bytes] | None = None
        # Only the drill's own configuration applies: no VIGIE_* from the environment.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}

    def start(self) -> None:
        with self.stderr.open("ab") as errors:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "bot.py"), "--config", str(self.config)],
                cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=errors)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    async def terminate(self, seconds: float = 60.0) -> int | None:
        """SIGTERM, then the exit code; None if it did not stop in time (then killed)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.to_thread(self.process.wait, seconds)
        except subprocess.TimeoutExpired:
            self.kill()
            return None


def write_config(folder: Path, emu: TelegramEmulator, liaison: Person) -> Path:
    config = folder / "drill.toml"
    config.write_text(f"""
[telegram]
token = "{emu.token}"
api_base_url = "{emu.base_url}"
file_base_url = "{emu.base_file_url}"

[storage]
database = "{folder / 'drill.db'}"

[commune]
name = "Exercice"

[[sectors]]
name = "{SECTOR}"

[roles]
liaison_chat_id = {liaison.id}

[reports]
relay_mode = "direct"
max_per_hour = 1000

[outbox]
time_scale = {SCALE}
poll_interval_seconds = 0.05
base_backoff_seconds = 1.0

[logging]
level = "INFO"
format = "json"
file = "{folder / 'bot.log'}"
""", encoding="utf-8")
    return config


async def polling_again(emu: TelegramEmulator, before: int) -> None:
    """Wait until a new bot process has reached its fetch loop (it clears the webhook first,
    then polls)."""
    await emu.wait_until(lambda: emu.stats.calls["deleteWebhook"] > before, timeout=60)


async def resident(emu: TelegramEmulator, person: Person, number: int, stop: asyncio.Event,
                   sent: list[str], stuck: list[int]) -> None:
    """Write reports one after the other until told to stop."""
    count = 0
    while not stop.is_set():
        text = report_text(number, count)
        count += 1
        try:
            await draft(emu, person, text, STEP_TIMEOUT)
            sent.append(text)  # confirmed from here on: it must arrive
            await confirm(emu, person, STEP_TIMEOUT)
        except (TimeoutError, LookupError):
            stuck.append(number)
            person.send_command("/annuler")


async def run_drill(kills: int, residents: int, folder: Path, seed: int = SEED) -> DrillResult:
    chance = random.Random(seed)
    started_at = time.monotonic()
    with TelegramEmulator(limits=Limits(scale=SCALE)) as emu:
        liaison = emu.create_user("Gendarme")
        people = [emu.create_user(f"Habitant {n}") for n in range(residents)]
        config = write_config(folder, emu, liaison)
        database = folder / "drill.db"
        await enrol_directly(load_settings(config), SECTOR, people)
        for person in (liaison, *people):
            person.send_command("/aide")  # Telegram lets the bot write only to who started it
        bot = BotProcess(config, folder / "bot.stderr")
        bot.start()
        await polling_again(emu, 0)

        stop = asyncio.Event()
        sent: list[str] = []
        stuck: list[int] = []
        writers = [asyncio.create_task(resident(emu, person, n, stop, sent, stuck))
                   for n, person in enumerate(people)]
        restarts: list[float] = []
        for _ in range(kills):
            await asyncio.sleep(chance.uniform(*UPTIME))
            before = emu.stats.calls["deleteWebhook"]
            bot.kill()
            killed_at = time.monotonic()
            bot.start()
            await polling_again(emu, before)
            restarts.append(time.monotonic() - killed_at)
        stop.set()
        await asyncio.gather(*writers)

        # Let the last cards out, then stop cleanly and count.
        await settle(emu, database, liaison, sent)
        exit_code = await bot.terminate()
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
            left = conn.execute(
                "SELECT (SELECT COUNT(*) FROM inbox WHERE done_at IS NULL)"
                " + (SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending'))"
            ).fetchone()[0]
        result = tally(database, sent, liaison)
    return DrillResult(kills, residents, result, len(stuck), exit_code, left, restarts,
                       time.monotonic() - started_at, crash_figures(folder / "bot.log"))


async def settle(emu: TelegramEmulator, database: Path, liaison: Person, sent: list[str]
                 ) -> None:
    """Wait (a minute at most) until every confirmed report's card reached the liaison;
    what has not by then is counted as lost."""
    with contextlib.suppress(TimeoutError):
        await emu.wait_until(lambda: tally(database, sent, liaison).relayed == len(sent),
                             timeout=60)


def describe(result: DrillResult, seed: int) -> str:
    restart = (f"SIGKILL → polling again: median {statistics.median(result.restart_seconds):.2f}"
               f" s, max {max(result.restart_seconds):.2f} s" if result.restart_seconds else "")
    return "\n".join([
        f"kill_drill: {result.kills} × SIGKILL at random moments (seed {seed}), "
        f"{result.residents} residents writing reports, time scale ×{SCALE:g}",
        f"  {tally_line(result.tally)}",
        f"  resident steps left unanswered {result.stuck}; final SIGTERM exit code "
        f"{result.exit_code}; rows left pending {result.left_pending}",
        f"  {restart}; elapsed {result.elapsed:.1f} s",
        *([f"  the kills hit: {c.resumed} updates stored but not handled (taken up at "
           f"restart), {c.handled_again} cut mid-handling (handled again), "
           f"{c.interrupted_sends} sends cut mid-flight (uncertain)"]
          if (c := result.crashes) else []),
    ])


async def main() -> None:
    logs.configure("ERROR", "console")
    with tempfile.TemporaryDirectory() as tmp:
        result = await run_drill(KILLS, RESIDENTS, Path(tmp))
    print(describe(result, SEED))
