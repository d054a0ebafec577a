"""Benchmark: the matching engine on generated schools and the adversarial suites (matching.md §6).

    .venv/bin/python -m bench.matching [--seeds 20] [--only secondary --only adv4_alex] [--show 40]

For each scenario (secondary, primary, rollover) and each adversarial suite, over N seeds, it runs
``match`` and prints a Markdown table: wrong automatic pupil and class links (the target is 0 everywhere
except suite 2b, the residual risk), the rule-of-three 95% bound when there are none, recall, the share
sent to review, class outcomes and the time of the ``match`` call alone. Then misses by noise tag and by
name origin, and every wrong link with its typed name, tags and truth, for the engine's author.

Problems are generated before the clock starts; one untimed warm-up call absorbs one-off loading.
No database is needed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from app.sync.core.matching import match
from tests.fixtures.matching_schools import (
    RESIDUAL_RISK,
    SCENARIOS,
    SUITES,
    Problem,
    describe_band,
    describe_pupil,
    evaluate,
    primary,
)

CLEAN = "(no noise)"
NO_CONTEXT = "adv6_no_context"


@dataclass
class Tally:
    """Everything counted for one scenario or suite, summed over its seeds."""

    schools: int = 0
    pupils: int = 0
    with_partner: int = 0
    auto: int = 0
    correct: int = 0
    wrong: int = 0
    guessed: int = 0
    review: int = 0
    classes: Counter[str] = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)
    tag_total: Counter[str] = field(default_factory=Counter)
    tag_missed: Counter[str] = field(default_factory=Counter)
    origin_total: Counter[str] = field(default_factory=Counter)
    origin_missed: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)  # described misses of the tags asked for (--misses)

    def add(self, other: Tally) -> None:
        for name in ("schools", "pupils", "with_partner", "auto", "correct", "wrong", "guessed", "review"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("classes", "tag_total", "tag_missed", "origin_total", "origin_missed"):
            getattr(self, name).update(getattr(other, name))
        self.seconds += other.seconds


def run_one(problem: Problem, tally: Tally, list_misses: frozenset[str] = frozenset()) -> None:
    """Match one problem (only the ``match`` call is timed) and add its outcome to ``tally``; misses of
    pupils with a tag in ``list_misses`` are described in ``tally.misses``."""
    started = time.perf_counter()
    result = match(problem.data)
    tally.seconds.append(time.perf_counter() - started)
    outcome = evaluate(problem, result)
    tally.schools += 1
    tally.pupils += outcome.app_pupils
    tally.with_partner += outcome.with_partner
    tally.auto += outcome.auto
    tally.correct += outcome.auto_correct
    tally.wrong += len(outcome.wrong)
    tally.guessed += len(outcome.guessed)
    tally.review += outcome.review
    tally.classes.update(outcome.classes)
    missed = set(outcome.missed)
    for pupil_id, true_id in problem.truth.items():
        if true_id is None:
            continue
        tags = problem.tags[pupil_id] or (CLEAN,)
        for tag in tags:
            tally.tag_total[tag] += 1
            tally.tag_missed[tag] += pupil_id in missed
        if pupil_id in missed and list_misses & {*tags, "all"}:
            tally.misses.append(describe_pupil(problem, result, pupil_id))
        tally.origin_total[problem.origin[pupil_id]] += 1
        tally.origin_missed[problem.origin[pupil_id]] += pupil_id in missed
    for pupil_id in (*outcome.wrong, *outcome.guessed):
        label = "WRONG" if pupil_id in outcome.wrong else "GUESSED (ambiguous by construction)"
        tally.failures.append(f"{label} {describe_pupil(problem, result, pupil_id)}")
    tally.failures += [f"WRONG CLASS {describe_band(problem, result, b)}" for b in outcome.wrong_bands]


def run(names: Iterable[str], seeds: Iterable[int], list_misses: frozenset[str] = frozenset()) -> dict[str, Tally]:
    factories: dict[str, Callable[[int], Problem]] = {**SCENARIOS, **SUITES}
    tallies: dict[str, Tally] = {}
    for name in names:
        tally = tallies.setdefault(name, Tally())
        for seed in seeds:
            print(f"  {name} seed {seed}", end="\r", file=sys.stderr, flush=True)
            run_one(factories[name](seed), tally, list_misses)
    print(" " * 60, end="\r", file=sys.stderr)
    return tallies


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _bound(tally: Tally) -> str:
    """Rule of three: with n automatic links and none wrong, the 95% upper bound on the error rate is 3/n."""
    wrong = tally.wrong + tally.guessed + tally.classes["auto_wrong"]
    return f"{3 / tally.auto:.1e}" if wrong == 0 and tally.auto else "-"


def main_table(tallies: dict[str, Tally]) -> list[str]:
    lines = [
        "| scenario | schools | app pupils | auto links | wrong pupil links | wrong class links | 95% bound "
        "| recall | review | classes ok / wrong / review / none | time median | time max |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    total = Tally()
    for name, tally in tallies.items():
        label = f"{name} (residual risk)" if name in RESIDUAL_RISK else name
        lines.append(_row(label, tally))
        if name not in RESIDUAL_RISK:
            total.add(tally)
    if len(tallies) > 1:
        lines.append(_row("**all but residual risk**", total))
    return lines


def _row(label: str, tally: Tally) -> str:
    wrong = f"{tally.wrong}" + (f" (+{tally.guessed} guessed)" if tally.guessed else "")
    c = tally.classes
    classes = f"{c['auto_correct']} / {c['auto_wrong']} / {c['review']} / {c['none']}"
    classes += f" (+{c['left_alone']} stale left unmapped)" if c["left_alone"] else ""
    times = sorted(tally.seconds)
    timing = f"{statistics.median(times):.2f} s | {times[-1]:.2f} s" if times else "- | -"
    return (
        f"| {label} | {tally.schools} | {tally.pupils:,} | {tally.auto:,} | {wrong} | {c['auto_wrong']} "
        f"| {_bound(tally)} | {_share(tally.correct, tally.with_partner)} | {_share(tally.review, tally.pupils)} "
        f"| {classes} | {timing} |"
    )


def breakdown(tallies: dict[str, Tally], kind: str) -> list[str]:
    """Misses (true partner, not auto-linked to it) per noise tag or name origin, one column per scenario;
    adversarial suites 1-5 share one column (no-context has its own: it misses for another reason)."""
    columns: dict[str, Tally] = {}
    for name, tally in tallies.items():
        column = columns.setdefault("suites 1-5" if name in SUITES and name != NO_CONTEXT else name, Tally())
        column.add(tally)
    totals = {name: getattr(t, f"{kind}_total") for name, t in columns.items()}
    missed = {name: getattr(t, f"{kind}_missed") for name, t in columns.items()}
    keys = sorted({key for counts in totals.values() for key in counts}, key=lambda k: (k == CLEAN, k))
    lines = [
        f"| {kind} | " + " | ".join(f"{name} missed / pupils" for name in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for key in keys:
        cells = [
            f"{missed[name][key]} / {totals[name][key]} ({_share(missed[name][key], totals[name][key])})"
            if totals[name][key]
            else "-"
            for name in columns
        ]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20, help="seeds per scenario and suite (default 20)")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--only", action="append", choices=[*SCENARIOS, *SUITES], help="run only these")
    parser.add_argument("--show", type=int, default=40, help="wrong links (and misses) listed at most (default 40)")
    parser.add_argument(
        "--misses",
        action="append",
        default=[],
        metavar="TAG",
        help=f"also list missed pupils with TAG ({CLEAN!r}, all)",
    )
    args = parser.parse_args()
    match(primary(10_000).data)  # warm-up: tables and imports load once, outside the timings
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    tallies = run(args.only or [*SCENARIOS, *SUITES], seeds, frozenset(args.misses))
    print(f"Matching benchmark, seeds {seeds.start}-{seeds.stop - 1}\n")
    print("\n".join(main_table(tallies)))
    print("\nMisses by noise tag (a pupil with several tags counts under each):\n")
    print("\n".join(breakdown(tallies, "tag")))
    print("\nMisses by name origin:\n")
    print("\n".join(breakdown(tallies, "origin")))
    failures = [line for name, tally in tallies.items() if name not in RESIDUAL_RISK for line in tally.failures]
    residual = [line for name in RESIDUAL_RISK if name in tallies for line in tallies[name].failures]
    print(f"\nWrong or guessed automatic links: {len(failures)} (residual-risk suite: {len(residual)})")
    for line in failures[: args.show]:
        print(f"- {line}")
    if len(failures) > args.show:
        print(f"- ... and {len(failures) - args.show} more (--show)")
    if args.misses:
        misses = [line for tally in tallies.values() for line in tally.misses]
        print(f"\nMisses with tags {', '.join(args.misses)}: {len(misses)}")
        for line in misses[: args.show]:
            print(f"- {line}")


if __name__ == "__main__":
    main()
