"""The merge planner as a table: a small school state in, the exact changes out (in the planner's
order: classes by Wonde id; in each, the band's change, then the pupils' by student, then the band's
memberships added and removed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from app.sync.core.changes import (
    MERGE_CHANGES,
    AddToBand,
    Change,
    CreateBand,
    CreatePupil,
    LinkBand,
    LinkPupil,
    RemoveFromBand,
    RestorePupil,
)
from app.sync.core.merge_plan import MergeState, StudentFacts, plan_merge
from app.sync.journal.entries import counts as journal_counts

STUDENTS = {
    "S1": StudentFacts("Amy", "Jones", 4),
    "S2": StudentFacts("Ben", "Khan", 4),
    "S3": StudentFacts("Cara", "Lee", None),
}


def state(**given: Any) -> MergeState:
    """A school with classes C1 "4B" and C2 "4x/Ma1" (S1, S2 in C1; S2, S3 in C2) and nothing decided,
    linked or in any band, but what a case gives."""
    values: dict[str, Any] = {
        "scope": {},
        "container_names": {"C1": "4B", "C2": "4x/Ma1"},
        "container_years": {"C1": 4, "C2": None},
        "members": {"C1": frozenset({"S1", "S2"}), "C2": frozenset({"S2", "S3"})},
        "students": STUDENTS,
        "linked": {},
        "to_link": {},
        "skipped": frozenset(),
        "band_links": {},
        "band_members": {},
    }
    return MergeState(**(values | given))


@dataclass(frozen=True)
class Case:
    id: str
    state: MergeState
    changes: list[Change] = field(default_factory=list)


CASES = [
    Case("nothing decided: nothing to do", state()),
    Case(
        "import a class: a new band, an account per student, each in the band",
        state(scope={"C1": None}),
        [
            CreateBand("new:C1", "C1", "4B", 4),
            CreatePupil("new:S1", "S1", "Amy", "Jones", 4),
            CreatePupil("new:S2", "S2", "Ben", "Khan", 4),
            AddToBand("new:C1", "new:S1"),
            AddToBand("new:C1", "new:S2"),
        ],
    ),
    Case(
        "a class with no name known is named by its id; a student with no year has none",
        state(scope={"C2": None}, container_names={}, members={"C2": frozenset({"S3"})}),
        [
            CreateBand("new:C2", "C2", "C2", None),
            CreatePupil("new:S3", "S3", "Cara", "Lee", None),
            AddToBand("new:C2", "new:S3"),
        ],
    ),
    Case(
        "match a class to a band: the band follows it; matched pupils are linked, the others created",
        state(scope={"C1": "B1"}, to_link={"S1": "P1"}, band_members={"B1": frozenset({"P1"})}),
        [
            LinkBand("B1", "C1"),
            LinkPupil("P1", "S1"),
            CreatePupil("new:S2", "S2", "Ben", "Khan", 4),
            AddToBand("B1", "new:S2"),
        ],
    ),
    Case(
        "already in step (a second merge): nothing to do",
        state(
            scope={"C1": "B1"},
            linked={"S1": "P1", "S2": "P2"},
            band_links={"B1": "C1"},
            band_members={"B1": frozenset({"P1", "P2"})},
        ),
    ),
    Case(
        "an imported class a band already follows keeps that band",
        state(scope={"C1": None}, linked={"S1": "P1", "S2": "P2"}, band_links={"B1": "C1"}),
        [AddToBand("B1", "P1"), AddToBand("B1", "P2")],
    ),
    Case(
        "a band matched to another class: it follows the new one and loses the pupils not in it",
        state(
            scope={"C2": "B1"},
            linked={"S1": "P1", "S2": "P2", "S3": "P3"},
            band_links={"B1": "C1"},
            band_members={"B1": frozenset({"P1", "P2"})},
        ),
        [LinkBand("B1", "C2"), AddToBand("B1", "P3"), RemoveFromBand("B1", "P1")],
    ),
    Case(
        "an account in the band but not in its class is taken out; an app-only band is left alone",
        state(
            scope={"C1": "B1"},
            linked={"S1": "P1", "S2": "P2"},
            band_links={"B1": "C1"},
            band_members={"B1": frozenset({"P1", "P2", "P9"}), "CLUB": frozenset({"P9"})},
        ),
        [RemoveFromBand("B1", "P9")],
    ),
    Case(
        # Skipped means not synced (issue 17): a merge used to take a skipped pupil out of the band.
        "a skipped student gets no account and no place; a skipped student's account is left in the band",
        state(
            scope={"C1": "B1"},
            linked={"S1": "P1"},
            skipped=frozenset({"S1", "S2"}),
            band_links={"B1": "C1"},
            band_members={"B1": frozenset({"P1"})},
            left_alone=frozenset({"P1"}),
        ),
    ),
    Case(
        "a skipped linked pupil is not put in a band either, nor linked by a proposal",
        state(
            scope={"C1": "B1", "C2": None},
            linked={"S1": "P1"},
            to_link={"S2": "P2"},
            skipped=frozenset({"S1", "S2"}),
            band_links={"B1": "C1"},
            members={"C1": frozenset({"S1", "S2"}), "C2": frozenset({"S1"})},
            left_alone=frozenset({"P1"}),
        ),
        [CreateBand("new:C2", "C2", "4x/Ma1", None)],
    ),
    Case(
        "an archived account linked again is restored first (a child back after leaving)",
        state(
            scope={"C1": "B1"},
            linked={"S2": "P2"},
            to_link={"S1": "P1"},
            archived=frozenset({"P1"}),
            band_links={"B1": "C1"},
            band_members={"B1": frozenset({"P2"})},
        ),
        [RestorePupil("P1", "S1"), LinkPupil("P1", "S1"), AddToBand("B1", "P1")],
    ),
    Case(
        "a student in two imported classes: one account, in both bands",
        state(scope={"C1": None, "C2": None}, members={"C1": frozenset({"S2"}), "C2": frozenset({"S2"})}),
        [
            CreateBand("new:C1", "C1", "4B", 4),
            CreatePupil("new:S2", "S2", "Ben", "Khan", 4),
            AddToBand("new:C1", "new:S2"),
            CreateBand("new:C2", "C2", "4x/Ma1", None),
            AddToBand("new:C2", "new:S2"),
        ],
    ),
    Case(
        "a student to link in two matched classes is linked once, and put in both bands",
        state(
            scope={"C1": "B1", "C2": "B2"},
            linked={"S1": "P1", "S3": "P3"},
            to_link={"S2": "P2"},
            band_links={"B1": "C1", "B2": "C2"},
            band_members={"B1": frozenset({"P1"}), "B2": frozenset({"P3"})},
        ),
        [LinkPupil("P2", "S2"), AddToBand("B1", "P2"), AddToBand("B2", "P2")],
    ),
    Case(
        "an existing link wins over a proposed one",
        state(
            scope={"C1": "B1"},
            linked={"S1": "P1", "S2": "P2"},
            to_link={"S1": "P7"},
            band_links={"B1": "C1"},
            band_members={"B1": frozenset({"P1", "P2"})},
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_merge_plan(case: Case) -> None:
    assert plan_merge(case.state).changes == case.changes


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_plan_counts_what_it_holds(case: Case) -> None:
    counts = journal_counts(plan_merge(case.state).changes, MERGE_CHANGES)
    kinds = {
        "bands_linked": LinkBand,
        "bands_created": CreateBand,
        "pupils_linked": LinkPupil,
        "pupils_created": CreatePupil,
        "memberships_added": AddToBand,
        "memberships_removed": RemoveFromBand,
    }
    assert counts == {label: sum(isinstance(c, kind) for c in case.changes) for label, kind in kinds.items()}
