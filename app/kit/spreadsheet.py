"""Every CSV the service writes is opened by someone in a spreadsheet program, and its cells come from
outside (names from a school's MIS): a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return would be read as a formula (``=cmd|'/c calc'!A1``, ``=HYPERLINK(...)``). Following OWASP's advice
on CSV injection, such a cell is written with a leading apostrophe, which spreadsheets take as "text"
(``'=1+1`` shows ``=1+1``), and the CSV module quotes whatever needs it. The document starts with a UTF-8
byte order mark, without which Excel reads UTF-8 as Windows-1252 ("ZoÃ«" for "Zoë").

Usernames and passwords never start with those characters (``app/pupils/usernames.py``,
``credentials.new_password``), so what a child types is written as it is.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

BOM = "\ufeff".encode()
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """``value`` as a spreadsheet will show it and never run it."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def csv_document(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    """A CSV file (UTF-8 with a BOM, CRLF line ends) whose every cell is ``safe_cell``."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow([safe_cell(cell) for cell in header])
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return BOM + out.getvalue().encode("utf-8")
