"""Anonymising accounts, all or nothing, as a journalled run of its own (``anonymise``).

An account is anonymised when its child left longer ago than the school's grace period (the hourly
job ``anonymise_leavers``), or at once when an admin erases the child on request (``erase_pupil``):
its names are replaced, its stored and waiting passwords cleared, its band memberships ended, and the
child's names are taken out of the journal's before and after values. The username is kept, unusable
(there is no password), so that no one else is ever given it.

A leaver keeps the account's link to their MIS record: if the child comes back, the sync offers the
old account back (held for the admin: after the grace period, it may not be the same child) with the
names the MIS gives, never a second account. A child erased on request is unlinked, everything but the
Wonde id is taken off their mirror record (marked deleted), and only their Wonde student id is kept
(``erased_students``): later reads leave the record out, so no sync makes them an account again. Each
band membership ended is journalled too (``remove_from_band``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.errors import PupilNotFound
from app.kit.crypto import SecretBox
from app.kit.locking import lock_school
from app.kit.time import utc_now
from app.kit.unit_of_work import unit_of_work
from app.models import ChangeStatus, Pupil, School, SyncRun
from app.models.sync_run import RunKind, RunTrigger
from app.sync.erasure.digests import upn_digest
from app.sync.erasure.repository import ErasureRepository, schools_with_leavers_due
from app.sync.journal.entries import Action, Subject
from app.sync.journal.writer import record
from app.sync.runs import service as runs
from app.sync.runs.service import SyncAlreadyRunning, claim_school

logger = logging.getLogger(__name__)

# What an anonymised account is called.
ANONYMISED = ("Former", "pupil")
LEFT = "left the school longer ago than its grace period"
ERASED = "erased on request"


def _scrub(value: Any, names: set[str]) -> Any:
    """``value`` with every string that is one of ``names`` replaced by None, at any depth."""
    if isinstance(value, str):
        return None if value in names else value
    if isinstance(value, list):
        return [_scrub(item, names) for item in value]
    if isinstance(value, dict):
        return {key: _scrub(item, names) for key, item in value.items()}
    return value


async def _anonymise(
    session: AsyncSession,
    school_id: str,
    run: SyncRun,
    pupils: Sequence[Pupil],
    *,
    erase: SecretBox | None,
    now: datetime,
) -> list[str]:
    """Anonymise ``pupils`` (locked) in the caller's transaction; returns the Wonde ids erased. With
    ``erase`` (the box that keys UPN digests) the children are erased on request."""
    repository = ErasureRepository(session, school_id)
    students = await repository.students([p.mis_student_id for p in pupils if p.mis_student_id])
    names: set[str] = set()
    for pupil in pupils:
        names |= {pupil.first_name, pupil.last_name}
    for student in students.values():
        names |= {n for n in (student.forename, student.surname, student.legal_forename, student.legal_surname) if n}
    names -= {"", *ANONYMISED}
    erased = (
        {s.wonde_id: upn_digest(erase, school_id, s.upn)[0] if s.upn else None for s in students.values()}
        if erase
        else {}
    )
    ids = [p.id for p in pupils]
    for row in await repository.journal_about(ids, list(erased)):
        row.before, row.after = _scrub(row.before, names), _scrub(row.after, names)
        if row.status == ChangeStatus.HELD:  # a change still waiting about this child is not made
            row.status, row.decided_at = ChangeStatus.REJECTED, now
    ended = await repository.end_memberships(ids)
    await repository.clear_waiting_passwords(ids)
    for pupil in pupils:
        pupil.first_name, pupil.last_name = ANONYMISED
        pupil.password_hash, pupil.anonymised_at = None, now
        pupil.archived_at = pupil.archived_at or now
        if erase is not None:
            pupil.mis_student_id = None
    await session.flush()
    if erase is not None:
        await repository.forget_students(list(students))
        await repository.add_erased(erased, now)
    else:
        await repository.blank_left_students(list(students))
    reason = ERASED if erase is not None else LEFT
    entries = [Subject.pupil(p.id).entry(Action.ANONYMISE_PUPIL, None, {"reason": reason}) for p in pupils] + [
        Subject.membership(band, pupil).entry(
            Action.REMOVE_FROM_BAND, {"band_id": str(band), "pupil_id": str(pupil)}, None
        )
        for band, pupil in ended
    ]
    await record(session, school_id, run.id, run.actor, entries)
    return list(erased)


async def _run(session: AsyncSession, school_id: str, trigger: RunTrigger, actor: str | None, now: datetime) -> SyncRun:
    run = runs.new_run(school_id, RunKind.ANONYMISE, trigger, actor)
    runs.start(run, now)
    return await claim_school(session, run)


async def erase_pupil(
    session: AsyncSession, school_id: str, pupil_id: uuid.UUID, actor: str, box: SecretBox
) -> tuple[SyncRun, str | None]:
    """Erase one child on request, now (409 while a sync, merge or undo of the school is running): the
    run, and the Wonde student id put on the erased list (None for an account with no MIS link)."""
    await lock_school(session, school_id)
    pupil = await ErasureRepository(session, school_id).pupil(pupil_id)
    if pupil is None:
        raise PupilNotFound()
    now = utc_now()
    run = await _run(session, school_id, RunTrigger.MANUAL, actor, now)
    erased = await _anonymise(session, school_id, run, [pupil], erase=box, now=now)
    runs.succeed(run, counts={"anonymised": 1, "erased_students": len(erased)}, now=now)
    await session.flush()
    return run, next(iter(erased), None)


async def anonymise_leavers(sessionmaker: async_sessionmaker[AsyncSession], now: datetime | None = None) -> int:
    """Anonymise, school by school (one transaction each), every account archived longer ago than its
    school's grace period; returns how many. A school busy with a sync is left for the next pass."""
    now = now or utc_now()
    async with unit_of_work(sessionmaker, None) as session:
        due = await schools_with_leavers_due(session, now)
    anonymised = 0
    for school_id in due:
        try:
            async with unit_of_work(sessionmaker, None) as session:
                await lock_school(session, school_id)
                school = await session.get(School, school_id)
                assert school is not None
                pupils = await ErasureRepository(session, school_id).leavers_due(now, school.leaver_grace_days)
                if not pupils:
                    continue
                run = await _run(session, school_id, RunTrigger.SCHEDULE, None, now)
                await _anonymise(session, school_id, run, pupils, erase=None, now=now)
                runs.succeed(run, counts={"anonymised": len(pupils)}, now=now)
                anonymised += len(pupils)
        except SyncAlreadyRunning:
            logger.info("leavers left for the next pass: the school is syncing", extra={"school_id": school_id})
    return anonymised
