"""`itr check`: what is wrong with a deployment's configuration, before anything starts.

Each check returns its problems as lines for the operator (empty: fine). The settings
check runs first; then each dependency is reached for real, within CHECK_TIMEOUT.
"""

import asyncio
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

from config.settings import Settings
from itr_cli.settings import redacted, split_address

CHECK_TIMEOUT = 5.0


def setting_problems(settings: Settings) -> list[str]:
    """What the Settings model accepts but a process would still trip over."""
    problems = []
    if settings.log_level.upper() not in logging.getLevelNamesMapping():
        problems.append(f"ITR_LOG_LEVEL: unknown level {settings.log_level!r}")
    for name in ("temporal_tls_cert", "temporal_tls_key", "temporal_tls_ca"):
        path = getattr(settings, name)
        if path is not None and not path.is_file():
            problems.append(f"ITR_{name.upper()}: no such file {path}")
    try:
        split_address(settings.temporal_address)
    except ValueError as error:
        problems.append(f"ITR_TEMPORAL_ADDRESS: {error}")
    return problems


def missing_sqlite_file(database_url: str) -> str | None:
    """The file of a SQLite URL when it does not exist (connecting would create it empty)."""
    try:
        url = make_url(database_url)
    except Exception:
        return None
    file = url.database if url.get_backend_name() == "sqlite" else None
    if not file or file == ":memory:" or file.startswith("file:") or Path(file).exists():
        return None
    return file


async def check_database(settings: Settings) -> list[str]:
    """The read model answers a round trip."""
    from db.session import Database

    missing = missing_sqlite_file(settings.database_url)
    if missing is not None:
        return [f"SQLite database {missing} does not exist yet (`itr migrate` creates it)"]
    try:
        database = Database(settings.database_url)
    except Exception as error:
        return [f"ITR_DATABASE_URL {redacted(settings.database_url)}: {error}"]
    try:
        await asyncio.wait_for(database.ping(), CHECK_TIMEOUT)
    except Exception as error:
        reason = str(error) or type(error).__name__
        return [f"database {redacted(settings.database_url)} unreachable: {reason}"]
    finally:
        await database.dispose()
    return []


async def check_temporal(settings: Settings) -> list[str]:
    """Temporal answers, and our namespace exists there."""
    from temporal_client import connect_temporal

    try:
        client = await asyncio.wait_for(connect_temporal(settings), CHECK_TIMEOUT)
        await asyncio.wait_for(
            client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=settings.temporal_namespace)
            ),
            CHECK_TIMEOUT,
        )
    except Exception as error:
        reason = str(error) or type(error).__name__
        return [
            f"Temporal at {settings.temporal_address} (namespace "
            f"{settings.temporal_namespace}) unreachable: {reason}"
        ]
    return []


async def check_tracker(settings: Settings) -> list[str]:
    """Problems with the R&D tracker (Jira) configuration, checked against the live server.

    Nothing to check without ITR_TRACKER_CONFIG; otherwise the YAML must parse and
    validate, and Jira must accept the credentials and know every project, issue type,
    priority, field and status the configuration names.
    """
    if settings.tracker_config is None:
        return []
    from integrations.jira import check_config, load_jira_config

    try:
        config = load_jira_config(settings.tracker_config)
    except OSError as error:
        return [f"ITR_TRACKER_CONFIG={settings.tracker_config}: cannot read it ({error})"]
    except ValidationError as error:
        return [
            f"ITR_TRACKER_CONFIG {'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}"
            for e in error.errors()
        ]
    except yaml.YAMLError as error:
        return [f"ITR_TRACKER_CONFIG={settings.tracker_config}: not valid YAML ({error})"]
    problems = await asyncio.to_thread(check_config, config)
    return [
        f"jira {problem.path}: {problem.message}"
        for problem in problems
        if problem.severity == "error"
    ]


CHECKS: dict[str, Callable[[Settings], Coroutine[Any, Any, list[str]]]] = {
    "database": check_database,
    "temporal": check_temporal,
    "tracker": check_tracker,
}
"""The dependencies `itr check` reaches, in the order it reports them."""


def run_checks(settings: Settings) -> dict[str, list[str]]:
    """Every check's problems by name, the settings first; all empty means ready to start."""

    async def reach_all() -> dict[str, list[str]]:
        return {name: await probe(settings) for name, probe in CHECKS.items()}

    return {"settings": setting_problems(settings), **asyncio.run(reach_all())}
