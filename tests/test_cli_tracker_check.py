"""`itr check` validates the Jira configuration against the live (test) server."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import cli
from jira_test_server import INTEGRATION_USER, JiraTestServer
from tests.support.devserver import free_port

runner = CliRunner()


@pytest.fixture(scope="module")
def jira() -> Iterator[JiraTestServer]:
    with JiraTestServer() as server:
        yield server


def write_config(path: Path, jira: JiraTestServer, project: str, api_token: str) -> Path:
    return jira.write_itr_config(
        path, webhook_secret="s3cret", products={"edge-router": project}, api_token=api_token
    )


def check_with(tmp_path: Path, config: Path) -> str:
    (tmp_path / "itr.db").touch()
    env = {
        "ITR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'itr.db'}",
        "ITR_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "ITR_TRACKER_CONFIG": str(config),
    }
    result = runner.invoke(cli.app, ["check"], env=env)
    assert result.exit_code == 1  # Temporal is unreachable in these tests, on purpose
    return result.output


def test_a_correct_tracker_configuration_passes_the_check(
    jira: JiraTestServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "jira.yaml", jira, "RND", INTEGRATION_USER.api_token)
    assert "tracker   ok" in check_with(tmp_path, config)


def test_an_unknown_project_and_bad_credentials_are_named(
    jira: JiraTestServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "jira.yaml", jira, "NOPE", INTEGRATION_USER.api_token)
    output = check_with(tmp_path, config)
    assert "tracker   FAIL" in output
    assert "jira products.edge-router.project_key: project 'NOPE' does not exist" in output
    wrong = write_config(tmp_path / "bad.yaml", jira, "RND", "wrong-token")
    assert "jira auth: could not authenticate" in check_with(tmp_path, wrong)


def test_an_invalid_tracker_file_is_reported_by_field(tmp_path: Path) -> None:
    config = tmp_path / "jira.yaml"
    config.write_text(yaml.safe_dump({"jira": {"url": "not a url", "products": {}}}))
    output = check_with(tmp_path, config)
    assert "tracker   FAIL" in output
    assert "ITR_TRACKER_CONFIG" in output
    missing = check_with(tmp_path, tmp_path / "absent.yaml")
    assert "cannot read it" in missing
