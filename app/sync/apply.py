"""Applying a plan: bulk writes in the caller's transaction, one journal entry per change.

Rows the plan creates are referred to as "new:<Wonde id>" until they exist; the references are
resolved here. Nothing commits here: the merge job's unit of work commits all of it, or none.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.bands.repository import MembershipRepository
from app.kit.crypto import SecretBox
from app.kit.time import utc_now
from app.models import Band, BandMembership, Pupil
from app.pupils import credentials
from app.pupils.repository import PupilRepository
from app.pupils.usernames import allocate_usernames
from app.sync.core.changes import (
    MERGE_CHANGES,
    AddToBand,
    ArchivePupil,
    Change,
    ChangeYear,
    CreateBand,
    CreatePupil,
    LinkBand,
    LinkPupil,
    Plan,
    RemoveFromBand,
    RenameBand,
    RenamePupil,
    RestorePupil,
    UnlinkBand,
)
from app.sync.journal.entries import Entry, Facts, counts, journal
from app.sync.journal.writer import record
from app.sync.state.lookup import Lookup


@dataclass
class Applied:
    counts: dict[str, int]
    created_pupils: list[uuid.UUID] = field(default_factory=list)


def _container_columns(lookup: Lookup, wonde_id: str) -> dict[str, uuid.UUID | None]:
    container_id, kind = lookup.containers[wonde_id]
    if kind == "class":
        return {"mis_class_id": container_id, "mis_group_id": None}
    return {"mis_class_id": None, "mis_group_id": container_id}


async def apply_plan(
    session: AsyncSession,
    school_id: str,
    run_id: uuid.UUID,
    actor: str | None,
    plan: Plan,
    lookup: Lookup,
    box: SecretBox,
) -> Applied:
    refs: dict[str, uuid.UUID] = {}
    usernames_of: dict[uuid.UUID, str] = {}
    followed: dict[uuid.UUID, uuid.UUID | None] = {}
    facts = Facts(utc_now(), refs, usernames_of, followed, lookup.bands)
    entries: list[Entry] = []
    student_ids = lookup.student_ids

    new_bands = [c for c in plan.changes if isinstance(c, CreateBand)]
    band_rows = []
    for created in new_bands:
        refs[created.ref] = uuid.uuid4()
        columns = _container_columns(lookup, created.container)
        band_rows.append(
            {
                "id": refs[created.ref],
                "school_id": school_id,
                "name": created.name[:200],
                "year_group": created.year_group,
                "source": "mis",
                **columns,
            }
        )
    entries += journal(new_bands, facts)
    if band_rows:
        await session.execute(insert(Band), band_rows)

    band_links = [c for c in plan.changes if isinstance(c, LinkBand)]
    if band_links:
        await session.execute(
            update(Band), [{"id": uuid.UUID(c.band), **_container_columns(lookup, c.container)} for c in band_links]
        )
    entries += journal(band_links, facts)

    new_pupils = [c for c in plan.changes if isinstance(c, CreatePupil)]
    pupils = PupilRepository(session, school_id)
    names = [(c.first_name, c.last_name) for c in new_pupils]
    usernames = allocate_usernames(names, await pupils.usernames_like(names))
    for new_pupil, username in zip(new_pupils, usernames, strict=True):
        refs[new_pupil.ref] = uuid.uuid4()
        usernames_of[refs[new_pupil.ref]] = username
    # Hashed inside the transaction, so a merge that fails after hashing commits nothing; the transaction
    # waits, idle, while every core hashes off the event loop (a whole school: bench/README.md).
    new_ids = [refs[c.ref] for c in new_pupils]
    issued = {i.pupil_id: i for i in await credentials.issue(school_id, run_id, new_ids, box, utc_now())}
    if new_pupils:
        await session.execute(
            insert(Pupil),
            [
                {
                    "id": refs[c.ref],
                    "school_id": school_id,
                    "first_name": c.first_name[:100],
                    "last_name": c.last_name[:100],
                    "year_group": c.year_group,
                    "username": username,
                    "password_hash": issued[refs[c.ref]].password_hash,
                    "mis_student_id": student_ids[c.student],
                    "source": "mis",
                }
                for c, username in zip(new_pupils, usernames, strict=True)
            ],
        )
        await credentials.store(session, list(issued.values()))
    entries += journal(new_pupils, facts)

    links = [c for c in plan.changes if isinstance(c, LinkPupil)]
    # The journal keeps the student each pupil followed before (an MIS migration re-links pupils that
    # were linked), so that undo can put exactly that link back.
    followed.update(await pupils.student_links([uuid.UUID(c.pupil) for c in links]))
    if links:
        await session.execute(
            update(Pupil), [{"id": uuid.UUID(c.pupil), "mis_student_id": student_ids[c.student]} for c in links]
        )
    entries += journal(links, facts)

    added = [c for c in plan.changes if isinstance(c, AddToBand)]
    additions = [(facts.id(c.band), facts.id(c.pupil)) for c in added]
    if additions:
        await session.execute(
            insert(BandMembership),
            [{"band_id": b, "pupil_id": p, "school_id": school_id, "source": "mis"} for b, p in additions],
        )
    entries += journal(added, facts)
    removed = [c for c in plan.changes if isinstance(c, RemoveFromBand)]
    await MembershipRepository(session, school_id).remove_pairs(
        [(uuid.UUID(c.band), uuid.UUID(c.pupil)) for c in removed]
    )
    entries += journal(removed, facts)
    entries += await _apply_copycat(session, plan, facts)
    await record(session, school_id, run_id, actor, entries)
    return Applied(counts(plan.changes, MERGE_CHANGES), [refs[c.ref] for c in new_pupils])


async def _apply_copycat(session: AsyncSession, plan: Plan, facts: Facts) -> list[Entry]:
    """The reconcile's own changes: names, years, band names, leavers, returners, vanished classes."""
    copied: list[Change] = []
    pupil_updates: list[dict[str, object]] = []
    band_updates: list[dict[str, object]] = []
    for change in plan.changes:
        if isinstance(change, RenamePupil):
            pupil_updates.append(
                {"id": uuid.UUID(change.pupil), "first_name": change.after[0][:100], "last_name": change.after[1][:100]}
            )
        elif isinstance(change, ChangeYear):
            pupil_updates.append({"id": uuid.UUID(change.pupil), "year_group": change.after})
        elif isinstance(change, ArchivePupil | RestorePupil):
            archived_at = facts.now if isinstance(change, ArchivePupil) else None
            pupil_updates.append({"id": uuid.UUID(change.pupil), "archived_at": archived_at})
        elif isinstance(change, RenameBand):
            band_updates.append({"id": uuid.UUID(change.band), "name": change.after[:200]})
        elif isinstance(change, UnlinkBand):
            band_updates.append({"id": uuid.UUID(change.band), "mis_class_id": None, "mis_group_id": None})
        else:
            continue
        copied.append(change)
    for model, rows in ((Pupil, pupil_updates), (Band, band_updates)):
        # Bulk UPDATE by primary key groups rows with the same columns; keep each group together.
        by_columns: dict[tuple[str, ...], list[dict[str, object]]] = {}
        for row in rows:
            by_columns.setdefault(tuple(sorted(row)), []).append(row)
        for group in by_columns.values():
            await session.execute(update(model), group)
    return journal(copied, facts)
