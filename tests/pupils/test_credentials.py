"""Passwords are stored as argon2id hashes at OWASP's minimum cost (the test run hashes with a lighter
hasher, ``tests/fixtures/settings.py``; this pins the service's own)."""

from __future__ import annotations

import argon2
import pytest

from app.pupils import credentials
from tests.fixtures.settings import PRODUCTION_HASHER


def test_the_service_hashes_with_argon2id_at_owasps_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(credentials, "_HASHER", PRODUCTION_HASHER)
    password = credentials.new_password()
    stored = credentials.hash_password(password)
    parameters = argon2.extract_parameters(stored)
    assert parameters.type is argon2.Type.ID
    assert (parameters.time_cost, parameters.memory_cost, parameters.parallelism) == (2, 19456, 1)
    assert password not in stored
    assert credentials.verify_password(stored, password)
    assert not credentials.verify_password(stored, password + "0")


def test_the_light_test_hasher_still_hashes_for_real() -> None:
    stored = credentials.hash_password("otter042")
    assert stored.startswith("$argon2id$")
    assert credentials.verify_password(stored, "otter042")
    assert not credentials.verify_password(stored, "otter043")
