"""What can go wrong talking to Wonde, split the way callers must react to it.

- ``WondeTransientError``: worth retrying (429, 5xx, timeouts, a body that is not JSON). The client
  retries these itself; ``WondeRetriesExhausted`` says it gave up.
- ``WondeAuthError``: 401/403, the school's connection is broken (revoked or not permitted). Permanent.
- ``WondeNotFound``: 404.
- ``WondeProtocolError``: Wonde answered, but with something we must not trust (a page we cannot
  parse, a student without an id, a duplicate id, a ``next`` link to another host). Permanent for
  this read: nothing it returned may be written. ``NoStudentsReturned``: a complete read found no
  students at all (a school not sharing its pupils, or gone from the MIS); nothing is removed for it.
"""

from __future__ import annotations


class WondeError(Exception):
    """Base of every Wonde failure; ``str()`` is safe to record (never a token or a pupil's name)."""


class WondeTransientError(WondeError):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WondeSchoolInactive(WondeTransientError):
    """423: the school is inactive in Wonde; retried, and if it stays so the run fails ``school_inactive``."""


class WondeRetriesExhausted(WondeError):
    def __init__(self, attempts: int, last: WondeTransientError) -> None:
        super().__init__(f"gave up after {attempts} attempts: {last}")
        self.attempts = attempts
        self.last = last


class WondeAuthError(WondeError):
    pass


class WondeNotFound(WondeError):
    pass


class WondeProtocolError(WondeError):
    pass


class NoStudentsReturned(WondeProtocolError):
    """A complete read in which Wonde returned no students: never a reason to remove every pupil."""
