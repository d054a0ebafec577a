"""``bandsync match`` over files it has never seen: the output contract and the bad-input errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from app import cli
from app.wonde.sandbox.generate import generate_school


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, dict[str, Any]]:
    dump = generate_school("primary", 60, 9)
    wonde = tmp_path / "school.json"
    wonde.write_text(json.dumps(dump), encoding="utf-8")
    roster = tmp_path / "roster.csv"
    with roster.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["pupil_id", "first_name", "last_name", "band", "year_group"])
        for index, student in enumerate(dump["students"][:-3]):  # the last three are joiners
            forms = [g["name"] for g in student["groups"]["data"] if g["type"] == "REGISTRATION"]
            pupil_id = f"P{index}" if index % 4 else ""  # some rows carry no id
            writer.writerow([pupil_id, student["forename"], student["surname"], f"Class {forms[0]}", ""])
        writer.writerow(["LEAVER", "Octavia", "Quennell-Brightwater", f"Class {forms[0]}", ""])
    return wonde, roster, dump


def test_the_output_contract(files: tuple[Path, Path, dict[str, Any]], tmp_path: Path) -> None:
    wonde, roster, dump = files
    out = tmp_path / "result.json"
    assert cli.main(["match", "--wonde", str(wonde), "--roster", str(roster), "--out", str(out)]) == 0
    result = json.loads(out.read_text(encoding="utf-8"))

    assert set(result) == {"classes", "pupils", "new_students"}
    bands = {row[3] for row in csv.reader(roster.read_text(encoding="utf-8").splitlines()) if row[3] != "band"}
    assert sorted(c["band"] for c in result["classes"]) == sorted(bands)
    for entry in result["classes"]:
        assert set(entry) == {"wonde_class_id", "band", "status", "score", "evidence"}
        assert entry["status"] in ("auto", "review", "none")
    assert len(result["pupils"]) == len(dump["students"]) - 3 + 1
    for entry in result["pupils"]:
        assert set(entry) == {"pupil_id", "wonde_student_id", "status", "score", "evidence", "candidates"}
        assert (entry["wonde_student_id"] is None) == (entry["status"] != "auto")
        for candidate in entry["candidates"]:
            assert set(candidate) == {"wonde_student_id", "score", "evidence"}
    by_id = {p["pupil_id"]: p for p in result["pupils"]}
    assert by_id["LEAVER"]["status"] == "none"
    truth = {f"P{i}": s["id"] for i, s in enumerate(dump["students"][:-3])}
    linked = [p for p in result["pupils"] if p["status"] == "auto"]
    assert len(linked) >= 0.9 * (len(dump["students"]) - 3)
    assert all(p["wonde_student_id"] == truth[p["pupil_id"]] for p in linked if p["pupil_id"] in truth)
    assert set(result["new_students"]) == {s["id"] for s in dump["students"][-3:]}


@pytest.mark.parametrize(
    ("wonde_text", "roster_text", "message"),
    [
        ("{not json", None, "not valid JSON"),
        ('{"students": [{"forename": "Amy"}]}', None, "students[0] cannot be read (fields: id)"),
        ('{"students": [{"id": "A1"}, {"id": "A1"}]}', None, "student A1 appears twice"),
        ('{"classes": []}', None, 'a "students" list'),
        (None, "pupil_id,first_name,last_name,band,year_group\nP1,Amy,Jones,4B,4\nP1,Ann,Jones,4B,4\n", "line 3"),
        (None, "id,name\n1,Amy\n", "line 1"),
    ],
    ids=["bad-json", "no-id", "duplicate-student", "no-students", "duplicate-pupil-id", "bad-header"],
)
def test_bad_files_are_clear_errors(
    files: tuple[Path, Path, dict[str, Any]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    wonde_text: str | None,
    roster_text: str | None,
    message: str,
) -> None:
    wonde, roster, _ = files
    if wonde_text is not None:
        wonde.write_text(wonde_text, encoding="utf-8")
    if roster_text is not None:
        roster.write_text(roster_text, encoding="utf-8")
    out = tmp_path / "result.json"
    assert cli.main(["match", "--wonde", str(wonde), "--roster", str(roster), "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
