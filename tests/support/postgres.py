"""What a test run does when PostgreSQL is unreachable (the decision, apart from pytest)."""

from collections.abc import Mapping
from typing import Literal


def running_in_ci(environ: Mapping[str, str]) -> bool:
    """CI services (GitHub Actions, GitLab, ...) set `CI`; "false", "0", "no" or empty mean no."""
    return environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def when_postgres_is_unreachable(environ: Mapping[str, str]) -> Literal["fail", "skip"]:
    """Fail in CI, where a skip would pass a run that never touched PostgreSQL; skip (with a
    warning in the run's summary) on a developer's machine without a server."""
    return "fail" if running_in_ci(environ) else "skip"
