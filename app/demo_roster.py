"""The app roster ``make run`` seeds its ``demo`` school with, so that the uploader has something to
suggest the moment the service is up.

The roster is made from the school's MIS mirror (the sandbox's generated school, after a read), by fixed
rules, so the same school always gives the same roster and the same suggestions:

- three forms (the three below the top one) each have a band "Class <form>" holding all their pupils
  but the first (a joiner, who has no account yet): those bands and most of their pupils are linked
  automatically, two of them despite a typo in their names;
- two accounts are doubtful and wait for the admin: one typed with only an initial for a first name,
  one in the band of the form below their own (a child the MIS has moved up);
- "Maths Set 1" holds twelve pupils of the top form and four of the form below: the uploader suggests the
  top form for it, and matching it there would take those four out of the set (the sets-vs-forms
  warning of the preview);
- "Coding Club" holds three app-only accounts no MIS class knows of: the uploader suggests nothing and
  the sync never touches it.

It is imported through the roster import (``app.roster.service``), as an admin's file would be, and only
into a school with no bands and no pupils yet: seeding again changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.locking import lock_school
from app.roster.parser import parse_roster
from app.roster.service import ImportSummary, import_roster
from app.sync.state.repository import load_snapshot

MATHS_SET = "Maths Set 1"
CLUB = "Coding Club"
# App-only accounts: no MIS student has these names (the sandbox generates none of them).
CLUB_ONLY = (("Ada", "Lovelace"), ("Alan", "Turing"), ("Grace", "Hopper"))
MIN_FORMS = 4


class DemoRosterUnavailable(Exception):
    """The school cannot be given the demo roster (no mirror yet, or too few forms in it)."""


@dataclass(frozen=True)
class FormPupil:
    wonde_id: str
    forename: str
    surname: str


@dataclass(frozen=True)
class Form:
    """A registration group of the mirror: its name, year and pupils (in Wonde id order)."""

    name: str
    year_group: int | None
    pupils: tuple[FormPupil, ...]


def class_band(form: Form) -> str:
    return f"Class {form.name}"


def _typo(name: str) -> str:
    """Two letters after the first swapped, as a hurried typist would."""
    return name[0] + name[2] + name[1] + name[3:] if len(name) > 3 else name


def demo_roster(forms: Sequence[Form]) -> bytes:
    """The roster CSV (``pupil_id,first_name,last_name,band,year_group``) for these forms: pure, and the
    same forms always give the same file."""
    ordered = sorted(forms, key=lambda f: (f.year_group if f.year_group is not None else -1, f.name))
    ordered = [form for form in ordered if len(form.pupils) >= 14]
    if len(ordered) < MIN_FORMS:
        raise DemoRosterUnavailable(f"the demo roster needs {MIN_FORMS} forms of 14 pupils or more")
    *_, first, second, third, top = ordered
    ids: dict[str, str] = {}

    def row(pupil: FormPupil, band: str, year: int | None, names: tuple[str, str] | None = None) -> str:
        pupil_id = ids.setdefault(pupil.wonde_id, f"demo-{len(ids) + 1:03d}")
        forename, surname = names or (pupil.forename, pupil.surname)
        return f"{pupil_id},{forename},{surname},{band},{'' if year is None else year}"

    typed = {
        first.pupils[1].wonde_id: (first.pupils[1].forename, _typo(first.pupils[1].surname)),
        second.pupils[1].wonde_id: (_typo(second.pupils[1].forename), second.pupils[1].surname),
        third.pupils[1].wonde_id: (third.pupils[1].forename[0], third.pupils[1].surname),  # an initial only
    }
    mover = second.pupils[3]  # in the band of the form below: the MIS has them in this one
    lines = ["pupil_id,first_name,last_name,band,year_group"]
    for form in (first, second, third):
        pupils = [p for p in form.pupils[1:] if p != mover]
        lines += [row(p, class_band(form), form.year_group, typed.get(p.wonde_id)) for p in pupils]
    lines.append(row(mover, class_band(first), first.year_group))
    lines += [row(p, MATHS_SET, top.year_group) for p in top.pupils[:12]]
    lines += [row(p, MATHS_SET, third.year_group, typed.get(p.wonde_id)) for p in third.pupils[2:6]]
    lines += [f"demo-club-{i},{forename},{surname},{CLUB}," for i, (forename, surname) in enumerate(CLUB_ONLY, 1)]
    return ("\n".join(lines) + "\n").encode()


async def seed_demo_roster(session: AsyncSession, school_id: str, actor: str) -> ImportSummary | None:
    """Import the demo roster into the school, in the caller's transaction, journalled as ``actor``'s;
    None, writing nothing, when the school already has bands or pupils (seeded before, or real)."""
    await lock_school(session, school_id)
    state = await load_snapshot(session, school_id)
    if state.bands or state.every_pupil:
        return None
    forms = [
        Form(
            container.name,
            container.year_group,
            tuple(
                FormPupil(s.wonde_id, s.forename, s.surname)
                for s in sorted((state.students[w] for w in state.members.get(wonde_id, ())), key=lambda s: s.wonde_id)
            ),
        )
        for wonde_id, container in state.containers.items()
        if container.kind == "group"
    ]
    return await import_roster(session, school_id, parse_roster(demo_roster(forms)), actor)
