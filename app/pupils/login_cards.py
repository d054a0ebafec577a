"""Login details for the admin to hand out: printable cards (one A4 sheet of ten cards per band, to cut out and
hand to the children), or a CSV file."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from anyascii import anyascii
from fpdf import FPDF


class Card(Protocol):
    """One child's login details, as printed."""

    @property
    def first_name(self) -> str: ...
    @property
    def last_name(self) -> str: ...
    @property
    def username(self) -> str: ...
    @property
    def password(self) -> str: ...


COLUMNS, ROWS = 2, 5
CARD_W, CARD_H = 90.0, 52.0
LEFT, TOP, GAP = 12.0, 14.0, 6.0


def _printable(text: str) -> str:
    """The PDF core fonts cover Latin-1: keep what they can print (Zoë, Siobhán), spell out the rest (Ł → L)."""
    return "".join(c if ord(c) < 256 else anyascii(c) for c in text)


def render_cards(school_name: str, by_band: Mapping[str, Sequence[Card]]) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.set_title(_printable(f"{school_name}: login cards"))
    for band, pupils in sorted(by_band.items()):
        for start in range(0, len(pupils), COLUMNS * ROWS):
            pdf.add_page()
            pdf.set_font("Helvetica", "B", 11)
            pdf.set_xy(LEFT, 5)
            pdf.cell(0, 6, _printable(f"{school_name} - {band}"))
            for index, pupil in enumerate(pupils[start : start + COLUMNS * ROWS]):
                x = LEFT + (index % COLUMNS) * (CARD_W + GAP)
                y = TOP + (index // COLUMNS) * (CARD_H + GAP)
                pdf.set_draw_color(150, 150, 150)
                pdf.rect(x, y, CARD_W, CARD_H)
                pdf.set_xy(x + 5, y + 5)
                pdf.set_font("Helvetica", "B", 14)
                pdf.cell(CARD_W - 10, 8, _printable(f"{pupil.first_name} {pupil.last_name}"))
                for offset, (label, value) in enumerate((("Username", pupil.username), ("Password", pupil.password))):
                    pdf.set_xy(x + 5, y + 20 + offset * 12)
                    pdf.set_font("Helvetica", "", 10)
                    pdf.cell(24, 8, label)
                    pdf.set_font("Courier", "B", 14)
                    pdf.cell(CARD_W - 34, 8, _printable(value))
    if not by_band:
        pdf.add_page()
        pdf.set_font("Helvetica", "", 12)
        pdf.cell(0, 10, "No login details are waiting: they were downloaded already, or have expired.")
    return bytes(pdf.output())


def render_csv(details: Iterable[Card]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["first_name", "last_name", "username", "password"])
    writer.writerows([d.first_name, d.last_name, d.username, d.password] for d in details)
    return out.getvalue()
