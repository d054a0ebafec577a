"""The uploader refuses bad decisions clearly and changes nothing."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.time import utc_now
from app.models import Band, School, UploaderDecision
from app.models.sync_run import RunTrigger
from app.sync.core.changes import RestorePupil
from app.sync.core.merge_plan import CreatePupil, LinkPupil
from tests.fixtures.app import TokenFactory
from tests.fixtures.schools import decide, small_school


async def test_bad_class_decisions(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession, other_school: School
) -> None:
    school = await small_school(session)
    foreign = Band(school_id=other_school.id, name="Theirs")
    session.add(foreign)
    await session.commit()
    headers = auth(school.school_id, other_school.id)
    base = f"/v1/schools/{school.school_id}/uploader/classes"
    cases = [
        ("C-NOPE", {"action": "import"}, 404, "ClassNotFound"),
        ("C-4B", {"action": "match"}, 422, "BandRequired"),
        ("C-4B", {"action": "match", "band_id": str(foreign.id)}, 404, "BandNotFound"),
        ("C-4B", {"action": "match", "band_id": str(uuid.uuid4())}, 404, "BandNotFound"),
        ("C-4B", {"action": "merge"}, 422, "ValidationError"),
    ]
    for wonde_id, body, status, error in cases:
        response = await client.put(f"{base}/{wonde_id}", json=body, headers=headers)
        assert (response.status_code, response.json()["error"]) == (status, error), body
    ok = await client.put(f"{base}/C-4B", json={"action": "match", "band_id": str(school.band.id)}, headers=headers)
    assert ok.status_code == 200
    taken = await client.put(f"{base}/C-4C", json={"action": "match", "band_id": str(school.band.id)}, headers=headers)
    assert (taken.status_code, taken.json()["error"]) == (409, "BandAlreadyMatched")


async def test_a_band_matched_to_a_class_that_has_gone_can_be_matched_again(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession
) -> None:
    """Found by the model test: after a class ended (or a rollover renumbered it), its old decision
    kept holding the band, and matching the band to the new class failed with a 500."""
    school = await small_school(session)
    headers = auth(school.school_id)
    base = f"/v1/schools/{school.school_id}/uploader/classes"
    body = {"action": "match", "band_id": str(school.band.id)}
    assert (await client.put(f"{base}/C-4B", json=body, headers=headers)).status_code == 200
    school.form.deleted_at = utc_now()  # the MIS no longer has 4B
    await session.commit()
    again = await client.put(f"{base}/C-4C", json=body, headers=headers)
    assert again.status_code == 200, again.text
    view = (await client.get(f"/v1/schools/{school.school_id}/uploader", headers=headers)).json()
    assert [row["wonde_class_id"] for row in view if (row["decision"] or {}).get("band_id")] == ["C-4C"]


async def test_bad_pupil_resolutions(client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession) -> None:
    school = await small_school(session)
    school.pupils[3].mis_student_id = school.students[3].id
    await session.commit()
    headers = auth(school.school_id)
    base = f"/v1/schools/{school.school_id}/uploader/pupils"
    cases = [
        ("S-NOPE", {"resolution": "create"}, 404, "StudentNotFound"),
        ("S0", {"resolution": "link"}, 422, "InvalidInput"),
        ("S0", {"resolution": "link", "pupil_id": str(uuid.uuid4())}, 404, "PupilNotFound"),
        ("S0", {"resolution": "link", "pupil_id": str(school.pupils[3].id)}, 409, "PupilAlreadyLinked"),
    ]
    for wonde_id, body, status, error in cases:
        response = await client.put(f"{base}/{wonde_id}", json=body, headers=headers)
        assert (response.status_code, response.json()["error"]) == (status, error), body
    ok = await client.put(
        f"{base}/S0", json={"resolution": "link", "pupil_id": str(school.pupils[0].id)}, headers=headers
    )
    assert ok.status_code == 200


async def test_a_merge_with_nothing_chosen_is_refused(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession
) -> None:
    school = await small_school(session)
    await session.commit()
    response = await client.post(f"/v1/schools/{school.school_id}/uploader/merge", headers=auth(school.school_id))
    assert (response.status_code, response.json()["error"]) == (422, "NothingToMerge")


async def test_a_reconnecting_school_gets_its_old_links_back(session: AsyncSession) -> None:
    """A disconnect takes links away; on reconnecting, each student still on roll is linked again to
    the account it had (not offered a new one), even where names alone would never link it — the
    model test found children getting a second account this way."""
    from app.sync.connection.service import disconnect_school
    from app.sync.onboarding.service import compute_plan, issues
    from tests.fixtures.schools import decide

    school = await small_school(session)
    pupil = school.pupils[0]
    pupil.first_name = "A"  # an initial only: never linked automatically on names
    pupil.mis_student_id = school.students[0].id
    # What the admin answered at the first merge is for that connection only.
    session.add(UploaderDecision(school_id=school.school_id, mis_student_id=school.students[0].id, resolution="create"))
    await session.flush()
    await disconnect_school(session, school.school_id, trigger=RunTrigger.MANUAL, actor="admin", revoke=False)
    session.add(decide(school, school.form, "import"))
    await session.flush()
    found = {s.wonde_student_id for s in (await issues(session, school.school_id)).students}
    assert "S0" not in found
    _, _, plan = await compute_plan(session, school.school_id)
    links = {(c.student, c.pupil) for c in plan.changes if isinstance(c, LinkPupil)}
    created = {c.student for c in plan.changes if isinstance(c, CreatePupil)}
    assert ("S0", str(pupil.id)) in links
    assert "S0" not in created


async def test_a_child_back_after_leaving_gets_their_archived_account_restored(
    client: httpx.AsyncClient, auth: TokenFactory, session: AsyncSession
) -> None:
    """The admin links a student to an account archived when the child left (found by the model test:
    the uploader refused, and "create" was the only way on: a second account)."""
    from app.sync.onboarding.service import compute_plan

    school = await small_school(session)
    leaver = school.pupils[4]
    leaver.archived_at = utc_now()
    await session.commit()
    headers = auth(school.school_id)
    session.add(decide(school, school.form, "match", school.band))
    await session.commit()
    body = {"resolution": "link", "pupil_id": str(leaver.id)}
    linked = await client.put(f"/v1/schools/{school.school_id}/uploader/pupils/S4", json=body, headers=headers)
    assert linked.status_code == 200, linked.text
    _, _, plan = await compute_plan(session, school.school_id)
    assert RestorePupil(str(leaver.id), "S4") in plan.changes
    assert LinkPupil(str(leaver.id), "S4") in plan.changes
    assert not [c for c in plan.changes if isinstance(c, CreatePupil) and c.student == "S4"]


async def test_a_school_that_changed_mis_while_disconnected_gets_its_links_back_by_upn(
    session: AsyncSession,
) -> None:
    """Every Wonde id changed while the school was away; the UPN says which new record is the child."""
    from app.models import MisMembership, MisStudent
    from app.sync.connection.service import disconnect_school
    from app.sync.onboarding.service import compute_plan

    school = await small_school(session)
    pupil, old = school.pupils[0], school.students[0]
    pupil.first_name = "A"  # an initial only: never linked on names
    pupil.mis_student_id, old.upn = old.id, "K801200012345"
    await session.flush()
    await disconnect_school(session, school.school_id, trigger=RunTrigger.MANUAL, actor="admin", revoke=False)
    old.deleted_at = utc_now()
    new = MisStudent(school_id=school.school_id, wonde_id="S0-NEW", forename="Amelia", surname="Hartley", upn=old.upn)
    session.add(new)
    await session.flush()
    session.add(MisMembership(school_id=school.school_id, mis_student_id=new.id, mis_class_id=school.form.id))
    session.add(decide(school, school.form, "import"))
    await session.flush()
    _, _, plan = await compute_plan(session, school.school_id)
    assert LinkPupil(str(pupil.id), "S0-NEW") in plan.changes
    assert not [c for c in plan.changes if isinstance(c, CreatePupil) and c.student == "S0-NEW"]


async def test_an_archived_account_remembered_from_before_a_disconnect_comes_back(session: AsyncSession) -> None:
    """The child left and was archived after the school disconnected; on reconnecting they are back:
    not listed as an issue, and the merge restores and links their account."""
    from app.sync.connection.service import disconnect_school
    from app.sync.onboarding.service import compute_plan, issues

    school = await small_school(session)
    pupil = school.pupils[0]
    pupil.mis_student_id = school.students[0].id
    await session.flush()
    await disconnect_school(session, school.school_id, trigger=RunTrigger.MANUAL, actor="admin", revoke=False)
    pupil.archived_at = utc_now()
    session.add(decide(school, school.form, "import"))
    await session.flush()
    assert "S0" not in {s.wonde_student_id for s in (await issues(session, school.school_id)).students}
    _, _, plan = await compute_plan(session, school.school_id)
    assert [c for c in plan.changes if getattr(c, "student", None) == "S0"] == [
        RestorePupil(str(pupil.id), "S0"),
        LinkPupil(str(pupil.id), "S0"),
    ]


async def test_a_school_reconnecting_after_its_mirror_was_deleted_gets_its_old_links_back(
    session: AsyncSession,
) -> None:
    """Consent ended long enough ago that the retention job deleted the mirror; the approval's full read
    writes every record anew, in new rows. The disconnect journalled the student's Wonde id beside our
    row's id, so each child is still linked again to their account, even where names alone never would."""
    from app.models import MisClass, MisMembership, MisStudent
    from app.sync.connection.service import disconnect_school
    from app.sync.onboarding.service import compute_plan, issues
    from app.sync.retention.repository import delete_mirrors

    school = await small_school(session)
    pupil = school.pupils[0]
    pupil.first_name = "A"  # an initial only: never linked on names
    pupil.mis_student_id = school.students[0].id
    await session.flush()
    await disconnect_school(session, school.school_id, trigger=RunTrigger.MANUAL, actor="admin", revoke=False)
    await delete_mirrors(session, [school.school_id])
    form = MisClass(school_id=school.school_id, wonde_id="C-4B", name="4B", year_group=4)
    again = MisStudent(school_id=school.school_id, wonde_id="S0", forename="Amelia", surname="Hartley", year_group=4)
    session.add_all([form, again])
    await session.flush()
    session.add(MisMembership(school_id=school.school_id, mis_student_id=again.id, mis_class_id=form.id))
    session.add(UploaderDecision(school_id=school.school_id, mis_class_id=form.id, action="import"))
    await session.flush()
    assert "S0" not in {s.wonde_student_id for s in (await issues(session, school.school_id)).students}
    _, _, plan = await compute_plan(session, school.school_id)
    assert LinkPupil(str(pupil.id), "S0") in plan.changes
    assert not [c for c in plan.changes if isinstance(c, CreatePupil) and c.student == "S0"]
