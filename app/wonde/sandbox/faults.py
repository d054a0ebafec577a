"""Fault rules: the ways Wonde can fail, served on purpose so retries and resumes can be tested.

A rule names what goes wrong (``kind``: ``429`` (with ``retry_after``), ``500``, ``503``, ``401``, ``423``
(the school is inactive), ``html`` (a 200 whose body is a maintenance page), ``slow`` (``seconds``),
``truncated`` (half the body), or the MIS changing while a read walks the pages: ``leaver_during_walk``
(the first student in id order leaves just before the request is served, so page numbers shift and a
student is skipped) and ``joiner_during_walk`` (a pupil joins; a student may be served twice), or
``rosters_undated`` (an ``updated_after`` list of classes or groups leaves out those whose only change
is who is in them, as Wonde may: only the pupil's own record says they joined)) and which requests it
hits: an endpoint (see ``Endpoint``, or "any"), optionally a school, a
page (the ``page`` query parameter, 1 when absent) and a request number (the Nth API request counted
from when the rule was added, across all endpoints: the rule hits that request and the ones after it).
It fires ``times`` times (-1: on every matching request). The first matching rule wins.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, field_validator

FaultKind = Literal[
    "429",
    "500",
    "slow",
    "truncated",
    "401",
    "423",
    "503",
    "html",
    "leaver_during_walk",
    "joiner_during_walk",
    "rosters_undated",
]
Endpoint = Literal[
    "any",
    "school",
    "meta",
    "students",
    "students-leaver",
    "classes",
    "groups",
    "employees",
    "deletions",
    "counts",
    "schools",
    "request-access",
    "revoke-access",
]


class FaultRule(BaseModel):
    """What to break and when; ``retry_after`` is for 429, ``seconds`` for slow."""

    kind: Annotated[FaultKind, BeforeValidator(str)]
    endpoint: Endpoint = "any"
    school_id: str | None = None
    page: int | None = Field(default=None, ge=1)
    request: int | None = Field(default=None, ge=1)
    times: int = Field(default=1, ge=-1)
    retry_after: int = Field(default=1, ge=0)
    seconds: float = Field(default=1.0, ge=0, le=300)

    @field_validator("times")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("times must be positive, or -1 for always")
        return value


@dataclass
class ActiveFault:
    id: int
    rule: FaultRule
    added_after: int  # API requests served before the rule was added
    fired: int = 0

    def matches(self, request_number: int, school_id: str | None, endpoint: str, page: int) -> bool:
        rule = self.rule
        return (
            (rule.times == -1 or self.fired < rule.times)
            and rule.endpoint in ("any", endpoint)
            and rule.school_id in (None, school_id)
            and rule.page in (None, page)
            and (rule.request is None or request_number - self.added_after >= rule.request)
        )

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, **self.rule.model_dump(), "fired": self.fired}


class FaultBook:
    """The active rules; safe to change from a test while the server thread reads them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[ActiveFault] = []
        self._ids = itertools.count(1)

    def add(self, rule: FaultRule, requests_served: int) -> dict[str, Any]:
        with self._lock:
            fault = ActiveFault(next(self._ids), rule, requests_served)
            self._rules.append(fault)
            return fault.describe()

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.describe() for fault in self._rules]

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, request_number: int, school_id: str | None, endpoint: str, page: int) -> FaultRule | None:
        """The rule that hits this request, counted as fired; None when the request should be served."""
        with self._lock:
            for fault in self._rules:
                if fault.matches(request_number, school_id, endpoint, page):
                    fault.fired += 1
                    return fault.rule
            return None
