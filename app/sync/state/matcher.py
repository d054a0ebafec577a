"""The matcher's input, from a school's snapshot and the admin's uploader decisions."""

from __future__ import annotations

import uuid
from collections import defaultdict

from app.sync.core.matching import AppBand, AppPupil, MatchInput, MisContainer
from app.sync.core.matching import MisStudent as MatchStudent
from app.sync.state.snapshot import SchoolSnapshot


def match_input(state: SchoolSnapshot) -> MatchInput:
    """The matcher's view: decided containers are taken as given; no-action and import ones are out."""
    excluded = {w for w, d in state.class_decisions.items() if d.action in ("no_action", "import")}
    class_decisions: dict[str, str | None] = {
        str(d.band_id): w for w, d in state.class_decisions.items() if d.action == "match" and d.band_id
    }
    for band in state.bands.values():
        if (linked := state.band_link(band)) is not None:
            class_decisions.setdefault(str(band.id), linked)
    pupil_links = {
        str(p.id): state.student_wonde_ids[p.mis_student_id]
        for p in state.pupils.values()
        if p.mis_student_id in state.student_wonde_ids
    }
    # A remembered link is certain (the same MIS record, the same account), unless the admin decided
    # otherwise for the student or the account.
    decided = {str(d.pupil_id) for d in state.student_decisions.values() if d.pupil_id}
    taken = set(pupil_links.values())
    remembered = {w: p for w, p in state.returning.items() if w not in taken and str(p) not in decided}
    chosen = {w: d.pupil_id for w, d in state.student_decisions.items() if d.resolution == "link" and d.pupil_id}
    # Links to live accounts anchor the matcher; a student linked to an archived account is settled.
    pupil_links |= {str(p): w for w, p in (remembered | chosen).items() if p not in state.archived}
    settled = frozenset(w for w, d in state.student_decisions.items() if d.resolution == "create")
    settled |= frozenset(state.skipped)
    settled |= {w for w, p in (remembered | chosen).items() if p in state.archived}
    pupil_bands: dict[uuid.UUID, list[str]] = defaultdict(list)
    for band_id, pupil_ids in state.band_members.items():
        for pupil_id in pupil_ids:
            pupil_bands[pupil_id].append(str(band_id))
    return MatchInput(
        bands=tuple(AppBand(str(b.id), b.name, b.year_group) for b in state.bands.values()),
        pupils=tuple(
            AppPupil(str(p.id), p.first_name, p.last_name, p.year_group, tuple(sorted(pupil_bands[p.id])))
            for p in state.pupils.values()
        ),
        containers=tuple(
            MisContainer(c.wonde_id, c.name, c.kind, c.year_group)  # type: ignore[arg-type]
            for c in state.containers.values()
            if c.wonde_id not in excluded
        ),
        students=tuple(
            MatchStudent(
                s.wonde_id, s.forename, s.surname, s.legal_forename, s.legal_surname, s.middle_names, s.year_group
            )
            for s in state.students.values()
        ),
        members={w: m for w, m in state.members.items() if w not in excluded},
        class_decisions=class_decisions,
        pupil_links=pupil_links,
        settled_students=settled,
    )
