"""The annual report for the conseil municipal: a PDF of counts, charts and a few sentences.

No personal data: no id, no name, no text of a report, only counts by sector, category and
status. Every count under 3 is printed "< 3", and small values are grouped (`group_small`)
so that none can be worked out from a total or read off a chart bar. The text is in the
commune's language, in the DejaVu font embedded from matplotlib (accents, « », ’, …, —);
whatever that font cannot draw is dropped by `printable`, so no sector name can break it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from handlers.dashboard.charts import FONT, FONT_BOLD, bar_chart, printable
from handlers.dashboard.stats import (
    BROADCAST_KINDS,
    SMALL,
    Figures,
    PeriodTotal,
    Translate,
    commentary,
    format_duration,
    group_small,
    label_of,
    mask,
)
from handlers.reports.domain import CATEGORIES

FAMILY = "DejaVu"
TEXT_WIDTH = 170  # mm: A4 minus the margins
MUTED = (90, 90, 90)
CHART_ROOM = 110  # mm a heading needs below it to keep its chart and the table's start
Row = tuple[str, str]


@dataclass(frozen=True)
class AnnualReport:
    commune: str
    year: int
    figures: Figures
    # The same dates a year before, when the bot was running then: their total is enough.
    previous: Figures | PeriodTotal | None
    current_year: bool  # figures up to today, and today's membership shown
    generated: date


class A4Document(FPDF):
    """The page every Vigie PDF uses: A4, DejaVu (French typography), the same margins,
    and a footer text in which {page} is the page number."""

    def __init__(self, footer: str) -> None:
        super().__init__(format="A4")
        self.footer_text = footer
        self.add_font(FAMILY, "", str(FONT))
        self.add_font(FAMILY, "B", str(FONT_BOLD))
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(20, 18, 20)


class _Document(A4Document):
    def footer(self) -> None:
        self.set_y(-13)
        self.set_font(FAMILY, "", 8)
        self.set_text_color(*MUTED)
        # replace, not format: a commune name may hold braces. fpdf2 fills in {nb}.
        self.cell(0, 6, self.footer_text.replace("{page}", str(self.page_no())), align="C")
        self.set_text_color(0)

    def write_lines(self, text: str, size: float = 10, bold: bool = False,
                    colour: tuple[int, int, int] = (0, 0, 0), gap: float = 1.5) -> None:
        self.set_font(FAMILY, "B" if bold else "", size)
        self.set_text_color(*colour)
        self.multi_cell(0, size * 0.5, printable(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0)
        self.ln(gap)

    def heading(self, text: str, room: float = 40) -> None:
        # A heading alone at the foot of a page would be cut from what it announces.
        if self.will_page_break(room):
            self.add_page()
        self.ln(3)
        self.write_lines(text, size=13, bold=True, gap=2)

    def rows(self, headings: Row, rows: list[Row]) -> None:
        self.set_font(FAMILY, "", 10)
        with self.table(col_widths=(120, 50), text_align=("LEFT", "RIGHT"),
                        line_height=6.5, width=TEXT_WIDTH) as table:
            for values in [headings, *rows]:
                row = table.row()
                for value in values:
                    row.cell(printable(value))
        self.ln(3)

    def chart(self, png: bytes) -> None:
        self.image(io.BytesIO(png), w=TEXT_WIDTH)
        self.ln(2)


def build(report: AnnualReport, t: Translate) -> bytes:
    figures, date_format = report.figures, t("dashboard.date_format")
    pdf = _Document(printable(t("dashboard.pdf_footer", commune=report.commune,
                                year=report.year, page="{page}", pages="{nb}")))
    pdf.set_title(printable(t("dashboard.pdf_title", commune=report.commune, year=report.year)))
    pdf.set_creator("Vigie")
    pdf.add_page()
    pdf.write_lines(t("dashboard.pdf_scheme", commune=report.commune), size=12, colour=MUTED)
    pdf.write_lines(t("dashboard.pdf_heading", year=report.year), size=20, bold=True, gap=1)
    pdf.write_lines(t("dashboard.pdf_period", start=figures.period.start.strftime(date_format),
                      end=figures.period.end.strftime(date_format),
                      generated=report.generated.strftime(date_format)), colour=MUTED, gap=3)
    pdf.write_lines(t("dashboard.pdf_privacy"), size=9, colour=MUTED, gap=3)
    pdf.heading(t("dashboard.pdf_summary"))
    for line in commentary(figures, report.previous, t):
        pdf.write_lines(f"• {line}", gap=1)
    if figures.total:
        _reports(pdf, figures, t)
    pdf.heading(t("dashboard.pdf_outreach"))
    under = t("dashboard.under_three")
    pdf.rows((t("dashboard.pdf_what"), t("dashboard.pdf_count")),
             [(t("dashboard.pdf_tips"), mask(figures.tips, under))]
             + [(t(f"dashboard.pdf_kind.{kind}"), mask(figures.broadcasts.get(kind, 0), under))
                for kind in BROADCAST_KINDS])
    if report.current_year:
        _membership(pdf, figures, report.generated.strftime(date_format), t)
    return bytes(pdf.output())


def _reports(pdf: _Document, figures: Figures, t: Translate) -> None:
    count = t("dashboard.pdf_reports")
    categories = {label_of("category", code, t): figures.by_category.get(code, 0)
                  for code in CATEGORIES}
    for title, first, counts in (
        (t("dashboard.chart_sector"), t("dashboard.pdf_sector"), figures.by_sector),
        (t("dashboard.chart_category"), t("dashboard.pdf_category"), categories),
    ):
        bars = _publishable_bars(counts, t)
        pdf.heading(title, room=CHART_ROOM if bars else 40)
        if bars:
            pdf.chart(bar_chart([("", bars)]))
        pdf.rows((first, count), _table(counts, figures.total, t))
    statuses = {label_of("status", code, t): n for code, n in figures.by_status.items()}
    pdf.heading(t("dashboard.chart_status"))
    pdf.rows((t("dashboard.pdf_status"), count), _table(statuses, figures.total, t))
    pdf.heading(t("dashboard.pdf_handling"))
    under = t("dashboard.under_three")
    delay = (format_duration(figures.median_delay or 0, t)
             if len(figures.answer_delays) >= SMALL else t("dashboard.pdf_too_few"))
    pdf.rows((t("dashboard.pdf_what"), t("dashboard.pdf_value")), [
        (t("dashboard.pdf_relayed"), mask(figures.relayed, under)),
        (t("dashboard.pdf_untriaged"), mask(figures.untriaged, under)),
        (t("dashboard.pdf_answered"), mask(len(figures.answer_delays), under)),
        (t("dashboard.pdf_median"), delay),
    ])


def _membership(pdf: _Document, figures: Figures, today: str, t: Translate) -> None:
    under = t("dashboard.under_three")
    pdf.heading(t("dashboard.pdf_members_title", date=today))
    pdf.rows((t("dashboard.pdf_sector"), t("dashboard.pdf_members")),
             _table(figures.members, sum(figures.members.values()), t))
    pdf.write_lines(t("dashboard.pdf_referents", count=mask(sum(figures.referents.values()),
                                                            under)))
    pdf.write_lines(t("dashboard.pdf_charter", accepted=mask(figures.charter_accepted, under),
                      enrolled=mask(figures.enrolled, under)))


def _table(counts: dict[str, int], total: int, t: Translate) -> list[Row]:
    """Largest first, zeros after them (nothing there identifies anyone), small counts
    grouped, then the total."""
    under = t("dashboard.under_three")
    kept, grouped = group_small(counts)
    rows = [(label, str(n)) for label, n in sorted(kept.items(), key=lambda i: (-i[1], i[0]))]
    rows += [(label, "0") for label, n in counts.items() if n == 0]
    if grouped:
        rows.append((t("dashboard.pdf_grouped"), mask(grouped, under)))
    return [*rows, (t("dashboard.pdf_total"), mask(total, under))]


def _publishable_bars(counts: dict[str, int], t: Translate) -> list[tuple[str, int]]:
    """Bars of the counts of 3 or more, and of the group when it is 3 or more itself."""
    kept, grouped = group_small(counts)
    bars = sorted(kept.items(), key=lambda item: (-item[1], item[0]))
    if grouped >= SMALL:
        bars.append((t("dashboard.pdf_grouped"), grouped))
    return bars
