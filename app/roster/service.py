"""Importing the app's existing bands and pupils from a roster file, before any Wonde link.

All-or-nothing and idempotent: rows are upserted by the app's ``pupil_id``; a row without one is the
pupil already in that band under exactly those names, if there is one. Importing the same file twice
changes nothing. The whole import is a handful of bulk statements under the school's lock.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

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


def _check_rows(rows: list[RosterRow], bands_by_name: dict[str, list[object]]) -> None:
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


async def import_roster(session: AsyncSession, school_id: str, rows: list[RosterRow]) -> ImportSummary:
    """Upsert the file's bands, pupils and memberships. Raises ``RosterInvalid`` (writing nothing)
    when a row cannot be placed with certainty. Memberships are only added, never removed."""
    await lock_school(session, school_id)
    bands = BandRepository(session, school_id)
    pupils = PupilRepository(session, school_id)

    names = {row.band for row in rows if row.band}
    existing_bands = await bands.by_names(names)
    _check_rows(rows, existing_bands)  # type: ignore[arg-type]
    band_ids = {name: found[0].id for name, found in existing_bands.items()}
    new_band_names = sorted(names - band_ids.keys())
    years_by_band: dict[str, set[int | None]] = defaultdict(set)
    for row in rows:
        if row.band:
            years_by_band[row.band].add(row.year_group)
    new_band_rows = [
        {
            "name": name,
            "source": "app",
            "year_group": next(iter(years)) if len(years := years_by_band[name]) == 1 else None,
        }
        for name in new_band_names
    ]
    band_ids.update(zip(new_band_names, await bands.insert_many(new_band_rows), strict=True))

    file_pupils = _group_rows(rows, band_ids)
    by_external_id = await pupils.by_external_ids({row.pupil_id for row in rows if row.pupil_id})
    by_name: dict[NameKey, list[Pupil]] = defaultdict(list)
    for band_id, pupil in await pupils.in_bands(set(band_ids.values())):
        by_name[_name_key(band_id, pupil.first_name, pupil.last_name)].append(pupil)

    matched: dict[int, Pupil] = {}  # index in file_pupils -> existing pupil
    adopted: set[uuid.UUID] = set()
    errors: list[RowError] = []
    for index, file_pupil in enumerate(file_pupils):
        row = file_pupil.first
        if row.pupil_id is not None and row.pupil_id in by_external_id:
            matched[index] = by_external_id[row.pupil_id]
            continue
        candidates = {
            pupil.id: pupil
            for band_id in file_pupil.band_ids
            for pupil in by_name.get(_name_key(band_id, row.first_name, row.last_name), [])
            # a row with a new pupil_id may adopt a pupil the app never gave an id, never another's
            if row.pupil_id is None or (pupil.external_id is None and pupil.id not in adopted)
        }
        if len(candidates) > 1:
            errors.append(
                RowError(
                    row.line, "pupil_id", f"matches {len(candidates)} pupils of that name in the band; add a pupil_id"
                )
            )
        elif candidates:
            [pupil] = candidates.values()
            matched[index] = pupil
            if row.pupil_id is not None:
                adopted.add(pupil.id)
    if errors:
        raise RosterInvalid(errors)

    updates = []
    for index, pupil in matched.items():
        file_pupil = file_pupils[index]
        row = file_pupil.first
        wanted = {"first_name": row.first_name, "last_name": row.last_name} if row.pupil_id is not None else {}
        if row.pupil_id is not None and pupil.external_id is None:
            wanted["external_id"] = row.pupil_id
        if file_pupil.year_group is not None:
            wanted["year_group"] = file_pupil.year_group  # type: ignore[assignment]
        changed = {column: value for column, value in wanted.items() if getattr(pupil, column) != value}
        if changed:
            updates.append({"id": pupil.id, **changed})
    await pupils.update_many(updates)

    new_pupils = [file_pupil for index, file_pupil in enumerate(file_pupils) if index not in matched]
    new_names = [(p.first.first_name, p.first.last_name) for p in new_pupils]
    usernames = allocate_usernames(new_names, await pupils.usernames_like(new_names))
    new_ids = await pupils.insert_many(
        [
            {
                "external_id": p.first.pupil_id,
                "first_name": p.first.first_name,
                "last_name": p.first.last_name,
                "year_group": p.year_group,
                "username": username,
                "source": "app",
            }
            for p, username in zip(new_pupils, usernames, strict=True)
        ]
    )
    pupil_ids = {index: pupil.id for index, pupil in matched.items()}
    pupil_ids.update(
        {
            index: new_id
            for index, new_id in zip((i for i in range(len(file_pupils)) if i not in matched), new_ids, strict=True)
        }
    )
    memberships_added = await MembershipRepository(session, school_id).add_many(
        (band_id, pupil_ids[index]) for index, file_pupil in enumerate(file_pupils) for band_id in file_pupil.band_ids
    )
    return ImportSummary(
        rows=len(rows),
        bands_created=len(new_band_names),
        pupils_created=len(new_pupils),
        pupils_updated=len(updates),
        pupils_unchanged=len(matched) - len(updates),
        memberships_added=memberships_added,
    )
