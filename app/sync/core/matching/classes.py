"""Which MIS class (or registration group) each band follows.

Two kinds of evidence: the band's name against the class's name (year number and letters parsed
apart, so "6Ma1", "6 Maple" and "Year 6 Maple" compare sensibly), and — much stronger — how many of
the band's pupils sit in that class, counted through anchors: pupils whose full name is exact and
unique on both sides. Overlap alone maps a band called "Mrs Khan".
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from anyascii import anyascii
from rapidfuzz import fuzz

from app.sync.core.matching.types import AppBand, Candidate, ClassMatch, MatchInput, MisContainer, Status

MIN_ANCHORS = 3  # fewer anchored pupils than this is too little overlap to act on alone
MIN_CONTAINMENT = 0.5  # share of the band's anchored pupils that must sit in the class
MIN_COVERAGE = 0.5  # share of the class those pupils must make up (else the band is a part of it)
MIN_MARGIN = 0.2  # lead over the runner-up, in combined score
NAME_WEIGHT = 0.4  # the rest is overlap
_WORDS = re.compile(r"\b(year|yr|class|form|group|set|the)\b")
_YEAR = re.compile(r"^\s*(?:y\s*)?(\d{1,2}|r)(?![0-9])")


@cache
def _class_name(name: str) -> tuple[int | None, str]:
    """(year number, the rest): "Year 6 Maple" -> (6, "maple"); "7x/Ma1" -> (7, "x ma1"); "Oak" -> (None, "oak")."""
    text = anyascii(name).casefold()
    text = _WORDS.sub(" ", text)
    text = re.sub(r"[^a-z0-9]+", " ", text).strip()
    match = _YEAR.match(text)
    if match is None:
        return None, text
    year = 0 if match.group(1) == "r" else int(match.group(1))
    return year, text[match.end() :].strip()


@cache
def name_similarity(band: str, container: str) -> float:
    """0..1: half for the year number, half for the rest; the plain string ratio when years are missing."""
    band_year, band_rest = _class_name(band)
    class_year, class_rest = _class_name(container)
    rest = fuzz.ratio(band_rest.replace(" ", ""), class_rest.replace(" ", "")) / 100 if band_rest or class_rest else 1.0
    if band_year is None or class_year is None:
        return rest if band_year is None and class_year is None else 0.8 * rest
    return 0.5 * (band_year == class_year) + 0.5 * rest


@dataclass(frozen=True)
class ClassMapping:
    """The class matches, and the confirmed band -> container links pupil matching may rely on."""

    matches: tuple[ClassMatch, ...]
    confirmed: Mapping[str, str]
    # For bands left to the admin: the classes they might follow. Pupil matching treats a student in
    # none of them as outside the band's class.
    possible: Mapping[str, frozenset[str]]


def representatives(data: MatchInput) -> dict[str, str]:
    """Containers with exactly the same members are one choice (a primary's class "Oak" and its
    registration group "Oak"): each maps to one representative, a class before a group."""
    by_members: dict[frozenset[str], list[MisContainer]] = defaultdict(list)
    for container in data.containers:
        by_members[data.members.get(container.id, frozenset())].append(container)
    chosen: dict[str, str] = {}
    for members, same in by_members.items():
        if not members:
            for container in same:
                chosen[container.id] = container.id
            continue
        best = min(same, key=lambda c: (c.kind != "class", c.name, c.id))
        for container in same:
            chosen[container.id] = best.id
    return chosen


def _score_band(
    band: AppBand,
    anchored: list[str],
    containers: Mapping[str, MisContainer],
    members: Mapping[str, frozenset[str]],
    student_reps: Mapping[str, list[str]],
) -> list[tuple[float, str, tuple[str, ...]]]:
    counts: Counter[str] = Counter(rep for student in anchored for rep in student_reps.get(student, ()))
    # Without overlap, only the name can suggest a class: look at those of the same year (or all).
    named: set[str] = set()
    if not counts:
        year = _class_name(band.name)[0]
        named = {
            rep_id
            for rep_id, container in containers.items()
            if (year is None or _class_name(container.name)[0] in (year, None))
            and name_similarity(band.name, container.name) >= 0.75
        }
    scored: list[tuple[float, str, tuple[str, ...]]] = []
    similarities = {rep_id: name_similarity(band.name, containers[rep_id].name) for rep_id in set(counts) | named}
    # A band named after its teacher says nothing by its name: then only the overlap counts.
    name_weight = NAME_WEIGHT if max(similarities.values(), default=0.0) >= 0.5 else 0.0
    for rep_id, similarity in similarities.items():
        container = containers[rep_id]
        overlap = counts.get(rep_id, 0)
        containment = overlap / len(anchored) if anchored else 0.0
        coverage = overlap / max(len(members.get(rep_id, ())), 1)
        # Overlap both ways (harmonic mean): a maths set holding half the form is not the form.
        both_ways = 2 * containment * coverage / (containment + coverage) if overlap else 0.0
        combined = (1 - name_weight) * both_ways + name_weight * similarity
        evidence = (
            f"{overlap} of {len(anchored)} recognised pupils are in {container.name}",
            f"{round(coverage * 100)}% of {container.name} is in this band",
            f"name similarity {round(similarity * 100)}%",
        )
        scored.append((combined, rep_id, evidence))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return scored


def match_classes(data: MatchInput, anchors: Mapping[str, str], reps: Mapping[str, str]) -> ClassMapping:
    containers = {c.id: c for c in data.containers if reps[c.id] == c.id}
    members = {rep: data.members.get(rep, frozenset()) for rep in containers}
    student_reps: dict[str, list[str]] = defaultdict(list)
    for rep_id, ids in members.items():
        for student in ids:
            student_reps[student].append(rep_id)
    pupils_by_band: dict[str, list[str]] = defaultdict(list)
    for pupil in data.pupils:
        for band_id in pupil.band_ids:
            pupils_by_band[band_id].append(pupil.id)

    decided: dict[str, ClassMatch] = {}
    proposals: dict[str, ClassMatch] = {}
    for band in data.bands:
        if band.id in data.class_decisions:
            chosen = data.class_decisions[band.id]
            status: Status = "auto" if chosen is not None else "none"
            reason = "matched by the admin" if chosen is not None else "no action: the admin's choice"
            decided[band.id] = ClassMatch(band.id, chosen, status, 1.0 if chosen else 0.0, (reason,))
            continue
        anchored = [anchors[p] for p in pupils_by_band[band.id] if p in anchors]
        scored = _score_band(band, anchored, containers, members, student_reps)
        candidates = tuple(Candidate(rep, round(score, 3), evidence) for score, rep, evidence in scored[:3])
        if not scored:
            proposals[band.id] = ClassMatch(band.id, None, "none", 0.0, ("no class shares its pupils or its name",))
            continue
        best, rep_id, evidence = scored[0]
        runner_up = scored[1][0] if len(scored) > 1 else 0.0
        overlap = sum(1 for s in anchored if rep_id in student_reps.get(s, ()))
        containment = overlap / len(anchored) if anchored else 0.0
        coverage = overlap / max(len(members[rep_id]), 1)
        confident = (
            len(anchored) >= MIN_ANCHORS
            and containment >= MIN_CONTAINMENT
            and coverage >= MIN_COVERAGE
            and best - runner_up >= MIN_MARGIN
        )
        notes = evidence
        if containment >= MIN_CONTAINMENT and coverage < MIN_COVERAGE:
            notes += ("the band looks like part of this class: linking would add pupils to it",)
        proposals[band.id] = ClassMatch(
            band.id, rep_id, "auto" if confident else "review", round(best, 3), notes, candidates
        )

    # One class follows one band: a class two bands both claim goes to the admin for both.
    taken = {m.container_id for m in decided.values() if m.container_id}
    claims = Counter(m.container_id for m in proposals.values() if m.status == "auto")
    for band_id, proposal in proposals.items():
        if proposal.status == "auto" and (claims[proposal.container_id] > 1 or proposal.container_id in taken):
            proposals[band_id] = ClassMatch(
                band_id,
                proposal.container_id,
                "review",
                proposal.score,
                (*proposal.evidence, "another band also matches this class"),
                proposal.candidates,
            )
    matches = {**proposals, **decided}
    ordered = tuple(matches[band.id] for band in data.bands)
    confirmed = {
        m.band_id: reps.get(m.container_id, m.container_id) for m in ordered if m.status == "auto" and m.container_id
    }
    possible = {
        m.band_id: frozenset(c.id for c in m.candidates if c.score >= m.score - MIN_MARGIN)
        for m in ordered
        if m.status == "review" and m.candidates
    }
    return ClassMapping(ordered, confirmed, possible)
