"""``bandsync sandbox`` serves a school; ``bandsync sandbox-admin`` drives a running sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from app import cli
from tests.fixtures.database import ROOT
from tests.fixtures.sandbox import Sandbox


def admin(sandbox: Sandbox, capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert cli.main(["sandbox-admin", "--url", sandbox.server.root_url, *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_sandbox_admin_commands(sandbox: Sandbox, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    made = admin(sandbox, capsys, "generate", "--phase", "primary", "--pupils", "40", "--seed", "5")
    assert {row["school_id"] for row in admin(sandbox, capsys, "schools")} == {sandbox.school_id, made["school_id"]}
    joined = admin(sandbox, capsys, "event", made["school_id"], "joiner", "--arg", "year=R")
    assert joined["year"] == "R"
    dump_file = tmp_path / "dump.json"
    dump_file.write_text(json.dumps(admin(sandbox, capsys, "dump", made["school_id"])))
    assert admin(sandbox, capsys, "load", str(dump_file))["school_id"] == made["school_id"]
    rule = admin(sandbox, capsys, "fault", "add", "--kind", "429", "--endpoint", "students", "--retry-after", "3")
    assert (rule["kind"], rule["retry_after"]) == ("429", 3)
    assert len(admin(sandbox, capsys, "fault", "list")) == 1
    admin(sandbox, capsys, "fault", "clear")
    assert admin(sandbox, capsys, "stats")["total"] == 0
    assert admin(sandbox, capsys, "clock", "60")["now"]["timezone"] == "UTC"
    sent = admin(
        sandbox, capsys, "webhook", made["school_id"], "http://127.0.0.1:9/closed", "--type", "schoolMigration"
    )
    assert sent["status"] is None and sent["payload"]["payload_type"] == "schoolMigration"
    changed = admin(sandbox, capsys, "access", made["school_id"], "pending", "--audited", "false")
    assert (changed["access"], changed["audited"]) == ("pending", False)
    state = admin(sandbox, capsys, "state")
    assert len(state["app_token"]) == 40
    assert {row["school_id"]: row["access"] for row in state["schools"]}[made["school_id"]] == "pending"
    assert admin(sandbox, capsys, "event", made["school_id"], "staff_joiner")["kind"] == "staff_joiner"


def test_sandbox_admin_reports_refusals(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sandbox-admin", "--url", sandbox.server.root_url, "event", sandbox.school_id, "leaver", "--arg", "x=1"]
    assert cli.main(argv) == 1
    assert "422" in capsys.readouterr().err


def test_sandbox_command_serves_a_school_and_writes_where(tmp_path: Path) -> None:
    where = tmp_path / "school.json"
    command = [sys.executable, "-m", "app.cli", "sandbox", "--port", "0", "--phase", "primary", "--pupils", "35"]
    process = subprocess.Popen(  # noqa: S603 (our own command)
        [*command, "--write-school", str(where)],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path)},  # its record for sandbox-admin, not the developer's
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not where.exists() or not where.read_text().endswith("\n"):
            assert process.poll() is None and time.monotonic() < deadline, "the sandbox did not start"
            time.sleep(0.05)
        school = json.loads(where.read_text())
        headers = {"Authorization": f"Bearer {school['token']}"}
        response = httpx.get(f"{school['base_url']}/schools/{school['school_id']}/students", headers=headers)
        assert response.status_code == 200 and len(response.json()["data"]) == 35
        listed = httpx.get(f"{school['base_url']}/schools", headers={"Authorization": f"Bearer {school['app_token']}"})
        assert [row["id"] for row in listed.json()["data"]] == [school["school_id"]]
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert school["token"] in output and f"app token {school['app_token']}" in output
