"""Figures over a large store: /stats over 7, 30, 90 and 365 days, the annual report and a
year's export, asked by the mairie's official through the emulator.

The store is seeded like bench/retention.py's (N reports over three years, default
1,000,000, through `storage/`), then the real application runs with no purge in the way
(retention set to ten years). Each request is timed from the command to the last thing it
sends (the chart, the PDF, the CSV). Printed: each time, the process's CPU time meanwhile
(every thread: the bot's, its readers', the emulator's; unlike the time, it hardly depends
on what else the shared machine runs), the longest hold of the store's lock during it
(`Database.lock_recorder`, target 50 ms), and the process's peak RSS after it (a high-water
mark: the bot's own ~65 MB, plus Pillow once a chart is drawn and fpdf once a PDF is made;
the emulator keeps what it receives, the export's 34 MB CSV included). Targets: a year of
/stats within 300 ms and 150 MB peak; the annual report within 1 s.

    python3 dev.py bench figures
    VIGIE_BENCH_REPORTS=20000 python3 dev.py bench figures
    .venv/bin/python -m bench.figures --reports 20000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.retention import SECTORS, holder, seed
from core import logs
from core.runtime.application import build_application
from core.runtime.lifecycle import running
from core.services import services_of
from emulator import Limits, TelegramEmulator
from handlers.dashboard import stats
from testing.local import local_settings

SCALE = 10.0
REPORTS = int(os.environ.get("VIGIE_BENCH_REPORTS", "1000000"))
STATS_TARGET, ANNUAL_TARGET, RSS_TARGET = 0.300, 1.0, 150.0


@dataclass(frozen=True)
class Step:
    name: str
    seconds: float  # end to end: the command to its last message
    longest_lock: float
    longest_by: str
    peak_mib: float
    cpu: float  # CPU seconds of the whole process (every thread) meanwhile: load-proof
    read_mib: float  # read from the disk meanwhile (not the page cache): a cold store
    figures: float | None = None  # stats.compute alone (the SQL and its merge), in-process


def disk_read() -> int:
    """Bytes this process had read from storage (Linux), 0 where unknown."""
    try:
        with open("/proc/self/io") as counters:
            return next(int(line.split()[1]) for line in counters
                        if line.startswith("read_bytes:"))
    except (OSError, StopIteration):
        return 0


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def run(reports: int) -> tuple[float, float, list[Step]]:
    logs.configure("WARNING", "console", ())
    with TelegramEmulator(limits=Limits(scale=SCALE)) as emu, \
            tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "bench.db"
        started = time.monotonic()
        await seed(database, reports)
        seeded = time.monotonic() - started
        official = emu.create_user("Élue", language_code="fr")
        app = build_application(local_settings(emu, database, SCALE, {
            "sectors": [{"name": name} for name in SECTORS],
            "roles": {"officials": [official.id]},
            "privacy": {"retention_days": 3650},
            "logging": {"level": "WARNING"}}))
        svc = services_of(app)
        holds: list[tuple[float, str]] = []
        svc.store.db.lock_recorder = lambda held: holds.append((held, holder()))
        steps: list[Step] = []
        zone = ZoneInfo(svc.settings.commune.timezone)
        today = datetime.now(zone).date()

        async def step(name: str, command: str, args: str, kind: str,
                       days: int | None = None) -> None:
            holds.clear()
            began, cpu, was_read = time.monotonic(), time.process_time(), disk_read()
            official.send_command(command, args=args)
            await official.wait_for(lambda m: m.kind == kind, timeout=120)
            seconds, cpu = time.monotonic() - began, time.process_time() - cpu
            read = (disk_read() - was_read) / 2**20
            longest, by = max(holds, default=(0.0, "-"))
            figures = None
            if days is not None:
                began = time.monotonic()
                await stats.compute(svc.store, stats.last_days(days, today), zone, None,
                                    svc.charter.version)
                figures = time.monotonic() - began
            steps.append(Step(name, seconds, longest, by, peak_mib(), cpu, read, figures))

        async with running(app):
            ready = peak_mib()
            official.send_command("/start")  # the official's first contact, not measured
            await official.wait_for(timeout=30)
            for days in (7, 30, 90, 365):
                start = (today - timedelta(days=days - 1)).strftime("%d/%m/%Y")
                await step(f"/stats {days} days", "/stats", start, "photo", days)
            await step(f"/rapport_annuel {today.year - 1}", "/rapport_annuel",
                       str(today.year - 1), "document")
            start = (today - timedelta(days=364)).strftime("%d/%m/%Y")
            await step("/export 365 days", "/export", start, "document")
        return seeded, ready, steps


def report(reports: int, seeded: float, ready: float, steps: list[Step]) -> None:
    print(f"figures: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"a store of {reports:,} reports over 3 years "
          f"(seeded through storage/ in {seeded:.1f} s); peak RSS at ready {ready:.0f} MiB "
          "(bot, emulator and seeding in one process)")
    for found in steps:
        target = (STATS_TARGET if found.name.startswith("/stats 365") else
                  ANNUAL_TARGET if found.name.startswith("/rapport") else None)
        ratio = f", ratio {found.seconds / target:.2f} of its target" if target else ""
        sql = (f" (figures alone {found.figures * 1000:.0f} ms)"
               if found.figures is not None else "")
        print(f"  {found.name:<24} {found.seconds * 1000:7.0f} ms{sql}{ratio}; "
              f"CPU {found.cpu * 1000:.0f} ms; disk read {found.read_mib:.0f} MiB; longest lock "
              f"{found.longest_lock * 1000:.1f} ms ({found.longest_by}); "
              f"peak RSS {found.peak_mib:.0f} MiB")
    year = next(found for found in steps if found.name.startswith("/stats 365"))
    print(f"  peak RSS after a year of /stats: {year.peak_mib:.0f} MiB, "
          f"ratio {year.peak_mib / RSS_TARGET:.2f} of the 150 MB target")


async def main() -> None:
    report(REPORTS, *await run(REPORTS))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=REPORTS)
    count = parser.parse_args().reports
    report(count, *asyncio.run(run(count)))
