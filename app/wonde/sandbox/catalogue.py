"""What can be done to a running sandbox, in words: every MIS event, fault and webhook with its arguments.

This is the text of ``bandsync sandbox-admin --help`` (and the README's sandbox section says the
same). It imports nothing of the sandbox, so the ``bandsync`` command stays light; a test holds it
to the code: every event in ``admin.EVENTS`` with exactly its function's arguments, every fault kind,
rule field and endpoint in ``faults.py``, every webhook type in ``webhook.py``.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    name: str
    arguments: tuple[str, ...]  # as the code names them
    summary: str
    required: tuple[str, ...] = ()


# Every event argument is optional unless required; an omitted id is picked with the school's seeded generator.
EVENTS = (
    Entry("joiner", ("year",), "a new pupil joins YEAR (a year with forms if omitted): a form and that year's classes"),
    Entry("leaver", ("student_id",), "a pupil leaves: off every list, a `student` deletion row, memberships dropped"),
    Entry("return", ("student_id",), "a pupil who left comes back with the same id (`restored_at` set), re-placed"),
    Entry(
        "rename",
        ("student_id", "forename", "surname", "legal_forename", "legal_surname"),
        "a pupil's names change (none given: a new surname, legal and preferred)",
    ),
    Entry(
        "move",
        ("student_id", "from_class_id", "to_class_id"),
        "a pupil moves class (say, maths set 3 to 2) of the same subject and year; pupil and classes bumped",
    ),
    Entry(
        "change_year",
        ("student_id", "year"),
        "a pupil is kept back or moved up to YEAR: new YEAR group, form and classes",
        required=("year",),
    ),
    Entry("new_class", ("year", "size"), "a new class of SIZE pupils (8 by default) of YEAR, with a new id"),
    Entry("close_class", ("class_id",), "a class ends: off the list, a `class` deletion row, its pupils bumped"),
    Entry(
        "rollover",
        ("intake",),
        "a new academic year: the top year leaves, the rest move up, every class and group gets a new id, "
        "INTAKE pupils (as many as the old bottom year by default) join the bottom year",
    ),
    Entry(
        "migration",
        ("to_mis",),
        "the school changes MIS (SIMS to Arbor by default): new id, mis_id and upi for every pupil, class "
        "and group; names, UPNs and memberships stay",
    ),
    Entry(
        "exclude",
        ("student_id",),
        "a pupil goes on the school's exclude list: gone from every list and `students/{id}`, with no "
        "deletion row and no leaving date (not a leaver)",
    ),
    Entry("include", ("student_id",), "a pupil comes off the exclude list, seen again as before, re-placed"),
    Entry(
        "staff_joiner",
        ("class_id",),
        "a member of staff joins; with CLASS_ID they also teach that class (its main teacher if it has none)",
    ),
    Entry(
        "staff_leaver",
        ("employee_id",),
        "a member of staff leaves (an `employee` deletion row); a class they led passes to its co-teacher",
    ),
    Entry(
        "takeover",
        ("class_id", "employee_id"),
        "a teacher takes over a class as its main teacher; the one replaced leaves the class",
    ),
)

# A fault's own arguments; every kind also takes the rule options below.
FAULTS = (
    Entry("429", ("retry_after",), "Too Many Requests, with Retry-After: RETRY_AFTER seconds (default 1)"),
    Entry("500", (), "an internal server error"),
    Entry("slow", ("seconds",), "the answer comes SECONDS late (default 1, at most 300)"),
    Entry("truncated", (), "200, but only the first half of the body (not valid JSON)"),
    Entry("401", (), "the token is refused, as after a revoke"),
    Entry("423", (), "Locked: the school is inactive in Wonde"),
    Entry("503", (), "Service Unavailable"),
    Entry("html", (), "200, but the body is an HTML maintenance page (not JSON)"),
    Entry(
        "leaver_during_walk",
        (),
        "the first pupil in id order leaves just before the request is served: page numbers shift, and a "
        "read walking the pages skips a pupil",
    ),
    Entry("joiner_during_walk", (), "a pupil joins just before the request is served: a read may see one twice"),
    Entry(
        "rosters_undated",
        (),
        "with `updated_after`, the classes or groups list leaves out those whose only change is who is in "
        "them (or who teaches them): only the pupil's own record says they joined",
    ),
)

ENDPOINTS = (
    "any",
    "school",
    "meta",
    "students",
    "students-leaver",
    "classes",
    "groups",
    "employees",
    "deletions",
    "counts",
    "schools",
    "request-access",
    "revoke-access",
)
RULE_OPTIONS = (
    Entry("endpoint", (), f"which endpoint: {', '.join(ENDPOINTS)} (default any)"),
    Entry("school_id", (), "only requests for this school"),
    Entry("page", (), "only this page: `page`, or the page a `cursor` leads to (1 when neither)"),
    Entry("request", (), "the Nth API request counted from when the rule is added, and those after it"),
    Entry("times", (), "how many requests it hits: default 1, -1 for every one"),
)

WEBHOOKS = (
    Entry("schoolApproved", (), "approves access (a new token after a revoke) and sends the token"),
    Entry("accessRevoked", (), "revokes access, so the token stops working, and says so"),
    Entry("schoolMigration", (), "announces an MIS migration (the `migration` event makes one)"),
)


def _arguments(entry: Entry) -> str:
    return " ".join(f"{name}=..." if name in entry.required else f"[{name}=...]" for name in entry.arguments)


def _item(name: str, summary: str, indent: int = 2, width: int = 14) -> list[str]:
    head = f"{'':<{indent}}{name:<{max(width, len(name) + 1)}}"
    return textwrap.wrap(
        summary, 100, initial_indent=head, subsequent_indent=" " * len(head), break_on_hyphens=False
    ) or [head.rstrip()]


def _flag(field: str) -> str:
    """The ``sandbox-admin fault add`` option for a rule field, naming the field when they differ."""
    flag = "school" if field == "school_id" else field.replace("_", "-")
    return f"--{flag}" if flag == field else f"--{flag} ({field})"


def admin_help() -> str:
    """The epilog of ``bandsync sandbox-admin --help``."""
    lines = ["MIS events: event SCHOOL KIND [--arg NAME=VALUE ...]"]
    for entry in EVENTS:
        lines += _item(entry.name, _arguments(entry)) + _item("", entry.summary)
    lines += ["", "faults: fault add --kind KIND [rule options]"]
    for entry in FAULTS:
        flags = " ".join(_flag(name) for name in entry.arguments)
        lines += _item(entry.name, f"{flags}: {entry.summary}" if flags else entry.summary)
    lines.append("  rule options, for every kind:")
    lines += [line for entry in RULE_OPTIONS for line in _item(_flag(entry.name), entry.summary, 4, 22)]
    lines += ["", "webhooks: webhook SCHOOL URL --type TYPE"]
    lines += [line for entry in WEBHOOKS for line in _item(entry.name, entry.summary, 2, 17)]
    lines += [
        "",
        "--url defaults to http://127.0.0.1:$SANDBOX_PORT when SANDBOX_PORT is set, else to the sandbox",
        "`bandsync sandbox` last started (while it runs; https with its certificate after --tls), else",
        "http://127.0.0.1:8100.",
    ]
    return "\n".join(lines)
