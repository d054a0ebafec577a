"""The merge plan: from the admin's decisions, the matcher's links and the app's current state, the
typed changes that make every synced band hold exactly the pupils of its MIS class, each MIS student of
those classes linked to exactly one account. Pure: the same state always gives the same plan, and a
school already in step gives an empty one (so merging twice changes nothing the second time).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.sync.core.changes import (
    NEW,
    AddToBand,
    Change,
    CreateBand,
    CreatePupil,
    LinkBand,
    LinkPupil,
    Plan,
    RemoveFromBand,
    RestorePupil,
)

__all__ = ["NEW", "AddToBand", "Change", "CreateBand", "CreatePupil", "LinkBand", "LinkPupil", "Plan", "RemoveFromBand"]


@dataclass(frozen=True)
class StudentFacts:
    forename: str
    surname: str
    year_group: int | None


@dataclass(frozen=True)
class MergeState:
    # container (Wonde id) -> the band it is matched to, or None to import it as a new band
    scope: Mapping[str, str | None]
    container_names: Mapping[str, str]
    container_years: Mapping[str, int | None]
    members: Mapping[str, frozenset[str]]  # container -> students
    students: Mapping[str, StudentFacts]
    linked: Mapping[str, str]  # student -> pupil, links that exist already
    to_link: Mapping[str, str]  # student -> pupil, links to make (automatic or the admin's)
    skipped: frozenset[str]  # students the admin chose to leave out: no account, no link, no place
    band_links: Mapping[str, str]  # band -> container, as linked now
    band_members: Mapping[str, frozenset[str]]  # band -> pupils, now
    archived: frozenset[str] = frozenset()  # archived accounts among to_link: restored as they are linked
    # The accounts of skipped students (linked, or theirs before a disconnect): left in the bands they
    # are in, neither added nor taken out; skipped means not synced.
    left_alone: frozenset[str] = frozenset()


def plan_merge(state: MergeState) -> Plan:
    plan = Plan()
    linked_by_band = {container: band for band, container in state.band_links.items()}
    created: set[str] = set()
    newly_linked: set[str] = set()
    for container in sorted(state.scope):
        chosen = state.scope[container] or linked_by_band.get(container)
        if chosen is None:
            band = NEW + container
            name = state.container_names.get(container, container)
            plan.changes.append(CreateBand(band, container, name, state.container_years.get(container)))
        else:
            band = chosen
            if state.band_links.get(band) != container:
                plan.changes.append(LinkBand(band, container))
        wanted: set[str] = set()
        for student in sorted(state.members.get(container, frozenset())):
            if student in state.skipped:
                continue
            pupil = state.linked.get(student) or state.to_link.get(student)
            if pupil is None:
                pupil = NEW + student
                if student not in created:
                    facts = state.students[student]
                    plan.changes.append(CreatePupil(pupil, student, facts.forename, facts.surname, facts.year_group))
                    created.add(student)
            elif student not in state.linked and student not in newly_linked:
                if pupil in state.archived:  # a child back after leaving: their account, not a new one
                    plan.changes.append(RestorePupil(pupil, student))
                plan.changes.append(LinkPupil(pupil, student))
                newly_linked.add(student)
            wanted.add(pupil)
        current = state.band_members.get(band, frozenset())
        plan.changes += [AddToBand(band, pupil) for pupil in sorted(wanted - current)]
        plan.changes += [RemoveFromBand(band, pupil) for pupil in sorted(current - wanted - state.left_alone)]
    return plan
