"""The one username policy: readable, ASCII, unique in the school, never reused, never changed.

``amy.jones``, then ``amy.jones2``, ``amy.jones3`` … for namesakes. Names are folded to ASCII
(Zoë → zoe, Łukasz → lukasz, Siobhán → siobhan) and cut so a username stays easy to type. A username
is made once, when the account is; a later change of name does not change it. Because pupils are
never hard-deleted, "unique in the school" also means "never reused".
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from anyascii import anyascii

MAX_PART = 15
MAX_LENGTH = 40
_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")


def _part(name: str) -> str:
    folded = anyascii(name).lower()
    return _NOT_ALLOWED.sub("", folded)[:MAX_PART]


def base_username(first_name: str, last_name: str) -> str:
    first, last = _part(first_name), _part(last_name)
    base = ".".join(part for part in (first, last) if part)
    return base or "pupil"


def allocate_usernames(names: Iterable[tuple[str, str]], taken: set[str]) -> list[str]:
    """A new username for each (first, last) name, in order, avoiding ``taken`` and each other.

    ``taken`` must hold every username the school has ever issued (or at least every one sharing a
    base with these names); it is updated in place with the new ones.
    """
    allocated: list[str] = []
    for first_name, last_name in names:
        base = base_username(first_name, last_name)
        candidate, suffix = base, 1
        while candidate in taken:
            suffix += 1
            candidate = f"{base}{suffix}"
        assert len(candidate) <= MAX_LENGTH
        taken.add(candidate)
        allocated.append(candidate)
    return allocated
