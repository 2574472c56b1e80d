"""Issue 13's cheap paths: one read of the actor per update, charts without matplotlib,
uploads parsed without copying them line by line.

The figures themselves (hand counts, plans, the annual report, the export) are checked in
tests/test_dashboard.py, through the reader connections `storage/stats.py` now uses.
"""

from __future__ import annotations

import itertools
import struct

from core.services import VigieApp, services_of
from emulator.server import _parse_multipart
from handlers.dashboard.charts import DPI, WIDTH_INCHES, _ticks, bar_chart
from storage.statuses import LiaisonSource
from testing.commune import make_referent
from testing.fences import quiescent
from tests.conftest import Commune, fr

PNG = b"\x89PNG\r\n\x1a\n"
STANDING = "AS liaison"  # a fragment of People.standing's statement, and of nothing else


async def test_standing_matches_the_separate_reads(vigie: VigieApp, members: Commune) -> None:
    svc = services_of(vigie)
    store = svc.store
    await make_referent(vigie, members, members.alice, "Centre-bourg")
    await store.liaison.record(-1001, members.liaison.id, True, LiaisonSource.ACTED)
    stranger = 999_999_001
    for user_id in (members.alice.id, members.liaison.id, members.official.id, stranger):
        found = await store.people.standing(user_id, -1001)
        assert found.person == await store.people.get(user_id)
        assert found.charter_accepted == await store.charter.latest_version(user_id)
        assert found.referent_of == await store.referents.sectors_of(user_id)
        assert found.liaison_member == await store.liaison.is_member(-1001, user_id)
    assert (await store.people.standing(members.alice.id)).liaison_member is None
    assert (await store.people.standing(members.alice.id, -1001)).referent_of


async def test_one_read_of_the_actor_per_update(vigie: VigieApp, members: Commune) -> None:
    """A member's /aide in private passes the charter notice (group -50) and the guard
    (group 0): the actor is read once, in one statement, for both."""
    svc = services_of(vigie)
    statements: list[str] = []
    await quiescent(vigie, members.emu)
    await svc.store.db.conn.set_trace_callback(statements.append)
    try:
        members.alice.send_command("/aide")
        await members.alice.wait_for(text=fr("help.title"))
        await quiescent(vigie, members.emu)
    finally:
        await svc.store.db.conn.set_trace_callback(None)
    assert sum(STANDING in sql for sql in statements) == 1, statements
    assert not [sql for sql in statements if "FROM charter_acceptances WHERE" in sql
                or "FROM referents WHERE user_id" in sql], statements


def test_a_chart_is_drawn_whole() -> None:
    """Every panel with bars, a zero bar, a long label cut to two lines; the size follows
    the bars (0.9 + 0.38 inch a panel, 120 dots an inch)."""
    png = bar_chart([("Par secteur", [("Centre-bourg", 12), ("Hameau", 0)]),
                     ("Vide", []),
                     ("Par catégorie", [("Un libellé bien plus long que vingt-huit "
                                         "caractères, sur trois lignes au moins", 3)])],
                    "Signalements du 01/01/2026 au 31/01/2026 🏰")
    assert png.startswith(PNG)
    width, height = struct.unpack(">II", png[16:24])
    assert width == round(WIDTH_INCHES * DPI)
    assert height == round(0.5 * DPI) + round((0.9 + 0.38 * 2) * DPI) \
        + round((0.9 + 0.38) * DPI)


def test_ticks_are_round_whole_numbers() -> None:
    for limit in (1.0, 2.15, 4.45, 15.95, 43.55, 1151.0, 383_334.0):
        ticks = _ticks(limit)
        assert ticks[0] == 0 and ticks[-1] <= limit and len(ticks) <= 7
        steps = {b - a for a, b in itertools.pairwise(ticks)}
        assert len(steps) <= 1 and all(isinstance(tick, int) for tick in ticks)


def test_multipart_uploads_keep_their_bytes() -> None:
    """Parts cut at their boundaries: a file holding CRLFs, dashes and bytes that are not
    UTF-8 comes back as sent, beside plain fields and an empty one."""
    boundary = "b0undary"
    content = b"a;b\r\n--b0und;\r\n\xff\xfe\x00--\r\n"
    body = (f"preamble\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"chat_id\""
            f"\r\n\r\n42\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"caption\""
            f"\r\n\r\n\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"document\"; "
            f"filename=\"été.csv\"\r\nContent-Type: text/csv\r\n\r\n").encode() + content \
        + f"\r\n--{boundary}--\r\n".encode()
    fields, uploads = _parse_multipart(f"multipart/form-data; boundary={boundary}", body)
    assert fields == {"chat_id": "42", "caption": ""}
    upload = uploads["document"]
    assert (upload.filename, upload.content, upload.content_type) == \
        ("été.csv", content, "text/csv")


def test_the_export_days_match_a_conversion_per_row() -> None:
    """`CsvExport._day` converts once per quarter hour: the same day as converting each
    instant, around midnights and offset changes, even in zones off the hour."""
    import io
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from core import i18n
    from handlers.dashboard.stats import CsvExport

    first = 1_767_225_600  # 2026-01-01 UTC: a year of quarter hours, both ends of each
    for name in ("Europe/Paris", "Asia/Kathmandu", "America/St_Johns", "Australia/Lord_Howe"):
        zone = ZoneInfo(name)
        sheet = CsvExport(io.StringIO(), {}, zone, lambda key, **_: i18n.t("fr", key))
        for at in range(first, first + 366 * 86400, 900):
            for instant in (at, at + 899.9):
                assert sheet._day(instant) == \
                    datetime.fromtimestamp(instant, zone).date().isoformat()
