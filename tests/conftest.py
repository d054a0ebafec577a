"""Plugins only: the fixtures live in ``tests/fixtures/`` (what each module holds is in its docstring)."""

import pytest

# The shared helpers assert too: have pytest explain their failures as it does a test's.
pytest.register_assert_rewrite("tests.fixtures")

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.settings",
    "tests.fixtures.queue",
    "tests.fixtures.app",
    "tests.fixtures.wonde",
    "tests.fixtures.report",
]
