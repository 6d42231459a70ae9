"""The `itr` command line, the scripts and the deployment files, without running a server."""

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import cli
from config.settings import Settings
from devstack.demo import format_table
from devstack.temporal import port_in_use
from itr_cli.checks import CHECKS
from tests.support.devserver import free_port
from workflows.search_attributes import dev_server_flags

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_global_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands configure the root logger; in pytest that would outlive the test."""
    monkeypatch.setattr(cli, "configure_logging", lambda settings: None)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ITR_* from the developer's shell, and no .env file, reach these commands."""
    for name in list(os.environ):
        if name.startswith("ITR_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        (
            {"ITR_ENVIRONMENT": "production", "ITR_DATABASE_URL": "sqlite+aiosqlite:///x.db"},
            "ITR_DATABASE_URL must point at PostgreSQL in production",
        ),
        ({"ITR_ENVIRONMENT": "staging"}, "ITR_ENVIRONMENT: Input should be"),
        ({"ITR_API_PORT": "eighty"}, "ITR_API_PORT:"),
    ],
)
def test_check_names_each_invalid_setting_and_exits_1(env: dict[str, str], named: str) -> None:
    result = runner.invoke(cli.app, ["check"], env=env)
    assert result.exit_code == 1
    assert "settings  FAIL" in result.output
    assert named in result.output


def test_check_reports_an_unreachable_temporal_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "itr.db").touch()
    env = {
        "ITR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'itr.db'}",
        "ITR_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
    }
    result = runner.invoke(cli.app, ["check"], env=env)
    assert result.exit_code == 1, result.output
    assert "settings  ok" in result.output
    assert "database  ok" in result.output
    assert "temporal  FAIL" in result.output
    assert env["ITR_TEMPORAL_ADDRESS"] in result.output
    assert "tracker   ok" in result.output


def test_check_reports_settings_the_model_accepts_but_a_process_would_trip_over(
    tmp_path: Path,
) -> None:
    env = {
        "ITR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'itr.db'}",
        "ITR_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "ITR_LOG_LEVEL": "chatty",
        "ITR_TEMPORAL_TLS_CERT": str(tmp_path / "missing.pem"),
        "ITR_TEMPORAL_TLS_KEY": str(tmp_path / "missing.key"),
    }
    result = runner.invoke(cli.app, ["check"], env=env)
    assert result.exit_code == 1
    assert "settings  FAIL" in result.output
    assert "ITR_LOG_LEVEL: unknown level 'chatty'" in result.output
    assert f"ITR_TEMPORAL_TLS_CERT: no such file {tmp_path / 'missing.pem'}" in result.output


def test_check_exits_1_when_only_the_settings_are_wrong(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def reachable(settings: Settings) -> list[str]:
        return []

    for name in list(CHECKS):
        monkeypatch.setitem(CHECKS, name, reachable)
    result = runner.invoke(cli.app, ["check"], env={"ITR_LOG_LEVEL": "chatty"})
    assert "settings  FAIL" in result.output
    assert "database  ok" in result.output and "temporal  ok" in result.output
    assert result.exit_code == 1


def test_check_does_not_create_a_missing_sqlite_database(tmp_path: Path) -> None:
    env = {
        "ITR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'new' / 'itr.db'}",
        "ITR_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
    }
    result = runner.invoke(cli.app, ["check"], env=env)
    assert result.exit_code == 1
    assert "database  FAIL" in result.output
    assert "does not exist yet" in result.output
    assert not (tmp_path / "new").exists()


def test_dev_refuses_a_remote_temporal_address() -> None:
    result = runner.invoke(cli.app, ["dev"], env={"ITR_TEMPORAL_ADDRESS": "temporal:7233"})
    assert result.exit_code == 1
    assert "must be 127.0.0.1:<port>" in result.output


def test_port_in_use_sees_a_listener() -> None:
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert port_in_use("127.0.0.1", port)
    assert not port_in_use("127.0.0.1", free_port())


def test_demo_tokens_are_printed_as_an_aligned_table() -> None:
    table = format_table(("ROLE", "TOKEN"), [("admin", "demo-admin"), ("engineer", "t-2")])
    assert table.splitlines() == [
        "ROLE      TOKEN",
        "--------  ----------",
        "admin     demo-admin",
        "engineer  t-2",
    ]


# --- deployment files -----------------------------------------------------------------------


def compose() -> dict[str, object]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def services() -> dict[str, dict[str, object]]:
    found = compose()["services"]
    assert isinstance(found, dict)
    return found


def test_compose_has_the_production_services() -> None:
    assert {"postgres", "temporal", "temporal-ui", "api", "worker"} <= set(services())
    assert services()["postgres"]["image"] == "postgres:15"
    temporal = services()["temporal"]["image"]
    assert isinstance(temporal, str) and re.fullmatch(
        r"temporalio/auto-setup:\d+\.\d+\.\d+", temporal
    )
    worker = services()["worker"]
    assert worker["deploy"] == {"replicas": 2}
    for name in ("api", "worker"):
        assert "healthcheck" in services()[name]
        depends_on = services()[name]["depends_on"]
        assert isinstance(depends_on, dict)
        assert all("condition" in spec for spec in depends_on.values())
        assert depends_on["temporal-search-attributes"] == {
            "condition": "service_completed_successfully"
        }


def test_compose_registers_exactly_the_search_attributes_the_workflows_use() -> None:
    job = services()["temporal-search-attributes"]
    assert str(job["image"]).startswith("temporalio/admin-tools:")
    environment = job["environment"]
    assert isinstance(environment, dict)
    declared = set(str(environment["ITR_SEARCH_ATTRIBUTES"]).split())
    assert declared == set(dev_server_flags()[1::2])  # ALL_KEYS as Name=Type


def resolve(value: str) -> str:
    """Compose's `${VAR:-default}` / `${VAR:?message}` with no variables set."""
    return re.sub(
        r"\$\{(\w+)(?::([-?])([^}]*))?\}",
        lambda m: m.group(3) if m.group(2) == "-" else f"{m.group(1).lower()}-value",
        value,
    )


@pytest.mark.parametrize("service", ["api", "worker"])
def test_compose_environment_is_a_valid_production_configuration(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = services()[service]["environment"]
    assert isinstance(environment, dict)
    for name, value in environment.items():
        monkeypatch.setenv(name, resolve(str(value)))
    settings = Settings()
    assert settings.environment == "production"
    assert settings.database_url.startswith("postgresql+asyncpg://itr:")
    assert settings.temporal_address == "temporal:7233"


def test_compose_requires_the_database_passwords() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert "${ITR_DB_PASSWORD:?set ITR_DB_PASSWORD}" in text
    assert "${TEMPORAL_DB_PASSWORD:?set TEMPORAL_DB_PASSWORD}" in text


def test_image_runs_the_api_as_a_non_root_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert re.search(r"^USER itr$", dockerfile, re.MULTILINE)
    assert dockerfile.rstrip().endswith('CMD ["itr", "api"]')


# --- scripts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "scripts/test",
        "scripts/run",
        "scripts/i18n",
        ".ci/run",
        "deploy/temporal/create-search-attributes.sh",
        "deploy/postgres/init-itr-db.sh",
    ],
)
def test_scripts_are_executable_and_parse(path: str) -> None:
    script = ROOT / path
    assert os.access(script, os.X_OK), f"{path} is not executable"
    shell = "bash" if "bash" in script.read_text().splitlines()[0] else "sh"
    subprocess.run([shell, "-n", str(script)], check=True)


def test_ci_installs_the_browser_when_missing_then_runs_the_test_script() -> None:
    commands = [
        line.strip()
        for line in (ROOT / ".ci/run").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith("set ")
    ]
    assert commands[-1] == 'exec "$(dirname "$0")/../scripts/test"'
    install = commands[:-1]
    assert install[0].startswith("if ! command -v chromium") and install[-1] == "fi"
    assert install[1:-1] == ["apt-get update", "apt-get install -y chromium fonts-wqy-microhei"]
