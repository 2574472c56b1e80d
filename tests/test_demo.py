"""The demo runs to its end, shows each step's key moments in one time-ordered transcript
(what people typed and pressed, what each chat received), and saves the chart of /stats,
the annual PDF and the whole transcript. Expected texts come from the catalogues and from
the demo's own narration table, never from French written here."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from demo import narration as say
from demo.transcript import CUT, INDENT
from demo.walkthrough import (
    COMMENT,
    FILES,
    FOLLOW_UP,
    INSULT,
    MOTIVATION,
    POLL,
    REPORT,
    run_demo,
)
from testing.scripts import fr, fr_part

CLOCK = re.compile(r"^\d{2}:\d{2}  ")
PNG = b"\x89PNG\r\n\x1a\n"
Entry = tuple[str, str]  # (who → where, what), whitespace folded
ODILE = say.ROLES["official"].format(name="Odile")
GASTON = say.ROLES["liaison"].format(name="Gaston")
QUESTION, *OPTIONS = POLL.splitlines()


def visible(key: str, **values: object) -> str:
    """A catalogue text as the person sees it (HTML tags parsed away)."""
    return re.sub(r"<[^>]+>", "", fr(key, **values))


def fold(text: str) -> str:
    return " ".join(text.split())


def entries(transcript: str) -> list[Entry]:
    """The saved transcript's entries: a clocked first line, then indented lines."""
    found: list[tuple[str, list[str]]] = []
    for line in transcript.splitlines():
        if CLOCK.match(line):
            head, _, first = line[7:].partition("  ")
            found.append((head, [first]))
        elif line.startswith(INDENT) and found:
            found[-1][1].append(line)
    return [(head, fold(" ".join(body))) for head, body in found]


def group(title: str) -> str:
    return say.GROUP.format(title=title)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """One run of the demo for every check below: it takes a few seconds."""
    output = tmp_path_factory.mktemp("demo-output")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert asyncio.run(run_demo(quiet=False, output=output)) == 0
    return printed.getvalue(), output


@pytest.fixture(scope="module")
def shown(demo_run: tuple[str, Path]) -> list[Entry]:
    _, output = demo_run
    return entries((output / FILES["transcript"]).read_text(encoding="utf-8"))


def said(shown: list[Entry], head: str, *texts: str) -> int:
    """The index of the first entry from `head` holding every one of `texts`."""
    wanted = [fold(text) for text in texts]
    for index, (who, body) in enumerate(shown):
        if who == head and all(text in body for text in wanted):
            return index
    raise AssertionError(f"no entry from {head!r} with {wanted}; from {head!r}: "
                         f"{[body[:80] for who, body in shown if who == head]}")


def test_the_screen_shows_every_step_in_order_with_clocks_and_the_files(
    demo_run: tuple[str, Path]
) -> None:
    out, output = demo_run
    positions = [out.index(title) for title in say.STEPS.values()]
    assert positions == sorted(positions)
    assert sum(1 for line in out.splitlines() if CLOCK.match(line)) > 100
    assert say.EDITED in out  # edits are shown as such
    assert say.ELLIPSIS in out  # long texts are cut on screen, whole in the transcript
    transcript = (output / FILES["transcript"]).read_text(encoding="utf-8")
    assert max(len(body) for _, body in entries(transcript)) > CUT
    assert max(len(line) for line in out.splitlines() if CLOCK.match(line)) <= 100
    for name in ("stats", "annual", "transcript"):
        assert str((output / FILES[name]).resolve()) in out
    assert out.rstrip().endswith(say.END)
    assert (output / FILES["stats"]).read_bytes().startswith(PNG)
    assert (output / FILES["annual"]).read_bytes().startswith(b"%PDF-")


def test_enrolment_charter_sector_and_join_requests(shown: list[Entry]) -> None:
    odile, roland, alice = ODILE, "Roland", "Alice"
    said(shown, f"{say.BOT} → {group('Voisins — Centre-bourg')}",
         fr("groups.linked", sector="Centre-bourg"))
    accepted = said(shown, f"{alice} → {say.PRIVATE}",
                    say.PRESSED.format(label=fr("charter.accept")))
    chosen = said(shown, f"{alice} → {say.PRIVATE}", say.PRESSED.format(label="Centre-bourg"))
    asked = said(shown, f"{alice} → {group('Voisins — Centre-bourg')}", say.JOIN_REQUEST)
    card = said(shown, f"{say.BOT} → {roland}", "Rue des Lilas", fr("enrolment.approve"))
    approved = said(shown, f"{roland} → {say.PRIVATE}",
                    say.PRESSED.format(label=fr("enrolment.approve")))
    welcome = said(shown, f"{say.BOT} → {alice}",
                   fr("enrolment.join_approved", sector="Centre-bourg"))
    assert accepted < chosen < asked < card < approved < welcome
    said(shown, f"{roland} → {say.PRIVATE}", MOTIVATION)
    said(shown, f"{say.BOT} → {group('Voisins — Centre-bourg')}",
         fr("referents.announce", person=roland))
    said(shown, f"{odile} → {say.PRIVATE}", say.PRESSED.format(label=fr("enrolment.approve")))
    said(shown, f"{say.BOT} → Bob", fr("enrolment.join_approved", sector="Les Hauts"))
    said(shown, f"{say.BOT} → {group('Voisins — Centre-bourg')}", fr("denied.officials_only"))


def test_a_report_triaged_relayed_commented_and_closed(shown: list[Entry]) -> None:
    liaison = group("Gendarmerie — liaison")
    card = visible("reports.card_title", id=1, category=fr("reports.category.vehicle"))
    typed = said(shown, "Alice → " + say.PRIVATE, "/signaler")
    sent = said(shown, "Alice → " + say.PRIVATE, say.PRESSED.format(label=fr("reports.confirm")))
    triage = said(shown, f"{say.BOT} → Roland", card, REPORT, fr("reports.forward"))
    forwarded = said(shown, "Roland → " + say.PRIVATE,
                     say.PRESSED.format(label=fr("reports.forward")))
    relayed = said(shown, f"{say.BOT} → {liaison}", card)
    refreshed = said(shown, f"{say.BOT} → Roland", say.EDITED, card)  # the card follows
    assert typed < sent < triage < forwarded < min(relayed, refreshed)
    commented = said(shown, f"{GASTON} → {liaison}", COMMENT)
    told = said(shown, f"{say.BOT} → Alice", fr("reports.comment_dm", id=1, comment=COMMENT))
    closing = said(shown, f"{GASTON} → {liaison}",
                   say.PRESSED.format(label=fr("reports.status_button.c")))
    closed = said(shown, f"{say.BOT} → Alice", fr("reports.status.closed"))
    assert relayed < commented < told < closing < closed
    said(shown, f"{say.BOT} → {liaison}", visible(
        "reports.card_title", id=2, category=fr("reports.category.doorstep")))
    said(shown, f"{say.BOT} → Bob", fr("reports.status.received"))


def test_a_notice_its_delivery_report_a_follow_up_and_its_close(shown: list[Entry]) -> None:
    odile, hauts = ODILE, group("Voisins — Les Hauts")
    notice = fr("broadcast.kind.notice")
    progress = said(shown, f"{say.BOT} → {odile}", fr_part("broadcast.progress"))
    copy = said(shown, f"{say.BOT} → {hauts}", fr_part("broadcast.header.notice"))
    pinned = said(shown, f"{say.BOT} → {hauts}", say.PINNED.split("{")[0])
    report = said(shown, f"{say.BOT} → {odile}", say.EDITED, fr(
        "broadcast.report", id=1, kind=notice, delivered=6, failed=0, total=6))
    assert progress < copy < min(pinned, report)  # the progress message comes first
    said(shown, f"{odile} → {say.PRIVATE}", FOLLOW_UP)
    said(shown, f"{say.BOT} → {odile}", fr("broadcast.followup_sent", id=1, chats=6))
    said(shown, f"{say.BOT} → {hauts}", say.REPLY.split("{")[0],
         visible("broadcast.followup_header", id=1, kind=notice, body=FOLLOW_UP))
    said(shown, f"{say.BOT} → Alice", FOLLOW_UP)
    said(shown, f"{say.BOT} → {odile}", fr("broadcast.send_closed_now", id=1))
    said(shown, f"{say.BOT} → {hauts}", say.UNPINNED.split("{")[0])


def test_a_poll_the_votes_and_the_results(shown: list[Entry]) -> None:
    said(shown, f"{say.BOT} → {group('Voisins — Centre-bourg')}",
         say.POLL.format(question=QUESTION))
    said(shown, f"Bob → {group('Voisins — Les Hauts')}", say.VOTE.format(option=OPTIONS[0]))
    said(shown, f"{say.BOT} → {ODILE}",  # Alice and Bob chose the first, Roland the second
         fr("broadcast.results_option", option=OPTIONS[0], count=2, share=67),
         fr("broadcast.results_option", option=OPTIONS[1], count=1, share=33))


def test_an_insult_removed_and_handed_back_then_the_figures(shown: list[Entry]) -> None:
    hauts = group("Voisins — Les Hauts")
    posted = said(shown, f"Bob → {hauts}", INSULT)
    removed = said(shown, f"{say.BOT} → {hauts}", say.DELETED.format(who="Bob", text=INSULT))
    handed = said(shown, f"{say.BOT} → Bob", fr_part("moderation.notice.removed"), INSULT)
    assert posted < min(removed, handed)
    said(shown, f"{say.BOT} → Alice", fr("tips.topic.arnaques"))
    said(shown, f"{say.BOT} → {ODILE}", fr("dashboard.reports_total", count=2))
    said(shown, f"{say.BOT} → {ODILE}", say.PHOTO)
    year = datetime.now(ZoneInfo("Europe/Paris")).year
    said(shown, f"{say.BOT} → {ODILE}", say.DOCUMENT.format(name=f"bilan-vigie-{year}.pdf"))


def test_the_journal_is_off_unless_asked_and_keeps_who_did_what_in_order() -> None:
    from emulator import TelegramEmulator

    quiet = TelegramEmulator()
    quiet.create_user("Alice").send_text("bonjour")
    assert quiet.journal() == []

    emu = TelegramEmulator(journal=True)
    alice, bob = emu.create_user("Alice"), emu.create_user("Bob")
    centre = emu.create_group("Voisins", creator=alice, members=[bob], supergroup=True)
    centre.add_bot(by=alice)
    alice.send_command("/start")
    bob.send_text("bonsoir", chat=centre)
    events = emu.journal()
    assert [e.kind for e in events] == ["update"] * 4  # my_chat_member, service, 2 messages
    assert [e.chat_id for e in events][-2:] == [alice.id, centre.id]
    assert events[-1].data["message"]["text"] == "bonsoir"
    assert [e.at for e in events] == sorted(e.at for e in events)
    emu.reset()
    assert emu.journal() == []
