"""The reconcile reads a school once and carries the links it makes before planning in memory
(``state.reconcile.after``): that must be exactly what reading the school again would give."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.crypto import SecretBox
from app.kit.time import utc_now
from app.models import SyncRun
from app.models.sync_run import RunTrigger
from app.sync.apply import apply_plan
from app.sync.connection.service import disconnect_school
from app.sync.core.changes import ArchivePupil, Plan
from app.sync.core.reconcile_plan import AppPupil, ReconcileState, plan_remembered
from app.sync.state.lookup import Lookup
from app.sync.state.reconcile import ReconcileInput, after, reconcile_input
from tests.fixtures.schools import small_school


async def test_links_carried_in_memory_equal_the_school_read_again(session: AsyncSession, box: SecretBox) -> None:
    school = await small_school(session)
    for pupil, student in zip(school.pupils, school.students, strict=False):
        pupil.mis_student_id = student.id
    school.band.mis_class_id = school.form.id
    await session.flush()
    await disconnect_school(session, school.school_id, trigger=RunTrigger.MANUAL, actor="admin", revoke=False)
    school.pupils[0].archived_at = utc_now()  # left while disconnected, and is back in the MIS
    await session.flush()

    loaded = await reconcile_input(session, school.school_id)
    assert loaded.linked == 0
    relinks = plan_remembered(loaded.state)
    assert sorted(type(c).__name__ for c in relinks) == ["LinkPupil"] * 5 + ["RestorePupil"]
    run = SyncRun(id=uuid.uuid4(), school_id=school.school_id, kind="reconcile", trigger="manual", status="running")
    session.add(run)
    await session.flush()
    await apply_plan(session, school.school_id, run.id, "admin", Plan(relinks), loaded.lookup, box)

    carried = after(loaded, relinks)
    session.expire_all()
    read_again = await reconcile_input(session, school.school_id)
    assert carried == read_again
    assert carried.linked == 5
    assert carried.state.remembered == {}
    assert not carried.state.pupils[str(school.pupils[0].id)].archived


def test_after_refuses_a_change_it_cannot_carry() -> None:
    """Only links and restores are carried; anything else would need the school read again."""
    state = ReconcileState(
        today=utc_now().date(),
        synced={},
        band_names={},
        container_names={},
        members={},
        students={},
        pupils={"p": AppPupil("Ada", "Lovelace", 4, "S1", archived=False)},
        band_members={},
    )
    loaded = ReconcileInput(state, Lookup({}, {}, {}), 1)
    with pytest.raises(ValueError, match="ArchivePupil"):
        after(loaded, [ArchivePupil("p", "S1", "left")])
    assert after(loaded, []) == loaded
