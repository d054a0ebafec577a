"""Which MIS student each app pupil is: candidates, evidence, a one-to-one assignment, and decisions.

The assignment proposes; the rules decide. A proposal becomes automatic only when it is strong
(≥ T bits), clearly ahead of the pupil's next candidate and of the student's next claimant (≥ Δ),
and no veto fires: an initial-only first name, a name that disagrees outright, a student outside the
band's confirmed class, an account older than the student's admission. Anything else goes to a person
with the top candidates and the reasons.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from app.sync.core.matching.names import metaphone, nickname_groups_of
from app.sync.core.matching.people import KnownName, NameEvidence, NameScorer, TypedName
from app.sync.core.matching.types import AppPupil, Candidate, MisStudent, PupilMatch

T_IN_CLASS = 11.0  # the candidate sits in the pupil's confirmed class
T_WITH_CONTEXT = 14.0  # a typed year or a confirmed class elsewhere
T_NO_CONTEXT = 16.0  # nothing but names, school-wide
MARGIN = 4.0
REVIEW_MIN = 8.0  # weaker candidates are not worth an admin's time
CLASS_BITS = 3.0
YEAR_BITS = {0: 1.0, 1: -1.5}
YEAR_FAR_BITS = -4.0
SHOWN_CANDIDATES = 3


@dataclass(frozen=True)
class Context:
    """What the pupil's bands and typed year say about where to look."""

    classes: frozenset[str]  # confirmed MIS containers of the pupil's bands
    class_members: frozenset[str]  # the students in them
    year: int | None
    # When the school's typed years are a year behind the MIS (an app not rolled over), the year
    # the MIS would have: either agreeing counts.
    rolled_year: int | None = None
    # Students in any class the pupil's unconfirmed bands might follow (None: no such band).
    possible_members: frozenset[str] | None = None

    @property
    def known(self) -> bool:
        return bool(self.classes) or self.year is not None


@dataclass(frozen=True)
class Pair:
    student_id: str
    score: float
    names: NameEvidence
    typed: TypedName
    context: tuple[str, ...]  # class and year evidence, already worded
    vetoes: tuple[str, ...]
    threshold: float
    # Whether to show it to the admin: the class penalty does not hide a pupil who moved class.
    worth_review: bool

    @property
    def evidence(self) -> tuple[str, ...]:
        """Worded only when shown: most pairs are never read by anyone."""
        return self.names.describe(self.typed) + self.context


class StudentIndex:
    """Students by name keys (whole names, first three letters, Metaphone, nickname group), so each
    pupil is compared with the few students who could be them rather than the whole school."""

    def __init__(self, students: Iterable[MisStudent], known: Mapping[str, KnownName]) -> None:
        self.by_key: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.by_year: dict[int | None, set[str]] = defaultdict(set)
        for student in students:
            names = known[student.id]
            self.by_year[student.year_group].add(student.id)
            for surname in names.surnames + names.surname_parts:
                for key in _surname_keys(surname):
                    self.by_key[key].add(student.id)
            for forename in names.forenames + names.forename_parts + names.middles:
                for key in _forename_keys(forename):
                    self.by_key[key].add(student.id)

    def lookup(self, keys: Iterable[tuple[str, str]]) -> set[str]:
        found: set[str] = set()
        for key in keys:
            found |= self.by_key.get(key, set())
        return found

    def in_years(self, year: int) -> set[str]:
        return self.by_year.get(year - 1, set()) | self.by_year.get(year, set()) | self.by_year.get(year + 1, set())


def _surname_keys(name: str) -> list[tuple[str, str]]:
    if len(name) < 2:
        return []
    return [("s", name), ("s3", name[:3]), ("sm", name[0] + metaphone(name))]


def _forename_keys(name: str) -> list[tuple[str, str]]:
    if len(name) < 2:
        return []
    keys = [("f", name), ("f3", name[:3]), ("fm", name[0] + metaphone(name))]
    keys += [("fg", str(group)) for group in nickname_groups_of(name)]
    return keys


class PupilMatcher:
    def __init__(
        self,
        students: Mapping[str, MisStudent],
        scorer: NameScorer,
        known: Mapping[str, KnownName],
    ) -> None:
        self.students = students
        self.scorer = scorer
        self.known = known
        self.index = StudentIndex(students.values(), known)

    def candidates(self, typed: TypedName, context: Context) -> set[str]:
        """Students sharing a whole surname anywhere in the school, or, near the pupil (their class,
        else their year ±1, else anywhere), a surname that starts or sounds the same, or a forename."""
        surnames = (typed.surname, *typed.surname_parts)
        found = self.index.lookup(("s", name) for name in (*surnames, typed.forename))
        nearby_keys = [k for name in surnames for k in _surname_keys(name)]
        nearby_keys += [
            k for name in (typed.forename, *typed.forename_parts, typed.surname) for k in _forename_keys(name)
        ]
        nearby = self.index.lookup(nearby_keys)
        if context.classes:
            nearby &= context.class_members
        elif context.year is not None:
            nearby &= self.index.in_years(context.year) | (
                self.index.in_years(context.rolled_year) if context.rolled_year is not None else set()
            )
        return (found | nearby) & self.students.keys()

    def score(self, pupil: AppPupil, typed: TypedName, context: Context, student_id: str) -> Pair:
        student = self.students[student_id]
        names = self.scorer.names(typed, self.known[student_id])
        score = names.bits
        evidence: list[str] = []
        vetoes: list[str] = []
        threshold = T_WITH_CONTEXT if context.known else T_NO_CONTEXT
        if context.classes:
            if student_id in context.class_members:
                score += CLASS_BITS
                threshold = T_IN_CLASS
                evidence.append(f"same class (+{CLASS_BITS:.0f})")
            else:
                score -= CLASS_BITS
                vetoes.append("in a different class from the band's confirmed class")
                evidence.append(f"different class (-{CLASS_BITS:.0f})")
        elif context.possible_members is not None and student_id not in context.possible_members:
            vetoes.append("in none of the classes the pupil's band might follow")
        if context.year is not None and student.year_group is not None:
            years = [y for y in (context.year, context.rolled_year) if y is not None]
            bits = max(YEAR_BITS.get(abs(y - student.year_group), YEAR_FAR_BITS) for y in years)
            score += bits
            evidence.append(f"typed year {context.year}, MIS year {student.year_group} ({bits:+.1f})")
        vetoes.extend(typed.problems)
        if typed.initial_only:
            vetoes.append("first name is an initial only")
        if names.forename.name == "different" or names.surname.name == "different":
            vetoes.append("one of the names does not agree")
        if pupil.created_on and student.admitted_on and pupil.created_on < student.admitted_on:
            vetoes.append("the account is older than the student's admission: it may be a leaver's")
        outside_class = bool(context.classes) and student_id not in context.class_members
        worth_review = score + (CLASS_BITS if outside_class else 0.0) >= REVIEW_MIN
        return Pair(student_id, round(score, 2), names, typed, tuple(evidence), tuple(vetoes), threshold, worth_review)


def assign(pairs: Mapping[str, Mapping[str, Pair]]) -> dict[str, str]:
    """One-to-one proposals maximising the total evidence, per connected group of pupils and students.

    Scores are clipped at zero so "leave unmatched" is always free: a plain rectangular assignment
    would otherwise sacrifice a sure pair to avoid a bad one.
    """
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for pupil_id, by_student in pairs.items():
        for student_id, pair in by_student.items():
            if pair.score > 0:
                parent[find("p:" + pupil_id)] = find("s:" + student_id)
    groups: dict[str, list[str]] = defaultdict(list)
    for pupil_id, by_student in pairs.items():
        if any(pair.score > 0 for pair in by_student.values()):
            groups[find("p:" + pupil_id)].append(pupil_id)
    proposals: dict[str, str] = {}
    for pupil_ids in groups.values():
        student_ids = sorted({s for p in pupil_ids for s, pair in pairs[p].items() if pair.score > 0})
        if len(pupil_ids) == 1 and len(student_ids) == 1:
            proposals[pupil_ids[0]] = student_ids[0]
            continue
        column = {s: i for i, s in enumerate(student_ids)}
        matrix = np.zeros((len(pupil_ids), len(student_ids)))
        for row, pupil_id in enumerate(pupil_ids):
            for student_id, pair in pairs[pupil_id].items():
                if pair.score > 0:
                    matrix[row, column[student_id]] = pair.score
        rows, columns = linear_sum_assignment(matrix, maximize=True)
        for row, col in zip(rows, columns, strict=True):
            if matrix[row, col] > 0:
                proposals[pupil_ids[row]] = student_ids[col]
    return proposals


def decide(
    pupils: Iterable[AppPupil],
    pairs: Mapping[str, Mapping[str, Pair]],
    proposals: Mapping[str, str],
    surnames: Mapping[str, tuple[str, ...]],
) -> list[PupilMatch]:
    """Apply the threshold, both margins and the vetoes to each proposal."""
    # A pupil competes for a student unless they clearly belong to someone else (a sibling with a
    # better match of their own); two accounts for one child both compete, so both go to review.
    claimants: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for pupil_id, by_student in pairs.items():
        top = sorted(by_student.values(), key=lambda p: -p.score)[:2]
        for student_id, pair in by_student.items():
            others = [p.score for p in top if p.student_id != student_id]
            elsewhere = others[0] if others else float("-inf")
            if pair.score > elsewhere - MARGIN:
                claimants[student_id].append((pupil_id, pair.score))
    decisions = []
    for pupil in pupils:
        by_student = pairs.get(pupil.id, {})
        ranked = sorted(by_student.values(), key=lambda p: (-p.score, p.student_id))
        shown = tuple(Candidate(p.student_id, p.score, p.evidence + p.vetoes) for p in ranked if p.worth_review)[
            :SHOWN_CANDIDATES
        ]
        proposed = proposals.get(pupil.id)
        if proposed is not None and not by_student[proposed].worth_review:
            proposed = None  # too weak to be worth an admin's time: as good as no candidate
        if proposed is None:
            if shown:
                decisions.append(PupilMatch(pupil.id, None, "review", shown[0].score, ("no clear match",), shown))
            else:
                reason = "no MIS student with a similar name: perhaps a leaver"
                decisions.append(PupilMatch(pupil.id, None, "none", 0.0, (reason,)))
            continue
        pair = by_student[proposed]
        reasons = list(pair.vetoes)
        runner_up = next((p for p in ranked if p.student_id != proposed), None)
        if pair.score < pair.threshold:
            reasons.append(f"evidence {pair.score:.1f} bits is below the {pair.threshold:.0f} needed")
        if runner_up is not None and pair.score - runner_up.score < MARGIN:
            shared = set(surnames.get(runner_up.student_id, ())) & set(surnames.get(proposed, ()))
            reasons.append(
                "a twin or sibling has a close name: not automatic"
                if shared
                else f"another student is within {MARGIN:.0f} bits"
            )
        if any(other != pupil.id and score > pair.score - MARGIN for other, score in claimants[proposed]):
            reasons.append("another app account competes for this student (a duplicate account?)")
        if reasons:
            decisions.append(
                PupilMatch(
                    pupil.id,
                    None,
                    "review",
                    pair.score,
                    tuple(reasons),
                    shown or (Candidate(proposed, pair.score, pair.evidence),),
                )
            )
        else:
            decisions.append(PupilMatch(pupil.id, proposed, "auto", pair.score, pair.evidence, shown))
    return decisions
