"""Tenancy lives in repositories: a query filtered by school outside a ``repository.py`` is a school's data
one forgotten ``where`` away from another school. This reads the code (no import) and fails on any
``Model.school_id`` expression, ``filter_by(school_id=...)`` or SQL text filtering on ``school_id``
outside the repositories, naming the file and line."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SQL_FILTER = re.compile(r"\bschool_id\s*(=|IN\b|ANY\b)", re.IGNORECASE)


def _allowed(path: Path) -> bool:
    return path.name == "repository.py" or path.parts[-2:] == ("models", path.name)


def _sql_school_filter(text: str) -> bool:
    return bool(SQL_FILTER.search(text) and re.search(r"\b(SELECT|UPDATE|DELETE|WHERE)\b", text))


def tenancy_findings(source: str, where: str) -> list[str]:
    findings = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "school_id"
            and isinstance(node.value, ast.Name)
            and node.value.id[:1].isupper()
        ):
            findings.append(f"{where}:{node.lineno}: {node.value.id}.school_id")
        elif isinstance(node, ast.Call) and any(k.arg == "school_id" for k in node.keywords):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "filter_by":
                findings.append(f"{where}:{node.lineno}: filter_by(school_id=...)")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _sql_school_filter(node.value):
            findings.append(f"{where}:{node.lineno}: SQL text filtering on school_id")
    return findings


def test_no_school_filter_outside_a_repository() -> None:
    findings = []
    for path in sorted([*ROOT.glob("app/**/*.py"), *ROOT.glob("workers/**/*.py")]):
        if not _allowed(path):
            findings += tenancy_findings(path.read_text(), str(path.relative_to(ROOT)))
    assert findings == [], "school filters outside a repository:\n" + "\n".join(findings)


def test_the_lint_sees_each_form_of_a_school_filter() -> None:
    source = """
select(Pupil).where(Pupil.school_id == school_id)
select(Band).filter_by(school_id=school_id)
text("SELECT id FROM pupils WHERE school_id = :school_id")
"""
    assert sorted(f.split(": ", 1)[1] for f in tenancy_findings(source, "x.py")) == [
        "Pupil.school_id",
        "SQL text filtering on school_id",
        "filter_by(school_id=...)",
    ]
    assert tenancy_findings("Pupil(school_id=school_id)\nrun.school_id\n", "x.py") == []
