"""More of a school's Wonde endpoints: one class or group, the employees, and the counts.

A single object comes back as ``{"data": {...}, "meta": {"includes": [...]}}``; an id the school does
not have is a 404 in the sandbox's error body. Employees take Wonde's ``has_class`` and ``has_group``
filters, pagination and ``updated_after`` like every list.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from app.wonde.sandbox.api import Listing, School, WondeRefusal, _by_id, _list
from app.wonde.sandbox.deps import Sandbox
from app.wonde.sandbox.includes import (
    CLASS_INCLUDES,
    EMPLOYEE_INCLUDES,
    GROUP_INCLUDES,
    employee,
    group,
    include_tree,
    mis_class,
)
from app.wonde.sandbox.listing import BadQuery, paginate
from app.wonde.sandbox.records import SandboxSchool

router = APIRouter(prefix="/v1.0", tags=["wonde"])

COUNTS = ("students", "classes", "groups", "employees", "subjects")
_TRUE, _FALSE = frozenset({"true", "1", "yes"}), frozenset({"false", "0", "no"})


def _one(body: dict[str, Any], includes: Iterable[str]) -> JSONResponse:
    return JSONResponse({"data": body, "meta": {"includes": list(includes)}})


def _not_found(kind: str, record_id: str, school: SandboxSchool) -> WondeRefusal:
    return WondeRefusal(404, "not_found", f"{kind} {record_id} was not found in school {school.id}.")


def _flag(name: str, value: str | None) -> bool | None:
    if value is None:
        return None
    if value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise BadQuery(f"{name} must be true or false, not {value!r}")


@router.get("/schools/{school_id}/classes/{class_id}")
async def get_class(class_id: str, school: School, query: Listing, state: Sandbox) -> JSONResponse:
    tree = include_tree(query.includes, CLASS_INCLUDES)
    with state.lock:
        record = school.classes.get(class_id)
        if record is None:
            raise _not_found("Class", class_id, school)
        return _one(mis_class(school, record, tree), CLASS_INCLUDES)


@router.get("/schools/{school_id}/groups/{group_id}")
async def get_group(group_id: str, school: School, query: Listing, state: Sandbox) -> JSONResponse:
    tree = include_tree(query.includes, GROUP_INCLUDES)
    with state.lock:
        record = school.groups.get(group_id)
        if record is None:
            raise _not_found("Group", group_id, school)
        return _one(group(school, record, tree), GROUP_INCLUDES)


@router.get("/schools/{school_id}/employees")
async def list_employees(
    request: Request,
    school: School,
    query: Listing,
    state: Sandbox,
    has_class: Annotated[str | None, Query()] = None,
    has_group: Annotated[str | None, Query()] = None,
) -> JSONResponse:
    """Staff in id order; ``has_class``/``has_group`` keep those who do (true) or do not (false) teach a
    class or tutor a group."""
    teaches, tutors = _flag("has_class", has_class), _flag("has_group", has_group)
    tree = include_tree(query.includes, EMPLOYEE_INCLUDES)
    with state.lock:
        staff = [
            record
            for record in school.employees.values()
            if (teaches is None or bool(school.class_staff.owners_of(record.id)) == teaches)
            and (tutors is None or bool(school.group_staff.owners_of(record.id)) == tutors)
        ]
        page, pagination = paginate(request, query, _by_id(staff, query))
        data = [employee(school, record, tree) for record in page]
    return _list(data, pagination, EMPLOYEE_INCLUDES)


@router.get("/schools/{school_id}/employees/{employee_id}")
async def get_employee(employee_id: str, school: School, query: Listing, state: Sandbox) -> JSONResponse:
    tree = include_tree(query.includes, EMPLOYEE_INCLUDES)
    with state.lock:
        record = school.employees.get(employee_id)
        if record is None:
            raise _not_found("Employee", employee_id, school)
        return _one(employee(school, record, tree), EMPLOYEE_INCLUDES)


@router.get("/schools/{school_id}/counts")
async def get_counts(school: School, query: Listing, state: Sandbox) -> JSONResponse:
    """``{"data": {"students": {"data": {"count": 812}}, ...}}`` for each count named in ``include``."""
    with state.lock:
        totals = {
            "students": len(school.students),
            "classes": len(school.classes),
            "groups": len(school.groups),
            "employees": len(school.employees),
            "subjects": len(school.subjects),
        }
    asked = [name for name in COUNTS if name in query.includes]
    return _one({name: {"data": {"count": totals[name]}} for name in asked}, COUNTS)
