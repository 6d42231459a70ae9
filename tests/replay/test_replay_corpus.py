"""Every committed history replays with the current workflow code, so a release never strands
a live issue.

`tests/replay/histories/<version>/` holds the histories recorded by `tests.replay.record`
from the version that was released as `<version>` (one file per run, `index.json` naming
each file's workflow id). A change to `IssueWorkflow` (or to the domain it runs) that would
issue different commands for an issue already under way fails here, naming the file; gate
it with `workflow.patched(...)` instead. No server is needed: the Replayer runs in process.
"""

import json
from collections.abc import AsyncIterator
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.issue import IssueWorkflow
from workflows.spare_part import SparePartWorkflow
from workflows.tracker_poll import TrackerPollWorkflow
from workflows.visit import VisitWorkflow

HISTORIES = Path(__file__).parent / "histories"
INDEX = "index.json"


def corpus() -> list[tuple[Path, str]]:
    """(file, workflow id) for every history of every version folder."""
    found: list[tuple[Path, str]] = []
    for version in sorted(p for p in HISTORIES.iterdir() if p.is_dir()):
        index = {e["file"]: e["workflow_id"] for e in json.loads((version / INDEX).read_text())}
        files = sorted(p.name for p in version.glob("*.json") if p.name != INDEX)
        assert sorted(index) == files, f"{version / INDEX} does not list exactly {files}"
        found.extend((version / name, index[name]) for name in files)
    return found


CORPUS = corpus()
# Folders of released versions hold every core scenario; the folder of the version under way
# (v4) collects each new path's scenarios as it is built, and is completed at release.
RELEASED = frozenset({"v1", "v2", "v3"})


def test_the_corpus_covers_each_released_version_with_its_scenarios() -> None:
    versions = {path.parent.name for path, _ in CORPUS}
    assert "v1" in versions
    for version in versions & RELEASED:
        scenarios = {e["scenario"] for e in json.loads((HISTORIES / version / INDEX).read_text())}
        assert {
            "plain_lifecycle",
            "rejection_then_acceptance",
            "waiting_for_customer",
            "breach_and_escalation",
            "tier3_defect_fixed",
            "tier3_defect_wont_fix",
            "tier3_defect_reopened",
            "continue_as_new",
            "reminder_then_auto_close",
            "reopen",
            "cancel",
            "severity_change",
            "policy_reapply",
        } <= scenarios, version
        if version >= "v3":  # on-site service (visits and spare parts as child workflows)
            assert "onsite_service" in scenarios, version
        runs = [e for e in json.loads((HISTORIES / version / INDEX).read_text()) if e["run"] > 1]
        assert runs, f"{version} has no continued run"


async def test_every_recorded_history_replays_with_the_current_code() -> None:
    """One Replayer for the whole corpus (fast enough for every CI run); a failure names the
    file, its workflow id and the SDK's reason (e.g. a nondeterminism error)."""
    loaded = [(WorkflowHistory.from_json(wid, path.read_text()), path) for path, wid in CORPUS]

    async def histories() -> AsyncIterator[WorkflowHistory]:
        for history, _ in loaded:
            yield history

    replayer = Replayer(
        workflows=[IssueWorkflow, TrackerPollWorkflow, VisitWorkflow, SparePartWorkflow],
        data_converter=pydantic_data_converter,
    )
    failures: list[str] = []
    replayed = 0
    async with replayer.workflow_replay_iterator(histories()) as results:
        async for result in results:
            replayed += 1
            if result.replay_failure is not None:
                path = next(p for h, p in loaded if h is result.history)
                failures.append(
                    f"{path.relative_to(HISTORIES)} ({result.history.workflow_id}): "
                    f"{result.replay_failure!r}"
                )
    assert not failures, "histories that no longer replay:\n" + "\n".join(failures)
    assert replayed == len(CORPUS)
