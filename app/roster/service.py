"""Importing the app's existing bands and pupils from a roster file, before any Wonde link.

All-or-nothing and idempotent: rows are upserted by the app's ``pupil_id``; a row without one is the
pupil already in that band under exactly those names, if there is one. Importing the same file twice
changes nothing. The whole import is a handful of bulk statements under the school's lock.

Each import is journalled as its actor's (``app/audit.py``): the import itself, with its summary, and
on the timeline of each pupil it created (username and bands) or changed (the fields before and after,
and the bands it put them in).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import AuditAction, AuditEntry, record_audit
from app.bands.repository import BandRepository, MembershipRepository
from app.kit.locking import lock_school
from app.models import Pupil
from app.pupils.repository import PupilRepository
from app.pupils.usernames import allocate_usernames
from app.roster.parser import RosterInvalid, RosterRow, RowError


class ImportSummary(BaseModel):
    rows: int
    bands_created: int
    pupils_created: int
    pupils_updated: int
    pupils_unchanged: int
    memberships_added: int


NameKey = tuple[uuid.UUID, str, str]


def _name_key(band_id: uuid.UUID, first_name: str, last_name: str) -> NameKey:
    return (band_id, first_name.casefold(), last_name.casefold())


@dataclass
class _FilePupil:
    """One child as the file describes them: one or more rows that share a key."""

    rows: list[RosterRow]
    band_ids: set[uuid.UUID] = field(default_factory=set)

    @property
    def first(self) -> RosterRow:
        return self.rows[0]

    @property
    def year_group(self) -> int | None:
        return next((row.year_group for row in self.rows if row.year_group is not None), None)


def _group_rows(rows: list[RosterRow], band_ids: dict[str, uuid.UUID]) -> list[_FilePupil]:
    groups: dict[tuple[object, ...], _FilePupil] = {}
    for row in rows:
        band_id = band_ids[row.band] if row.band else None
        key: tuple[object, ...]
        if row.pupil_id is not None:
            key = ("id", row.pupil_id)
        else:
            assert band_id is not None  # checked in _check_rows
            key = ("name", *_name_key(band_id, row.first_name, row.last_name))
        pupil = groups.setdefault(key, _FilePupil(rows=[]))
        pupil.rows.append(row)
        if band_id is not None:
            pupil.band_ids.add(band_id)
    return list(groups.values())


def _check_rows(rows: list[RosterRow], bands_by_name: Mapping[str, Sequence[object]]) -> None:
    errors = [
        RowError(
            row.line, "band", "is empty and so is pupil_id: a pupil without a pupil_id is found again by band and name"
        )
        for row in rows
        if row.pupil_id is None and row.band is None
    ]
    errors += [
        RowError(row.line, "band", f"'{row.band}' is the name of {len(bands_by_name[row.band])} bands in this school")
        for row in rows
        if row.band and len(bands_by_name.get(row.band, ())) > 1
    ]
    if errors:
        raise RosterInvalid(sorted(errors, key=lambda e: e.line))


async def _ensure_bands(bands: BandRepository, rows: list[RosterRow]) -> tuple[dict[str, uuid.UUID], int]:
    """The id of every band the file names, creating the missing ones; and how many were created.

    A new band takes the year group its rows agree on, if they all agree.
    """
    names = {row.band for row in rows if row.band}
    existing = await bands.by_names(names)
    _check_rows(rows, existing)
    band_ids = {name: found[0].id for name, found in existing.items()}
    years: dict[str, set[int | None]] = defaultdict(set)
    for row in rows:
        if row.band and row.band not in band_ids:
            years[row.band].add(row.year_group)
    new_names = sorted(years)
    new_rows = [
        {"name": name, "source": "app", "year_group": next(iter(years[name])) if len(years[name]) == 1 else None}
        for name in new_names
    ]
    band_ids.update(zip(new_names, await bands.insert_many(new_rows), strict=True))
    return band_ids, len(new_names)


async def _find_existing(pupils: PupilRepository, file_pupils: list[_FilePupil]) -> list[Pupil | None]:
    """For each pupil of the file, the account they already have, or None.

    By ``pupil_id`` first; otherwise by exact (case-insensitive) names within one of their bands. A
    row with a new ``pupil_id`` may adopt an account the app never gave an id, never someone else's.
    Two accounts answering one row is a question for a person, not a guess: the file is refused.
    """
    by_external_id = await pupils.by_external_ids({p.first.pupil_id for p in file_pupils if p.first.pupil_id})
    band_ids = {band_id for p in file_pupils for band_id in p.band_ids}
    by_name: dict[NameKey, list[Pupil]] = defaultdict(list)
    for band_id, pupil in await pupils.in_bands(band_ids):
        by_name[_name_key(band_id, pupil.first_name, pupil.last_name)].append(pupil)

    found: list[Pupil | None] = []
    adopted: set[uuid.UUID] = set()
    errors: list[RowError] = []
    for file_pupil in file_pupils:
        row = file_pupil.first
        if row.pupil_id is not None and row.pupil_id in by_external_id:
            found.append(by_external_id[row.pupil_id])
            continue
        candidates = {
            pupil.id: pupil
            for band_id in file_pupil.band_ids
            for pupil in by_name.get(_name_key(band_id, row.first_name, row.last_name), [])
            if row.pupil_id is None or (pupil.external_id is None and pupil.id not in adopted)
        }
        if len(candidates) > 1:
            message = f"matches {len(candidates)} pupils of that name in the band; add a pupil_id"
            errors.append(RowError(row.line, "pupil_id", message))
        match = next(iter(candidates.values())) if len(candidates) == 1 else None
        if match is not None and row.pupil_id is not None:
            adopted.add(match.id)
        found.append(match)
    if errors:
        raise RosterInvalid(errors)
    return found


def _update_for(file_pupil: _FilePupil, pupil: Pupil) -> dict[str, object] | None:
    """What the file changes about an existing pupil (None when nothing). Rows found by name do not
    rename anyone; a ``pupil_id`` row is the app's word on the name. Usernames never change."""
    row = file_pupil.first
    wanted: dict[str, object] = {}
    if row.pupil_id is not None:
        wanted |= {"first_name": row.first_name, "last_name": row.last_name}
        if pupil.external_id is None:
            wanted["external_id"] = row.pupil_id
    if file_pupil.year_group is not None:
        wanted["year_group"] = file_pupil.year_group
    changed = {column: value for column, value in wanted.items() if getattr(pupil, column) != value}
    return {"id": pupil.id, **changed} if changed else None


async def _create(pupils: PupilRepository, new: list[_FilePupil]) -> dict[uuid.UUID, str]:
    """Accounts for the file's new pupils, in order: their ids and usernames."""
    names = [(p.first.first_name, p.first.last_name) for p in new]
    usernames = allocate_usernames(names, await pupils.usernames_like(names))
    ids = await pupils.insert_many(
        [
            {
                "external_id": p.first.pupil_id,
                "first_name": p.first.first_name,
                "last_name": p.first.last_name,
                "year_group": p.year_group,
                "username": username,
                "source": "app",
            }
            for p, username in zip(new, usernames, strict=True)
        ]
    )
    return dict(zip(ids, usernames, strict=True))


Changed = dict[uuid.UUID, tuple[dict[str, object], dict[str, object]]]  # pupil -> (before, after)


def _journal(
    school_id: str,
    summary: ImportSummary,
    pupil_ids: list[uuid.UUID],
    created: Mapping[uuid.UUID, str],
    changed: Changed,
    added: list[tuple[uuid.UUID, uuid.UUID]],
) -> list[AuditEntry]:
    """The import, then each pupil it created or changed, in the file's order."""
    bands: dict[uuid.UUID, list[str]] = defaultdict(list)
    for band_id, pupil_id in added:
        bands[pupil_id].append(str(band_id))
    entries = [AuditEntry.school(AuditAction.IMPORT_ROSTER, school_id, after=summary.model_dump())]
    for pupil_id in dict.fromkeys(pupil_ids):
        before, after = changed.get(pupil_id, (None, {}))
        if pupil_id in created:
            after = {"username": created[pupil_id]}
        if pupil_id in bands:
            after = after | {"band_ids": sorted(bands[pupil_id])}
        if after:
            entries.append(AuditEntry.pupil(AuditAction.IMPORT_ROSTER, pupil_id, before, after))
    return entries


async def import_roster(session: AsyncSession, school_id: str, rows: list[RosterRow], actor: str) -> ImportSummary:
    """Upsert the file's bands, pupils and memberships under the school's lock, journalled as ``actor``'s.

    Raises ``RosterInvalid`` when a row cannot be placed with certainty; the caller's transaction is
    then rolled back, so nothing is written. Memberships are only added, never removed.
    """
    await lock_school(session, school_id)
    pupils = PupilRepository(session, school_id)
    band_ids, bands_created = await _ensure_bands(BandRepository(session, school_id), rows)
    file_pupils = _group_rows(rows, band_ids)
    existing = await _find_existing(pupils, file_pupils)

    updates = [
        (pupil, update)
        for file_pupil, pupil in zip(file_pupils, existing, strict=True)
        if pupil is not None and (update := _update_for(file_pupil, pupil)) is not None
    ]
    changed: Changed = {
        pupil.id: ({c: getattr(pupil, c) for c in update if c != "id"}, {c: v for c, v in update.items() if c != "id"})
        for pupil, update in updates
    }
    await pupils.update_many([update for _, update in updates])
    created = await _create(pupils, [p for p, pupil in zip(file_pupils, existing, strict=True) if pupil is None])
    new_ids = iter(created)
    pupil_ids = [pupil.id if pupil is not None else next(new_ids) for pupil in existing]

    added = await MembershipRepository(session, school_id).add_many(
        (band_id, pupil_id)
        for file_pupil, pupil_id in zip(file_pupils, pupil_ids, strict=True)
        for band_id in file_pupil.band_ids
    )
    matched = sum(pupil is not None for pupil in existing)
    summary = ImportSummary(
        rows=len(rows),
        bands_created=bands_created,
        pupils_created=len(file_pupils) - matched,
        pupils_updated=len(updates),
        pupils_unchanged=matched - len(updates),
        memberships_added=len(added),
    )
    await record_audit(session, school_id, actor, _journal(school_id, summary, pupil_ids, created, changed, added))
    return summary
