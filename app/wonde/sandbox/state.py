"""The sandbox's memory: its schools, their tokens and access, a movable clock, and what was served.

Two kinds of token open it, as in Wonde: each school's own token, and one app-wide token (the
developer's account token) that lists schools, asks for access, and reads any approved school.

One ``SandboxState`` is shared by the server thread and the test (or benchmark) driving it, so every
change and every read that must be consistent happens under ``lock``.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from app.wonde.sandbox.faults import FaultBook, FaultRule
from app.wonde.sandbox.records import SandboxSchool

DEFAULT_DOMAIN = "api.wonde.com"


class UnknownSchool(LookupError):
    """No school with this id is loaded."""


class SandboxClock:
    """Real UTC time plus an offset, so a test can let hours pass between two syncs."""

    def __init__(self) -> None:
        self._offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> datetime:
        self._offset += timedelta(seconds=seconds)
        return self.now()


def school_token(school_id: str, generation: int = 0) -> str:
    """The school's bearer token (40 hex): derived, so a seed gives the same token on every run."""
    return hashlib.blake2b(f"bandsync-sandbox:{school_id}:{generation}".encode(), digest_size=20).hexdigest()


APP_TOKEN = hashlib.blake2b(b"bandsync-sandbox:app", digest_size=20).hexdigest()
"""The app-wide token (40 hex), the same on every run so a developer can keep it in a local config."""


class SandboxState:
    """Any number of schools keyed by Wonde id, the fault rules, the clock and request counters."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.domain = DEFAULT_DOMAIN
        self.app_token = APP_TOKEN
        self.reset()

    def reset(self) -> None:
        """Forget every school, fault rule, request count and clock offset (the server keeps running)."""
        with self.lock:
            self.clock = SandboxClock()
            self.faults = FaultBook()
            self.schools: dict[str, SandboxSchool] = {}
            self.requests_total = 0
            self._requests_by_school: Counter[str] = Counter()

    def add_school(self, school: SandboxSchool) -> str:
        """Add a school, replacing one with the same id."""
        with self.lock:
            self.schools[school.id] = school
        return school.id

    def school(self, school_id: str) -> SandboxSchool:
        try:
            return self.schools[school_id]
        except KeyError:
            raise UnknownSchool(school_id) from None

    def authorised(self, school_id: str, token: str | None) -> bool:
        """Whether ``token`` opens this (existing) school: its own token or the app-wide one, while the
        school's access is approved."""
        school = self.school(school_id)
        if token is None or not school.approved:
            return False
        return self.holds_own_token(school, token) or self.is_app_token(token)

    @staticmethod
    def holds_own_token(school: SandboxSchool, token: str) -> bool:
        """Whether ``token`` is the school's own (its latest grant's), whatever its access is now."""
        return hmac.compare_digest(token, school.token)

    def is_app_token(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token, self.app_token)

    def opens_any(self, token: str | None) -> bool:
        """Whether ``token`` opens some school here: checked before the school asked for, so a bad token
        learns nothing of which schools exist."""
        if token is None:
            return False
        if self.is_app_token(token):
            return True
        with self.lock:
            return any(school.approved and hmac.compare_digest(token, school.token) for school in self.schools.values())

    def revoke(self, school_id: str) -> None:
        with self.lock:
            self.school(school_id).access = "revoked"

    def approve(self, school_id: str) -> str:
        """Approve access; a school approved again after a revoke gets a new token, as a new grant would."""
        with self.lock:
            school = self.school(school_id)
            if not school.approved:
                school.token_generation += 1
                school.token = school_token(school_id, school.token_generation)
                school.approved = True
            return school.token

    def count_request(self, school_id: str | None) -> int:
        """Count one API request; returns the running total."""
        with self.lock:
            self.requests_total += 1
            if school_id is not None:
                self._requests_by_school[school_id] += 1
            return self.requests_total

    def add_fault(self, rule: FaultRule) -> dict[str, Any]:
        """Start applying a fault rule; a rule's request number counts from now."""
        with self.lock:
            return self.faults.add(rule, self.requests_total)

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {"total": self.requests_total, "by_school": dict(self._requests_by_school)}
