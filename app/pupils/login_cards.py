"""Login details for the admin to hand out: printable cards (A4 sheets of ten cards per band, to cut out along
the dashed lines and hand to the children), or a CSV file (``app/kit/spreadsheet.py``: safe to open in a
spreadsheet, names as written, a class column).

A card says whose it is (name and class), what to type (username and password), where (the app's login
address, ``Settings.login_url``) and how (one line), in black on white so that any printer prints it. Every
card lies inside the margin that office printers can print (``MARGIN``), and every text stays inside its card
however long (``fitted_text``): a long name shrinks, wraps, and at worst ends in "..."; a username, a password
or the login address always prints whole, since a child types it."""

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


class Row(Card, Protocol):
    """One child's login details in the CSV, with the class they are given under."""

    @property
    def band(self) -> str | None: ...


PAGE_W, PAGE_H = 210.0, 297.0  # A4, millimetres
# No ink closer than this to a page's edge: printers leave up to about 6 mm unprinted, 10 mm is safe.
MARGIN = 10.0
# The cut lines run this far inside the margin, so that their own width stays inside it too.
EDGE = 0.5
CUT_LINE_WIDTH, CUT_DASH, CUT_GAP = 0.3, 2.0, 1.5
HEADING_H = 7.0  # the strip above the cards that says whose sheet it is
COLUMNS, ROWS = 2, 5
# The cards tile the page inside the margin, edge to edge, so that one cut separates two cards.
LEFT, TOP = MARGIN + EDGE, MARGIN + HEADING_H
CARD_W = (PAGE_W - 2 * LEFT) / COLUMNS
CARD_H = (PAGE_H - MARGIN - EDGE - TOP) / ROWS
PAD = 4.0  # the card's inner margin on either side
INNER = CARD_W - 2 * PAD

# Where each text may go on a card (millimetres from the card's top left corner), and how it is printed.
# A label sits above its value so that a username gets the card's whole width: the longest a username can
# be (usernames.MAX_LENGTH, 40 characters) fits on one line at 10 pt; ordinary ones print at 14 pt.
NAME = Box(PAD, 3.0, INNER, 9.0)
CLASS = Box(PAD, 12.0, INNER, 4.5)
USERNAME_LABEL, USERNAME = Box(PAD, 18.0, INNER, 4.0), Box(PAD, 22.0, INNER, 6.5)
PASSWORD_LABEL, PASSWORD = Box(PAD, 29.5, INNER, 4.0), Box(PAD, 33.5, INNER, 6.5)
# "Log in at" beside the address, on their baseline (a 9 pt label's sits 0.3 mm lower in its box than 10 pt).
LOGIN_LABEL_W = 15.0
LOGIN_LABEL, LOGIN_URL = Box(PAD, 41.8, LOGIN_LABEL_W, 4.0), Box(PAD + LOGIN_LABEL_W, 41.5, INNER - LOGIN_LABEL_W, 5.0)
INSTRUCTIONS = Box(PAD, 47.5, INNER, 4.0)
INSTRUCTION = "Type your username and password exactly as printed. Keep this card safe."
# The sheet's heading, in the strip above the cards (from the page's top left corner).
HEADING = Box(LEFT, MARGIN, COLUMNS * CARD_W, HEADING_H - 1.5)
NOTHING_WAITING = "No login details are waiting here: none were issued, or they have expired or been replaced."

HEADING_STYLE = Style("Helvetica", "B", 11, smallest=7)
NAME_STYLE = Style("Helvetica", "B", 14, smallest=7)
CLASS_STYLE = Style("Helvetica", "", 9, smallest=7)
LABEL_STYLE = Style("Helvetica", "", 9, smallest=7)
SECRET_STYLE = Style("Courier", "B", 14, smallest=7)  # monospaced: an l is not mistaken for a 1
ADDRESS_STYLE = Style("Courier", "B", 10, smallest=7)
INSTRUCTION_STYLE = Style("Helvetica", "", 8, smallest=7)
BLACK = 0


def _printable(text: str) -> str:
    """The PDF core fonts cover Latin-1: keep what they can print (Zoë, Siobhán), spell out the rest (Ł → L)."""
    return "".join(c if ord(c) < 256 else anyascii(c) for c in text)


def _on_card(card: Box, box: Box) -> Box:
    """``box``, given on a card, placed on the page."""
    return Box(card.x + box.x, card.y + box.y, box.w, box.h)


def _draw_card(pdf: FPDF, card: Box, pupil: Card, band: str, login_url: str) -> None:
    pdf.rect(card.x, card.y, card.w, card.h)  # the cut lines (dashed: see render_cards)
    name = _printable(f"{pupil.first_name} {pupil.last_name}")
    draw_fitted(pdf, name, NAME_STYLE, _on_card(card, NAME), whole=False)
    draw_fitted(pdf, _printable(band), CLASS_STYLE, _on_card(card, CLASS), whole=False)
    for label, value, label_box, value_box in (
        ("Username", pupil.username, USERNAME_LABEL, USERNAME),
        ("Password", pupil.password, PASSWORD_LABEL, PASSWORD),
    ):
        draw_fitted(pdf, label, LABEL_STYLE, _on_card(card, label_box), whole=False)
        # Never cut short: a child types exactly what is printed.
        draw_fitted(pdf, _printable(value), SECRET_STYLE, _on_card(card, value_box), whole=True)
    draw_fitted(pdf, "Log in at", LABEL_STYLE, _on_card(card, LOGIN_LABEL), whole=False)
    draw_fitted(pdf, _printable(login_url), ADDRESS_STYLE, _on_card(card, LOGIN_URL), whole=True)
    draw_fitted(pdf, INSTRUCTION, INSTRUCTION_STYLE, _on_card(card, INSTRUCTIONS), whole=False)


def _card_at(index: int) -> Box:
    """The place of the ``index``-th card on its sheet, filled row by row."""
    column, row = index % COLUMNS, index // COLUMNS
    return Box(LEFT + column * CARD_W, TOP + row * CARD_H, CARD_W, CARD_H)


def render_cards(school_name: str, by_band: Mapping[str, Sequence[Card]], *, login_url: str) -> bytes:
    """A4 sheets of cards, band by band (by name), ten a sheet, each sheet headed with the school and band."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.set_title(_printable(f"{school_name}: login cards"))
    for band, pupils in sorted(by_band.items()):
        for start in range(0, len(pupils), COLUMNS * ROWS):
            pdf.add_page()
            # Black on white only: what a black-and-white printer prints as it is.
            pdf.set_text_color(BLACK)
            pdf.set_draw_color(BLACK)
            pdf.set_line_width(CUT_LINE_WIDTH)
            pdf.set_dash_pattern(dash=CUT_DASH, gap=CUT_GAP)
            draw_fitted(pdf, _printable(f"{school_name} - {band}"), HEADING_STYLE, HEADING, whole=False)
            for index, pupil in enumerate(pupils[start : start + COLUMNS * ROWS]):
                _draw_card(pdf, _card_at(index), pupil, band, login_url)
    if not by_band:
        pdf.add_page()
        draw_fitted(pdf, NOTHING_WAITING, HEADING_STYLE, HEADING, whole=False)
    return bytes(pdf.output())


def render_csv(details: Iterable[Row]) -> bytes:
    """The login details as a CSV file: no name from the MIS can start a formula in a spreadsheet."""
    return csv_document(
        ["first_name", "last_name", "class", "username", "password"],
        ([d.first_name, d.last_name, d.band or "", d.username, d.password] for d in details),
    )
