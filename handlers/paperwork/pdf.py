"""The paperwork's PDF page layout, apart so that fpdf is imported only when a PDF is made."""

from __future__ import annotations

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from handlers.dashboard.charts import FONT, FONT_BOLD, printable
from handlers.paperwork import FAMILY


class Document(FPDF):
    def __init__(self, footer: str) -> None:
        super().__init__(format="A4")
        self.footer_text = footer
        self.add_font(FAMILY, "", str(FONT))
        self.add_font(FAMILY, "B", str(FONT_BOLD))
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(20, 18, 20)
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
