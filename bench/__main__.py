"""Run the benchmarks named on the command line (all of them by default)."""

from __future__ import annotations

import asyncio
import sys

from bench import (
    figures,
    kill_drill,
    liaison_group,
    notice_fanout,
    outage_drill,
    outbox_fanout,
    permission_matrix,
    report_latency,
    retention,
    screening,
    streets,
    updates,
)

BENCHMARKS = {
    "figures": figures.main,
    "kill_drill": kill_drill.main,
    "liaison_group": liaison_group.main,
    "outage_drill": outage_drill.main,
    "notice_fanout": notice_fanout.main,
    "outbox_fanout": outbox_fanout.main,
    "permission_matrix": permission_matrix.main,
    "report_latency": report_latency.main,
    "retention": retention.main,
    "screening": screening.main,
    "streets": streets.main,
    "updates": updates.main,
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    for name in names:
        asyncio.run(BENCHMARKS[name]())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
