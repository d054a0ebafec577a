"""The safeguards hold whole pupils (issue 17): when one of a pupil's changes waits for the admin, all of
that pupil's changes in the plan wait with it, so no decision can leave the pupil half changed."""

from __future__ import annotations

from app.sync.core.changes import (
    AddToBand,
    ArchivePupil,
    Change,
    ChangeYear,
    CreatePupil,
    RemoveFromBand,
    RenamePupil,
    RestorePupil,
    UnlinkBand,
)
from app.sync.core.safeguards import Thresholds, safeguard


def test_a_late_returner_waits_whole_and_is_not_put_back_in_a_band_meanwhile() -> None:
    """An archived pupil back after the grace period waits for the admin; adding them to their band
    applied at once, and put an archived account in a synced band."""
    changes: list[Change] = [
        RestorePupil("p2", "s2", after_grace=True),
        RenamePupil("p2", ("Ben", "Brown"), ("Benjamin", "Brown")),
        AddToBand("b4", "p2"),
        AddToBand("b4", "p3"),
    ]
    decision = safeguard(changes, linked_pupils=100, thresholds=Thresholds())
    assert decision.apply == [AddToBand("b4", "p3")], "a change of a pupil who waits for the admin applied"
    assert [h.change for h in decision.held] == changes[:3]
    assert {h.reason for h in decision.held} == {"back after the leaver grace period: confirm it is the same child"}


def test_a_mover_caught_in_a_mass_removal_waits_whole() -> None:
    """Leaving one band is a removal (held when there are many), joining the next is not: the pupil would
    sit in both bands until the admin decides."""
    leavers: list[Change] = [
        c
        for i in range(8)
        for c in (ArchivePupil(f"p{i}", f"s{i}", "no longer in the MIS"), RemoveFromBand("b1", f"p{i}"))
    ]
    mover: list[Change] = [RemoveFromBand("b1", "p9"), AddToBand("b2", "p9"), ChangeYear("p9", 4, 5)]
    other = [AddToBand("b2", "p10")]
    decision = safeguard([*leavers, *mover, *other], linked_pupils=40, thresholds=Thresholds())
    assert decision.apply == other
    assert [h.change for h in decision.held] == [*leavers, *mover]


def test_a_band_and_its_new_pupils_are_held_apart_from_others() -> None:
    """A vanished class holds its band only; a flood of joiners holds each new account with its bands."""
    joiners: list[Change] = [
        c for i in range(8) for c in (CreatePupil(f"new:s{i}", f"s{i}", "A", "B", 4), AddToBand("b4", f"new:s{i}"))
    ]
    decision = safeguard([UnlinkBand("b5", "C5"), *joiners, AddToBand("b4", "p1")], 40, Thresholds())
    assert decision.apply == [AddToBand("b4", "p1")]
    assert len(decision.held) == 17


# -- what an undo reverted (app.sync.core.undone) -------------------------------------------------------------

RENAME = RenamePupil("p1", ("Amy", "Jones"), ("Amelia", "Jones"))
MOVE_OUT, MOVE_IN = RemoveFromBand("b1", "p1"), AddToBand("b2", "p1")


def test_what_an_undo_reverted_waits_with_its_pupil_and_says_why() -> None:
    from app.sync.core.undone import UNDONE_REASON, Undone, key_of

    other = AddToBand("b2", "p2")
    undone = Undone(hold=frozenset({key_of(RENAME)}))
    decision = safeguard([RENAME, MOVE_OUT, MOVE_IN, other], 100, Thresholds(), undone=undone)
    assert decision.apply == [other]
    assert [(h.change, h.reason, h.after_undo) for h in decision.held] == [
        (c, UNDONE_REASON, True) for c in (RENAME, MOVE_OUT, MOVE_IN)
    ]
    # During an MIS migration everything waits, and what an undo reverted still says so.
    migrating = safeguard([RENAME, other], 100, Thresholds(), hold_all="migrating", undone=undone)
    assert [(h.reason, h.after_undo) for h in migrating.held] == [(UNDONE_REASON, True), ("migrating", False)]


def test_a_rejection_after_an_undo_leaves_out_that_change_only_or_the_whole_account() -> None:
    from app.sync.core.undone import Undone, key_of

    year = ChangeYear("p1", 4, 5)
    kept = safeguard([RENAME, year], 100, Thresholds(), undone=Undone(keep_undone=frozenset({key_of(RENAME)})))
    assert (kept.apply, kept.left_out) == ([year], [RENAME])
    # An account given back and rejected: nothing of that pupil follows (no archived account in a band).
    back: list[Change] = [RestorePupil("p3", "s3"), AddToBand("b1", "p3"), RenamePupil("p3", ("A", "B"), ("C", "B"))]
    refused = safeguard(back, 100, Thresholds(), undone=Undone(keep_undone=frozenset({key_of(back[0])})))
    assert (refused.apply, refused.held, refused.left_out) == ([], [], back)


def test_a_rejection_lapses_when_the_mis_changes_again_and_what_was_reverted_once_looked_at() -> None:
    from app.sync.core.undone import Memo, Standing, Undone, key_of, lapsed

    memos = [
        Memo(1, frozenset({key_of(RENAME)}), Standing.REVERTED),
        Memo(2, frozenset({key_of(MOVE_OUT)}), Standing.WAITING),
        Memo(3, frozenset({key_of(MOVE_IN)}), Standing.REJECTED),
        Memo(4, frozenset({key_of(AddToBand("b9", "p1"))}), Standing.REJECTED),
    ]
    assert Undone.of(memos) == Undone(
        hold=frozenset({key_of(RENAME), key_of(MOVE_OUT)}),
        keep_undone=frozenset({key_of(MOVE_IN), key_of(AddToBand("b9", "p1"))}),
    )
    assert lapsed(memos, [RENAME, MOVE_OUT, MOVE_IN]) == [1, 4]
    assert lapsed(memos, []) == [1, 3, 4]
