"""Fitting a text into its box, without a PDF: its own size when it fits, then shrunk in half points,
then wrapped, then cut short with an ellipsis — or, for a text that must print whole, never cut."""

from __future__ import annotations

import pytest

from app.pupils.fitted_text import LINE_HEIGHT, MM_PER_PT, Box, Fitted, Style, fit

NAME = Style("Helvetica", "B", 14, smallest=7)
SECRET = Style("Courier", "B", 14, smallest=7)
BOX = Box(0, 0, 80, 14)


def _inside(fitted: Fitted, style: Style, box: Box) -> bool:
    wide_enough = all(style.ems(line) * fitted.size * MM_PER_PT <= box.w for line in fitted.lines)
    return wide_enough and len(fitted.lines) * LINE_HEIGHT * fitted.size * MM_PER_PT <= box.h


def test_a_text_that_fits_keeps_its_size() -> None:
    assert fit("Amy Jones", NAME, BOX, whole=False) == Fitted(14, ("Amy Jones",))


def test_a_text_slightly_too_wide_shrinks_to_the_largest_half_point_that_fits() -> None:
    # 40 Courier characters are 24 em: 80 mm holds them at up to 9.45 pt.
    assert fit("w" * 40, SECRET, BOX, whole=True) == Fitted(9, ("w" * 40,))


def test_a_name_too_long_for_one_line_wraps_between_words_and_at_hyphens() -> None:
    fitted = fit("Anna-Maria Wolfgang Anna-Maria Wolfgang", NAME, Box(0, 0, 36, 14), whole=False)

    assert fitted == Fitted(7, ("Anna-Maria Wolfgang Anna-", "Maria Wolfgang"))


@pytest.mark.parametrize("length", [41, 80, 200, 2_000])
def test_a_whole_text_keeps_every_character_inside_its_box(length: int) -> None:
    text = ("w" * 15 + ".m") * length

    fitted = fit(text[:length], SECRET, Box(0, 0, 80, 7.5), whole=True)

    assert "".join(fitted.lines) == text[:length]
    assert _inside(fitted, SECRET, Box(0, 0, 80, 7.5))


@pytest.mark.parametrize("name", ["W" * 201, "Wim " * 100, "Maximilian-Wolfgang " * 20, "Mw" * 500])
def test_a_name_too_long_for_its_box_is_cut_short_with_an_ellipsis(name: str) -> None:
    fitted = fit(name, NAME, BOX, whole=False)

    assert fitted.size == 7
    assert fitted.lines[-1].endswith("...")
    assert _inside(fitted, NAME, BOX)
