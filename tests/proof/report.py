"""The counts ``make proof`` prints at the end: how many cases each proof ran, and how many lost or
duplicated anything (which must be 0 — a case that does also fails its test)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass


@dataclass
class Tally:
    cases: int = 0
    lost_or_duplicated: int = 0


TALLIES: defaultdict[str, Tally] = defaultdict(Tally)


def record(proof: str, *, cases: int = 1, lost_or_duplicated: int = 0) -> None:
    """Count ``cases`` run under ``proof`` (e.g. "faults: 429 on page 2 of a full read")."""
    tally = TALLIES[proof]
    tally.cases += cases
    tally.lost_or_duplicated += lost_or_duplicated


def summary() -> list[str]:
    if not TALLIES:
        return []
    width = max(len(name) for name in TALLIES)
    lines = [f"{'proof':<{width}}  {'cases':>7}  {'lost or duplicated':>18}"]
    for name in sorted(TALLIES):
        tally = TALLIES[name]
        lines.append(f"{name:<{width}}  {tally.cases:>7}  {tally.lost_or_duplicated:>18}")
    total = sum(t.cases for t in TALLIES.values()), sum(t.lost_or_duplicated for t in TALLIES.values())
    lines.append(f"{'total':<{width}}  {total[0]:>7}  {total[1]:>18}")
    return lines
