"""Issue 16, item 2: the sandbox over https with a self-signed certificate made at start, the school's
``region`` and the pagination links naming the https address; and item 7's ``sandbox-admin`` default
address (the sandbox ``bandsync sandbox`` started, or ``SANDBOX_PORT``)."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509

from app import cli
from app.wonde.sandbox.address import DEFAULT_URL, admin_target, announce, record_path, withdraw
from app.wonde.sandbox.dump import load_dump
from app.wonde.sandbox.server import SandboxServer, running_sandbox
from app.wonde.sandbox.tls import self_signed
from tests.fixtures.database import ROOT
from tests.fixtures.sandbox import generated_once


@pytest.fixture
def own_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary directory of this test's own, so the sandbox record of a developer's is left alone."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("SANDBOX_PORT", raising=False)
    return tmp_path


@pytest.fixture
def tls_sandbox(tmp_path: Path) -> Iterator[tuple[SandboxServer, str, ssl.SSLContext]]:
    with running_sandbox(tls=self_signed(tmp_path)) as server:
        school_id = load_dump(server.state, generated_once("secondary", 300, 7))
        assert server.tls is not None
        yield server, school_id, ssl.create_default_context(cafile=str(server.tls.cert))


def test_the_certificate_names_the_local_addresses(tmp_path: Path) -> None:
    files = self_signed(tmp_path, ("sandbox.test", "0.0.0.0"))  # noqa: S104 (a bind address is not a name)
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names.get_values_for_type(x509.DNSName)) == {"localhost", "sandbox.test"}
    assert set(names.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    assert cert.issuer == cert.subject  # self-signed: clients trust this very file
    assert files.key.stat().st_mode & 0o077 == 0


def test_over_https_the_region_and_the_links_are_https(tls_sandbox: tuple[SandboxServer, str, ssl.SSLContext]) -> None:
    server, school_id, trust = tls_sandbox
    assert server.base_url == f"https://127.0.0.1:{server.port}/v1.0"
    headers = {"Authorization": f"Bearer {server.state.school(school_id).token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, verify=trust) as api:
        region = api.get(f"/schools/{school_id}").json()["data"]["region"]
        assert region["domain"] == f"127.0.0.1:{server.port}"
        assert region["school_url"] == f"https://127.0.0.1:{server.port}/v1.0/schools/{school_id}"
        pagination = api.get(f"/schools/{school_id}/students/", params={"per_page": 100}).json()["meta"]["pagination"]
        assert pagination["next"].startswith(f"https://{region['domain']}/v1.0/schools/{school_id}/students/?")
        assert api.get(pagination["next"]).status_code == 200
    with pytest.raises(httpx.ConnectError):  # the certificate is no public CA's
        httpx.get(f"{server.base_url}/schools/{school_id}", headers=headers)
    with pytest.raises(httpx.RemoteProtocolError):  # https only
        httpx.get(f"http://{server.domain}/v1.0/schools/{school_id}", headers=headers)


def test_sandbox_tls_command_prints_and_writes_its_certificate(tmp_path: Path) -> None:
    where = tmp_path / "school.json"
    command = [sys.executable, "-m", "app.cli", "sandbox", "--tls", "--port", "0", "--pupils", "35"]
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    process = subprocess.Popen(  # noqa: S603 (our own command)
        [*command, "--phase", "primary", "--write-school", str(where)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        school = _wait_for(where, process)
        assert school["base_url"].startswith("https://127.0.0.1:") and Path(school["ca_cert"]).is_file()
        assert Path(school["ca_cert"]).parent.parent == tmp_path
        record = json.loads((tmp_path / record_path().name).read_text())
        assert record == {
            "url": school["base_url"].removesuffix("/v1.0"),
            "ca_cert": school["ca_cert"],
            "pid": process.pid,
        }
        trust = ssl.create_default_context(cafile=school["ca_cert"])
        url = f"{school['base_url']}/schools/{school['school_id']}/students/"
        response = httpx.get(url, auth=(school["token"], ""), verify=trust)
        assert response.status_code == 200 and len(response.json()["data"]) == 35
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert f"certificate {school['ca_cert']}" in output
    assert not Path(school["ca_cert"]).parent.exists()  # the key goes with the server
    assert not (tmp_path / record_path().name).exists()


def _wait_for(where: Path, process: subprocess.Popen[str]) -> Any:
    deadline = time.monotonic() + 30
    while not where.exists() or not where.read_text().endswith("\n"):
        assert process.poll() is None and time.monotonic() < deadline, "the sandbox did not start"
        time.sleep(0.05)
    return json.loads(where.read_text())


def test_sandbox_admin_finds_the_sandbox_it_was_started_as(
    tls_sandbox: tuple[SandboxServer, str, ssl.SSLContext], own_tempdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server, school_id, _ = tls_sandbox
    assert server.tls is not None
    assert admin_target(None, {}).url == DEFAULT_URL
    record = announce(server.root_url, server.tls.cert)
    assert cli.main(["sandbox-admin", "schools"]) == 0  # https, trusting the recorded certificate
    assert [row["school_id"] for row in json.loads(capsys.readouterr().out)] == [school_id]
    assert admin_target(None, {"SANDBOX_PORT": str(server.port)}) == admin_target(None, {})
    assert admin_target(None, {"SANDBOX_PORT": "8999"}).url == "http://127.0.0.1:8999"
    assert admin_target(f"{server.root_url}/", {}).ca_cert == str(server.tls.cert)
    assert admin_target("http://elsewhere:1", {}).ca_cert is None
    withdraw(record)
    assert not record.exists() and admin_target(None, {}).url == DEFAULT_URL


def test_a_record_left_by_a_dead_sandbox_is_ignored(own_tempdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    record_path().write_text(json.dumps({"url": "https://127.0.0.1:1", "ca_cert": None, "pid": int(dead.stdout)}))
    assert admin_target(None, {}).url == DEFAULT_URL
    monkeypatch.setenv("SANDBOX_PORT", "eighty")
    with pytest.raises(SystemExit, match="SANDBOX_PORT"):
        cli.main(["sandbox-admin", "stats"])
