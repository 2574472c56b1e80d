"""Bar charts as PNG images, drawn headless.

matplotlib's object API with the Agg canvas, never pyplot: no display, no global figure
state shared between two renders. The font is the DejaVu Sans that ships with matplotlib;
the PDF embeds the same file, so `printable` suits both.
"""

from __future__ import annotations

import io
import re
import textwrap
import unicodedata
from functools import cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before anything else of matplotlib: no display on a server

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font
from matplotlib.ticker import MaxNLocator

FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONT = FONTS / "DejaVuSans.ttf"
FONT_BOLD = FONTS / "DejaVuSans-Bold.ttf"
BAR_COLOUR = "#3b6ea5"
LABEL_WIDTH = 28  # characters per line of a bar's label
DPI = 120

Bars = list[tuple[str, int]]
Panel = tuple[str, Bars]


@cache
def _glyphs() -> frozenset[int]:
    return frozenset(FT2Font(str(FONT)).get_charmap())


def printable(text: str) -> str:
    """`text` with only what the font can draw: an accented letter it lacks loses its
    accent, an emoji or a symbol it lacks goes. Any sector name is safe to draw."""
    glyphs, kept = _glyphs(), []
    for char in text:
        if _invisible(char):
            continue
        if char in "\n\t" or ord(char) in glyphs:
            kept.append(char)
        else:
            kept += [part for part in unicodedata.normalize("NFKD", char)
                     if ord(part) in glyphs and not unicodedata.combining(part)]
    return re.sub(r" {2,}", " ", "".join(kept)).strip() or "?"


def _invisible(char: str) -> bool:
    """Controls, format marks (bidi overrides, zero-width joiners) and emoji variation
    selectors: the font may hold them, but alone they only make drawing odd."""
    return ((char not in "\n\t" and unicodedata.category(char) in ("Cc", "Cf"))
            or 0xFE00 <= ord(char) <= 0xFE0F)


def bar_chart(panels: list[Panel], title: str = "") -> bytes:
    """Horizontal bars, one panel under the other; panels without bars are left out.
    The caller decides what may be shown (the annual report hides small counts)."""
    panels = [(name, bars) for name, bars in panels if bars]
    assert panels, "nothing to draw: the caller says so in words instead"
    heights = [0.9 + 0.38 * len(bars) for _, bars in panels]
    figure = Figure(figsize=(7.5, sum(heights) + (0.5 if title else 0.2)), dpi=DPI,
                    layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(panels), 1, squeeze=False,
                           gridspec_kw={"height_ratios": heights})[:, 0]
    for ax, (name, bars) in zip(axes, panels, strict=True):
        _panel(ax, name, bars)
    if title:
        figure.suptitle(printable(title), fontsize=12, fontweight="bold")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _panel(ax: Axes, name: str, bars: Bars) -> None:
    labels = ["\n".join(textwrap.wrap(printable(label), LABEL_WIDTH, max_lines=2,
                                      placeholder=" …")) for label, _ in bars]
    values = [value for _, value in bars]
    positions = range(len(bars))
    drawn = ax.barh(positions, values, color=BAR_COLOUR, height=0.6)
    ax.set_yticks(positions, labels, fontsize=9)
    ax.invert_yaxis()  # the first bar on top, as in the text
    ax.bar_label(drawn, padding=3, fontsize=9)
    ax.set_xlim(0, max(values) * 1.15 + 1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(axis="x", labelsize=8)
    if name:
        ax.set_title(printable(name), loc="left", fontsize=10, fontweight="bold")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
