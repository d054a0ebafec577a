"""The uploader's one row per MIS class: what each row shows (its suggested action and band), the admin's
decisions about rows (one, many at once, or cleared), and who is in a class.

A primary's form is often both a class and a registration group of the same name, with the same
children. The admin sees one row, the class's, with the group folded in; a decision about the row is
one stored decision, on the container the merge and the daily sync follow for it: the group where a
band already follows the group (or only the group has a decision, made before forms were folded),
else the class. A decision naming the group's id acts on the same row."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import BandNotFound, Conflict, InvalidInput, NotFound
from app.kit.locking import lock_school
from app.kit.pagination import Page, PageParams
from app.models import UploaderDecision
from app.sync.core.matching import MatchResult
from app.sync.onboarding.repository import ClassRosterRepository, DecisionRepository
from app.sync.onboarding.schemas import ClassStudent, Decision, Ref, Suggestion, UploaderClass
from app.sync.state.repository import load_snapshot
from app.sync.state.snapshot import Container, SchoolSnapshot


class ClassNotFound(NotFound):
    """No MIS class or registration group with this id in the school."""


class BandAlreadyMatched(Conflict):
    """This band is already matched to another MIS class."""


class BandRequired(InvalidInput):
    """A "match" needs the band_id of the band to match."""


class SameClassTwice(InvalidInput):
    """Two decisions about the same MIS class in one request."""


@dataclass(frozen=True)
class ClassChoice:
    """One decision about a row: ``action`` None clears it."""

    wonde_class_id: str
    action: str | None
    band_id: uuid.UUID | None = None


class Forms:
    """The rows of a school's uploader: each live container is its own row, but a registration group
    with the same name as exactly one class (and no year at odds with it) is folded into the class's."""

    def __init__(self, state: SchoolSnapshot) -> None:
        self.state = state
        classes: dict[str, list[Container]] = defaultdict(list)
        groups: dict[str, list[Container]] = defaultdict(list)
        for container in state.containers.values():
            (classes if container.kind == "class" else groups)[container.name.strip().casefold()].append(container)
        self.group_of: dict[str, Container] = {}  # class Wonde id -> its folded group
        self.class_of: dict[str, str] = {}  # folded group Wonde id -> its class's
        for name, same in groups.items():
            matching = classes.get(name, [])
            if len(same) == 1 and len(matching) == 1:
                group, class_ = same[0], matching[0]
                if None in (group.year_group, class_.year_group) or group.year_group == class_.year_group:
                    self.group_of[class_.wonde_id], self.class_of[group.wonde_id] = group, class_.wonde_id
        self.linked: dict[str, uuid.UUID] = {
            link: band.id for band in state.bands.values() if (link := state.band_link(band)) is not None
        }

    def row_of(self, wonde_id: str) -> str | None:
        """The row a live class's or group's Wonde id belongs to (None: no such container)."""
        if wonde_id not in self.state.containers:
            return None
        return self.class_of.get(wonde_id, wonde_id)

    def ids(self, row: str) -> tuple[str, ...]:
        """The Wonde ids of the containers of a row: the class, then a group folded into it."""
        group = self.group_of.get(row)
        return (row, group.wonde_id) if group else (row,)

    def followed(self, row: str) -> str:
        """The container a decision about the row is stored on: the one the merge and the sync follow."""
        group = self.group_of.get(row)
        if group is None:
            return row
        decisions = self.state.class_decisions
        if group.wonde_id in self.linked and row not in self.linked:
            return group.wonde_id
        if group.wonde_id in decisions and row not in decisions:
            return group.wonde_id
        return row


def _suggestions(state: SchoolSnapshot, result: MatchResult) -> dict[str, dict[str, Any]]:
    """Container -> the band that suggests it most strongly (auto before review)."""
    best: dict[str, dict[str, Any]] = {}
    for item in result.classes:
        if item.container_id is None or item.status == "none":
            continue
        band = state.bands.get(uuid.UUID(item.band_id))
        rank = (item.status == "auto", item.score)
        current = best.get(item.container_id)
        if current is None or rank > current["_rank"]:
            best[item.container_id] = {
                "_rank": rank,
                "band_id": item.band_id,
                "band_name": band.name if band else None,
                "status": item.status,
                "score": item.score,
                "evidence": list(item.evidence),
            }
    return {k: {key: v for key, v in s.items() if key != "_rank"} for k, s in best.items()}


def rows(state: SchoolSnapshot, result: MatchResult) -> list[UploaderClass]:
    """One row per MIS class (a folded group in its class's row), by name: size, the admin's decision,
    the band that follows it, the matcher's suggestion, and the suggested action."""
    forms = Forms(state)
    suggestions = _suggestions(state, result)
    any_class = any(c.kind == "class" for c in state.containers.values())
    found = []
    for wonde_id, container in sorted(state.containers.items(), key=lambda c: (c[1].name, c[0])):
        if wonde_id in forms.class_of:
            continue  # shown in its class's row
        followed = forms.followed(wonde_id)
        ids = sorted(forms.ids(wonde_id), key=lambda w: w != followed)
        decision = state.class_decisions.get(followed)
        linked = next((str(forms.linked[w]) for w in ids if w in forms.linked), None)
        suggestion = next((suggestions[w] for w in ids if w in suggestions), None)
        pupils = len(state.members.get(wonde_id, frozenset()))
        suggested_band = linked or (suggestion["band_id"] if suggestion else None)
        if suggested_band is not None:
            action = "match"
        elif pupils and (container.kind == "class" or not any_class):
            action = "import"  # a registration group stands in for classes only where the MIS has none
        else:
            action = "no_action"
        band = state.bands.get(uuid.UUID(suggested_band)) if suggested_band else None
        group = forms.group_of.get(wonde_id)
        found.append(
            UploaderClass(
                wonde_class_id=wonde_id,
                name=container.name,
                kind=container.kind,
                year_group=container.year_group,
                pupil_count=pupils,
                registration_group=Ref(id=group.wonde_id, name=group.name) if group else None,
                suggested_action=action,
                suggested_band=Ref(id=str(band.id), name=band.name) if band else None,
                decision=Decision(action=decision.action, band_id=str(decision.band_id) if decision.band_id else None)
                if decision
                else None,
                linked_band_id=linked,
                suggestion=Suggestion(**suggestion) if suggestion else None,
            )
        )
    return found


Where = Callable[[int, ClassChoice], str]


def _check(state: SchoolSnapshot, forms: Forms, choices: Sequence[ClassChoice], named: Where) -> list[str]:
    """The row of each choice, once every choice is known to be possible together; else the first
    reason not, naming the choice (``named``: "decisions[2] (C-4B): " in a bulk request)."""

    def say(index: int, text: str) -> str:
        prefix = named(index, choices[index])
        return prefix + text if prefix else text[:1].upper() + text[1:]

    chosen: dict[str, int] = {}
    for index, choice in enumerate(choices):
        row = forms.row_of(choice.wonde_class_id)
        if row is None:
            raise ClassNotFound(say(index, "no MIS class or registration group with this id in the school."))
        if row in chosen:
            first = named(chosen[row], choices[chosen[row]]).rstrip(": ")
            raise SameClassTwice(say(index, f"the same MIS class as {first}: one decision per class."))
        chosen[row] = index
        if choice.action == "match":
            if choice.band_id is None:
                raise BandRequired(say(index, 'a "match" needs the band_id of the band to match.'))
            if choice.band_id not in state.bands:
                raise BandNotFound(say(index, f"no band {choice.band_id} in the school."))
    rows = list(chosen)
    changed = {w for row in rows for w in forms.ids(row)}
    # Who holds each band once the request is applied: the decisions it leaves as they are, then its own.
    holders = {
        d.band_id: w
        for w, d in state.class_decisions.items()
        if d.action == "match" and d.band_id is not None and w not in changed
    }
    for index, (choice, row) in enumerate(zip(choices, rows, strict=True)):
        if choice.action != "match" or choice.band_id is None:
            continue
        band = state.bands[choice.band_id]
        linked = state.band_link(band)
        if linked is not None and linked not in forms.ids(row):
            raise BandAlreadyMatched(say(index, f"band {band.name!r} follows the MIS class {linked}."))
        if (holder := holders.get(band.id)) is not None:
            raise BandAlreadyMatched(say(index, f"band {band.name!r} is matched to the MIS class {holder}."))
        holders[band.id] = row
    return rows


async def decide_classes(
    session: AsyncSession,
    school_id: str,
    choices: Sequence[ClassChoice],
    actor: str,
    *,
    where: Callable[[int, ClassChoice], str] = lambda _i, _c: "",
) -> list[tuple[str, UploaderDecision | None]]:
    """Set (or, with no action, clear) the decision about each row, all or none: every choice is
    checked against the school and against the others before anything is written, so two classes may
    swap bands in one call. Each decision is stored on the container its row follows, and one about
    the other container of a folded form goes: one decision per row. Returns each choice's row (the
    class's id for a folded group's) and its decision (None: cleared)."""
    await lock_school(session, school_id)
    state = await load_snapshot(session, school_id)
    forms = Forms(state)
    rows = _check(state, forms, choices, where)
    repository = DecisionRepository(session, school_id)
    targets = [forms.followed(row) for row in rows]
    kept = {
        target: state.class_decisions[target]
        for choice, target in zip(choices, targets, strict=True)
        if choice.action is not None and target in state.class_decisions
    }
    dropped = {
        d.id
        for row in rows
        for w in forms.ids(row)
        if (d := state.class_decisions.get(w)) is not None and w not in kept
    }
    await repository.forget(dropped)
    # A decision about a class that has since gone from the MIS (ended, or renumbered by a rollover or
    # a migration) means nothing any more; it must not keep holding the band.
    live = [d.id for d in state.class_decisions.values()]
    for band_id in {c.band_id for c in choices if c.action == "match" and c.band_id is not None}:
        await repository.forget_band(band_id, keep=live)
    # Two classes may swap bands: no kept decision holds a band between the two flushes.
    for held in kept.values():
        held.action, held.band_id = "import", None
    await session.flush()
    decided: list[tuple[str, UploaderDecision | None]] = []
    for choice, row, target in zip(choices, rows, targets, strict=True):
        if choice.action is None:
            decided.append((row, None))
            continue
        container = state.containers[target]
        decision = kept.get(target) or repository.new_for_container(container.id, container.kind)
        decision.action = choice.action
        decision.band_id = choice.band_id if choice.action == "match" else None
        decision.decided_by = actor
        decided.append((row, decision))
    await session.flush()
    return decided


async def decide_class(
    session: AsyncSession, school_id: str, wonde_class_id: str, action: str, band_id: uuid.UUID | None, actor: str
) -> UploaderDecision:
    """Match the row of this class (or of its folded registration group) to a band, import it, or
    leave it alone."""
    [(_, decision)] = await decide_classes(session, school_id, [ClassChoice(wonde_class_id, action, band_id)], actor)
    assert decision is not None
    return decision


async def clear_class(session: AsyncSession, school_id: str, wonde_class_id: str) -> None:
    """Forget the decision about the row (either id of a folded form): the class is undecided again.
    Nothing to forget is no error: clearing twice is clearing once."""
    await decide_classes(session, school_id, [ClassChoice(wonde_class_id, None)], actor="")


async def class_students(
    session: AsyncSession, school_id: str, wonde_class_id: str, page: PageParams
) -> Page[ClassStudent]:
    """Who is in a live MIS class or registration group, with the app account each is linked to."""
    repository = ClassRosterRepository(session, school_id)
    container = await repository.container(wonde_class_id)
    if container is None:
        raise ClassNotFound()
    found, total = await repository.students(*container, page)
    items = [
        ClassStudent(
            wonde_student_id=student.wonde_id,
            forename=student.forename,
            surname=student.surname,
            year_group=student.year_group,
            account=Ref(id=str(pupil.id), name=f"{pupil.first_name} {pupil.last_name}") if pupil else None,
        )
        for student, pupil in found
    ]
    return Page[ClassStudent](items=items, page=page.page, per_page=page.per_page, total=total)
