"""Issue 16, item 7: every MIS event, fault and webhook, with its arguments, is documented in
``bandsync sandbox-admin --help`` and in the README, and that list is the code's."""

from __future__ import annotations

import inspect
import re
from typing import get_args

import pytest

from app import cli
from app.wonde.sandbox import catalogue
from app.wonde.sandbox.admin import EVENTS
from app.wonde.sandbox.faults import Endpoint, FaultKind, FaultRule
from app.wonde.sandbox.webhook import WebhookType
from tests.fixtures.database import ROOT

FAULT_ARGUMENTS = {"retry_after", "seconds"}  # the rule fields only some kinds use


def readme_sandbox_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## The Wonde sandbox")
    return readme[start : readme.index("\n## ", start + 1)]


def admin_help(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        cli.main(["sandbox-admin", "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_the_catalogue_is_the_codes() -> None:
    documented = {entry.name: entry for entry in catalogue.EVENTS}
    assert set(documented) == set(EVENTS)
    for kind, event in EVENTS.items():
        parameters = {
            name: parameter
            for name, parameter in inspect.signature(event).parameters.items()
            if name not in ("state", "school_id")
        }
        assert documented[kind].arguments == tuple(parameters), kind
        # Required: no default, or one the event refuses (change_year checks its year itself).
        assert {n for n, p in parameters.items() if p.default is inspect.Parameter.empty} <= set(
            documented[kind].required
        ), kind
    assert [entry.name for entry in catalogue.FAULTS] == list(get_args(FaultKind))
    assert {name for entry in catalogue.FAULTS for name in entry.arguments} == FAULT_ARGUMENTS
    options = {entry.name for entry in catalogue.RULE_OPTIONS}
    assert options | FAULT_ARGUMENTS | {"kind"} == set(FaultRule.model_fields)
    assert set(catalogue.ENDPOINTS) == set(get_args(Endpoint))
    assert [entry.name for entry in catalogue.WEBHOOKS] == list(get_args(WebhookType))


def test_sandbox_admin_help_lists_every_event_fault_and_webhook(capsys: pytest.CaptureFixture[str]) -> None:
    text = admin_help(capsys)
    for kind, event in EVENTS.items():
        # An entry: its line, and the indented lines under it up to the next entry or blank line.
        entry = re.search(rf"^  {re.escape(kind)} .*\n(?:   +\S.*\n)*", text, re.MULTILINE)
        assert entry is not None, kind
        arguments = set(inspect.signature(event).parameters) - {"state", "school_id"}
        assert arguments == set(re.findall(r"(\w+)=\.\.\.", entry.group(0))), kind
    for kind in get_args(FaultKind):
        assert re.search(rf"^  {kind} ", text, re.MULTILINE), kind
    for field in set(FaultRule.model_fields) - {"kind"}:
        assert f"({field})" in text or f"--{field.replace('_', '-')}" in text, field
    for endpoint in get_args(Endpoint):
        assert endpoint in text
    for payload_type in get_args(WebhookType):
        assert re.search(rf"^  {payload_type} ", text, re.MULTILINE), payload_type
    assert "SANDBOX_PORT" in text


def test_the_readme_documents_every_event_fault_and_webhook() -> None:
    section = readme_sandbox_section()
    for kind, event in EVENTS.items():
        row = re.search(rf"^\| `{re.escape(kind)}` \|(.*)$", section, re.MULTILINE)
        assert row is not None, kind
        for argument in set(inspect.signature(event).parameters) - {"state", "school_id"}:
            assert f"`{argument}`" in row.group(1), (kind, argument)
    for kind in get_args(FaultKind):
        assert re.search(rf"^\| `{kind}` \|", section, re.MULTILINE), kind
    for field in set(FaultRule.model_fields) - {"kind"}:
        assert f"`{field}`" in section, field
    for endpoint in get_args(Endpoint):
        assert f"`{endpoint}`" in section, endpoint
    for payload_type in get_args(WebhookType):
        assert f"`{payload_type}`" in section, payload_type
    assert "`SANDBOX_PORT`" in section and "--tls" in section
