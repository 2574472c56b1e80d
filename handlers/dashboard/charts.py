"""Bar charts as PNG images, drawn headless.

matplotlib's object API with the Agg canvas, never pyplot: no display, no global figure
state shared between two renders. The font is the DejaVu Sans that ships with matplotlib;
the PDF embeds the same file, so `printable` suits both.
"""

from __future__ import annotations

import importlib.util
import io
import re
import struct
import textwrap
import unicodedata
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# matplotlib's own copy of DejaVu, found without importing matplotlib (about 40 MB and
# 0.5 s): it is imported only when a chart is drawn, fpdf only when a PDF is made.
_MATPLOTLIB = importlib.util.find_spec("matplotlib")
assert _MATPLOTLIB is not None and _MATPLOTLIB.origin is not None, "matplotlib is missing"
FONTS = Path(_MATPLOTLIB.origin).parent / "mpl-data" / "fonts" / "ttf"
FONT = FONTS / "DejaVuSans.ttf"
FONT_BOLD = FONTS / "DejaVuSans-Bold.ttf"
BAR_COLOUR = "#3b6ea5"
LABEL_WIDTH = 28  # characters per line of a bar's label
DPI = 120

Bars = list[tuple[str, int]]
Panel = tuple[str, Bars]


@cache
def _glyphs() -> frozenset[int]:
    return font_codepoints(FONT)


def font_codepoints(path: Path) -> frozenset[int]:
    """Code points a TrueType font maps to a glyph: its Unicode cmap (format 12, else 4),
    read with struct (the same set as FreeType's charmap, checked by the tests)."""
    data = path.read_bytes()
    (tables,) = struct.unpack_from(">H", data, 4)
    cmap = next(offset for tag, offset in (
        struct.unpack_from(">4s4xI4x", data, 12 + 16 * n) for n in range(tables))
        if tag == b"cmap")
    (count,) = struct.unpack_from(">2xH", data, cmap)
    subtables: dict[int, int] = {}
    for n in range(count):
        platform, _, offset = struct.unpack_from(">HHI", data, cmap + 4 + 8 * n)
        (shape,) = struct.unpack_from(">H", data, cmap + offset)
        if platform in (0, 3):  # Unicode, Windows
            subtables.setdefault(shape, cmap + offset)
    found: set[int] = set()
    if 12 in subtables:
        at = subtables[12]
        (groups,) = struct.unpack_from(">12xI", data, at)
        for n in range(groups):
            first, last, glyph = struct.unpack_from(">III", data, at + 16 + 12 * n)
            found.update(code for code in range(first, last + 1) if glyph + code - first)
        return frozenset(found)
    at = subtables[4]
    (doubled,) = struct.unpack_from(">6xH", data, at)
    segments = doubled // 2
    ends = struct.unpack_from(f">{segments}H", data, at + 14)
    starts = struct.unpack_from(f">{segments}H", data, at + 16 + doubled)
    deltas = struct.unpack_from(f">{segments}h", data, at + 16 + 2 * doubled)
    ranges_at = at + 16 + 3 * doubled
    offsets = struct.unpack_from(f">{segments}H", data, ranges_at)
    for n in range(segments):
        for code in range(starts[n], min(ends[n], 0xFFFE) + 1):
            if offsets[n] == 0:
                glyph = (code + deltas[n]) & 0xFFFF
            else:
                (glyph,) = struct.unpack_from(
                    ">H", data, ranges_at + 2 * n + offsets[n] + 2 * (code - starts[n]))
                glyph = (glyph + deltas[n]) & 0xFFFF if glyph else 0
            if glyph:
                found.add(code)
    return frozenset(found)


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
    import matplotlib  # here, not at import: only a chart needs it

    matplotlib.use("Agg")  # no display on a server
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

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
    from matplotlib.ticker import MaxNLocator

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
