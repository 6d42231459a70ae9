"""A rolling upgrade on the real dev server: two builds of the worker side by side.

The old build is the deployment's current version; an issue is opened and worked on it; the
new build starts next to it and is promoted; the old one is drained. The open issue moves
to the new build at its next workflow task (AUTO_UPGRADE), replays its history there and
completes on it, with no workflow task failing.
"""

from datetime import timedelta
from importlib.metadata import version

import pytest
from pydantic import ValidationError
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.common import VersioningBehavior

from config.settings import Settings
from db.session import Database
from tests.integration.conftest import (
    CUSTOMER,
    ENGINEER,
    open_issue,
    running_stack,
    unique,
)
from worker import (
    build_worker,
    current_build_id,
    deployment_config,
    ensure_current_version,
    set_current_version,
)

pytestmark = pytest.mark.timeout(120)


async def test_an_open_issue_moves_to_the_promoted_build_and_completes_there(
    database: Database, temporal_client: Client
) -> None:
    deployment = unique("itr-deploy")
    async with running_stack(
        database,
        temporal_client,
        worker_versioning=True,
        worker_deployment=deployment,
        worker_build_id="1.0.0",
        reopen_window=timedelta(seconds=1),
    ) as old:
        assert await current_build_id(temporal_client, old.settings) is None
        assert await ensure_current_version(temporal_client, old.settings)  # first build
        assert await current_build_id(temporal_client, old.settings) == "1.0.0"
        api = old.api()
        issue = await open_issue(api, key=unique("upgrade"))
        issue_id = issue["id"]
        ack = await api.post(f"/issues/{issue_id}/acknowledge", json={}, headers=ENGINEER)
        assert ack.status_code == 200, ack.text

        new_settings = old.settings.model_copy(update={"worker_build_id": "1.1.0"})
        async with build_worker(temporal_client, new_settings, database, old.executor):
            assert not await ensure_current_version(temporal_client, new_settings)
            await set_current_version(temporal_client, new_settings)  # promote
            assert await current_build_id(temporal_client, old.settings) == "1.1.0"
            await old.stop_worker()  # drain the old build: nothing may still need it

            for path, body, headers in [
                ("comments", {"body": "Try firmware 5.2.1.", "visibility": "public"}, ENGINEER),
                ("resolution", {"summary": "Firmware 5.2.1 fixes it."}, ENGINEER),
                ("confirmation", {"accept": True, "satisfaction": 5}, CUSTOMER),
            ]:
                answer = await api.post(f"/issues/{issue_id}/{path}", json=body, headers=headers)
                assert answer.status_code == 200, f"{path}: {answer.text}"
            handle = temporal_client.get_workflow_handle(f"issue-{issue_id}")
            outcome = await handle.result()
            assert outcome["state"] == "closed", outcome

            history = await handle.fetch_history()
    assert not [
        e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    ]
    builds = [
        e.workflow_task_completed_event_attributes.deployment_version.build_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    ]
    first_new = builds.index("1.1.0")
    assert set(builds[:first_new]) == {"1.0.0"}, builds  # opened and worked on the old build
    assert set(builds[first_new:]) == {"1.1.0"}, builds  # finished on the new one


def test_a_worker_declares_its_deployment_and_build_and_upgrades_open_issues() -> None:
    settings = Settings(worker_deployment="itr-eu", worker_build_id="2.3.1", worker_versioning=True)
    config = deployment_config(settings)
    assert config.version.to_canonical_string() == "itr-eu.2.3.1"
    assert config.use_worker_versioning
    assert config.default_versioning_behavior == VersioningBehavior.AUTO_UPGRADE
    unversioned = deployment_config(Settings())
    assert unversioned.version.build_id == version("itr")  # the package version by default
    assert not unversioned.use_worker_versioning


def test_a_deployment_name_with_a_dot_is_refused() -> None:
    with pytest.raises(ValidationError, match="worker_deployment"):
        Settings(worker_deployment="itr.eu")
