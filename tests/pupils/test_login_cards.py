"""Printable login cards, read back: each sheet says whose it is, and each card a pupil's name as the
core fonts can print it, their class, their username and their password, where to log in and how; ten
cards a sheet, one band per sheet. (How the sheets print, in pixels: ``test_login_cards_printed.py``.)"""

from __future__ import annotations

import uuid

from app.pupils.credentials import WORDS, LoginDetails
from app.pupils.login_cards import INSTRUCTION, NOTHING_WAITING, render_cards, render_csv
from app.pupils.usernames import MAX_LENGTH, MAX_PART
from tests.fixtures.pdf import Area, Rectangle, Shown, page_layouts, page_texts

LOGIN_URL = "https://app.example.org/login"


def _card(name: str, band: str, username: str, password: str) -> list[str]:
    """What one card shows, in the order it is drawn."""
    return [name, band, "Username", username, "Password", password, "Log in at", LOGIN_URL, INSTRUCTION]


def test_cards_print_any_name_and_one_sheet_per_ten_pupils() -> None:
    names = [("Zoë", "Nowak"), ("Łukasz", "Wiśniewski"), ("Siobhán", "O'Neill (Jr)"), ("陈", "伟")] * 3
    details = [
        LoginDetails(uuid.uuid4(), first, last, f"pupil{i}", f"tiger{400 + i}") for i, (first, last) in enumerate(names)
    ]
    pages = page_texts(render_cards("Oak Primary", {"Class 4C": details[:2], "Class 4B": details}, login_url=LOGIN_URL))
    # Latin-1 names as they are; the rest spelt out (Ł → L, ś → s, 陈伟 → Chen Wei); brackets survive.
    printed = ["Zoë Nowak", "Lukasz Wisniewski", "Siobhán O'Neill (Jr)", "Chen Wei"] * 3

    def drawn(band: str, indexes: range) -> list[str]:
        return [text for i in indexes for text in _card(printed[i], band, f"pupil{i}", f"tiger{400 + i}")]

    # 12 pupils in 4B: a sheet of ten, then one of two; 2 in 4C: one sheet. Bands in name order.
    assert pages == [
        ["Oak Primary - Class 4B", *drawn("Class 4B", range(10))],
        ["Oak Primary - Class 4B", *drawn("Class 4B", range(10, 12))],
        ["Oak Primary - Class 4C", *drawn("Class 4C", range(2))],
    ]


def test_no_cards_waiting_is_said_plainly() -> None:
    assert page_texts(render_cards("Oak Primary", {}, login_url=LOGIN_URL)) == [[NOTHING_WAITING]]


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
    long_url = "https://" + "w" * 60 + ".example.org/login"
    pdf = render_cards(
        "The Warwickshire Mumbles Community Primary School and Nursery " * 2, {long_band: details}, login_url=long_url
    )

    layouts = page_layouts(pdf)

    assert [len([d for d in layout if isinstance(d, Rectangle)]) for layout in layouts] == [10, 2]
    assert [text for layout in layouts for text in _outside_their_card(layout)] == []


def test_usernames_and_passwords_are_printed_whole() -> None:
    details = [
        LoginDetails(uuid.uuid4(), "W" * 100, "M" * 100, LONGEST_USERNAME, LONGEST_PASSWORD),
        LoginDetails(uuid.uuid4(), "Amy", "Jones", "amy.jones", "tiger482"),
    ]

    [layout] = page_layouts(render_cards("Oak Primary", {"Class 4C": details}, login_url=LOGIN_URL))

    # Each on one line, verbatim: never cut, never wrapped, for the longest the service can issue,
    # and no smaller than the smallest size anything on a card shrinks to.
    sizes = {drawn.text: drawn.size for drawn in layout if isinstance(drawn, Shown)}
    assert {LONGEST_USERNAME, LONGEST_PASSWORD, "amy.jones", "tiger482"} <= sizes.keys()
    assert sizes[LONGEST_USERNAME] >= 7


def test_a_username_longer_than_any_issued_wraps_whole_inside_its_card() -> None:
    username = "w" * 3 * MAX_LENGTH
    details = [LoginDetails(uuid.uuid4(), "Amy", "Jones", username, LONGEST_PASSWORD)]

    [layout] = page_layouts(render_cards("Oak Primary", {"Class 4C": details}, login_url=LOGIN_URL))

    texts = [drawn.text for drawn in layout if isinstance(drawn, Shown)]
    assert "".join(texts[texts.index("Username") + 1 : texts.index("Password")]) == username
    assert _outside_their_card(layout) == []


def test_a_name_too_long_for_its_card_ends_with_an_ellipsis() -> None:
    details = [LoginDetails(uuid.uuid4(), "W" * 100, "M" * 100, "w.m", "tiger482")]

    [texts] = page_texts(render_cards("Oak Primary", {"Class 4C": details}, login_url=LOGIN_URL))

    name_lines = texts[1 : texts.index("Class 4C")]
    assert name_lines[0].startswith("WWW")
    assert name_lines[-1].endswith("...")


def test_ordinary_names_keep_the_normal_sizes() -> None:
    details = [LoginDetails(uuid.uuid4(), "Amy", "Jones", "amy.jones", "tiger482")]

    [layout] = page_layouts(render_cards("Oak Primary", {"Class 4C": details}, login_url=LOGIN_URL))

    assert [(d.text, d.font, d.size) for d in layout if isinstance(d, Shown)] == [
        ("Oak Primary - Class 4C", "Helvetica-Bold", 11),
        ("Amy Jones", "Helvetica-Bold", 14),
        ("Class 4C", "Helvetica", 9),
        ("Username", "Helvetica", 9),
        ("amy.jones", "Courier-Bold", 14),
        ("Password", "Helvetica", 9),
        ("tiger482", "Courier-Bold", 14),
        ("Log in at", "Helvetica", 9),
        (LOGIN_URL, "Courier-Bold", 10),
        (INSTRUCTION, "Helvetica", 7),  # one line, shrunk to fit the card
    ]


def test_the_csv_escapes_names_that_would_start_a_formula_and_starts_with_a_bom() -> None:
    details = [
        LoginDetails(uuid.uuid4(), "=cmd|'/c calc'!A1", "Zoë", "cmdcalca1.zoe", "tiger482", "+4C"),
        LoginDetails(uuid.uuid4(), "Amy", "-Jones", "amy.jones", "otter042", "Class 4B"),
        LoginDetails(uuid.uuid4(), "Ben", "Brown", "ben.brown", "koala007", None),
    ]
    written = render_csv(details)
    assert written.startswith(b"\xef\xbb\xbf")
    assert written.decode("utf-8-sig").splitlines() == [
        "first_name,last_name,class,username,password",
        "'=cmd|'/c calc'!A1,Zoë,'+4C,cmdcalca1.zoe,tiger482",
        "Amy,'-Jones,Class 4B,amy.jones,otter042",
        "Ben,Brown,,ben.brown,koala007",
    ]
