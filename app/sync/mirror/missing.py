"""A student missing from a full read is not yet a leaver.

Page-number paging shifts when the MIS changes during a walk (a pupil leaves on page 2 and the first
pupil of page 3 is never served), and a school can put a child on its exclude list (they vanish from the
API with no deletion row). Either way a complete read that simply did not return a child would archive
them. So before a full read removes anyone, each student the mirror has and the read did not return is
confirmed:

- **gone** (removed, then archived by the sync, as before): Wonde has a deletion row for them, lists them
  as a leaver (``students-leaver``), or answers for them with a leaving date that has come;
- **still there** (``GET students/{id}`` answers, on roll): the read was inconsistent; the caller reads
  again once, and fails the run (``read_inconsistent``) if it still is, archiving no one;
- **excluded** (no deletion row, not a leaver, ``GET students/{id}`` is a 404): the child was taken out
  of what the app may see: kept as they were (account, links, classes), and listed under the data-quality
  code ``excluded``;
- **unconfirmed**: beyond ``WondeClient.missing_checks`` lookups a read makes no more; the rest are kept
  as they were, for a later read to confirm (a July of leavers comes with deletion rows anyway).
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field
from datetime import date

from app.wonde.client import SchoolClient
from app.wonde.schemas import Unreadable


@dataclass(frozen=True)
class Missing:
    """What became of the students a full read did not return, by Wonde id."""

    gone: frozenset[str] = frozenset()
    still_there: frozenset[str] = frozenset()
    excluded: frozenset[str] = frozenset()
    unconfirmed: frozenset[str] = frozenset()
    lookups: int = 0

    @property
    def kept(self) -> frozenset[str]:
        """The students the mirror keeps as they are (not removed by this read)."""
        return self.excluded | self.unconfirmed | self.still_there


@dataclass
class _Found:
    gone: set[str] = field(default_factory=set)
    still_there: set[str] = field(default_factory=set)
    excluded: set[str] = field(default_factory=set)


async def confirm_missing(client: SchoolClient, missing: Set[str], today: date) -> Missing:
    """Ask Wonde what became of ``missing`` (see the module's docstring)."""
    if not missing:
        return Missing()
    found = _Found()
    async for deletion in client.deletions(kind="student"):
        if not isinstance(deletion, Unreadable) and deletion.id in missing and deletion.restored_at is None:
            found.gone.add(deletion.id)
    async for leaver in client.leavers():
        wonde_id = leaver.wonde_id if isinstance(leaver, Unreadable) else leaver.id
        if wonde_id in missing:
            found.gone.add(wonde_id)
    to_ask = sorted(missing - found.gone)
    asked, unconfirmed = to_ask[: client.missing_checks], to_ask[client.missing_checks :]
    for wonde_id in asked:
        student = await client.get_student(wonde_id)
        if student is None:
            found.excluded.add(wonde_id)
        elif (leaving := student.details.leaving_date if student.details else None) is not None and leaving <= today:
            found.gone.add(wonde_id)
        else:
            found.still_there.add(wonde_id)
    return Missing(
        frozenset(found.gone),
        frozenset(found.still_there),
        frozenset(found.excluded),
        frozenset(unconfirmed),
        len(asked),
    )
