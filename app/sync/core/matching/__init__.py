"""The matching engine: which MIS class each band follows, and which MIS student each app pupil is.

Pure (no session, no client, no clock). Precision first: a wrong automatic link merges two
children's accounts, a link left for a person costs one click. Every decision carries its evidence.

    result = match(MatchInput(bands=..., pupils=..., containers=..., students=..., members=...))
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from app.sync.core.matching.classes import match_classes, representatives
from app.sync.core.matching.names import NameFrequencies
from app.sync.core.matching.people import KnownName, NameScorer, TypedName
from app.sync.core.matching.pupils import Context, Pair, PupilMatcher, assign, decide
from app.sync.core.matching.types import (
    AppBand,
    AppPupil,
    Candidate,
    ClassMatch,
    MatchInput,
    MatchResult,
    MisContainer,
    MisStudent,
    PupilMatch,
)

__all__ = [
    "AppBand",
    "AppPupil",
    "Candidate",
    "ClassMatch",
    "MatchInput",
    "MatchResult",
    "MisContainer",
    "MisStudent",
    "PupilMatch",
    "match",
]


def _full_names(known: KnownName) -> set[str]:
    return {f"{first} {last}" for first in known.forenames for last in known.surnames}


def _anchors(data: MatchInput, typed: Mapping[str, TypedName], known: Mapping[str, KnownName]) -> dict[str, str]:
    """Pupils whose full name is exact and unique on both sides, plus the admin's own links. They only
    vote on which class a band is; they are not pupil decisions."""
    mis_keys: dict[str, list[str]] = {}
    for student_id, names in known.items():
        for key in _full_names(names):
            mis_keys.setdefault(key, []).append(student_id)
    app_keys = Counter(f"{t.forename} {t.surname}" for t in typed.values())
    anchors = {
        pupil_id: mis_keys[key][0]
        for pupil_id, t in typed.items()
        if app_keys[key := f"{t.forename} {t.surname}"] == 1 and len(mis_keys.get(key, ())) == 1
    }
    anchors.update(data.pupil_links)
    return anchors


def _year_offset(data: MatchInput, anchors: Mapping[str, str]) -> int:
    """How far the app's typed years lag the MIS, read from the anchors: an app not yet rolled over
    to the new academic year types last year's year groups. 0 unless most anchors agree on a lag."""
    years = {s.id: s.year_group for s in data.students}
    gaps: Counter[int] = Counter()
    for pupil in data.pupils:
        mis_year = years.get(anchors.get(pupil.id, ""))
        if mis_year is not None and pupil.year_group is not None:
            gaps[mis_year - pupil.year_group] += 1
    if not gaps:
        return 0
    gap, count = gaps.most_common(1)[0]
    return gap if gap in (1, 2) and count >= 0.5 * sum(gaps.values()) else 0


def _frequencies(known: Mapping[str, KnownName]) -> NameFrequencies:
    forenames = [n for names in known.values() for n in set(names.forenames + names.forename_parts)]
    surnames = [n for names in known.values() for n in set(names.surnames + names.surname_parts)]
    return NameFrequencies(forenames, surnames, len(known))


def match(data: MatchInput) -> MatchResult:
    """Suggest a class for every band and a student for every pupil, with evidence (see the package doc)."""
    known = {s.id: KnownName.of(s) for s in data.students}
    typed = {p.id: TypedName.of(p) for p in data.pupils}
    reps = representatives(data)
    anchors = _anchors(data, typed, known)
    classes = match_classes(data, anchors, reps)
    offset = _year_offset(data, anchors)

    linked = set(data.pupil_links.values())
    open_students = {s.id: s for s in data.students if s.id not in linked and s.id not in data.settled_students}
    matcher = PupilMatcher(open_students, NameScorer(_frequencies(known)), known)
    rep_members = {rep: data.members.get(rep, frozenset()) for rep in set(reps.values())}
    to_match = [p for p in data.pupils if p.id not in data.pupil_links]
    pairs: dict[str, dict[str, Pair]] = {}
    for pupil in to_match:
        confirmed = frozenset(classes.confirmed[b] for b in pupil.band_ids if b in classes.confirmed)
        members = frozenset().union(*(rep_members.get(rep, frozenset()) for rep in confirmed))
        rolled = pupil.year_group + offset if offset and pupil.year_group is not None else None
        maybe = [rep for b in pupil.band_ids for rep in classes.possible.get(b, ())]
        possible = frozenset().union(*(rep_members.get(r, frozenset()) for r in maybe)) if maybe else None
        context = Context(confirmed, members, pupil.year_group, rolled, possible)
        found = {
            s: matcher.score(pupil, typed[pupil.id], context, s) for s in matcher.candidates(typed[pupil.id], context)
        }
        if confirmed and not any(pair.worth_review for pair in found.values()):
            # Nobody like them in their band's class: look in their year too, so the admin sees who
            # it might be (a pupil who moved class) rather than "perhaps a leaver".
            wider = matcher.candidates(typed[pupil.id], Context(frozenset(), frozenset(), pupil.year_group, rolled))
            found |= {s: matcher.score(pupil, typed[pupil.id], context, s) for s in wider - found.keys()}
        pairs[pupil.id] = found
    surnames = {student_id: names.surnames + names.surname_parts for student_id, names in known.items()}
    decided = {d.pupil_id: d for d in decide(to_match, pairs, assign(pairs), surnames)}
    for pupil_id, student_id in data.pupil_links.items():
        decided[pupil_id] = PupilMatch(pupil_id, student_id, "auto", 0.0, ("linked by the admin",))
    results = tuple(decided[p.id] for p in data.pupils)

    claimed = {d.student_id for d in results if d.student_id}
    reviewed = {c.id for d in results if d.status == "review" for c in d.candidates}
    unclaimed = [s for s in data.students if s.id not in claimed and s.id not in data.settled_students]
    return MatchResult(
        classes=classes.matches,
        pupils=results,
        new_students=tuple(s.id for s in unclaimed if s.id not in reviewed),
        in_review_students=tuple(s.id for s in unclaimed if s.id in reviewed),
    )
