"""The matcher's inputs and outputs: plain, immutable data with string ids, so the same engine serves
the uploader (database rows), the CLI (files) and the benchmark (generated schools)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

Status = Literal["auto", "review", "none"]


@dataclass(frozen=True)
class AppBand:
    id: str
    name: str
    year_group: int | None = None


@dataclass(frozen=True)
class AppPupil:
    id: str
    first_name: str
    last_name: str
    year_group: int | None = None
    band_ids: tuple[str, ...] = ()
    # When the app account was created, if known: an account older than the MIS admission of its
    # candidate is probably someone else's (a leaver's), so that link is never automatic.
    created_on: date | None = None


@dataclass(frozen=True)
class MisContainer:
    """A MIS class (teaching) or group (registration) a band can follow."""

    id: str
    name: str
    kind: Literal["class", "group"] = "class"
    year_group: int | None = None


@dataclass(frozen=True)
class MisStudent:
    id: str
    forename: str
    surname: str
    legal_forename: str | None = None
    legal_surname: str | None = None
    middle_names: str | None = None
    year_group: int | None = None
    admitted_on: date | None = None


@dataclass(frozen=True)
class MatchInput:
    bands: tuple[AppBand, ...]
    pupils: tuple[AppPupil, ...]
    containers: tuple[MisContainer, ...]
    students: tuple[MisStudent, ...]
    # container id -> the ids of its students
    members: Mapping[str, frozenset[str]]
    # The admin's decisions, which the matcher takes as given and never re-decides:
    # band id -> container id it was matched to, or None for "no action".
    class_decisions: Mapping[str, str | None] = field(default_factory=dict)
    # pupil id -> student id the admin linked them to.
    pupil_links: Mapping[str, str] = field(default_factory=dict)
    # students the admin resolved otherwise ("create" or "skip"): not candidates for anyone.
    settled_students: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Candidate:
    id: str
    score: float
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class ClassMatch:
    band_id: str
    container_id: str | None  # the suggestion (None when there is none)
    status: Status
    score: float
    evidence: tuple[str, ...]
    candidates: tuple[Candidate, ...] = ()


@dataclass(frozen=True)
class PupilMatch:
    pupil_id: str
    student_id: str | None  # set only when status is "auto"
    status: Status
    score: float
    evidence: tuple[str, ...]
    candidates: tuple[Candidate, ...] = ()


@dataclass(frozen=True)
class MatchResult:
    classes: tuple[ClassMatch, ...]
    pupils: tuple[PupilMatch, ...]
    # MIS students no automatic link claimed: "new" would get an account, "in_review" is a candidate
    # in some pupil's review and waits for the admin.
    new_students: tuple[str, ...]
    in_review_students: tuple[str, ...]
