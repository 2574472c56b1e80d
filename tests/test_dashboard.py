"""Figures, the annual report, the export and the audit log, end to end and on their own.

Reports are seeded through the store and placed in time with one UPDATE, so every figure
can be counted by hand; the export's report goes through the real flow, so the reporter
really exists in Telegram and in the database when the CSV is searched for them.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import date, datetime
from functools import partial
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from core import i18n
from core.runtime.lifecycle import purge
from core.services import VigieApp, services_of
from emulator import Person
from handlers.dashboard import stats
from handlers.dashboard.annual_report import AnnualReport, build
from handlers.dashboard.charts import printable
from handlers.dashboard.stats import Figures, InputError, Period
from storage import NewReport, Store
from storage.statuses import BroadcastKind, ReportStatus
from testing.commune import make_referent, report
from tests.conftest import Commune, fr

PARIS = ZoneInfo("Europe/Paris")
PNG = b"\x89PNG\r\n\x1a\n"
DAY, MINUTE = 86400.0, 60.0


# --- seeding -----------------------------------------------------------------------------

async def seed(store: Store, sector: str, category: str, at: float, *,
               path: tuple[tuple[ReportStatus, float], ...] = (), untriaged: bool = False,
               triage: bool = False, reporter: int | None = None) -> int:
    """A report created at `at`, then moved along `path` ((status, minutes after `at`))."""
    found = await store.sectors.by_name(sector)
    assert found is not None
    created = await store.reports.create(
        NewReport(reporter, found.id, category, "now", "Texte libre du déclarant"),
        ReportStatus.TRIAGE if triage else ReportStatus.RELAYED, None, untriaged=untriaged)
    await store.db.execute("UPDATE reports SET created_at = ? WHERE id = ?", (at, created.id))
    await store.db.execute("UPDATE report_events SET at = ? WHERE report_id = ?",
                           (at, created.id))
    for status, minutes in path:
        await store.reports.transition(created.id, status, 999)
        await store.db.execute(
            "UPDATE report_events SET at = ? WHERE report_id = ? AND status = ?",
            (at + minutes * MINUTE, created.id, status))
    return created.id


async def enrolled(app: VigieApp, person: Person, sector: str, charter: bool) -> None:
    """Enrolled in `sector`; `charter`: has accepted the charter in force."""
    svc = services_of(app)
    found = await svc.store.sectors.by_name(sector)
    assert found is not None
    await svc.store.people.ensure(person.id, "fr")
    await svc.store.people.enrol(person.id, found.id, None)
    if charter:
        await svc.store.charter.accept(person.id, svc.charter.version, "fr")


async def posted(store: Store, sector: str, at: float) -> None:
    found = await store.sectors.by_name(sector)
    assert found is not None
    await store.db.execute("INSERT INTO tip_posts (sector_id, tip_id, posted_at) VALUES (?, ?, ?)",
                           (found.id, "t1", at))


async def broadcast(store: Store, kind: BroadcastKind, sectors: list[str], at: float) -> None:
    found = [await store.sectors.by_name(name) for name in sectors]
    ids = [sector.id for sector in found if sector is not None]
    assert len(ids) == len(sectors)
    await store.db.execute(
        "INSERT INTO broadcasts (kind, body, sector_ids, created_at) VALUES (?, ?, ?, ?)",
        (kind, "x", str(ids), at))


async def seed_month(app: VigieApp, commune: Commune) -> None:
    """Five reports in the last 30 days, one 40 days ago; two members, one referent."""
    store, now = services_of(app).store, time.time()
    await seed(store, "Centre-bourg", "vehicle", now - 2 * DAY, untriaged=True,
               path=((ReportStatus.RECEIVED, 10),))
    await seed(store, "Centre-bourg", "vehicle", now - 3 * DAY,
               path=((ReportStatus.RECEIVED, 30), (ReportStatus.CLOSED, 90)))
    await seed(store, "Centre-bourg", "burglary", now - 4 * DAY, untriaged=True)
    await seed(store, "Les Hauts", "doorstep", now - 5 * DAY, triage=True,
               path=((ReportStatus.DISMISSED, 5),))
    await seed(store, "Les Hauts", "vehicle", now - 6 * DAY, path=((ReportStatus.UNFOUNDED, 120),))
    await seed(store, "Centre-bourg", "vehicle", now - 40 * DAY, path=((ReportStatus.RECEIVED, 1),))
    await enrolled(app, commune.alice, "Centre-bourg", charter=True)
    await enrolled(app, commune.bob, "Centre-bourg", charter=False)
    await make_referent(app, commune, commune.carol, "Les Hauts")
    for sector, days in (("Centre-bourg", 1), ("Centre-bourg", 2), ("Les Hauts", 3),
                         ("Les Hauts", 50)):
        await posted(store, sector, now - days * DAY)
    await broadcast(store, BroadcastKind.NOTICE, ["Centre-bourg"], now - DAY)
    await broadcast(store, BroadcastKind.ALERT, ["Les Hauts", "La Vallée"], now - DAY)
    await broadcast(store, BroadcastKind.POLL, ["Les Hauts"], now - 60 * DAY)


def line(message_text: str, start: str) -> str:
    found = [row for row in message_text.splitlines() if row.startswith(start)]
    assert len(found) == 1, message_text
    return found[0]


# --- end to end --------------------------------------------------------------------------

async def test_stats_match_a_hand_count_with_a_chart(
    vigie: VigieApp, commune: Commune
) -> None:
    await seed_month(vigie, commune)
    svc = services_of(vigie)
    month = stats.last_days(30, stats.today_in(PARIS))
    figures = await stats.compute(svc.store, month, PARIS, None, svc.charter.version)
    assert figures.by_sector == {"Centre-bourg": 3, "La Vallée": 0, "Les Hauts": 2}
    assert figures.by_category == {"vehicle": 3, "burglary": 1, "doorstep": 1}
    assert figures.by_status == {ReportStatus.RECEIVED: 1, ReportStatus.CLOSED: 1,
                                 ReportStatus.RELAYED: 1, ReportStatus.DISMISSED: 1,
                                 ReportStatus.UNFOUNDED: 1}
    assert (figures.relayed, figures.untriaged) == (4, 2)
    assert sorted(figures.answer_delays) == [600, 1800, 7200]  # 10 min, 30 min, 2 h
    assert figures.members == {"Centre-bourg": 2, "La Vallée": 0, "Les Hauts": 0}
    assert figures.referents == {"Centre-bourg": 0, "La Vallée": 0, "Les Hauts": 1}
    assert (figures.charter_accepted, figures.enrolled) == (1, 2)
    assert figures.tips == 3 and figures.broadcasts == {BroadcastKind.NOTICE: 1,
                                                        BroadcastKind.ALERT: 1}

    official = commune.official
    official.send_command("/stats")
    text = (await official.wait_for(text=fr("dashboard.reports_total", count=5))).text
    assert line(text, "• par secteur") == fr(
        "dashboard.by_sector", items="Centre-bourg : 3, La Vallée : 0, Les Hauts : 2")
    assert "Véhicule suspect : 3" in line(text, "• par catégorie")
    assert fr("dashboard.median_delay", delay="30 min", count=3) in text
    assert fr("dashboard.untriaged", untriaged=2, relayed=4, share=50) in text
    assert fr("dashboard.charter", accepted=1, enrolled=2) in text
    assert fr("dashboard.outreach", tips=3, notice=1, alert=1, poll=0) in text
    chart = await official.wait_for(lambda m: m.kind == "photo")
    assert chart.file is not None
    assert commune.emu.file_content(chart.file["file_id"]).startswith(PNG)

    official.press(fr("dashboard.days_button", days=90))
    await official.wait_for(text=fr("dashboard.reports_total", count=6))
    await official.wait_for(lambda m: m.kind == "photo")


async def test_referent_sees_only_their_sector_and_residents_are_refused(
    vigie: VigieApp, commune: Commune
) -> None:
    await seed_month(vigie, commune)
    carol = commune.carol
    carol.send_command("/stats")
    text = (await carol.wait_for(text=fr("dashboard.reports_total", count=2))).text
    assert "Les Hauts" in text.splitlines()[0] and "Centre-bourg" not in text
    assert line(text, "• par secteur") == fr("dashboard.by_sector", items="Les Hauts : 2")
    assert fr("dashboard.outreach", tips=1, notice=0, alert=1, poll=0) in text
    await carol.wait_for(lambda m: m.kind == "photo")
    carol.send_command("/export")
    await carol.wait_for(text=fr("denied.liaison_or_officials"))

    alice = commune.alice  # an enrolled member, nothing more
    for command, refusal in (("/stats", "denied.stats_only"),
                             ("/export", "denied.liaison_or_officials"),
                             ("/rapport_annuel", "denied.liaison_or_officials"),
                             ("/journal", "denied.admins_only")):
        alice.send_command(command)
        await alice.wait_for(text=fr(refusal))
    assert not [m for m in alice.inbox() if m.kind in ("photo", "document")]
    commune.official.send_command("/journal")
    await commune.official.wait_for(text=fr("denied.admins_only"))


async def test_bad_inputs_are_answered_and_nothing_is_sent(
    vigie: VigieApp, commune: Commune
) -> None:
    official, today = commune.official, stats.today_in(PARIS)
    shape = fr("dashboard.date_format")
    for command, args, expected in (
        ("/stats", None, fr("dashboard.no_reports")),  # nothing happened yet
        ("/stats", "2026-02-30", fr("dashboard.bad_date", value="2026-02-30")),
        ("/stats", "hier", fr("dashboard.bad_date", value="hier")),
        ("/stats", "2026-03-31 2026-01-01", fr("dashboard.start_after_end")),
        ("/stats", "2000-01-01 2001-12-31",
         fr("dashboard.period_too_long", days=731, max=stats.MAX_PERIOD_DAYS)),
        ("/stats", f"{today.year + 1}-01-01", fr("dashboard.future_period")),
        ("/export", "01/01/2025 02/01/2025 03/01/2025", fr("dashboard.period_usage")),
        ("/export", "01/01/2025 31/01/2025", fr(
            "dashboard.export_empty", start=date(2025, 1, 1).strftime(shape),
            end=date(2025, 1, 31).strftime(shape))),
        ("/rapport_annuel", str(today.year + 1),
         fr("dashboard.future_year", year=today.year + 1, current=today.year)),
        ("/rapport_annuel", "deux-mille", fr("dashboard.bad_year", value="deux-mille")),
        ("/rapport_annuel", "2019", fr("dashboard.year_no_data", year=2019)),
        ("/journal", None, fr("denied.admins_only")),
    ):
        official.send_command(command, args=args)
        await official.wait_for(text=expected)
    assert not [m for m in official.inbox() if m.kind in ("photo", "document")]
    assert await services_of(vigie).store.audit.entries() == []


async def test_annual_report_is_a_pdf_without_small_counts(
    vigie: VigieApp, commune: Commune
) -> None:
    store = services_of(vigie).store
    year = stats.today_in(PARIS).year
    await enrolled(vigie, commune.alice, "Centre-bourg", charter=True)
    await enrolled(vigie, commune.bob, "Centre-bourg", charter=True)
    liaison = commune.liaison

    liaison.send_command("/rapport_annuel")  # nothing reported yet: a short PDF says so
    empty = await liaison.wait_for(lambda m: m.kind == "document")
    await liaison.wait_for(text=fr("dashboard.annual_no_reports", year=year))
    assert "Aucun signalement n'a été enregistré" in pdf_text(commune, empty.file)

    new_year = datetime(year, 1, 1, 12, tzinfo=PARIS).timestamp()
    for sector, category, count in (("Centre-bourg", "vehicle", 4), ("Centre-bourg",
                                     "doorstep", 3), ("Les Hauts", "burglary", 1)):
        for _ in range(count):
            await seed(store, sector, category, new_year, reporter=commune.alice.id,
                       path=((ReportStatus.RECEIVED, 45),))
    last_year = datetime(year - 1, 1, 1, 12, tzinfo=PARIS).timestamp()
    for _ in range(2):
        await seed(store, "Centre-bourg", "vehicle", last_year)

    liaison.send_command("/rapport_annuel")
    document = await liaison.wait_for(lambda m: m.kind == "document" and m.message_id
                                      != empty.message_id)
    assert document.file is not None and document.file["file_name"].endswith(".pdf")
    text = pdf_text(commune, document.file)
    assert f"Bilan annuel {year}" in text and "Saint-Exemple" in text
    assert fr("dashboard.comment_total", year=year, count=8) in text
    # Last year's 2 reports and this year's 2 members are too few to print.
    assert fr("dashboard.comment_versus", year=year - 1, count="< 3") in text
    assert fr("dashboard.pdf_charter", accepted="< 3", enrolled="< 3") in text
    assert "Les Hauts 1" not in text and "45 min" in text
    for identity in (str(commune.alice.id), "Alice", "Martin", "Texte libre"):
        assert identity not in text
    # /rapport_annuel 2025 style: an explicit past year with data works too.
    liaison.send_command("/rapport_annuel", args=str(year - 1))
    past = await liaison.wait_for(lambda m: m.kind == "document" and m.message_id
                                  > document.message_id)
    assert f"Bilan annuel {year - 1}" in pdf_text(commune, past.file)
    actions = [entry["action"] for entry in await store.audit.entries()]
    assert actions.count("dashboard.annual_report") == 3


def pdf_text(commune: Commune, file: dict[str, str] | None) -> str:
    assert file is not None
    content = commune.emu.file_content(file["file_id"])
    assert content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(content))
    assert len(reader.pages) >= 1
    return "\n".join(page.extract_text() for page in reader.pages)


async def test_export_leaves_out_the_reporter_and_the_free_text(
    vigie: VigieApp, members: Commune
) -> None:
    alice, liaison, official = members.alice, members.liaison, members.official
    description = "Scooter rouge sans plaque devant le 12 rue des Lilas"
    report_id = await report(alice, description)
    await liaison.wait_for(text=f"Signalement n°{report_id}")
    liaison.press("Reçu")
    await alice.wait_for(text=f"n°{report_id} : {fr('reports.status.received')}")

    official.send_command("/export")
    document = await official.wait_for(lambda m: m.kind == "document")
    assert document.file is not None and document.file["file_name"].endswith(".csv")
    assert document.caption == fr("dashboard.export_caption", count=1, **period_of_30_days())
    raw = members.emu.file_content(document.file["file_id"])
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == [fr(f"dashboard.csv.{column}") for column in stats.CSV_COLUMNS]
    row = dict(zip(stats.CSV_COLUMNS, rows[1], strict=True))
    assert (row["id"], row["sector"], row["category"]) == (str(report_id), "Centre-bourg",
                                                          "Véhicule suspect")
    assert (row["status"], row["untriaged"], row["grouped"]) == ("Reçu par la gendarmerie",
                                                               "oui", "non")
    assert row["delay"].isdigit() and len(rows) == 2
    text = raw.decode("utf-8-sig")
    for identity in (str(alice.id), alice.first_name, "Martin", "Scooter", "Lilas",
                     str(liaison.id)):
        assert identity not in text
    entry = (await services_of(vigie).store.audit.entries("dashboard.export"))[0]
    assert entry["actor_id"] == official.id and '"rows": 1' in entry["details"]


def period_of_30_days() -> dict[str, str]:
    month, shape = stats.last_days(30, stats.today_in(PARIS)), fr("dashboard.date_format")
    return {"start": month.start.strftime(shape), "end": month.end.strftime(shape)}


async def test_journal_pages_filters_and_retention(
    vigie: VigieApp, commune: Commune
) -> None:
    store, admin = services_of(vigie).store, commune.admin
    for number in range(12):
        await store.audit.record(commune.official.id, "join.approved", f"request:{number}")
    await store.audit.record(commune.alice.id, "report.created", "report:7", triage=True)
    await store.audit.record(commune.official.id, "report.sector_warned", "report:7")

    admin.send_command("/journal")
    first = await admin.wait_for(text="entrées 1 à 10 sur 14")
    assert "report.sector_warned report:7" in first.text.splitlines()[2]  # newest first
    admin.press(fr("dashboard.journal_older"))
    await commune.emu.wait_until(lambda: "entrées 11 à 14 sur 14" in (admin.last().text or ""))
    assert "request:0" in (admin.last().text or "")
    admin.press(fr("dashboard.journal_newer"))
    await commune.emu.wait_until(lambda: "entrées 1 à 10" in (admin.last().text or ""))

    admin.send_command("/journal", args=str(commune.alice.id))
    mine = await admin.wait_for(text="sur 1, de la plus récente")
    assert "report.created report:7 triage=True" in mine.text
    admin.send_command("/journal", args="type:report")
    reports = await admin.wait_for(text="sur 2, de la plus récente")
    assert "join.approved" not in reports.text
    admin.send_command("/journal", args="type:report_ 42")  # "_" is no wildcard
    await admin.wait_for(text=fr("dashboard.journal_empty", filters=", personne 42, type "
                                  "« report_… »"))
    admin.send_command("/journal", args="Alice")
    await admin.wait_for(text=fr("dashboard.journal_usage"))

    assert services_of(vigie).settings.privacy.audit_retention_days == 365
    await store.db.execute("UPDATE audit_log SET at = ? WHERE subject = 'request:0'",
                           (time.time() - 366 * DAY,))
    # purge() is a JobQueue callback: it reads only context.application.
    await purge(SimpleNamespace(application=vigie))  # type: ignore[arg-type]
    subjects = [entry["subject"] for entry in await store.audit.entries()]
    assert "request:0" not in subjects and "request:1" in subjects


# --- pure functions ----------------------------------------------------------------------

TODAY = date(2026, 6, 15)


@pytest.mark.parametrize(("args", "expected"), [
    ([], Period(date(2026, 5, 17), TODAY)),
    (["2026-01-01"], Period(date(2026, 1, 1), TODAY)),
    (["01/01/2026", "31/03/2026"], Period(date(2026, 1, 1), date(2026, 3, 31))),
    (["2026-06-01", "2026-12-31"], Period(date(2026, 6, 1), TODAY)),  # no later than today
    (["2025-06-15", "2026-06-15"], Period(date(2025, 6, 15), TODAY)),  # 366 days
])
def test_periods(args: list[str], expected: Period) -> None:
    assert stats.parse_period(args, TODAY) == expected


@pytest.mark.parametrize(("args", "key"), [
    (["2026-13-01"], "dashboard.bad_date"),
    (["1er janvier"], "dashboard.bad_date"),
    (["2026-03-31", "2026-01-01"], "dashboard.start_after_end"),
    (["2026-07-01"], "dashboard.future_period"),
    (["2025-06-14", "2026-06-15"], "dashboard.period_too_long"),
    (["a", "b", "c"], "dashboard.period_usage"),
])
def test_bad_periods(args: list[str], key: str) -> None:
    with pytest.raises(InputError) as raised:
        stats.parse_period(args, TODAY)
    assert raised.value.key == key


def test_years_and_the_same_dates_a_year_before() -> None:
    assert stats.parse_year([], TODAY) == 2026
    assert stats.parse_year(["2025"], TODAY) == 2025
    for args, key in ((["2027"], "dashboard.future_year"), (["1999"], "dashboard.bad_year"),
                      (["20x5"], "dashboard.bad_year"), (["2024", "2025"], "dashboard.bad_year")):
        with pytest.raises(InputError) as raised:
            stats.parse_year(args, TODAY)
        assert raised.value.key == key
    assert stats.year_period(2026, TODAY) == Period(date(2026, 1, 1), TODAY)
    leap = Period(date(2028, 1, 1), date(2028, 2, 29)).year_before()
    assert leap == Period(date(2027, 1, 1), date(2027, 2, 28))
    start, end = Period(date(2026, 3, 29), date(2026, 3, 29)).bounds(PARIS)
    assert end - start == 23 * 3600  # the spring time change: a short day, still one day


def test_small_counts_are_masked_and_grouped() -> None:
    assert [stats.mask(n, "< 3") for n in (0, 1, 2, 3)] == ["0", "< 3", "< 3", "3"]
    # A lone small count joins the smallest publishable one: the total reveals neither.
    assert stats.group_small({"A": 10, "B": 4, "C": 1, "D": 0}) == ({"A": 10}, 5)
    assert stats.group_small({"A": 10, "B": 2, "C": 1}) == ({"A": 10}, 3)
    assert stats.group_small({"A": 5, "B": 3}) == ({"A": 5, "B": 3}, 0)
    assert stats.group_small({"A": 2}) == ({}, 2)
    assert stats.median([]) is None and stats.median([600, 60, 7200, 1800]) == 1200
    t = partial(i18n.t, "fr")
    assert [stats.format_duration(s, t) for s in (60, 3900, 93600)] == [
        "1 min", "1 h 05", "1 j 2 h"]


def _figures(year: int, by_category: dict[str, int], delays: tuple[float, ...] = (),
             relayed: int = 0, untriaged: int = 0) -> Figures:
    total = sum(by_category.values())
    return Figures(Period(date(year, 1, 1), date(year, 12, 31)), True,
                   {"Centre-bourg": total}, by_category, {ReportStatus.CLOSED: total}, relayed,
                   untriaged, delays, {"Centre-bourg": 5}, {"Centre-bourg": 1}, 4, 5, 2)


def test_commentary_compares_with_last_year_and_hides_small_counts() -> None:
    t = partial(i18n.t, "fr")
    this = _figures(2026, {"vehicle": 9, "burglary": 3}, (600, 1200, 1800), 10, 2)
    lines = stats.commentary(this, _figures(2025, {"vehicle": 8}), t)
    assert lines[:3] == [t("dashboard.comment_total", year=2026, count=12),
                         t("dashboard.comment_up", year=2025, count=8, change=50),
                         t("dashboard.comment_category", category="Véhicule suspect", count=9)]
    assert t("dashboard.comment_delay", delay="20 min", count=3) in lines
    assert t("dashboard.comment_untriaged_few", relayed=10, count="< 3") in lines
    few = stats.commentary(_figures(2026, {"vehicle": 2}), _figures(2025, {"vehicle": 7}), t)
    assert few == [t("dashboard.comment_total", year=2026, count="< 3"),
                   t("dashboard.comment_versus", year=2025, count=7)]


def test_the_pdf_survives_any_sector_name() -> None:
    names = ["Centre-bourg", "Les Hauts 🏔️", "Quartier {x} « du Moulin » — l’Étang…",
             "Œ" * 64, "中文", "حي الوادي", "=cmd|' /C calc'!A0", "\u202e\u200b"]
    counts = {name: 3 + number for number, name in enumerate(names)}
    figures = Figures(Period(date(2026, 1, 1), date(2026, 6, 15)), True, counts,
                      {"vehicle": 40, "other": 12}, {ReportStatus.CLOSED: 52}, 52, 1, (60.0,) * 5,
                      counts, {names[0]: 1}, 20, 52, 0, {BroadcastKind.ALERT: 2})
    for language in ("fr", "en"):
        pdf = build(AnnualReport("Saint-Exemple {0} 🏰", 2026, figures, None, True, TODAY),
                    partial(i18n.t, language))
        reader = PdfReader(io.BytesIO(pdf))
        text = "\n".join(page.extract_text() for page in reader.pages)
        assert pdf.startswith(b"%PDF-") and len(reader.pages) >= 2
        assert "Quartier {x} « du Moulin » — l’Étang…" in text  # French typography kept
    assert printable("🚗 Véhicule") == "Véhicule" and printable("🏔️") == "?"


# --- figures in SQL, and the chart and PDF libraries loaded only when needed -------------

async def test_figure_queries_read_indexes_and_never_sort(vigie: VigieApp) -> None:
    """The plans of /stats' and the export's queries, for the commune and for a scope: a
    range of `reports_by_created` or seeks of `reports_by_sector`, never a scan of reports
    nor a temporary B-tree (the rare GROUP BY fallback, for reports no seek finds, aside)."""
    import json

    from storage.stats import (
        CELLS_SQL,
        COUNT_SQL,
        DELAYS_SQL,
        ROWS_SQL,
        SCOPE_COLUMN,
        STATUS_SQL,
        _within,
    )

    db = services_of(vigie).store.db
    statuses = tuple(ReportStatus)
    for scope in (None, frozenset({1, 2})):
        where, ids = _within(SCOPE_COLUMN, scope)
        for sql, params in ((STATUS_SQL, (*statuses, 0.0, 1.0, *ids)),
                            (DELAYS_SQL, (0.0, 1.0, *ids)), (ROWS_SQL, (0.0, 1.0, *ids)),
                            (COUNT_SQL, (0.0, 1.0, *ids))):
            rows = await db.fetch_all(f"EXPLAIN QUERY PLAN {sql.format(where=where)}", params)
            plan = [str(row[3]) for row in rows]
            assert plan == ["SEARCH reports USING COVERING INDEX reports_by_created"
                            " (created_at>? AND created_at<?)"], plan
    rows = await db.fetch_all(f"EXPLAIN QUERY PLAN {CELLS_SQL}",
                              (0.0, 1.0, json.dumps([[1, "vehicle"]])))
    plan = [str(row[3]) for row in rows]
    assert "SEARCH r USING COVERING INDEX reports_by_sector (sector_id=? AND category=?" \
           " AND created_at>? AND created_at<?)" in plan, plan
    assert not any("TEMP B-TREE" in step or step.startswith("SCAN reports")
                   for step in plan), plan


async def test_relay_and_answer_times_follow_the_events(vigie: VigieApp, commune: Commune
                                                        ) -> None:
    """relayed_at and answered_at, kept on the report by triggers, are the first events'."""
    store = services_of(vigie).store
    at = time.time() - DAY
    report_id = await seed(store, "Centre-bourg", "vehicle", at,
                           path=((ReportStatus.RECEIVED, 30), (ReportStatus.CLOSED, 90)))
    row = await store.db.fetch_one("SELECT relayed_at, answered_at FROM reports WHERE id = ?",
                                   (report_id,))
    assert row is not None and (row[0], row[1]) == (at, at + 30 * MINUTE)


def test_the_font_table_is_read_like_freetype() -> None:
    from matplotlib.ft2font import FT2Font

    from handlers.dashboard.charts import FONT, FONT_BOLD, font_codepoints

    for font in (FONT, FONT_BOLD):
        assert font_codepoints(font) == frozenset(FT2Font(str(font)).get_charmap())


def test_the_bot_starts_without_the_chart_and_pdf_libraries() -> None:
    import subprocess
    import sys
    from pathlib import Path

    probe = ("import sys; import core.runtime.application, bot; "
             "print(sorted(m for m in ('matplotlib', 'fpdf', 'numpy', 'PIL') if m in sys.modules))")
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           check=True, cwd=Path(__file__).resolve().parent.parent)
    assert found.stdout.strip() == "[]", found.stderr
