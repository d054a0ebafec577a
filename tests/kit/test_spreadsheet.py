"""Cells a spreadsheet would read as a formula are escaped (OWASP's CSV injection advice: a leading ``'``),
and a CSV starts with a UTF-8 BOM so that spreadsheet programs read "Zoë" rather than "ZoÃ«"."""

from __future__ import annotations

import csv
import io

import pytest

from app.kit.spreadsheet import BOM, csv_document, safe_cell


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=cmd|'/c calc'!A1", "'=cmd|'/c calc'!A1"),
        ("+44 20 7946 0000", "'+44 20 7946 0000"),
        ("-2+3", "'-2+3"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Zoë", "Zoë"),
        ("O'Brien", "O'Brien"),
        ("Smith-Jones", "Smith-Jones"),
        ("a=b", "a=b"),
        ("", ""),
        ("tiger482", "tiger482"),
    ],
)
def test_a_cell_that_would_start_a_formula_is_escaped_and_no_other(value: str, written: str) -> None:
    assert safe_cell(value) == written


def test_a_csv_document_is_utf8_with_a_bom_and_every_cell_escaped() -> None:
    document = csv_document(["first_name", "last_name"], [["=1+1", "Zoë"], ["Amy", "@A1"]])
    assert document.startswith(BOM)
    text = document[len(BOM) :].decode("utf-8")
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["first_name", "last_name"],
        ["'=1+1", "Zoë"],
        ["Amy", "'@A1"],
    ]
    assert document.decode("utf-8-sig").splitlines()[1] == "'=1+1,Zoë"
