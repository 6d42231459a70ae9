"""The API's door to Temporal: a lazily connected client and the calls it makes.

Connecting lazily lets the API start (and answer /readyz with 503) while Temporal is down;
every failure to reach Temporal becomes a 503 problem, never a 500.
"""

import asyncio
from datetime import timedelta
from typing import Any

from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import Problem, conflict, unavailable
from config.settings import Settings
from domain.ids import workflow_id_for
from domain.models import CommandResult, IssueWorkflowInput
from temporal_client import connect_temporal
from workflows.issue import COMMAND_REJECTED, IssueWorkflow

RPC_TIMEOUT = timedelta(seconds=10)
UPDATE_TIMEOUT = timedelta(seconds=30)


class WorkflowEnded(Exception):
    """The issue's workflow is no longer running (closed past reopen window, or cancelled)."""


class TemporalGateway:
    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self._settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    try:
                        self._client = await asyncio.wait_for(
                            connect_temporal(self._settings), timeout=10
                        )
                    except (RuntimeError, TimeoutError, OSError, RPCError) as exc:
                        raise unavailable(f"Temporal is unreachable: {exc}") from exc
        return self._client

    async def ping(self) -> None:
        client = await self.client()
        try:
            await client.workflow_service.get_system_info(
                GetSystemInfoRequest(), timeout=timedelta(seconds=3)
            )
        except RPCError as exc:
            raise unavailable(f"Temporal is unreachable: {exc.message}") from exc

    async def handle(self, issue_id: str) -> WorkflowHandle[IssueWorkflow, Any]:
        client = await self.client()
        return client.get_workflow_handle_for(IssueWorkflow.run, workflow_id_for(issue_id))

    async def start_issue(self, workflow_input: IssueWorkflowInput) -> None:
        """Start once: a retried create finds the running (or finished) workflow instead."""
        client = await self.client()
        try:
            await client.start_workflow(
                IssueWorkflow.run,
                workflow_input,
                id=workflow_id_for(workflow_input.intake.issue_id),
                task_queue=self._settings.temporal_task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                rpc_timeout=RPC_TIMEOUT,
            )
        except WorkflowAlreadyStartedError:
            return
        except RPCError as exc:
            raise _rpc_problem(exc) from exc

    async def update(
        self, issue_id: str, update: Any, command: Any, update_id: str | None
    ) -> CommandResult:
        """Run one command; a rejection by the validator becomes 409 with its reason."""
        handle = await self.handle(issue_id)
        try:
            result: CommandResult = await handle.execute_update(
                update, command, id=update_id, rpc_timeout=UPDATE_TIMEOUT
            )
            return result
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.type == COMMAND_REJECTED:
                raise conflict(cause.message) from exc
            raise conflict(f"the command failed: {cause}") from exc
        except WorkflowUpdateRPCTimeoutOrCancelledError as exc:
            raise unavailable(
                "the issue did not answer in time; retry with the same Idempotency-Key "
                "(the command is applied at most once)"
            ) from exc
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise WorkflowEnded(issue_id) from exc
            raise _rpc_problem(exc) from exc


def _rpc_problem(exc: RPCError) -> Problem:
    if exc.status in (
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.CANCELLED,
    ):
        return unavailable(f"Temporal is unreachable: {exc.message}")
    return Problem(502, "Bad Gateway", f"Temporal refused the request: {exc.message}")
