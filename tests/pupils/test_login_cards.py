"""Printable login cards, read back: each sheet says whose it is, and each card a pupil's name as the
core fonts can print it, their username and their password; ten cards a sheet, one band per sheet."""

from __future__ import annotations

import uuid

from app.pupils.credentials import LoginDetails
from app.pupils.login_cards import render_cards
from tests.fixtures.pdf import page_texts


def _card(name: str, username: str, password: str) -> list[str]:
    """What one card shows, in the order it is drawn."""
    return [name, "Username", username, "Password", password]


def test_cards_print_any_name_and_one_sheet_per_ten_pupils() -> None:
    names = [("Zoë", "Nowak"), ("Łukasz", "Wiśniewski"), ("Siobhán", "O'Neill (Jr)"), ("陈", "伟")] * 3
    details = [
        LoginDetails(uuid.uuid4(), first, last, f"pupil{i}", f"tiger{400 + i}") for i, (first, last) in enumerate(names)
    ]
    pages = page_texts(render_cards("Oak Primary", {"Class 4C": details[:2], "Class 4B": details}))
    # Latin-1 names as they are; the rest spelt out (Ł → L, ś → s, 陈伟 → Chen Wei); brackets survive.
    printed = ["Zoë Nowak", "Lukasz Wisniewski", "Siobhán O'Neill (Jr)", "Chen Wei"] * 3
    cards = [_card(printed[i], f"pupil{i}", f"tiger{400 + i}") for i in range(12)]

    def drawn(some: list[list[str]]) -> list[str]:
        return [text for card in some for text in card]

    # 12 pupils in 4B: a sheet of ten, then one of two; 2 in 4C: one sheet. Bands in name order.
    assert pages == [
        ["Oak Primary - Class 4B", *drawn(cards[:10])],
        ["Oak Primary - Class 4B", *drawn(cards[10:])],
        ["Oak Primary - Class 4C", *drawn(cards[:2])],
    ]


def test_no_cards_waiting_is_said_plainly() -> None:
    assert page_texts(render_cards("Oak Primary", {})) == [
        ["No login details are waiting: they were downloaded already, or have expired."]
    ]
