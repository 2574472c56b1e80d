"""The paperwork's PDF page layout, apart so that fpdf is imported only when a PDF is made."""

from __future__ import annotations

from fpdf.enums import XPos, YPos

from handlers.dashboard.annual_report import A4Document
from handlers.dashboard.charts import printable
from handlers.paperwork import FAMILY


class Document(A4Document):
    def __init__(self, footer: str) -> None:
        super().__init__(footer)
        self.alias_nb_pages("{pages}")

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font(FAMILY, "", 8)
        self.cell(0, 6, printable(self.footer_text.replace("{page}", str(self.page_no()))),
                  align="C")

    def lines(self, text: str, size: float = 10, bold: bool = False, gap: float = 2) -> None:
        self.set_font(FAMILY, "B" if bold else "", size)
        self.multi_cell(0, size * 0.5, printable(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(gap)
