"""Which students a skip covers (``state.snapshot.skipped_students``): its own student while the MIS has
them, and after an MIS migration (every id new) the one live student with the skipped record's UPN,
unless the admin has decided about that student since."""

from __future__ import annotations

import uuid

from app.models import UploaderDecision
from app.sync.state.snapshot import skipped_students

AMY, AMY_AGAIN, BEN, BEN_AGAIN, TWIN_1, TWIN_2, CARA = (uuid.uuid4() for _ in range(7))
LIVE = {AMY_AGAIN: "W-AMY-2", BEN_AGAIN: "W-BEN-2", TWIN_1: "W-T1", TWIN_2: "W-T2", CARA: "W-CARA"}
UPNS = {AMY: "A1", AMY_AGAIN: "A1", BEN: "B1", BEN_AGAIN: "B1", TWIN_1: "T", TWIN_2: "T", CARA: "C1"}


def skip(student: uuid.UUID) -> UploaderDecision:
    return UploaderDecision(id=uuid.uuid4(), school_id="s", mis_student_id=student, resolution="skip")


def test_a_skip_covers_its_student_and_survives_a_migration_by_upn() -> None:
    amy, ben, cara = skip(AMY), skip(BEN), skip(CARA)
    old_twin = uuid.uuid4()
    twins = skip(old_twin)
    covered = skipped_students(
        [amy, ben, cara, twins],
        decided={BEN_AGAIN, CARA},  # the admin has decided about Ben's new record since the migration
        live_wonde_ids=LIVE,
        upns=UPNS | {old_twin: "T"},
        gone={AMY, BEN, old_twin},
    )
    # Amy's skip follows her new record; Ben's new record has a decision of its own; two live students
    # with the skipped UPN are never guessed between; Cara's own skip covers her.
    assert covered == {"W-AMY-2": amy, "W-CARA": cara}


def test_a_skip_about_a_record_that_is_gone_with_no_successor_covers_no_one() -> None:
    assert skipped_students([skip(AMY)], decided=set(), live_wonde_ids={CARA: "W-CARA"}, upns=UPNS, gone={AMY}) == {}
