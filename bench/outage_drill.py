"""Outage drill: Telegram refuses every call for a while, first with 5xx, then by timing out.

The real bot runs against the emulator in this process. Residents have reports ready; some
confirm just before the outage, while the mairie's notice to each of them is being sent,
the others confirm during it (Telegram keeps those updates). The emulator then answers
every call 502 for `FIVE_XX` seconds, then holds every connection unanswered for `TIMEOUTS`
seconds, then recovers. Afterwards every report must be stored once and reach the liaison
once, and every notice must be delivered once; the drill prints the counts, the uncertain
sends, what the emulator refused, and how long delivery took once Telegram was back.

    python3 dev.py bench outage_drill
    VIGIE_DRILL_RESIDENTS=40 VIGIE_DRILL_OUTAGE=10 python3 dev.py bench outage_drill
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.drills import Tally, draft, enrol_directly, report_text, tally, tally_line
from core import logs
from core.runtime.application import build_application
from core.runtime.lifecycle import running, services_of
from core.runtime.outbox import html_message
from emulator import Limits, Person, TelegramEmulator
from testing.local import local_settings
from testing.scripts import fr

RESIDENTS = int(os.environ.get("VIGIE_DRILL_RESIDENTS", "20"))
OUTAGE = float(os.environ.get("VIGIE_DRILL_OUTAGE", "5"))  # seconds of each kind
SCALE = 10.0
SECTOR = "Centre"
NOTICE = "Avis de la mairie : exercice de coupure"
STEP_TIMEOUT = 60.0


@dataclass
class OutageResult:
    residents: int
    five_xx_seconds: float
    timeout_seconds: float
    tally: Tally
    notices_sent: int
    notices_delivered: int  # residents who got the notice
    notice_duplicates: int
    refused_5xx: int  # calls the emulator answered 502
    unanswered: int  # calls it held and closed without an answer
    recovery_seconds: float  # from the end of the outage to the last card and notice


async def run_outage(residents: int, five_xx: float, timeouts: float, folder: Path
                     ) -> OutageResult:
    with TelegramEmulator(limits=Limits(scale=SCALE)) as emu:
        liaison = emu.create_user("Gendarme")
        people = [emu.create_user(f"Habitant {n}") for n in range(residents)]
        database = folder / "outage.db"
        settings = local_settings(emu, database, SCALE, {
            "sectors": [{"name": SECTOR}], "roles": {"liaison_chat_id": liaison.id},
            "reports": {"relay_mode": "direct", "max_per_hour": 1000},
            "outbox": {"base_backoff_seconds": 1.0}, "logging": {"level": "ERROR"},
        })
        await enrol_directly(settings, SECTOR, people)
        async with running(build_application(settings)) as app:
            svc = services_of(app)
            for person in (liaison, *people):
                person.send_command("/aide")  # the bot may write only to who started it
            texts = [report_text(n, 0) for n in range(residents)]
            for person, text in zip(people, texts, strict=True):
                await draft(emu, person, text, STEP_TIMEOUT)
            before, during = people[: residents // 2], people[residents // 2:]
            sent: list[str] = []

            for person in before:  # confirmed just before: their cards are on the way
                sent.append(texts[people.index(person)])
                person.press(fr("reports.confirm"))
            await svc.outbox.send(*(html_message(p.id, NOTICE, "notice") for p in people))
            emu.faults.hold = 3600.0  # held until the outage ends
            emu.faults.outage("5xx")
            await confirm_during(people, during, texts, sent, five_xx / 2)
            await asyncio.sleep(five_xx / 2)
            emu.faults.outage("timeout")
            await asyncio.sleep(timeouts)
            emu.faults.clear()
            back = time.monotonic()
            await until_delivered(emu, liaison, people, database, sent)
            recovery = time.monotonic() - back
            for person in during:  # each gets its "Envoyé", late
                await person.wait_for(text="Envoyé !", since=0, timeout=STEP_TIMEOUT)
        notices = Counter(m.chat_id for p in people for m in p.inbox() if m.text == NOTICE)
        calls = emu.calls
        return OutageResult(
            residents=residents, five_xx_seconds=five_xx, timeout_seconds=timeouts,
            tally=tally(database, sent, liaison), notices_sent=residents,
            notices_delivered=len(notices),
            notice_duplicates=sum(count - 1 for count in notices.values()),
            refused_5xx=sum(1 for call in calls if call.status == 502),
            unanswered=sum(1 for call in calls if call.status is None),
            recovery_seconds=recovery)


async def confirm_during(people: list[Person], during: list[Person], texts: list[str],
                         sent: list[str], spread: float) -> None:
    """Residents press "Envoyer" one by one while Telegram is down: the updates wait there."""
    for person in during:
        await asyncio.sleep(spread / max(len(during), 1))
        sent.append(texts[people.index(person)])
        person.press(fr("reports.confirm"))


async def until_delivered(emu: TelegramEmulator, liaison: Person, people: list[Person],
                          database: Path, sent: list[str]) -> None:
    def done() -> bool:
        notices = sum(1 for p in people if any(m.text == NOTICE for m in p.inbox()))
        return notices == len(people) and tally(database, sent, liaison).relayed == len(sent)

    await emu.wait_until(done, timeout=120)


def describe(result: OutageResult) -> str:
    return "\n".join([
        f"outage_drill: {result.residents} residents; Telegram answers 502 for "
        f"{result.five_xx_seconds:g} s, then times out for {result.timeout_seconds:g} s "
        f"(time scale ×{SCALE:g})",
        f"  {tally_line(result.tally)}",
        f"  notices sent {result.notices_sent}, delivered {result.notices_delivered} "
        f"(duplicates: {result.notice_duplicates})",
        f"  the emulator refused {result.refused_5xx} calls with 502 and left "
        f"{result.unanswered} unanswered; everything delivered "
        f"{result.recovery_seconds:.1f} s after Telegram came back",
    ])


async def main() -> None:
    # Handlers whose direct reply meets the outage fail and log an error: expected here.
    logs.configure("CRITICAL", "console")
    with tempfile.TemporaryDirectory() as tmp:
        result = await run_outage(RESIDENTS, OUTAGE, OUTAGE, Path(tmp))
    print(describe(result))
