"""The merge plan: from the admin's decisions, the matcher's links and the app's current state, the
typed changes that make every synced band hold exactly the pupils of its MIS class, each MIS student of
those classes linked to exactly one account. Pure: the same state always gives the same plan, and a
school already in step gives an empty one (so merging twice changes nothing the second time).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

NEW = "new:"  # prefix of references to rows the plan creates


@dataclass(frozen=True)
class LinkBand:
    band: str
    container: str


@dataclass(frozen=True)
class CreateBand:
    ref: str
    container: str
    name: str
    year_group: int | None


@dataclass(frozen=True)
class LinkPupil:
    pupil: str
    student: str


@dataclass(frozen=True)
class CreatePupil:
    ref: str
    student: str
    first_name: str
    last_name: str
    year_group: int | None


@dataclass(frozen=True)
class AddToBand:
    band: str
    pupil: str


@dataclass(frozen=True)
class RemoveFromBand:
    band: str
    pupil: str


Change = LinkBand | CreateBand | LinkPupil | CreatePupil | AddToBand | RemoveFromBand


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
    skipped: frozenset[str]  # students the admin chose to leave out
    band_links: Mapping[str, str]  # band -> container, as linked now
    band_members: Mapping[str, frozenset[str]]  # band -> pupils, now


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)

    def of(self, kind: type[Change]) -> list[Change]:
        return [c for c in self.changes if isinstance(c, kind)]

    def counts(self) -> dict[str, int]:
        names = {
            LinkBand: "bands_linked",
            CreateBand: "bands_created",
            LinkPupil: "pupils_linked",
            CreatePupil: "pupils_created",
            AddToBand: "memberships_added",
            RemoveFromBand: "memberships_removed",
        }
        return {label: len(self.of(kind)) for kind, label in names.items()}

    def leaving(self) -> dict[str, list[str]]:
        """Band -> pupils the merge would take out of it (the sets-vs-forms trap, shown before merge)."""
        found: dict[str, list[str]] = defaultdict(list)
        for change in self.of(RemoveFromBand):
            assert isinstance(change, RemoveFromBand)
            found[change.band].append(change.pupil)
        return dict(found)


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
                plan.changes.append(LinkPupil(pupil, student))
                newly_linked.add(student)
            wanted.add(pupil)
        current = state.band_members.get(band, frozenset())
        plan.changes += [AddToBand(band, pupil) for pupil in sorted(wanted - current)]
        plan.changes += [RemoveFromBand(band, pupil) for pupil in sorted(current - wanted)]
    return plan
