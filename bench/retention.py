"""The retention purge over a large store, while residents keep asking the bot for /aide.

A store of N reports (default 1,000,000) spread evenly over three years is seeded through
`storage/` (`Reports.seed_bulk`, 50,000 rows per transaction), so with the default 90 days
of retention about 92 % of them are past it: a bot restarted after a long stop. The real
application then starts against the emulator; its purge at start runs while 40 residents,
in turn, send /aide and wait for the answer. Printed: the seeding time, the purge's total
time, the longest time the store's lock was held during the purge (every transaction is
timed by `Database.lock_recorder`) against its 50 ms target, and the p50/p99 reply time of
/aide during the purge against the 200 ms target; also the file's size before and after.

    python3 dev.py bench retention
    VIGIE_BENCH_REPORTS=20000 python3 dev.py bench retention
    .venv/bin/python -m bench.retention --reports 20000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from core import i18n, logs
from core.runtime.application import build_application
from core.runtime.lifecycle import PURGE_GUARD, running
from core.services import services_of
from emulator import Limits, TelegramEmulator
from storage import Store
from storage.reports import SeedReport
from storage.statuses import ReportStatus
from testing.local import local_settings

SCALE = 10.0
REPORTS = int(os.environ.get("VIGIE_BENCH_REPORTS", "1000000"))
SECTORS = [f"Secteur {n}" for n in range(20)]
CATEGORIES = ("vehicle", "behaviour", "doorstep", "burglary", "incivility", "other")
STATUSES = (ReportStatus.RELAYED, ReportStatus.RECEIVED, ReportStatus.CLOSED,
            ReportStatus.CLOSED, ReportStatus.UNFOUNDED, ReportStatus.PATROL,
            ReportStatus.DISMISSED, ReportStatus.TRIAGE)
SEED_CHUNK = 50_000
YEARS = 3
DAY = 86400.0
RESIDENTS = 40
TEXT = ("Une voiture grise tourne depuis une heure rue des Lilas, deux personnes à bord, "
        "plaque partiellement lisible ; elle s'est arrêtée devant le numéro 12 puis repartie.")
LOCK_TARGET, REPLY_TARGET = 0.050, 0.200


@dataclass(frozen=True)
class Result:
    reports: int
    purged: int
    seed_seconds: float
    purge_seconds: float
    longest_lock: float
    longest_by: str  # the coroutine that held it
    transactions: int
    replies: tuple[float, ...]
    size_before: int
    size_after: int

    @property
    def reply_p99(self) -> float:
        return percentile(list(self.replies), 0.99)


def holder() -> str:
    """Who holds the store's lock: the innermost calls of ours on the stack, to name the
    longest hold (the recorder runs inside the transaction's exit)."""
    ours = [f"{Path(frame.filename).stem}.{frame.name}" for frame in traceback.extract_stack()
            if "/.venv/" not in frame.filename and "/bench/" not in frame.filename
            and not frame.filename.endswith(("storage/db.py", "contextlib.py"))
            and "python3" not in frame.filename]
    return " < ".join(reversed(ours[-3:])) or "?"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered \
        else 0.0


def seed_report(n: int, sector_id: int, at: float) -> SeedReport:
    """The n-th report: statuses, relays and answers in a steady mix."""
    status = STATUSES[n % len(STATUSES)]
    relayed = status not in (ReportStatus.TRIAGE, ReportStatus.DISMISSED)
    relayed_after = 600.0 + (n % 7) * 300 if relayed else None
    answered_after = (relayed_after + 1800.0 + (n % 13) * 600
                      if relayed_after is not None and status != ReportStatus.RELAYED else None)
    return SeedReport(sector_id, CATEGORIES[n % len(CATEGORIES)], at, TEXT, status=status,
                      untriaged=n % 5 == 0 and relayed, relayed_after=relayed_after,
                      answered_after=answered_after)


async def seed(database: Path, reports: int) -> None:
    """`reports` reports over the last three years, oldest first, through storage/."""
    store = Store(database)
    await store.open()
    try:
        await store.sectors.apply_config((name, None) for name in SECTORS)
        sector_ids = [sector.id for sector in await store.sectors.active()]
        now, span = time.time(), YEARS * 365 * DAY
        for first in range(0, reports, SEED_CHUNK):
            await store.reports.seed_bulk([
                seed_report(n, sector_ids[n % len(sector_ids)], now - span + span * n / reports)
                for n in range(first, min(reports, first + SEED_CHUNK))])
    finally:
        await store.close()


async def run(reports: int) -> Result:
    logs.configure("WARNING", "console", ())
    with TelegramEmulator(limits=Limits(scale=SCALE)) as emu, \
            tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "bench.db"
        started = time.monotonic()
        await seed(database, reports)
        seed_seconds = time.monotonic() - started
        size_before = database.stat().st_size
        residents = [emu.create_user(f"Habitant {n}", language_code="fr")
                     for n in range(RESIDENTS)]
        app = build_application(local_settings(emu, database, SCALE, {
            "sectors": [{"name": name} for name in SECTORS], "logging": {"level": "WARNING"}}))
        svc = services_of(app)
        holds: list[tuple[float, float, str]] = []  # (when released, seconds held, by)
        svc.store.db.lock_recorder = lambda held: holds.append(
            (time.monotonic(), held, holder()))
        guard = app.bot_data.setdefault(PURGE_GUARD, asyncio.Lock())
        replies: list[float] = []
        help_title = i18n.t("fr", "help.title")
        async with running(app):
            while not guard.locked():  # noqa: ASYNC110 - the purge at start, a moment after
                await asyncio.sleep(0.001)
            began = time.monotonic()
            turn = 0
            while guard.locked():
                person = residents[turn % RESIDENTS]
                turn += 1
                sent = time.monotonic()
                person.send_command("/aide")
                await person.wait_for(text=help_title, timeout=60)
                replies.append(time.monotonic() - sent)
            purge_seconds = time.monotonic() - began
            row = await svc.store.db.fetch_one(
                "SELECT COUNT(*) FROM reports WHERE purged_at IS NOT NULL")
            purged = int(row[0]) if row is not None else 0
        during = [(held, by) for at, held, by in holds if began <= at <= began + purge_seconds]
        longest, by = max(during, default=(0.0, "-"))
        return Result(reports, purged, seed_seconds, purge_seconds, longest, by, len(during),
                      tuple(replies), size_before, database.stat().st_size)


def report(result: Result) -> None:
    mib = 1024 * 1024
    print(f"retention: purge of a store of {result.reports:,} reports over {YEARS} years "
          f"(seeded through storage/ in {result.seed_seconds:.1f} s)")
    print(f"  purged {result.purged:,} reports in {result.purge_seconds:.2f} s, "
          f"{result.transactions:,} transactions")
    print(f"  longest hold of the store's lock: {result.longest_lock * 1000:.1f} ms, "
          f"ratio {result.longest_lock / LOCK_TARGET:.2f} of the 50 ms target "
          f"(by {result.longest_by})")
    print(f"  /aide during the purge: {len(result.replies)} replies, "
          f"p50 {statistics.median(result.replies or [0]) * 1000:.0f} ms, "
          f"p99 {result.reply_p99 * 1000:.0f} ms, "
          f"ratio {result.reply_p99 / REPLY_TARGET:.2f} of the 200 ms target")
    print(f"  file {result.size_before / mib:.0f} MiB before, "
          f"{result.size_after / mib:.0f} MiB after")


async def main() -> None:
    report(await run(REPORTS))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=REPORTS)
    report(asyncio.run(run(parser.parse_args().reports)))
