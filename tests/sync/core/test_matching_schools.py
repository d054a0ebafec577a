"""The matching benchmark's problem generator keeps its promises: deterministic, labels consistent with
the data, noise tags that describe what was typed, and adversarial cases built as their suites say."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from tests.fixtures.matching_schools import (
    DIMINUTIVES,
    SUITES,
    Problem,
    drop_accents,
    fold,
    namesake_same_class,
    primary,
    rollover,
    secondary,
    typo,
)

KNOWN_TAGS = {
    "legal", "nick", "middle", "trunc_fn", "initial_fn", "typo_fn", "surname_change", "dbl_part", "joined",
    "punct", "initial_sn", "typo_sn", "swapped", "accents", "case", "moved", "stale_year", "leaver",
}  # fmt: skip


@pytest.fixture(scope="module")
def school() -> Problem:
    return secondary(7)


def test_the_same_seed_gives_the_same_problem() -> None:
    assert primary(3) == primary(3)
    assert primary(3).data != primary(4).data


def test_labels_point_at_real_records(school: Problem) -> None:
    students = {s.id for s in school.data.students}
    containers = {c.id for c in school.data.containers}
    linked = [student for student in school.truth.values() if student is not None]
    assert set(linked) <= students
    assert len(linked) == len(set(linked))  # one account per child outside suite 5
    assert set(school.band_truth) == {b.id for b in school.data.bands}
    assert all(truth <= containers for truth in school.band_truth.values())
    assert set(school.tags) == set(school.origin) == set(school.truth) == {p.id for p in school.data.pupils}


def test_open_world_shares_are_about_four_per_cent(school: Problem) -> None:
    leavers = sum(1 for student in school.truth.values() if student is None)
    joiners = len(school.data.students) - sum(1 for student in school.truth.values() if student is not None)
    assert 0.025 < leavers / len(school.truth) < 0.055
    assert 0.025 < joiners / len(school.data.students) < 0.055


def test_a_band_holds_mostly_the_members_of_the_containers_it_follows(school: Problem) -> None:
    truth = school.truth
    for band in school.data.bands:
        pupils = [truth[p.id] for p in school.data.pupils if band.id in p.band_ids]
        for container in school.band_truth[band.id]:
            members = school.data.members[container]
            assert sum(student in members for student in pupils) >= 0.75 * len(pupils)


def test_tags_describe_what_was_typed(school: Problem) -> None:
    pupils = {p.id: p for p in school.data.pupils}
    nicknames = {name for names in DIMINUTIVES.values() for name in names}
    seen: Counter[str] = Counter()
    for pupil_id, tags in school.tags.items():
        first, last = pupils[pupil_id].first_name, pupils[pupil_id].last_name
        seen.update(tags)
        assert set(tags) <= KNOWN_TAGS
        if "case" in tags:
            assert f"{first}{last}".islower() or f"{first}{last}".isupper()
        if "accents" in tags:
            assert f"{first}{last}".isascii()
        if "initial_sn" in tags and "swapped" not in tags:
            assert len(last.rstrip(".")) == 1
        if "nick" in tags and not {"case", "accents", "swapped"} & set(tags):
            assert first in nicknames
    assert {"nick", "typo_fn", "typo_sn", "legal", "leaver", "moved", "stale_year", "accents"} <= set(seen)


@pytest.mark.parametrize(
    ("suite", "tag", "ambiguous"),
    [
        ("adv1_namesake_other_class", "adv_namesake_other_class", 0),
        ("adv2_namesake_same_class_dated", "adv_namesake_same_class", 0),
        ("adv2b_namesake_same_class_undated", "adv_namesake_same_class", 0),
        ("adv3_twin_initials", "adv_twin_initials", 6),
        ("adv4_alex", "adv_alex", 5),
        ("adv5_duplicate_account", "adv_duplicate", 8),
    ],
)
def test_each_suite_plants_its_attack(suite: str, tag: str, ambiguous: int) -> None:
    problem = SUITES[suite](1)
    assert any(tag in tags for tags in problem.tags.values())
    assert len(problem.must_review) == ambiguous


def test_the_no_context_suite_has_no_bands_and_no_years() -> None:
    problem = SUITES["adv6_no_context"](1)
    assert problem.data.bands == ()
    assert all(p.year_group is None and not p.band_ids for p in problem.data.pupils)


def test_rollover_bands_show_last_years_number() -> None:
    problem = rollover(2)
    containers = {c.id: c for c in problem.data.containers}
    for band in problem.data.bands:
        truth = problem.band_truth[band.id]
        if truth and band.year_group is not None:
            assert {containers[c].year_group for c in truth} == {band.year_group + 1}
    years = Counter(s.year_group for s in problem.data.students if s.id in set(problem.truth.values()))
    assert 7 not in years  # the new intake has no accounts yet


def test_a_same_class_namesake_leaver_is_older_than_the_joiners_admission() -> None:
    problem = namesake_same_class(5)
    students = {s.id: s for s in problem.data.students}
    pupils = {p.id: p for p in problem.data.pupils}
    attackers = [p for p, tags in problem.tags.items() if "adv_namesake_same_class" in tags]
    assert len(attackers) == 4
    linked = set(problem.truth.values())
    for pupil_id in attackers:
        pupil = pupils[pupil_id]
        namesakes = [
            s
            for s in students.values()
            if (fold(s.forename), fold(s.surname)) == (fold(pupil.first_name), fold(pupil.last_name))
        ]
        assert len(namesakes) == 1 and namesakes[0].id not in linked
        assert pupil.created_on is not None and namesakes[0].admitted_on is not None
        assert pupil.created_on < namesakes[0].admitted_on
    for pupil_id, student_id in problem.truth.items():
        if student_id is not None:
            created, admitted = pupils[pupil_id].created_on, students[student_id].admitted_on
            assert created is not None and admitted is not None and created >= admitted


def test_typo_makes_one_edit_and_spares_short_names() -> None:
    rng = random.Random(1)
    for name in ("Oliver", "Wiśniewski", "Chloe", "Ava"):
        slipped = typo(rng, name)
        if len(name) < 4:
            assert slipped is None
        else:
            assert slipped is not None and slipped != name and slipped[0] == name[0]
            assert abs(len(slipped) - len(name)) <= 1


def test_dropping_accents_covers_letters_nfkd_keeps() -> None:
    assert drop_accents("Zoë Łukasz Şahin Yılmaz") == "Zoe Lukasz Sahin Yilmaz"
