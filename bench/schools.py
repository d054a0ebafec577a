"""School setup the benchmarks share: a generated school read into the mirror, the app's accounts
imported in one band per form, its forms matched in the uploader, and (for a syncing school) every
class imported and the merge applied.

Nothing here is measured; each benchmark times its own step after the setup.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.kit.crypto import SecretBox
from app.kit.unit_of_work import unit_of_work
from app.models import Band, MisClass, MisGroup, School, SyncRun, UploaderDecision
from app.roster.parser import parse_roster
from app.roster.service import import_roster
from app.sync.mirror.flow import write_read
from app.sync.mirror.read import MisRead
from app.sync.onboarding.flow import run_merge
from app.sync.onboarding.service import compute_plan, unresolved
from app.wonde.sandbox.generate import Phase, generate_school
from app.wonde.schemas import WondeClass, WondeGroup, WondeStudent


@dataclass(frozen=True)
class WondeLink:
    """Where the school lives in Wonde (a sandbox): set on the school so a worker can read it."""

    school_id: str
    domain: str
    token: str


def mis_read(dump: dict[str, Any]) -> MisRead:
    read = MisRead()
    for student in dump["students"]:
        read.add_student(WondeStudent.model_validate(student))
    for item in dump["classes"]:
        read.add_class(WondeClass.model_validate(item))
    for group in dump["groups"]:
        if group["type"] == "REGISTRATION":
            read.add_group(WondeGroup.model_validate(group))
    return read.finish()


def roster(dump: dict[str, Any]) -> bytes:
    """The app's side: an account for 24 of every 25 students (the 25th is a joiner), one band per form."""
    lines = ["pupil_id,first_name,last_name,band,year_group"]
    for index, student in enumerate(dump["students"]):
        if index % 25 == 0:
            continue  # a joiner: no app account yet
        forms = [g["name"] for g in student["groups"]["data"] if g["type"] == "REGISTRATION"]
        forename, surname = (student["forename"], student["surname"])
        year = student["education_details"]["data"]["current_nc_year"]
        lines.append(f"app{index},{forename},{surname},Form {forms[0]},{year}")
    return ("\n".join(lines) + "\n").encode()


async def school_with_forms_matched(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    phase: Phase = "secondary",
    pupils: int = 2000,
    seed: int = 5,
    wonde: WondeLink | None = None,
    box: SecretBox | None = None,
) -> str:
    """A generated school (a 2,000-pupil secondary unless told) read into the mirror, the app's accounts
    imported in one band per form, and every form matched to its band in the uploader. With ``wonde``
    (and ``box``) the school is connected to that Wonde school, so a real read can follow."""
    dump = generate_school(phase, pupils, seed)
    school_id = f"bench-{uuid.uuid4().hex[:8]}"
    async with unit_of_work(sessionmaker, None) as session:
        school = School(id=school_id, name="Bench Academy", state="approved")
        if wonde is not None:
            assert box is not None
            assert wonde.school_id == dump["school"]["id"]
            school.wonde_school_id, school.wonde_domain = wonde.school_id, wonde.domain
            school.wonde_token_encrypted = box.encrypt(wonde.token)
        session.add(school)
    async with unit_of_work(sessionmaker, None) as session:
        await write_read(session, school_id, mis_read(dump), complete=True)
        await import_roster(session, school_id, parse_roster(roster(dump)))
    async with unit_of_work(sessionmaker, None) as session:
        bands = {b.name: b.id for b in await session.scalars(select(Band).where(Band.school_id == school_id))}
        for group in await session.scalars(select(MisGroup).where(MisGroup.school_id == school_id)):
            if (band_id := bands.get(f"Form {group.name}")) is not None:
                session.add(
                    UploaderDecision(school_id=school_id, mis_group_id=group.id, action="match", band_id=band_id)
                )
    return school_id


async def import_all_and_merge(sessionmaker: async_sessionmaker[AsyncSession], box: SecretBox, school_id: str) -> None:
    """Import every MIS class, skip the matcher's doubtful few, and apply the merge: the school is then
    ``syncing``."""
    async with unit_of_work(sessionmaker, None) as session:
        for mis_class in await session.scalars(select(MisClass).where(MisClass.school_id == school_id)):
            session.add(UploaderDecision(school_id=school_id, mis_class_id=mis_class.id, action="import"))
    # Leave the matcher's doubtful few out of the bench. Skipping one can leave another doubtful (it
    # changes who competes for whom), so ask again until none is left.
    for _ in range(5):
        async with unit_of_work(sessionmaker, None) as session:
            state, result, _ = await compute_plan(session, school_id)
            waiting = unresolved(state, result)
            for wonde_id in waiting:
                session.add(
                    UploaderDecision(school_id=school_id, mis_student_id=state.students[wonde_id].id, resolution="skip")
                )
        if not waiting:
            break
    async with unit_of_work(sessionmaker, None) as session:
        run = SyncRun(school_id=school_id, kind="merge", trigger="manual", status="queued")
        session.add(run)
    if await run_merge(sessionmaker, box, run.id) != "succeeded":
        async with sessionmaker() as session:
            failed = await session.get(SyncRun, run.id)
        raise RuntimeError(f"the merge of {school_id} failed: {failed.error if failed else 'no run'}")


async def syncing_school(
    sessionmaker: async_sessionmaker[AsyncSession],
    box: SecretBox,
    *,
    phase: Phase = "secondary",
    pupils: int = 2000,
    seed: int = 5,
    wonde: WondeLink | None = None,
) -> str:
    """A school onboarded by a merge: forms matched, every class imported, the matcher's doubtful few
    skipped; it is then ``syncing``."""
    school_id = await school_with_forms_matched(
        sessionmaker, phase=phase, pupils=pupils, seed=seed, wonde=wonde, box=box
    )
    await import_all_and_merge(sessionmaker, box, school_id)
    return school_id
