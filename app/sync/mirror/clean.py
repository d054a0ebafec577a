"""MIS text made safe to store and to show: every value read from Wonde passes through ``clean``.

Schools type names into their MIS by hand, paste them from e-mails and spreadsheets, and some MIS
exports carry what no one can see: NUL bytes (which PostgreSQL refuses, so one of them used to stop a
whole school's read), bell and escape characters, line breaks, and bidirectional overrides such as
U+202E that make a name print backwards in a CSV, a PDF or a teacher's screen. None of that belongs in
a name, a UPN or a class code.

``clean`` removes control characters (C0, C1 and DEL; tabs and line breaks become spaces), the
invisible formatting characters that change how text is shown (bidirectional overrides, embeddings,
isolates and marks, zero-width spaces, byte-order marks), puts the text in Unicode NFC (so "é" typed
two ways is one name), turns runs of spaces into one and strips the ends, then keeps it to the
column's length. It says whether the value was *changed* in a way the school should hear about (a
character removed, or the value cut short); tidying spaces and NFC are not worth a warning.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# Invisible characters that change how text around them is shown, or hide in it: the bidirectional
# marks, embeddings, overrides and isolates, zero-width space and the byte-order mark. Zero-width
# (non-)joiners are kept: some scripts spell names with them.
_INVISIBLE = frozenset("\u061c\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")
# Line and paragraph breaks of every kind read as the space they stand for.
_BREAKS = frozenset("\t\n\v\f\r\x1c\x1d\x1e\x85\u2028\u2029")


@dataclass(frozen=True)
class Cleaned:
    value: str | None  # None when nothing is left
    changed: bool  # a character was removed or the value was cut short


def _is_control(char: str) -> bool:
    return unicodedata.category(char) == "Cc"


def clean(raw: str | None, limit: int) -> Cleaned:
    """``raw`` as bandsync stores it, at most ``limit`` characters (see the module's docstring)."""
    if raw is None:
        return Cleaned(None, False)
    changed = False
    kept: list[str] = []
    for char in raw:
        if char in _BREAKS:
            kept.append(" ")
            changed = True
        elif char in _INVISIBLE or _is_control(char):
            changed = True
        else:
            kept.append(char)
    value = " ".join(unicodedata.normalize("NFC", "".join(kept)).split())
    if len(value) > limit:
        value, changed = value[:limit].rstrip(), True
    return Cleaned(value or None, changed)
