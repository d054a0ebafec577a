"""Login cards as a printer prints them (issue 17, item 6): the sheets rendered to images by poppler's
``pdftoppm``, and every inked pixel inside the margin that any office printer can print, on every page of
a multi-page sheet, with the fifth row of cards on the page.

poppler-utils is this test's need alone (``make install`` never installs it): the test installs Debian's
package with apt-get when ``pdftoppm`` is missing, and fails (never skips) when it cannot.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import uuid
from pathlib import Path

from app.pupils.credentials import LoginDetails
from app.pupils.login_cards import render_cards
from tests.fixtures.pdf import Rectangle, page_layouts

PACKAGE = "poppler-utils"
A4_MM = (210.0, 297.0)
# What the test holds the sheet to, whatever the layout says: no ink within 10 mm of a page's edge
# (printers leave up to about 6 mm unprinted; 10 mm is the usual safe margin).
MARGIN_MM = 10.0
DPI = 100
# A pixel this light or lighter is paper; anything darker is ink (antialiased edges included).
PAPER = 250
LOGIN_URL = "https://app.example.org/login"


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, check=False)  # noqa: S603


def ensure_pdftoppm() -> str:
    """Debian's ``pdftoppm``, installed with apt-get if missing."""
    if shutil.which("pdftoppm") is None:
        install = ["apt-get", "install", "-y", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=300", PACKAGE]
        done = _run(install)
        if done.returncode != 0:  # a fresh machine may not have the package lists yet
            _run(["apt-get", "update"])
            done = _run(install)
        assert shutil.which("pdftoppm"), f"could not install {PACKAGE}: {done.stdout[-1500:]} {done.stderr[-1500:]}"
    found = shutil.which("pdftoppm")
    assert found is not None
    return found


def _pgm(path: Path) -> tuple[int, int, bytes]:
    """A binary PGM (P5, 8 bits) as (width, height, pixels row by row)."""
    data = path.read_bytes()
    fields: list[bytes] = []
    position = 0
    while len(fields) < 4:  # magic, width, height, maxval, separated by whitespace (no comments from poppler)
        while data[position : position + 1].isspace():
            position += 1
        end = position
        while not data[end : end + 1].isspace():
            end += 1
        fields.append(data[position:end])
        position = end
    assert fields[0] == b"P5" and fields[3] == b"255", fields
    width, height = int(fields[1]), int(fields[2])
    pixels = data[position + 1 :]
    assert len(pixels) == width * height
    return width, height, pixels


# Paper becomes 0xff, ink 0x00: a row's ink is then what stripping 0xff from either end leaves.
_INK = bytes(0xFF if value >= PAPER else 0x00 for value in range(256))


def _ink_box(width: int, height: int, pixels: bytes) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) pixel bounds of the page's ink, right and bottom exclusive; None for a blank page."""
    left, top, right, bottom = width, height, 0, 0
    for y in range(height):
        row = pixels[y * width : (y + 1) * width].translate(_INK)
        inked = row.strip(b"\xff")
        if not inked:
            continue
        start = len(row) - len(row.lstrip(b"\xff"))
        left, right = min(left, start), max(right, start + len(inked))
        top, bottom = min(top, y), y + 1
    return None if right == 0 else (left, top, right, bottom)


def _px(mm: float) -> float:
    return mm * DPI / 25.4


def _pages_as_images(pdf: bytes, where: Path) -> list[tuple[int, int, bytes]]:
    pdftoppm = ensure_pdftoppm()
    source = where / "cards.pdf"
    source.write_bytes(pdf)
    done = _run([pdftoppm, "-r", str(DPI), "-gray", str(source), str(where / "page")])
    assert done.returncode == 0, done.stderr
    return [_pgm(path) for path in sorted(where.glob("page-*.pgm"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))]


def test_every_card_of_a_multi_page_sheet_prints_inside_the_margins(tmp_path: Path) -> None:
    long_names = [
        ("Maximilian-Wolfgang Alexander", "Montmorency-Whitworth-Fotheringham"),
        ("W" * 60, "M" * 60),
        ("Zoë", "Nowak"),
        ("Siobhán", "O'Neill"),
    ]
    pupils = [
        LoginDetails(uuid.uuid4(), first, last, f"{first[:8]}.{last[:8]}{i}".lower(), f"penguin{i:03d}")
        for i, (first, last) in enumerate(long_names * 6)
    ]
    by_band = {
        "Class 4W - Mrs Worthington-Wilberforce's Wednesday Group": pupils,  # 24: three pages (10, 10, 4)
        "Class 3A": pupils[:3],
    }
    pdf = render_cards("The Warwickshire Mumbles Community Primary School", by_band, login_url=LOGIN_URL)

    images = _pages_as_images(pdf, tmp_path)
    layouts = page_layouts(pdf)

    assert [len([d for d in layout if isinstance(d, Rectangle)]) for layout in layouts] == [3, 10, 10, 4]
    assert len(images) == len(layouts) == 4
    inside = (
        math.floor(_px(MARGIN_MM)),
        math.floor(_px(MARGIN_MM)),
        math.ceil(_px(A4_MM[0] - MARGIN_MM)),
        math.ceil(_px(A4_MM[1] - MARGIN_MM)),
    )
    crossing = []
    for number, (width, height, pixels) in enumerate(images, start=1):
        assert abs(width - _px(A4_MM[0])) <= 1 and abs(height - _px(A4_MM[1])) <= 1, f"page {number} is not A4"
        ink = _ink_box(width, height, pixels)
        assert ink is not None, f"page {number} is blank"
        left, top, right, bottom = ink
        if left < inside[0] or top < inside[1] or right > inside[2] or bottom > inside[3]:
            mm = ", ".join(f"{value * 25.4 / DPI:.1f}" for value in ink)
            crossing.append(f"page {number}: ink from ({mm}) mm, outside the {MARGIN_MM:g} mm margin")
    assert crossing == []
    # A full page has its fifth row: ink in the last fifth of the space between the margins.
    for number in (2, 3):
        _, _, _, bottom = _ink_box(*images[number - 1]) or (0, 0, 0, 0)
        assert bottom >= _px(A4_MM[1] - MARGIN_MM - (A4_MM[1] - 2 * MARGIN_MM) / 5), f"page {number}: no fifth row"
