"""Bar charts as PNG images, drawn headless.

Pillow draws them (rectangles and texts: no display, no global state shared between two
renders). matplotlib is no longer imported at all (its layout engine cost 0.5 s a chart):
it only supplies the DejaVu Sans font files, which the PDF embeds too, so `printable`
suits both.
"""

from __future__ import annotations

import importlib.util
import io
import math
import re
import struct
import textwrap
import unicodedata
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.ImageDraw import ImageDraw
    from PIL.ImageFont import FreeTypeFont as ImageFont

# matplotlib's own copy of DejaVu, found without importing matplotlib (about 40 MB and
# 0.5 s). Pillow is imported only when a chart is drawn, fpdf only when a PDF is made.
_MATPLOTLIB = importlib.util.find_spec("matplotlib")
assert _MATPLOTLIB is not None and _MATPLOTLIB.origin is not None, "matplotlib is missing"
FONTS = Path(_MATPLOTLIB.origin).parent / "mpl-data" / "fonts" / "ttf"
FONT = FONTS / "DejaVuSans.ttf"
FONT_BOLD = FONTS / "DejaVuSans-Bold.ttf"
BAR_COLOUR = "#3b6ea5"
INK = "black"
LABEL_WIDTH = 28  # characters per line of a bar's label
DPI = 120  # pixels per inch: font sizes are given in points, as in print
WIDTH_INCHES = 7.5
MARGIN = 12  # pixels around the drawing
BAR_HEIGHT = 0.6  # of a bar's slot
SLOT_MARGIN = 0.65  # slots of room above the first bar and below the last
PNG_COMPRESSION = 3  # flat colours: about as small as level 9, several times quicker

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
    The caller decides what may be shown (the annual report hides small counts).

    Drawn with Pillow alone: a few rectangles and texts in the DejaVu font, about 20 ms
    for /stats' three panels, where matplotlib's layout engine took 0.5 s and 40 MB."""
    from PIL import Image, ImageDraw  # here, not at import: only a chart needs it

    panels = [(name, bars) for name, bars in panels if bars]
    assert panels, "nothing to draw: the caller says so in words instead"
    heights = [_px(0.9 + 0.38 * len(bars)) for _, bars in panels]
    top = _px(0.5 if title else 0.2)
    image = Image.new("RGB", (_px(WIDTH_INCHES), top + sum(heights)), "white")
    draw = ImageDraw.Draw(image)
    if title:
        draw.text((image.width / 2, top * 0.55), printable(title), fill=INK,
                  font=_font(12, bold=True), anchor="mm")
    y = top
    for (name, bars), height in zip(panels, heights, strict=True):
        _panel(draw, (0, y, image.width, y + height), name, bars)
        y += height
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=PNG_COMPRESSION)
    return buffer.getvalue()


def _px(inches: float) -> int:
    return round(inches * DPI)


def _pt(points: float) -> float:
    return points * DPI / 72


@cache
def _font(points: float, bold: bool = False) -> ImageFont:
    from PIL import ImageFont as Fonts

    return Fonts.truetype(str(FONT_BOLD if bold else FONT), round(_pt(points)))


def _panel(draw: ImageDraw, box: tuple[int, int, int, int], name: str, bars: Bars) -> None:
    """One panel in `box` (left, top, right, bottom): its title at the left above the axes,
    a bar per item (the first on top) with its count at its end, the item's label (two
    lines at most) left of the axis, and an x axis of whole numbers."""
    left, top, right, bottom = box
    label_font, tick_font = _font(9), _font(8)
    labels = [textwrap.wrap(printable(label), LABEL_WIDTH, max_lines=2, placeholder=" …")
              or ["?"] for label, _ in bars]
    values = [value for _, value in bars]
    widest = max(label_font.getlength(line) for lines in labels for line in lines)
    tick = _pt(3.5)
    axis_left = left + MARGIN + widest + tick + _pt(3.5)
    axis_right = right - MARGIN
    axis_top = top + (_pt(10) * 1.9 if name else MARGIN)
    axis_bottom = bottom - _pt(8) * 2.6 - tick
    if name:
        draw.text((axis_left, axis_top - _pt(10) * 0.5), printable(name), fill=INK,
                  font=_font(10, bold=True), anchor="ls")
    limit = max(values) * 1.15 + 1  # room for the count at the end of the longest bar
    scale = (axis_right - axis_left) / limit
    slot = (axis_bottom - axis_top) / (len(bars) - 1 + 2 * SLOT_MARGIN)
    line_height = _pt(9) * 1.2
    for n, (lines, value) in enumerate(zip(labels, values, strict=True)):
        middle = axis_top + (n + SLOT_MARGIN) * slot
        half = slot * BAR_HEIGHT / 2
        end = axis_left + value * scale
        if value > 0:
            draw.rectangle((axis_left, middle - half, end, middle + half), fill=BAR_COLOUR)
        draw.text((end + _pt(3), middle), str(value), fill=INK, font=label_font, anchor="lm")
        draw.line((axis_left - tick, middle, axis_left, middle), fill=INK, width=1)
        first = middle - line_height * (len(lines) - 1) / 2
        for k, line in enumerate(lines):
            draw.text((axis_left - tick - _pt(3.5), first + k * line_height), line, fill=INK,
                      font=label_font, anchor="rm")
    for value in _ticks(limit):
        x = axis_left + value * scale
        draw.line((x, axis_bottom, x, axis_bottom + tick), fill=INK, width=1)
        draw.text((x, axis_bottom + tick + _pt(3.5)), str(value), fill=INK, font=tick_font,
                  anchor="mt")
    draw.line((axis_left, axis_top, axis_left, axis_bottom), fill=INK, width=1)
    draw.line((axis_left, axis_bottom, axis_right, axis_bottom), fill=INK, width=1)


def _ticks(limit: float, most: int = 7) -> list[int]:
    """Whole-number ticks from 0 within `limit`, at a round step (1, 2, 2.5, 5 × 10ⁿ),
    at most `most` of them: what matplotlib's MaxNLocator(integer=True) gives."""
    raw = limit / (most - 1)
    magnitude = 10 ** max(0, math.floor(math.log10(raw))) if raw >= 1 else 1
    step = next(magnitude * factor for factor in (1, 2, 2.5, 5, 10)
                if magnitude * factor >= raw and float(magnitude * factor).is_integer())
    return [int(step * n) for n in range(int(limit // step) + 1)]
