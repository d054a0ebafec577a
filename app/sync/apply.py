"""Applying a plan: bulk writes in the caller's transaction, one journal entry per change.

Rows the plan creates are referred to as "new:<Wonde id>" until they exist; the references are
resolved here. Nothing commits here: the merge job's unit of work commits all of it, or none.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

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
    NEW,
    AddToBand,
    ArchivePupil,
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
from app.sync.journal.writer import Entry, id_text, record
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
    entries: list[Entry] = []
    student_ids = lookup.student_ids

    def resolve(ref: str) -> uuid.UUID:
        return refs[ref] if ref.startswith(NEW) else uuid.UUID(ref)

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
        entries.append(
            Entry(
                "band",
                str(refs[created.ref]),
                "create_band",
                None,
                {"name": created.name, "container": created.container},
                band_id=refs[created.ref],
            )
        )
    if band_rows:
        await session.execute(insert(Band), band_rows)

    band_links = [c for c in plan.changes if isinstance(c, LinkBand)]
    if band_links:
        await session.execute(
            update(Band), [{"id": uuid.UUID(c.band), **_container_columns(lookup, c.container)} for c in band_links]
        )
    for linking in band_links:
        band = lookup.bands[uuid.UUID(linking.band)]
        before = {"mis_class_id": id_text(band.mis_class_id), "mis_group_id": id_text(band.mis_group_id)}
        entries.append(
            Entry("band", str(band.id), "link_band", before, {"container": linking.container}, band_id=band.id)
        )

    new_pupils = [c for c in plan.changes if isinstance(c, CreatePupil)]
    pupils = PupilRepository(session, school_id)
    names = [(c.first_name, c.last_name) for c in new_pupils]
    usernames = allocate_usernames(names, await pupils.usernames_like(names))
    for new_pupil in new_pupils:
        refs[new_pupil.ref] = uuid.uuid4()
    # Hashing is deliberately slow (argon2, ~20-40 ms a password): off the event loop, so a big merge
    # does not stall the worker's other jobs (argon2 releases the GIL while it works).
    new_ids = [refs[c.ref] for c in new_pupils]
    issued = {
        i.pupil_id: i for i in await asyncio.to_thread(credentials.issue, school_id, run_id, new_ids, box, utc_now())
    }
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
    for new_pupil, username in zip(new_pupils, usernames, strict=True):
        pupil_id = refs[new_pupil.ref]
        entries.append(
            Entry(
                "pupil",
                str(pupil_id),
                "create_pupil",
                None,
                {"student": new_pupil.student, "username": username},
                pupil_id=pupil_id,
            )
        )

    links = [c for c in plan.changes if isinstance(c, LinkPupil)]
    # The journal keeps the student each pupil followed before (an MIS migration re-links pupils that
    # were linked), so that undo can put exactly that link back.
    followed = await pupils.student_links([uuid.UUID(c.pupil) for c in links])
    if links:
        await session.execute(
            update(Pupil), [{"id": uuid.UUID(c.pupil), "mis_student_id": student_ids[c.student]} for c in links]
        )
    entries += [
        Entry(
            "pupil",
            c.pupil,
            "link_pupil",
            {"mis_student_id": id_text(followed.get(uuid.UUID(c.pupil)))},
            {"student": c.student},
            pupil_id=uuid.UUID(c.pupil),
        )
        for c in links
    ]

    additions = [(resolve(c.band), resolve(c.pupil)) for c in plan.changes if isinstance(c, AddToBand)]
    if additions:
        await session.execute(
            insert(BandMembership),
            [{"band_id": b, "pupil_id": p, "school_id": school_id, "source": "mis"} for b, p in additions],
        )
    entries += [
        Entry(
            "band_membership",
            f"{b}:{p}",
            "add_to_band",
            None,
            {"band_id": str(b), "pupil_id": str(p)},
            pupil_id=p,
            band_id=b,
        )
        for b, p in additions
    ]
    removals = [(uuid.UUID(c.band), uuid.UUID(c.pupil)) for c in plan.changes if isinstance(c, RemoveFromBand)]
    await MembershipRepository(session, school_id).remove_pairs(removals)
    entries += [
        Entry(
            "band_membership",
            f"{b}:{p}",
            "remove_from_band",
            {"band_id": str(b), "pupil_id": str(p)},
            None,
            pupil_id=p,
            band_id=b,
        )
        for b, p in removals
    ]
    entries += await _apply_copycat(session, plan)
    await record(session, school_id, run_id, actor, entries)
    return Applied(plan.counts(), [refs[c.ref] for c in new_pupils])


async def _apply_copycat(session: AsyncSession, plan: Plan) -> list[Entry]:
    """The reconcile's own changes: names, years, band names, leavers, returners, vanished classes."""
    now = utc_now()
    entries: list[Entry] = []
    pupil_updates: list[dict[str, object]] = []
    band_updates: list[dict[str, object]] = []
    for change in plan.changes:
        if isinstance(change, RenamePupil):
            pupil = uuid.UUID(change.pupil)
            pupil_updates.append({"id": pupil, "first_name": change.after[0][:100], "last_name": change.after[1][:100]})
            before, after = (
                dict(zip(("first_name", "last_name"), change.before, strict=True)),
                dict(zip(("first_name", "last_name"), change.after, strict=True)),
            )
            entries.append(Entry("pupil", change.pupil, "rename_pupil", before, after, pupil_id=pupil))
        elif isinstance(change, ChangeYear):
            pupil = uuid.UUID(change.pupil)
            pupil_updates.append({"id": pupil, "year_group": change.after})
            entries.append(
                Entry(
                    "pupil",
                    change.pupil,
                    "change_year",
                    {"year_group": change.before},
                    {"year_group": change.after},
                    pupil_id=pupil,
                )
            )
        elif isinstance(change, ArchivePupil | RestorePupil):
            pupil = uuid.UUID(change.pupil)
            leaving = isinstance(change, ArchivePupil)
            pupil_updates.append({"id": pupil, "archived_at": now if leaving else None})
            archived: dict[str, Any] = {"archived_at": now.isoformat()}
            if isinstance(change, ArchivePupil):
                archived["reason"] = change.reason
            was: dict[str, Any] = {"archived_at": None} if leaving else dict(archived)
            becomes: dict[str, Any] = archived if leaving else {"archived_at": None}
            entries.append(
                Entry(
                    "pupil",
                    change.pupil,
                    "archive_pupil" if leaving else "restore_pupil",
                    was,
                    becomes,
                    pupil_id=pupil,
                )
            )
        elif isinstance(change, RenameBand):
            band = uuid.UUID(change.band)
            band_updates.append({"id": band, "name": change.after[:200]})
            entries.append(
                Entry("band", change.band, "rename_band", {"name": change.before}, {"name": change.after}, band_id=band)
            )
        elif isinstance(change, UnlinkBand):
            band = uuid.UUID(change.band)
            band_updates.append({"id": band, "mis_class_id": None, "mis_group_id": None})
            entries.append(
                Entry(
                    "band",
                    change.band,
                    "unlink_band",
                    {"container": change.container},
                    {"container": None},
                    band_id=band,
                )
            )
    for model, rows in ((Pupil, pupil_updates), (Band, band_updates)):
        # Bulk UPDATE by primary key groups rows with the same columns; keep each group together.
        by_columns: dict[tuple[str, ...], list[dict[str, object]]] = {}
        for row in rows:
            by_columns.setdefault(tuple(sorted(row)), []).append(row)
        for group in by_columns.values():
            await session.execute(update(model), group)
    return entries
