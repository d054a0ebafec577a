"""Running the matcher over exported files: a Wonde school dump and an app roster CSV (design §4).

This is the contract other people's schools are run through, so it reads defensively: anything it
cannot trust is a clear error naming what and where, never a crash and never a guess.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from app.roster.parser import RosterRow, parse_roster
from app.sync.core.matching import AppBand, AppPupil, MatchInput, MatchResult, MisContainer, MisStudent
from app.wonde.schemas import WondeClass, WondeGroup, WondeStudent


class MatchFilesError(Exception):
    """A file the matcher cannot use, with what is wrong and where."""


@dataclass(frozen=True)
class RosterPupils:
    pupils: tuple[AppPupil, ...]
    bands: tuple[AppBand, ...]
    band_names: dict[str, str]


def _validated(model: type[Any], item: Any, where: str) -> Any:
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in error["loc"]) or "item" for error in exc.errors()})
        raise MatchFilesError(f"{where} cannot be read (fields: {', '.join(fields)})") from exc


def mis_side(dump: Any) -> tuple[tuple[MisStudent, ...], tuple[MisContainer, ...], dict[str, frozenset[str]]]:
    """Students, classes, registration groups and who is in which, from a Wonde school dump."""
    if not isinstance(dump, dict) or not isinstance(dump.get("students"), list):
        raise MatchFilesError('the Wonde dump must be a JSON object with a "students" list')
    students: dict[str, MisStudent] = {}
    containers: dict[str, MisContainer] = {}
    members: dict[str, set[str]] = defaultdict(set)
    for index, item in enumerate(dump["students"]):
        student: WondeStudent = _validated(WondeStudent, item, f"students[{index}]")
        if student.id in students:
            raise MatchFilesError(f"student {student.id} appears twice in the dump")
        details = student.details
        students[student.id] = MisStudent(
            id=student.id,
            forename=student.forename or student.legal_forename or "",
            surname=student.surname or student.legal_surname or "",
            legal_forename=student.legal_forename,
            legal_surname=student.legal_surname,
            middle_names=student.middle_names,
            year_group=student.year_group,
            admitted_on=details.admission_date if details else None,
        )
        for item_class in student.classes.data or [] if student.classes else []:
            containers.setdefault(item_class.id, MisContainer(item_class.id, item_class.display_name, "class"))
            members[item_class.id].add(student.id)
        for group in student.groups.data or [] if student.groups else []:
            if (group.type or "").upper() == "REGISTRATION":
                containers.setdefault(group.id, MisContainer(group.id, group.display_name, "group"))
                members[group.id].add(student.id)
    for key, model, kind in (("classes", WondeClass, "class"), ("groups", WondeGroup, "group")):
        items = dump.get(key) or []
        if not isinstance(items, list):
            raise MatchFilesError(f'"{key}" in the Wonde dump must be a list')
        for index, item in enumerate(items):
            parsed = _validated(model, item, f"{key}[{index}]")
            if kind == "group" and (parsed.type or "").upper() != "REGISTRATION":
                continue
            containers[parsed.id] = MisContainer(parsed.id, parsed.display_name, kind)  # type: ignore[arg-type]
            included = (item.get("students") or {}).get("data") if isinstance(item, dict) else None
            for student_item in included or []:
                if isinstance(student_item, dict) and student_item.get("id") in students:
                    members[parsed.id].add(str(student_item["id"]))
    return tuple(students.values()), tuple(containers.values()), {k: frozenset(v) for k, v in members.items()}


def app_side(rows: list[RosterRow]) -> RosterPupils:
    """Pupils and bands from roster rows: one pupil per pupil_id (or, without one, per band and name)."""
    bands: dict[str, AppBand] = {}
    grouped: dict[str, list[RosterRow]] = defaultdict(list)
    for row in rows:
        if row.band and row.band not in bands:
            bands[row.band] = AppBand(f"band:{len(bands) + 1}", row.band)
        key = row.pupil_id if row.pupil_id is not None else f"line:{row.line}"
        if row.pupil_id is None:
            # Rows without an id are one pupil per band and exact name, as the roster import reads them.
            key = next((k for k, rs in grouped.items() if k.startswith("line:") and _same_pupil(rs[0], row)), key)
        grouped[key].append(row)
    pupils = tuple(
        AppPupil(
            id=key,
            first_name=rs[0].first_name,
            last_name=rs[0].last_name,
            year_group=next((r.year_group for r in rs if r.year_group is not None), None),
            band_ids=tuple(dict.fromkeys(bands[r.band].id for r in rs if r.band)),
        )
        for key, rs in grouped.items()
    )
    return RosterPupils(pupils, tuple(bands.values()), {band.id: name for name, band in bands.items()})


def _same_pupil(a: RosterRow, b: RosterRow) -> bool:
    return (a.band, a.first_name.casefold(), a.last_name.casefold()) == (
        b.band,
        b.first_name.casefold(),
        b.last_name.casefold(),
    )


def read_inputs(dump_text: bytes, roster: bytes) -> tuple[MatchInput, RosterPupils]:
    try:
        dump = json.loads(dump_text)
    except ValueError as exc:
        raise MatchFilesError(f"the Wonde dump is not valid JSON: {exc}") from exc
    students, containers, members = mis_side(dump)
    app = app_side(parse_roster(roster))
    data = MatchInput(app.bands, app.pupils, containers, students, members)
    return data, app


def result_document(result: MatchResult, app: RosterPupils) -> dict[str, Any]:
    """The output contract: one entry per band, one per roster pupil, and the students who would be new."""
    return {
        "classes": [
            {
                "wonde_class_id": c.container_id,
                "band": app.band_names[c.band_id],
                "status": c.status,
                "score": c.score,
                "evidence": list(c.evidence),
            }
            for c in result.classes
        ],
        "pupils": [
            {
                "pupil_id": p.pupil_id,
                "wonde_student_id": p.student_id if p.status == "auto" else None,
                "status": p.status,
                "score": p.score,
                "evidence": list(p.evidence),
                "candidates": [
                    {"wonde_student_id": c.id, "score": c.score, "evidence": list(c.evidence)} for c in p.candidates
                ],
            }
            for p in result.pupils
        ],
        "new_students": list(result.new_students),
    }
