"""Printable login cards, read back: each sheet says whose it is, and each card a pupil's name as the
core fonts can print it, their username and their password; ten cards a sheet, one band per sheet."""

from __future__ import annotations

import uuid

from app.pupils.credentials import WORDS, LoginDetails
from app.pupils.login_cards import render_cards, render_csv
from app.pupils.usernames import MAX_LENGTH, MAX_PART
from tests.fixtures.pdf import Area, Rectangle, Shown, page_layouts, page_texts


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


# The longest a username can be, made of the widest letters; every password is a word and three digits.
LONGEST_USERNAME = f"{'w' * MAX_PART}.{'m' * MAX_PART}".ljust(MAX_LENGTH, "9")
LONGEST_PASSWORD = f"{max(WORDS, key=len)}999"
A4_HEIGHT = 841.89  # points


def _hundred(pattern: str) -> str:
    """A 100-character name, ``pattern`` repeated."""
    return (pattern * 100)[:100]


def _outside_their_card(layout: list[Shown | Rectangle]) -> list[str]:
    """The strings of one sheet that cross their card's edges (a card's strings are drawn after its
    rectangle), or, for the sheet's heading, the strip above the cards."""
    cards = [drawn.area for drawn in layout if isinstance(drawn, Rectangle)]
    heading = Area(
        min(card.left for card in cards),
        max(card.top for card in cards),
        max(card.right for card in cards),
        A4_HEIGHT,
    )
    outside, frame = [], heading
    for drawn in layout:
        if isinstance(drawn, Rectangle):
            frame = drawn.area
        elif not frame.holds(drawn.area):
            outside.append(f"{drawn.text[:24]!r}… at {drawn.size:g} pt reaches {drawn.area}, outside {frame}")
    return outside


def test_every_text_stays_inside_its_card_however_long_the_names() -> None:
    names = [
        ("W" * 100, "M" * 100),
        (_hundred("Maximilian-Wolfgang "), _hundred("Montmorency Whitworth ")),
        (_hundred("Wim "), _hundred("Mwm")),
        ("Zoë", "Nowak"),
    ] * 3
    details = [LoginDetails(uuid.uuid4(), first, last, LONGEST_USERNAME, LONGEST_PASSWORD) for first, last in names]
    long_band = "Class 4W - Mrs Worthington-Wilberforce-Montgomery's Wednesday Maths Group " * 2
    pdf = render_cards("The Warwickshire Mumbles Community Primary School and Nursery " * 2, {long_band: details})

    layouts = page_layouts(pdf)

    assert [len([d for d in layout if isinstance(d, Rectangle)]) for layout in layouts] == [10, 2]
    assert [text for layout in layouts for text in _outside_their_card(layout)] == []


def test_usernames_and_passwords_are_printed_whole() -> None:
    details = [
        LoginDetails(uuid.uuid4(), "W" * 100, "M" * 100, LONGEST_USERNAME, LONGEST_PASSWORD),
        LoginDetails(uuid.uuid4(), "Amy", "Jones", "amy.jones", "tiger482"),
    ]

    [layout] = page_layouts(render_cards("Oak Primary", {"Class 4C": details}))

    # Each on one line, verbatim: never cut, never wrapped, for the longest the service can issue,
    # and no smaller than the smallest size anything on a card shrinks to.
    sizes = {drawn.text: drawn.size for drawn in layout if isinstance(drawn, Shown)}
    assert {LONGEST_USERNAME, LONGEST_PASSWORD, "amy.jones", "tiger482"} <= sizes.keys()
    assert sizes[LONGEST_USERNAME] >= 7


def test_a_username_longer_than_any_issued_wraps_whole_inside_its_card() -> None:
    username = "w" * 3 * MAX_LENGTH
    details = [LoginDetails(uuid.uuid4(), "Amy", "Jones", username, LONGEST_PASSWORD)]

    [layout] = page_layouts(render_cards("Oak Primary", {"Class 4C": details}))

    texts = [drawn.text for drawn in layout if isinstance(drawn, Shown)]
    assert "".join(texts[texts.index("Username") + 1 : texts.index("Password")]) == username
    assert _outside_their_card(layout) == []


def test_a_name_too_long_for_its_card_ends_with_an_ellipsis() -> None:
    details = [LoginDetails(uuid.uuid4(), "W" * 100, "M" * 100, "w.m", "tiger482")]

    [texts] = page_texts(render_cards("Oak Primary", {"Class 4C": details}))

    name_lines = texts[1 : texts.index("Username")]
    assert name_lines[0].startswith("WWW")
    assert name_lines[-1].endswith("...")


def test_ordinary_names_keep_the_normal_sizes() -> None:
    details = [LoginDetails(uuid.uuid4(), "Amy", "Jones", "amy.jones", "tiger482")]

    [layout] = page_layouts(render_cards("Oak Primary", {"Class 4C": details}))

    assert [(d.text, d.font, d.size) for d in layout if isinstance(d, Shown)] == [
        ("Oak Primary - Class 4C", "Helvetica-Bold", 11),
        ("Amy Jones", "Helvetica-Bold", 14),
        ("Username", "Helvetica", 10),
        ("amy.jones", "Courier-Bold", 14),
        ("Password", "Helvetica", 10),
        ("tiger482", "Courier-Bold", 14),
    ]


def test_the_csv_escapes_names_that_would_start_a_formula_and_starts_with_a_bom() -> None:
    details = [
        LoginDetails(uuid.uuid4(), "=cmd|'/c calc'!A1", "Zoë", "cmdcalca1.zoe", "tiger482"),
        LoginDetails(uuid.uuid4(), "Amy", "-Jones", "amy.jones", "otter042"),
    ]
    written = render_csv(details)
    assert written.startswith(b"\xef\xbb\xbf")
    assert written.decode("utf-8-sig").splitlines() == [
        "first_name,last_name,username,password",
        "'=cmd|'/c calc'!A1,Zoë,cmdcalca1.zoe,tiger482",
        "Amy,'-Jones,amy.jones,otter042",
    ]
