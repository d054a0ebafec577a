"""The daily sync's shell: load a syncing school, plan the copycat reconcile, hold what the safeguards
hold, apply the rest in one transaction under the school's lock, and journal both.

Held changes are journal rows with status "held" carrying the change itself, so an admin's approval
applies exactly what was shown and a rejection leaves the pupils as they were.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.errors import Conflict, NotFound
from app.kit.crypto import SecretBox
from app.kit.jobs import JobQueue, enqueue
from app.kit.locking import lock_school
from app.kit.time import utc_now
from app.kit.unit_of_work import unit_of_work
from app.models import (
    Band,
    BandMembership,
    MisClass,
    MisGroup,
    MisMembership,
    MisStudent,
    Pupil,
    School,
    SyncRun,
)
from app.models import (
    Change as Journal,
)
from app.sync.apply import Lookup, apply_plan
from app.sync.core import changes as kinds
from app.sync.core.changes import Plan
from app.sync.core.matching import AppPupil as MatchPupil
from app.sync.core.matching import MatchInput, match
from app.sync.core.matching import MisStudent as MatchStudent
from app.sync.core.merge_plan import StudentFacts
from app.sync.core.reconcile_plan import (
    AppPupil,
    MisPupil,
    ReconcileState,
    plan_reconcile,
    plan_relinks,
    plan_remembered,
)
from app.sync.core.safeguards import Decision, Thresholds, safeguard
from app.sync.journal.writer import Entry, record
from app.sync.mirror import flow as fetch
from app.sync.runs.service import claim_school
from app.sync.state.school import remembered_links
from app.wonde.client import WondeClient


class NotSyncing(Conflict):
    """The school is not syncing: finish onboarding (merge) first."""


class ChangeAlreadyDecided(Conflict):
    """This change was already applied or rejected."""


class HeldChangeNotFound(NotFound):
    """No held change with this id in the school."""


async def load(session: AsyncSession, school_id: str) -> tuple[ReconcileState, Lookup, int]:
    """The school as the reconcile sees it, in a fixed number of queries; and how many pupils are linked."""
    school = await session.get(School, school_id)
    classes = list(await session.scalars(select(MisClass).where(MisClass.school_id == school_id)))
    groups = list(
        await session.scalars(select(MisGroup).where(MisGroup.school_id == school_id, MisGroup.type == "REGISTRATION"))
    )
    containers = {c.id: (c.wonde_id, c.name, c.deleted_at is None, "class") for c in classes}
    containers |= {g.id: (g.wonde_id, g.name, g.deleted_at is None, "group") for g in groups}
    students = list(await session.scalars(select(MisStudent).where(MisStudent.school_id == school_id)))
    wonde_of = {s.id: s.wonde_id for s in students}
    live = {s.wonde_id: s for s in students if s.deleted_at is None}
    members: dict[str, set[str]] = defaultdict(set)
    for student_id, class_id, group_id in await session.execute(
        select(MisMembership.mis_student_id, MisMembership.mis_class_id, MisMembership.mis_group_id).where(
            MisMembership.school_id == school_id, MisMembership.deleted_at.is_(None)
        )
    ):
        container = containers.get(class_id or group_id)  # type: ignore[arg-type]
        if container and container[2] and wonde_of.get(student_id) in live:
            members[container[0]].add(wonde_of[student_id])
    bands = {
        b.id: b
        for b in await session.scalars(select(Band).where(Band.school_id == school_id, Band.archived_at.is_(None)))
    }
    pupils = list(await session.scalars(select(Pupil).where(Pupil.school_id == school_id)))
    band_members: dict[str, set[str]] = defaultdict(set)
    for band_id, pupil_id in await session.execute(
        select(BandMembership.band_id, BandMembership.pupil_id).where(BandMembership.school_id == school_id)
    ):
        band_members[str(band_id)].add(str(pupil_id))
    synced = {
        str(b.id): containers[link][0]
        for b in bands.values()
        if (link := b.mis_class_id or b.mis_group_id) in containers
    }
    state = ReconcileState(
        today=utc_now().date(),
        synced=synced,
        band_names={str(b.id): b.name for b in bands.values()},
        container_names={w: name for w, name, alive, _ in containers.values() if alive},
        members={k: frozenset(v) for k, v in members.items()},
        students={
            w: MisPupil(StudentFacts(s.forename, s.surname, s.year_group), s.leaving_date, s.upn)
            for w, s in live.items()
        },
        pupils={
            str(p.id): AppPupil(
                p.first_name,
                p.last_name,
                p.year_group,
                wonde_of.get(p.mis_student_id) if p.mis_student_id else None,
                p.archived_at is not None,
                p.archived_at.date() if p.archived_at else None,
            )
            for p in pupils
        },
        band_members={k: frozenset(v) for k, v in band_members.items()},
        gone_upns={s.wonde_id: s.upn for s in students if s.deleted_at is not None and s.upn},
        leaver_grace_days=school.leaver_grace_days if school else 183,
        remembered={
            w: str(p)
            for w, p in (await remembered_links(session, school_id, live.values(), {p.id: p for p in pupils})).items()
        },
    )
    lookup = Lookup(
        {s.wonde_id: s.id for s in students},
        {w: (cid, kind) for cid, (w, _, _, kind) in containers.items()},
        bands,
    )
    linked = sum(1 for p in pupils if p.mis_student_id is not None and p.archived_at is None)
    return state, lookup, linked


async def _relink_after_migration(session: AsyncSession, school: School, run: SyncRun, box: SecretBox) -> int:
    """Re-link pupils whose students came back under new ids: by UPN where the MIS gives one, else by
    the matcher on names and year (automatic only where it is certain). What stays uncertain is held
    for the admin (the likeliest student, or archiving when there is none); once no linked pupil points
    at a vanished student, the migration is over and the normal reconcile resumes."""
    state, lookup, _ = await load(session, school.id)
    relinks = plan_relinks(state)
    matched, doubtful = _match_stranded(_after(state, relinks))
    relinks += matched
    if relinks:
        await apply_plan(session, school.id, run.id, run.actor, Plan(relinks), lookup, box)
    state, _, _ = await load(session, school.id)
    stranded = [
        p for p in state.pupils.values() if p.student is not None and not p.archived and p.student not in state.students
    ]
    if stranded:
        waiting = {_canonical((row.after or {}).get("change")) for row in await held_changes(session, school.id)}
        await record(
            session,
            school.id,
            run.id,
            run.actor,
            [_held_entry(school.id, c, reason) for c, reason in doubtful if _canonical(_serialise(c)) not in waiting],
        )
    elif school.migrating_since is not None:
        # Journalled, so that undoing this run also puts the school back to migrating: the links it
        # restores point at the old records, which only the migration's re-linking follows.
        ended = Entry(
            "school",
            school.id,
            "end_migration",
            {"migrating_since": school.migrating_since.isoformat()},
            {"migrating_since": None},
        )
        await record(session, school.id, run.id, run.actor, [ended])
        school.migrating_since = None
        await session.flush()
    return len(relinks)


def _after(state: ReconcileState, relinks: list[kinds.Change]) -> ReconcileState:
    moved = {c.pupil: c.student for c in relinks if isinstance(c, kinds.LinkPupil)}
    pupils = {pid: dataclasses.replace(p, student=moved.get(pid, p.student)) for pid, p in state.pupils.items()}
    return dataclasses.replace(state, pupils=pupils)


def _match_stranded(state: ReconcileState) -> tuple[list[kinds.Change], list[tuple[kinds.Change, str]]]:
    """The matcher over the pupils still pointing at vanished students and the students nobody claims."""
    claimed = {p.student for p in state.pupils.values() if p.student is not None}
    stranded = {
        pid: p
        for pid, p in state.pupils.items()
        if p.student is not None and not p.archived and p.student not in state.students
    }
    if not stranded:
        return [], []
    # Every live student goes in, so names weigh what they weigh in this school; the claimed ones are
    # settled (never candidates).
    result = match(
        MatchInput(
            bands=(),
            pupils=tuple(MatchPupil(pid, p.first_name, p.last_name, p.year_group) for pid, p in stranded.items()),
            containers=(),
            students=tuple(
                MatchStudent(w, s.facts.forename, s.facts.surname, year_group=s.facts.year_group)
                for w, s in state.students.items()
            ),
            members={},
            settled_students=frozenset(claimed & state.students.keys()),
        )
    )
    matched: list[kinds.Change] = []
    doubtful: list[tuple[kinds.Change, str]] = []
    for decision in result.pupils:
        old = stranded[decision.pupil_id].student or ""
        if decision.status == "auto" and decision.student_id:
            matched.append(kinds.LinkPupil(decision.pupil_id, decision.student_id))
        elif decision.candidates:
            reason = (
                "re-link after the MIS migration: the likeliest student, not certain ("
                + "; ".join(decision.evidence)
                + ")"
            )
            doubtful.append((kinds.LinkPupil(decision.pupil_id, decision.candidates[0].id), reason))
        else:
            doubtful.append(
                (
                    kinds.ArchivePupil(decision.pupil_id, old, "not found after the MIS migration"),
                    "no student matches after the MIS migration",
                )
            )
    return matched, doubtful


def thresholds_of(school: School) -> Thresholds:
    return Thresholds(min_pupils=school.hold_min_pupils, fraction=float(school.hold_fraction))


MIGRATING = "the school's MIS is being migrated (every id changes): changes wait until pupils are re-linked"


async def plan_for(
    session: AsyncSession, school: School, loaded: tuple[ReconcileState, Lookup, int] | None = None
) -> tuple[Plan, Decision, Lookup]:
    state, lookup, linked = loaded or await load(session, school.id)
    plan = plan_reconcile(state)
    hold_all = MIGRATING if school.migrating_since is not None else None
    return plan, safeguard(plan.changes, linked, thresholds_of(school), hold_all=hold_all), lookup


def _held_entry(school_id: str, change: kinds.Change, reason: str) -> Entry:
    """A held change in the journal, carrying the change itself (and its pupil or band, for the timeline)."""
    pupil = getattr(change, "pupil", None)
    band = getattr(change, "band", None)
    return Entry(
        "pupil" if pupil else "band",
        pupil or band or school_id,
        "held",
        None,
        {"change": _serialise(change), "reason": reason},
        pupil_id=uuid.UUID(pupil) if pupil and not pupil.startswith(kinds.NEW) else None,
        band_id=uuid.UUID(band) if band and not band.startswith(kinds.NEW) else None,
        status="held",
    )


def _canonical(change: Any) -> str:
    return json.dumps(change, sort_keys=True)


def _serialise(change: kinds.Change) -> dict[str, Any]:
    return {"type": type(change).__name__, **dataclasses.asdict(change)}


def deserialise(data: dict[str, Any]) -> kinds.Change:
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k != "type"}
    change: kinds.Change = getattr(kinds, data["type"])(**fields)
    return change


async def reconcile(session: AsyncSession, run: SyncRun, box: SecretBox) -> dict[str, int]:
    """Plan, hold and apply for one school, in the caller's transaction (under the school's lock)."""
    await lock_school(session, run.school_id)
    school = await session.get(School, run.school_id, with_for_update=True)
    assert school is not None
    if school.state != "syncing":
        raise NotSyncing()
    relinked = 0
    if school.migrating_since is not None:
        relinked = await _relink_after_migration(session, school, run, box)
    loaded = await load(session, school.id)
    if remembered := plan_remembered(loaded[0]):
        await apply_plan(session, school.id, run.id, run.actor, Plan(remembered), loaded[1], box)
        relinked += sum(1 for c in remembered if isinstance(c, kinds.LinkPupil))
        loaded = await load(session, school.id)
    _, decision, lookup = await plan_for(session, school, loaded)
    applied = await apply_plan(session, school.id, run.id, run.actor, Plan(list(decision.apply)), lookup, box)
    # A change still waiting from an earlier night is not held a second time.
    waiting = {_canonical((row.after or {}).get("change")) for row in await held_changes(session, school.id)}
    fresh = [h for h in decision.held if _canonical(_serialise(h.change)) not in waiting]
    await record(session, school.id, run.id, run.actor, [_held_entry(school.id, h.change, h.reason) for h in fresh])
    counts = Plan(list(decision.apply)).counts(tuple(kinds.LABELS)) | {"pupils_relinked": relinked}
    return (
        {k: v for k, v in counts.items() if v}
        | {"held": len(decision.held)}
        | {"pupils_created": len(applied.created_pupils)}
    )


async def start_sync(session: AsyncSession, school_id: str, *, trigger: str, actor: str | None) -> SyncRun:
    """Queue "sync now": a read of the school, then a reconcile, as one run (409 while another runs)."""
    school = await session.get(School, school_id)
    if school is None or school.state != "syncing":
        raise NotSyncing()
    run = SyncRun(id=uuid.uuid4(), school_id=school_id, kind="reconcile", trigger=trigger, status="queued", actor=actor)
    await claim_school(session, run)
    enqueue(session, "sync_school", str(run.id), job_id=f"sync:{run.id}")
    return run


INTERRUPTED_READ = (
    "the worker carrying out this read stopped before it finished (killed, restarted or timed out); "
    "nothing was written by it, and the sync read the school again"
)


async def _read_for(session: AsyncSession, run: SyncRun) -> uuid.UUID | None:
    """The read this attempt of the sync must carry out, recorded on the run's progress; None when a
    read of an earlier attempt already succeeded (only the reconcile is left to do).

    A run already "running" here means the worker of an earlier attempt died: arq never runs one job
    id twice at once. Its unfinished read is marked failed with the reason, and a new read is made."""
    previous = run.progress.get("read_run_id") if run.status == "running" else None
    attempt = int(run.progress.get("attempt", 0)) + 1
    if previous:
        earlier = await session.get(SyncRun, uuid.UUID(previous), with_for_update=True)
        if earlier is not None and earlier.status == "succeeded":
            run.progress = {**run.progress, "phase": "reconciling", "attempt": attempt}
            return None
        if earlier is not None and earlier.status in ("queued", "running"):
            earlier.status, earlier.finished_at, earlier.error = "failed", utc_now(), INTERRUPTED_READ
    school = await session.get(School, run.school_id)
    assert school is not None
    recent = (
        run.trigger != "schedule"  # the nightly sync always reads everything
        and school.last_full_read_at is not None
        and utc_now() - school.last_full_read_at < fetch.FULL_READ_EVERY
    )
    read = SyncRun(
        id=uuid.uuid4(),
        school_id=school.id,
        kind=fetch.DELTA_READ if recent else fetch.FULL_READ,
        trigger=run.trigger,
        status="queued",
        actor=run.actor,
    )
    session.add(read)
    if run.status == "queued":
        run.status, run.started_at = "running", utc_now()
    run.progress = {**run.progress, "phase": "reading", "read_run_id": str(read.id), "attempt": attempt}
    return read.id


async def run_sync(
    sessionmaker: async_sessionmaker[AsyncSession],
    queue: JobQueue | None,
    wonde: WondeClient,
    box: SecretBox,
    run_id: uuid.UUID,
) -> str:
    """Read the school from Wonde (a full read if the last one is a day old, else a delta), then
    reconcile. A failed read applies nothing: the run fails with the read's reason.

    Safe to run again after its worker died at any point: the read and the reconcile each write in
    one transaction, the run's progress names the read (``{"phase", "read_run_id", "attempt"}``), and
    a second attempt resumes: it reads again unless the earlier read succeeded, then reconciles."""
    async with unit_of_work(sessionmaker, None) as session:
        run = await session.get(SyncRun, run_id, with_for_update=True)
        if run is None or run.status not in ("queued", "running"):
            return run.status if run else "missing"
        read_id = await _read_for(session, run)
        expected = run.progress["read_run_id"]
    if read_id is not None:
        status = await fetch.run_read(sessionmaker, wonde, box, read_id)
        async with unit_of_work(sessionmaker, None) as session:
            run = await session.get(SyncRun, run_id, with_for_update=True)
            if run is not None and run.status == "running" and status == "succeeded":
                run.progress = {**run.progress, "phase": "reconciling"}
    else:
        status = "succeeded"
    async with unit_of_work(sessionmaker, queue) as session:
        run = await session.get(SyncRun, run_id, with_for_update=True)
        assert run is not None
        if run.status != "running" or run.progress.get("read_run_id") != expected:
            return run.status  # given up on by recovery, or taken over by a later attempt meanwhile
        # The school's locks before any write to this (active) run: a claim that holds the school's row
        # (a webhook, a disconnect) waits on a written run's row, and would deadlock with the reconcile.
        await lock_school(session, run.school_id)
        await session.get(School, run.school_id, with_for_update=True)
        run.progress = {**run.progress, "phase": "done"}
        if status != "succeeded":
            finished = await session.get(SyncRun, uuid.UUID(expected))
            run.status, run.finished_at = "failed", utc_now()
            run.error = f"the read failed, nothing was applied: {finished.error if finished else status}"
            return "failed"
        try:
            async with session.begin_nested():
                run.counts = await reconcile(session, run, box)
        except NotSyncing as exc:
            run.status, run.finished_at, run.error = "failed", utc_now(), str(exc)
            return "failed"
        run.status, run.finished_at = "succeeded", utc_now()
    return "succeeded"


async def _decision_run(session: AsyncSession, school_id: str, actor: str) -> SyncRun:
    """The run an admin's decision on held changes is journalled under."""
    now = utc_now()
    run = SyncRun(school_id=school_id, kind="reconcile", trigger="manual", status="succeeded", actor=actor)
    run.started_at = run.finished_at = now
    session.add(run)
    await session.flush()
    return run


def still_applies(change: kinds.Change, state: ReconcileState) -> bool:
    """Whether a held change still makes sense now: a later run (or the MIS) may have done it already."""
    if isinstance(change, kinds.CreatePupil):
        return all(p.student != change.student for p in state.pupils.values())
    if isinstance(change, kinds.LinkPupil):
        return all(p.student != change.student for p in state.pupils.values())
    if isinstance(change, kinds.AddToBand):
        return change.pupil.startswith(kinds.NEW) or change.pupil not in state.band_members.get(
            change.band, frozenset()
        )
    if isinstance(change, kinds.RemoveFromBand):
        return change.pupil in state.band_members.get(change.band, frozenset())
    if isinstance(change, kinds.UnlinkBand):
        return state.synced.get(change.band) == change.container
    if isinstance(change, kinds.ArchivePupil):
        return change.pupil in state.pupils and not state.pupils[change.pupil].archived
    return True


async def held_changes(session: AsyncSession, school_id: str) -> list[Journal]:
    rows = await session.scalars(
        select(Journal).where(Journal.school_id == school_id, Journal.status == "held").order_by(Journal.id)
    )
    return list(rows)


async def decide_held(
    session: AsyncSession, school_id: str, change_id: int | None, *, approve: bool, actor: str, box: SecretBox
) -> list[Journal]:
    """Approve (apply exactly what was held) or reject (leave it) one held change, or all of them."""
    await lock_school(session, school_id)
    query = select(Journal).where(Journal.school_id == school_id, Journal.action == "held")
    if change_id is not None:
        query = query.where(Journal.id == change_id)
    rows = list(await session.scalars(query.with_for_update()))
    if change_id is not None and not rows:
        raise HeldChangeNotFound()
    if change_id is not None and rows[0].status != "held":
        raise ChangeAlreadyDecided()
    waiting = [r for r in rows if r.status == "held"]
    now = utc_now()
    if approve and waiting:
        state, lookup, _ = await load(session, school_id)
        approval = await _decision_run(session, school_id, actor)
        held = [deserialise((r.after or {})["change"]) for r in waiting]
        kept = [c for c in held if still_applies(c, state)]
        created = {c.ref for c in kept if isinstance(c, kinds.CreatePupil)}
        plan = Plan(
            [
                c
                for c in kept
                if not (isinstance(c, kinds.AddToBand) and c.pupil.startswith(kinds.NEW) and c.pupil not in created)
            ]
        )
        await apply_plan(session, school_id, approval.id, actor, plan, lookup, box)
        approval.counts = {k: v for k, v in plan.counts(tuple(kinds.LABELS)).items() if v}
    for row in waiting:
        row.status, row.decided_at, row.actor = ("applied" if approve else "rejected"), now, actor
    await session.flush()
    return waiting


class NoSuggestion(Conflict):
    """This held change has no suggested class to follow instead."""


async def accept_suggestion(
    session: AsyncSession, school_id: str, change_id: int, *, actor: str, box: SecretBox
) -> Journal:
    """For a band whose class vanished (a new school year): follow the suggested new class instead."""
    await lock_school(session, school_id)
    row = await session.scalar(
        select(Journal)
        .where(Journal.school_id == school_id, Journal.id == change_id, Journal.action == "held")
        .with_for_update()
    )
    if row is None:
        raise HeldChangeNotFound()
    if row.status != "held":
        raise ChangeAlreadyDecided()
    change = deserialise((row.after or {})["change"])
    if not isinstance(change, kinds.UnlinkBand) or change.suggestion is None:
        raise NoSuggestion()
    now = utc_now()
    state, lookup, _ = await load(session, school_id)
    if change.suggestion in state.synced.values():
        raise NoSuggestion("The suggested class is already followed by another band.")
    run = await _decision_run(session, school_id, actor)
    await apply_plan(
        session, school_id, run.id, actor, Plan([kinds.LinkBand(change.band, change.suggestion)]), lookup, box
    )
    run.counts = {"bands_linked": 1}
    row.status, row.decided_at, row.actor = "applied", now, actor
    await session.flush()
    return row
