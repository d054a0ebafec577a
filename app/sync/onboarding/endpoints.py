from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import SchoolAdmin
from app.errors import (
    BandNotFound,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    PupilNotFound,
    SchoolNotFound,
    error_responses,
)
from app.kit.pagination import Page, Pagination
from app.kit.unit_of_work import UnitOfWorkRoute, get_session
from app.schools.service import AwaitingConfirmation, SchoolDisconnected, SchoolNotConnected
from app.sync.onboarding import classes
from app.sync.onboarding import service as uploader
from app.sync.onboarding.schemas import (
    ClassDecisionIn,
    ClassDecisionOut,
    ClassDecisionsIn,
    ClassStudent,
    DecisionOut,
    Issues,
    Preview,
    StudentResolutionIn,
    UploaderClass,
)
from app.sync.onboarding.service import NothingToMerge, UnresolvedIssues, start_merge
from app.sync.runs.schemas import Run
from app.sync.runs.service import SyncAlreadyRunning

router = APIRouter(prefix="/schools/{school_id}", tags=["uploader"], route_class=UnitOfWorkRoute)
Session = Annotated[AsyncSession, Depends(get_session)]
ADMIN_ERRORS = error_responses(NotAuthenticated, Forbidden, SchoolNotFound)


@router.get("/uploader", response_model=list[UploaderClass], responses=ADMIN_ERRORS)
async def uploader_view(school_id: str, _: SchoolAdmin, session: Session) -> list[UploaderClass]:
    """One row per MIS class (a primary's registration group is folded into the class of the same name):
    its size, the admin's decision, the suggested action and band."""
    return await uploader.view(session, school_id)


@router.put(
    "/uploader/classes/{wonde_class_id}",
    response_model=DecisionOut,
    responses=error_responses(
        NotAuthenticated, Forbidden, classes.ClassNotFound, classes.BandAlreadyMatched, classes.BandRequired
    ),
)
async def decide_class(
    school_id: str, wonde_class_id: str, data: ClassDecisionIn, principal: SchoolAdmin, session: Session
) -> object:
    """Match the MIS class to a band, import it as a new band, or leave it alone. A band_id with
    anything but "match" is a 422. The id of a registration group folded into a class's row decides
    for that row."""
    return await classes.decide_class(session, school_id, wonde_class_id, data.action, data.band_id, principal.subject)


@router.delete(
    "/uploader/classes/{wonde_class_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(NotAuthenticated, Forbidden, classes.ClassNotFound),
)
async def clear_class(school_id: str, wonde_class_id: str, _: SchoolAdmin, session: Session) -> Response:
    """Clear the decision about the MIS class: it is undecided again (neither synced nor left alone by
    choice). 204 also when there was no decision to clear."""
    await classes.clear_class(session, school_id, wonde_class_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/uploader/decisions",
    response_model=list[ClassDecisionOut],
    responses=error_responses(
        NotAuthenticated,
        Forbidden,
        BandNotFound,
        classes.ClassNotFound,
        classes.BandAlreadyMatched,
        classes.SameClassTwice,
    ),
)
async def decide_classes(school_id: str, data: ClassDecisionsIn, principal: SchoolAdmin, session: Session) -> object:
    """Decisions about many MIS classes in one transaction, all or nothing ("accept every suggestion" is
    one call: each row's suggested_action and suggested_band). Checked as a whole: an error names the
    item (``decisions[i] (wonde id)``) and nothing is written. ``"action": null`` clears a decision."""
    choices = [classes.ClassChoice(d.wonde_class_id, d.action, d.band_id) for d in data.decisions]
    decided = await classes.decide_classes(
        session, school_id, choices, principal.subject, where=lambda i, c: f"decisions[{i}] ({c.wonde_class_id}): "
    )
    return [
        ClassDecisionOut(
            wonde_class_id=row,
            action=decision.action if decision else None,
            band_id=decision.band_id if decision else None,
        )
        for row, decision in decided
    ]


@router.get(
    "/uploader/classes/{wonde_class_id}/students",
    response_model=Page[ClassStudent],
    responses=error_responses(NotAuthenticated, Forbidden, classes.ClassNotFound),
)
async def class_students(
    school_id: str, wonde_class_id: str, page: Pagination, _: SchoolAdmin, session: Session
) -> Page[ClassStudent]:
    """Who is in the MIS class (or registration group), by surname: Wonde id, names, year, and the app
    account linked to each, if any."""
    return await classes.class_students(session, school_id, wonde_class_id, page)


@router.get("/uploader/issues", response_model=Issues, responses=ADMIN_ERRORS)
async def uploader_issues(school_id: str, _: SchoolAdmin, session: Session) -> Issues:
    return await uploader.issues(session, school_id)


@router.put(
    "/uploader/pupils/{wonde_student_id}",
    response_model=DecisionOut,
    responses=error_responses(
        NotAuthenticated, Forbidden, uploader.StudentNotFound, PupilNotFound, uploader.PupilAlreadyLinked, InvalidInput
    ),
)
async def resolve_pupil(
    school_id: str, wonde_student_id: str, data: StudentResolutionIn, principal: SchoolAdmin, session: Session
) -> object:
    """Link the MIS student to an existing account, create a new one, or leave the student out ("skip":
    no account, not synced by any sync or merge, until the skip is taken back with DELETE or replaced
    by another resolution). Links and new accounts are made by the next merge."""
    return await uploader.resolve_student(
        session, school_id, wonde_student_id, data.resolution, data.pupil_id, principal.subject
    )


@router.delete(
    "/uploader/pupils/{wonde_student_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(NotAuthenticated, Forbidden, uploader.StudentNotFound),
)
async def take_back_resolution(school_id: str, wonde_student_id: str, _: SchoolAdmin, session: Session) -> Response:
    """Take back the decision about the MIS student, a skip above all: the student is undecided again,
    and the next sync or merge treats them as any other (a student of a synced class gets an account at
    the next sync). 204 also when there was no decision to take back."""
    await uploader.take_back_resolution(session, school_id, wonde_student_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/uploader/preview", response_model=Preview, responses=ADMIN_ERRORS)
async def uploader_preview(school_id: str, _: SchoolAdmin, session: Session) -> Preview:
    """Exactly what merge would do now, with counts, and a warning per band that would lose pupils."""
    return await uploader.preview(session, school_id)


@router.post(
    "/uploader/merge",
    response_model=Run,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(
        NotAuthenticated,
        Forbidden,
        NothingToMerge,
        UnresolvedIssues,
        SchoolNotConnected,
        SchoolDisconnected,
        AwaitingConfirmation,
        SyncAlreadyRunning,
    ),
)
async def merge(school_id: str, principal: SchoolAdmin, session: Session) -> object:
    """Queue the merge; follow it at GET /runs/{run_id}. Refused (409) unless the school is connected to
    Wonde: never connected (``SchoolNotConnected``), disconnected (``SchoolDisconnected``), or its
    approval waiting for the platform (``AwaitingConfirmation``)."""
    return await start_merge(session, school_id, principal.subject)
