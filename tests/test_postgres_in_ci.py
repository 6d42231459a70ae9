"""CI never passes without PostgreSQL; a developer's machine without it skips, visibly."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.postgres import when_postgres_is_unreachable


@pytest.mark.parametrize("value", ["true", "1", "True", "yes"])
def test_an_unreachable_postgres_fails_the_run_in_ci(value: str) -> None:
    assert when_postgres_is_unreachable({"CI": value}) == "fail"


@pytest.mark.parametrize("environ", [{}, {"CI": ""}, {"CI": "false"}, {"CI": "0"}])
def test_an_unreachable_postgres_skips_on_a_developer_machine(environ: dict[str, str]) -> None:
    assert when_postgres_is_unreachable(environ) == "skip"


ROOT = Path(__file__).resolve().parents[1]
ONE_POSTGRES_TEST = "tests/db/test_db_session.py::test_ping_succeeds_on_a_live_database[postgresql]"


def run_one_postgres_test_without_a_server(ci: str) -> subprocess.CompletedProcess[str]:
    """The real conftest in a child pytest, pointed at a port nothing listens on."""
    environ = {name: value for name, value in os.environ.items() if name != "CI"}
    environ |= {"CI": ci, "ITR_TEST_POSTGRES_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/x"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", ONE_POSTGRES_TEST, "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )


def test_ci_fails_the_postgres_tests_when_the_server_is_unreachable() -> None:
    result = run_one_postgres_test_without_a_server("true")
    assert result.returncode == 1, result.stdout
    assert "CI must test PostgreSQL" in result.stdout


def test_a_developer_run_skips_them_with_a_warning_of_its_own() -> None:
    result = run_one_postgres_test_without_a_server("")
    assert result.returncode == 0, result.stdout
    assert "PostgreSQL tests SKIPPED" in result.stdout
    assert "1 skipped" in result.stdout
