"""The copycat reconcile planner on hand-made states: one rule per case."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from app.sync.core.changes import (
    AddToBand,
    ArchivePupil,
    Change,
    ChangeYear,
    CreatePupil,
    LinkPupil,
    RemoveFromBand,
    RenameBand,
    RenamePupil,
    RestorePupil,
    UnlinkBand,
)
from app.sync.core.merge_plan import StudentFacts
from app.sync.core.reconcile_plan import AppPupil, MisPupil, ReconcileState, plan_reconcile, plan_remembered

TODAY = date(2026, 11, 28)


def in_step() -> ReconcileState:
    """Band b4 follows class C4 (students s1, s2 -> pupils p1, p2); p9 is an app-only pupil in b4."""
    return ReconcileState(
        today=TODAY,
        synced={"b4": "C4", "b5": "C5"},
        band_names={"b4": "4B", "b5": "5C"},
        container_names={"C4": "4B", "C5": "5C"},
        members={"C4": frozenset({"s1", "s2"}), "C5": frozenset({"s3"})},
        students={
            "s1": MisPupil(StudentFacts("Amy", "Jones", 4)),
            "s2": MisPupil(StudentFacts("Ben", "Brown", 4)),
            "s3": MisPupil(StudentFacts("Cara", "Diaz", 5)),
        },
        pupils={
            "p1": AppPupil("Amy", "Jones", 4, "s1", archived=False),
            "p2": AppPupil("Ben", "Brown", 4, "s2", archived=False),
            "p3": AppPupil("Cara", "Diaz", 5, "s3", archived=False),
            "p9": AppPupil("Zed", "AppOnly", None, None, archived=False),
        },
        band_members={"b4": frozenset({"p1", "p2", "p9"}), "b5": frozenset({"p3"})},
    )


def test_a_school_in_step_gives_an_empty_plan() -> None:
    assert plan_reconcile(in_step()).changes == []


def test_a_joiner_gets_an_account_in_their_band() -> None:
    state = in_step()
    state = replace(
        state,
        members={**state.members, "C4": state.members["C4"] | {"s4"}},
        students={**state.students, "s4": MisPupil(StudentFacts("Dev", "Patel", 4))},
    )
    assert plan_reconcile(state).changes == [CreatePupil("new:s4", "s4", "Dev", "Patel", 4), AddToBand("b4", "new:s4")]


def test_a_leaver_is_archived_and_leaves_synced_bands_only() -> None:
    state = in_step()
    students = dict(state.students)
    del students["s2"]
    state = replace(state, students=students, members={**state.members, "C4": frozenset({"s1"})})
    assert plan_reconcile(state).changes == [
        ArchivePupil("p2", "s2", "no longer in the MIS"),
        RemoveFromBand("b4", "p2"),
    ]


def test_off_roll_counts_as_leaving_and_a_return_restores() -> None:
    state = in_step()
    off = replace(
        state, students={**state.students, "s2": MisPupil(StudentFacts("Ben", "Brown", 4), leaving_date=TODAY)}
    )
    assert ArchivePupil("p2", "s2", "left the school (off roll)") in plan_reconcile(off).changes
    back = replace(state, pupils={**state.pupils, "p2": replace(state.pupils["p2"], archived=True)})
    assert plan_reconcile(back).changes == [RestorePupil("p2", "s2")]


def test_names_years_moves_and_band_names_follow_the_mis() -> None:
    state = in_step()
    state = replace(
        state,
        students={**state.students, "s1": MisPupil(StudentFacts("Amelia", "Jones", 5))},
        members={"C4": frozenset({"s2"}), "C5": frozenset({"s3", "s1"})},
        container_names={"C4": "4B", "C5": "5 Cedar"},
    )
    assert plan_reconcile(state).changes == [
        RenamePupil("p1", ("Amy", "Jones"), ("Amelia", "Jones")),
        ChangeYear("p1", 4, 5),
        RemoveFromBand("b4", "p1"),
        RenameBand("b5", "5C", "5 Cedar"),
        AddToBand("b5", "p1"),
    ]


def test_a_vanished_class_unlinks_its_band_and_touches_no_member() -> None:
    state = in_step()
    state = replace(state, container_names={"C4": "4B"}, members={"C4": state.members["C4"]})
    assert plan_reconcile(state).changes == [UnlinkBand("b5", "C5")]


def test_app_only_pupils_and_their_memberships_are_never_touched() -> None:
    state = in_step()
    state = replace(state, band_members={**state.band_members, "b5": frozenset({"p3", "p9"})})
    assert plan_reconcile(state).changes == []


def test_mass_removals_are_held_and_the_rest_applies() -> None:
    from app.sync.core.changes import AddToBand as Add
    from app.sync.core.safeguards import Thresholds, safeguard

    leavers: list[Change] = [ArchivePupil(f"p{i}", f"s{i}", "no longer in the MIS") for i in range(30)]
    joiner: list[Change] = [CreatePupil("new:s99", "s99", "New", "Child", 4), Add("b4", "new:s99")]
    decision = safeguard([*leavers, *joiner], linked_pupils=100, thresholds=Thresholds())
    assert decision.apply == joiner
    assert [h.change for h in decision.held] == leavers
    assert "30 pupils would be removed" in decision.held[0].reason
    few = safeguard(leavers[:5], linked_pupils=100, thresholds=Thresholds())
    assert (few.apply, few.held) == (leavers[:5], [])
    vanished = safeguard([UnlinkBand("b5", "C5")], linked_pupils=100, thresholds=Thresholds())
    assert vanished.apply == []
    assert len(vanished.held) == 1


def test_a_flood_of_joiners_and_a_migration_hold_every_new_account() -> None:
    from app.sync.core.safeguards import Thresholds, safeguard

    joiners: list[Change] = [
        c for i in range(30) for c in (CreatePupil(f"new:s{i}", f"s{i}", "A", "B", 4), AddToBand("b4", f"new:s{i}"))
    ]
    flood = safeguard(joiners, linked_pupils=100, thresholds=Thresholds())
    assert (flood.apply, len(flood.held)) == ([], 60)
    rename: list[Change] = [RenamePupil("p1", ("Amy", "Jones"), ("Amelia", "Jones"))]
    migrating = safeguard(rename, linked_pupils=100, thresholds=Thresholds(), hold_all="migrating")
    assert (migrating.apply, [h.reason for h in migrating.held]) == ([], ["migrating"])


def test_a_return_after_the_grace_period_waits_for_an_admin() -> None:
    from app.sync.core.safeguards import Thresholds, safeguard

    state = in_step()
    recent = replace(
        state, pupils={**state.pupils, "p2": replace(state.pupils["p2"], archived=True, archived_on=date(2026, 10, 1))}
    )
    [restore] = plan_reconcile(recent).changes
    assert restore == RestorePupil("p2", "s2")
    assert safeguard([restore], 100, Thresholds()).apply == [restore]
    long_ago = replace(
        state, pupils={**state.pupils, "p2": replace(state.pupils["p2"], archived=True, archived_on=date(2025, 1, 1))}
    )
    [late] = plan_reconcile(long_ago).changes
    assert late == RestorePupil("p2", "s2", after_grace=True)
    assert safeguard([late], 100, Thresholds()).apply == []


def test_a_child_back_after_a_disconnect_gets_their_own_account_back() -> None:
    """s4 left while the school was disconnected (p4 unlinked, then archived by hand) and has come back:
    p4 is restored and linked, not a second account made. A remembered account already following
    someone, or a student someone already follows, is left alone."""
    state = in_step()
    state = replace(
        state,
        students={**state.students, "s4": MisPupil(StudentFacts("Dev", "Patel", 4))},
        pupils={
            **state.pupils,
            "p4": AppPupil("Dev", "Patel", 4, None, archived=True),
            "p5": AppPupil("Eve", "Moss", 4, None, archived=False),
        },
        remembered={"s4": "p4", "s1": "p5", "s9": "p9"},
    )
    assert plan_remembered(state) == [RestorePupil("p4", "s4"), LinkPupil("p4", "s4")]
    assert plan_remembered(in_step()) == []


def test_a_skipped_student_gets_no_account_and_no_account_back() -> None:
    """Skipped in the uploader (issue 17): the first sync used to make the child an account."""
    state = in_step()
    state = replace(
        state,
        members={**state.members, "C4": state.members["C4"] | {"s4"}},
        students={**state.students, "s4": MisPupil(StudentFacts("Dev", "Patel", 4))},
        pupils={**state.pupils, "p4": AppPupil("Dev", "Patel", 4, None, archived=False)},
        remembered={"s4": "p4"},
        skipped=frozenset({"s4"}),
    )
    assert plan_reconcile(state).changes == []
    assert plan_remembered(state) == []


def test_a_skipped_linked_pupil_is_left_as_they_are_while_on_roll() -> None:
    """p1 had an account before the skip: it is neither renamed, moved nor changed a year, taken out of
    or put in a band; once the child leaves the school it is archived as any leaver's."""
    state = in_step()
    moved = replace(
        state,
        students={**state.students, "s1": MisPupil(StudentFacts("Amelia", "Jones", 5))},
        members={"C4": frozenset({"s2"}), "C5": frozenset({"s3", "s1"})},
        skipped=frozenset({"s1"}),
    )
    assert plan_reconcile(moved).changes == []
    left = replace(
        moved, students={**moved.students, "s1": MisPupil(StudentFacts("Amy", "Jones", 4), leaving_date=TODAY)}
    )
    assert plan_reconcile(left).changes == [
        ArchivePupil("p1", "s1", "left the school (off roll)"),
        RemoveFromBand("b4", "p1"),
    ]
