"""The API in process against a real database (SQLite and PostgreSQL) and a fake Temporal.

For what the API decides on its own before or around Temporal: validation, idempotency
keys, reference data. The fake keeps the promises the real gateway makes (a workflow id is
started once; an update id is applied once and answers its first result) and records every
call, so a test can tell that a refused request started nothing.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from api.main import create_app
from api.services import issues as issue_service
from api.state import AppState
from api.temporal_gateway import TemporalGateway, WorkflowEnded
from config.settings import Settings
from db.seed import seed_demo_data
from db.session import Database
from domain.allowed_commands import AllowedCommands, AllowedCommandsQuery, answer_for
from domain.enums import IssueState
from domain.lifecycle import IssueCase
from domain.models import CommandResult, IssueIntake, IssueStatus, IssueWorkflowInput


class FakeTemporal(TemporalGateway):
    """Starts and updates as Temporal answers them, without running anything."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.starts: list[IssueWorkflowInput] = []
        self.running: dict[str, IssueWorkflowInput] = {}
        self.updates: list[tuple[str, str, Any]] = []
        self.results: dict[tuple[str, str], CommandResult] = {}
        self.cases: dict[str, IssueCase] = {}
        self.ended: set[str] = set()
        self.answers: dict[str, AllowedCommands] = {}

    async def start_issue(self, workflow_input: IssueWorkflowInput) -> None:
        self.starts.append(workflow_input)
        self.running.setdefault(workflow_input.intake.issue_id, workflow_input)

    async def start_issue_dispatched(
        self, workflow_input: IssueWorkflowInput, wait: timedelta
    ) -> IssueStatus | None:
        """As if intake answered at once, leaving the issue as opened (nothing runs it)."""
        await self.start_issue(workflow_input)
        return IssueCase.open(workflow_input.intake, workflow_input.config).status

    async def update(
        self, issue_id: str, update: Any, command: Any, update_id: str | None
    ) -> CommandResult:
        if update_id is not None and (issue_id, update_id) in self.results:
            return self.results[(issue_id, update_id)]
        self.updates.append((issue_id, update.__name__, command))
        started = self.running[issue_id]
        status = IssueCase.open(started.intake, started.config).status
        result = CommandResult(status=status, comment_id=f"{issue_id}:c{len(self.updates) + 9}")
        if update_id is not None:
            self.results[(issue_id, update_id)] = result
        return result

    async def allowed_commands(self, issue_id: str, query: AllowedCommandsQuery) -> AllowedCommands:
        """The domain's answer for the issue as the test set it (`cases`), else as opened."""
        if issue_id in self.ended:
            raise WorkflowEnded(issue_id)
        started = self.running[issue_id]
        case = self.cases.get(issue_id) or IssueCase.open(started.intake, started.config)
        assert query.at is not None
        self.answers[issue_id] = answer_for(case, query.actor, query.at)
        return self.answers[issue_id]

    def intakes(self) -> list[IssueIntake]:
        return [started.intake for started in self.starts]


@dataclass
class Api:
    http: httpx.AsyncClient
    temporal: FakeTemporal
    db: Database


@pytest.fixture
async def api(database: Database, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Api]:
    # No worker dispatches here: a create need not wait for an owner that never comes.
    monkeypatch.setattr(issue_service, "DISPATCHED", frozenset(IssueState))
    async with database.transaction() as session:
        await seed_demo_data(session)
    settings = Settings(environment="test", database_url=database.url, seed_demo_data=False)
    temporal = FakeTemporal(settings)
    app = create_app(settings, AppState(settings=settings, db=database, temporal=temporal))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://itr.test") as http:
        yield Api(http=http, temporal=temporal, db=database)
