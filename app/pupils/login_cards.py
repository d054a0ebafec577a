"""Login details for the admin to hand out: printable cards (one A4 sheet of ten cards per band, to cut out and
hand to the children), or a CSV file (``app/kit/spreadsheet.py``: safe to open in a spreadsheet, names as written).

Every text stays inside its card however long (``fitted_text``): a long name shrinks, wraps, and at worst ends
in "..."; a username or a password always prints whole, since a child types it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from anyascii import anyascii
from fpdf import FPDF

from app.kit.spreadsheet import csv_document
from app.pupils.fitted_text import Box, Style, draw_fitted


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
PAD = 5.0  # the card's margin on either side

# Where each text may go on a card (millimetres from the card's top left corner), and how it is printed.
# A label sits above its value so that a username gets the card's whole width: the longest a username can
# be (usernames.MAX_LENGTH, 40 characters) fits on one line at 9 pt; ordinary ones print at 14 pt.
NAME = Box(PAD, 4.0, CARD_W - 2 * PAD, 14.0)
USERNAME_LABEL, USERNAME = Box(PAD, 19.0, CARD_W - 2 * PAD, 5.0), Box(PAD, 24.0, CARD_W - 2 * PAD, 7.5)
PASSWORD_LABEL, PASSWORD = Box(PAD, 33.0, CARD_W - 2 * PAD, 5.0), Box(PAD, 38.0, CARD_W - 2 * PAD, 7.5)
# The sheet's heading, in the strip above the cards (from the page's top left corner).
HEADING = Box(LEFT, 4.0, COLUMNS * CARD_W + (COLUMNS - 1) * GAP, TOP - 6.0)

HEADING_STYLE = Style("Helvetica", "B", 11, smallest=7)
NAME_STYLE = Style("Helvetica", "B", 14, smallest=7)
LABEL_STYLE = Style("Helvetica", "", 10, smallest=7)
SECRET_STYLE = Style("Courier", "B", 14, smallest=7)  # monospaced: an l is not mistaken for a 1


def _printable(text: str) -> str:
    """The PDF core fonts cover Latin-1: keep what they can print (Zoë, Siobhán), spell out the rest (Ł → L)."""
    return "".join(c if ord(c) < 256 else anyascii(c) for c in text)


def _on_card(card: Box, box: Box) -> Box:
    """``box``, given on a card, placed on the page."""
    return Box(card.x + box.x, card.y + box.y, box.w, box.h)


def _draw_card(pdf: FPDF, card: Box, pupil: Card) -> None:
    pdf.set_draw_color(150, 150, 150)
    pdf.rect(card.x, card.y, card.w, card.h)
    name = _printable(f"{pupil.first_name} {pupil.last_name}")
    draw_fitted(pdf, name, NAME_STYLE, _on_card(card, NAME), whole=False)
    for label, value, label_box, value_box in (
        ("Username", pupil.username, USERNAME_LABEL, USERNAME),
        ("Password", pupil.password, PASSWORD_LABEL, PASSWORD),
    ):
        draw_fitted(pdf, label, LABEL_STYLE, _on_card(card, label_box), whole=False)
        # Never cut short: a child types exactly what is printed.
        draw_fitted(pdf, _printable(value), SECRET_STYLE, _on_card(card, value_box), whole=True)


def _card_at(index: int) -> Box:
    """The place of the ``index``-th card on its sheet, filled row by row."""
    column, row = index % COLUMNS, index // COLUMNS
    return Box(LEFT + column * (CARD_W + GAP), TOP + row * (CARD_H + GAP), CARD_W, CARD_H)


def render_cards(school_name: str, by_band: Mapping[str, Sequence[Card]]) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.set_title(_printable(f"{school_name}: login cards"))
    for band, pupils in sorted(by_band.items()):
        for start in range(0, len(pupils), COLUMNS * ROWS):
            pdf.add_page()
            draw_fitted(pdf, _printable(f"{school_name} - {band}"), HEADING_STYLE, HEADING, whole=False)
            for index, pupil in enumerate(pupils[start : start + COLUMNS * ROWS]):
                _draw_card(pdf, _card_at(index), pupil)
    if not by_band:
        pdf.add_page()
        pdf.set_font("Helvetica", "", 12)
        pdf.cell(0, 10, "No login details are waiting: they were downloaded already, or have expired.")
    return bytes(pdf.output())


def render_csv(details: Iterable[Card]) -> bytes:
    """The login details as a CSV file: no name from the MIS can start a formula in a spreadsheet."""
    return csv_document(
        ["first_name", "last_name", "username", "password"],
        ([d.first_name, d.last_name, d.username, d.password] for d in details),
    )
