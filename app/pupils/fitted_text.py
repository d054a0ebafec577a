"""Text that stays inside its box on a printed page (the login cards): drawn at its own size when it
fits on one line, else shrunk, down to a smallest size, then wrapped onto more lines, and as the last
resort either cut short with an ellipsis (a name, a heading) or, for text that must print whole (a
username, a password: a child types them), shrunk further until every character fits.

Measured with the PDF core fonts' own widths, so the fitting is pure; only ``draw_fitted`` draws.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from fpdf import FPDF
from fpdf.fonts import CORE_FONTS_CHARWIDTHS

MM_PER_PT = 25.4 / 72
# Each line gets 1.25 em, its baseline 0.97 em below the line's top: the core fonts' glyphs, accented
# capitals included, reach at most 0.962 em above the baseline and 0.25 em below it, so every glyph of
# every line lies inside the box.
LINE_HEIGHT = 1.25
ASCENT = 0.97
STEP = 0.5  # points: sizes are tried in half points
ELLIPSIS = "..."  # the core fonts print Latin-1, which has no "…"


@dataclass(frozen=True)
class Box:
    """A rectangle in millimetres from the page's top left corner: a card, or where a text may go."""

    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class Style:
    """A core font (``Helvetica``, ``Courier``; ``B`` for bold), its usual size and the smallest it shrinks to
    before wrapping (both in points)."""

    family: str
    emphasis: str
    size: float
    smallest: float

    def ems(self, text: str) -> float:
        """How wide ``text`` is, in ems of this font (its width at 1 pt, in points)."""
        widths = CORE_FONTS_CHARWIDTHS[f"{self.family.lower()}{self.emphasis}"]
        return sum(widths[c] for c in text) / 1000


@dataclass(frozen=True)
class Fitted:
    size: float
    lines: tuple[str, ...]


def draw_fitted(pdf: FPDF, text: str, style: Style, box: Box, *, whole: bool) -> None:
    """Draw ``text`` inside ``box``, line by line from its top; ``whole`` texts are never cut short."""
    fitted = fit(text, style, box, whole=whole)
    pdf.set_font(style.family, style.emphasis, fitted.size)
    for number, line in enumerate(fitted.lines):
        pdf.text(box.x, box.y + (number * LINE_HEIGHT + ASCENT) * fitted.size * MM_PER_PT, line)


def fit(text: str, style: Style, box: Box, *, whole: bool) -> Fitted:
    """The size and lines ``text`` is drawn with: one line at the largest size that fits (at most the style's
    own), else wrapped at the smallest size; when even that needs more lines than the box holds, the lines
    that fit with an ellipsis, or for a ``whole`` text every character at a smaller size still."""
    one_line = _largest_size_on_one_line(text, style, box)
    if one_line is not None:
        return Fitted(one_line, (text,))
    lines = _wrapped(text, style, box, style.smallest, whole=whole)
    if len(lines) <= _lines_held(box, style.smallest):
        return Fitted(style.smallest, lines)
    if whole:
        return _shrunk_until_whole(text, style, box)
    return Fitted(style.smallest, _clipped(lines, style, box))


def _largest_size_on_one_line(text: str, style: Style, box: Box) -> float | None:
    """The largest half-point size, up to the style's own, at which ``text`` fits on one line; None below the
    style's smallest size."""
    ems = style.ems(text)
    widest = box.w / (ems * MM_PER_PT) if ems else style.size
    tallest = box.h / (LINE_HEIGHT * MM_PER_PT)
    size = min(style.size, math.floor(min(widest, tallest) / STEP) * STEP)
    return size if size >= style.smallest else None


def _lines_held(box: Box, size: float) -> int:
    return math.floor(box.h / (LINE_HEIGHT * size * MM_PER_PT))


def _fits_width(style: Style, box: Box, size: float) -> Callable[[str], bool]:
    return lambda line: style.ems(line) * size * MM_PER_PT <= box.w


def _wrapped(text: str, style: Style, box: Box, size: float, *, whole: bool) -> tuple[str, ...]:
    """``text`` in lines as wide as the box: a name breaks between words (after a space or a hyphen) where
    it can; a ``whole`` text breaks between characters and keeps every one."""
    fits = _fits_width(style, box, size)
    if whole:
        return tuple(_break_between_characters(text, fits))
    return tuple(line.strip() for line in _break_between_words(text, fits) if line.strip())


def _break_between_characters(text: str, fits: Callable[[str], bool]) -> list[str]:
    lines = [""]
    for char in text:
        if lines[-1] and not fits(lines[-1] + char):
            lines.append("")
        lines[-1] += char
    return lines


def _break_between_words(text: str, fits: Callable[[str], bool]) -> list[str]:
    lines = [""]
    # Each word keeps the space or hyphen that follows it, so a double-barrelled name can break at its hyphen.
    for word in filter(None, re.split(r"(?<=[\s-])", text)):
        if fits((lines[-1] + word).rstrip()):
            lines[-1] += word
        elif fits(word.rstrip()):
            lines.append(word)
        else:  # a word wider than a line: fill this line, then break it between characters
            lines[-1:] = _break_between_characters(lines[-1] + word, fits)
    return lines


def _clipped(lines: tuple[str, ...], style: Style, box: Box) -> tuple[str, ...]:
    """As many lines as the box holds at the smallest size, the last cut short to end in an ellipsis."""
    kept = lines[: _lines_held(box, style.smallest)]
    if not kept:
        return ()
    fits, last = _fits_width(style, box, style.smallest), kept[-1]
    while last and not fits(last.rstrip() + ELLIPSIS):
        last = last[:-1]
    return (*kept[:-1], last.rstrip() + ELLIPSIS)


def _shrunk_until_whole(text: str, style: Style, box: Box) -> Fitted:
    """Every character of ``text``, wrapped, at the largest size below the smallest at which the lines fit.
    Smaller than anyone would choose, but a username cut short could never be typed."""
    size = style.smallest
    while True:
        size = size - STEP if size > STEP else size / 2
        lines = _wrapped(text, style, box, size, whole=True)
        if len(lines) <= _lines_held(box, size):
            return Fitted(size, lines)
