"""The API's door to Temporal: a lazily connected client and the calls it makes.

Connecting lazily lets the API start (and answer /readyz with 503) while Temporal is down;
every failure to reach Temporal becomes a 503 problem, never a 500, and no call waits longer
than ITR_COMMAND_TIMEOUT: an Update whose workflow no worker runs would otherwise wait
(the SDK re-polls until the update is accepted) until a worker comes back.
"""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest, GetSystemInfoRequest
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import Problem, conflict, forbidden, unavailable
from config.settings import Settings
from domain.allowed_commands import AllowedCommands, AllowedCommandsQuery
from domain.ids import workflow_id_for
from domain.models import CommandResult, IssueStatus, IssueWorkflowInput
from temporal_client import connect_temporal
from workflows.issue import COMMAND_FORBIDDEN, COMMAND_REJECTED, IssueWorkflow

RPC_TIMEOUT = timedelta(seconds=10)
PING_TIMEOUT = timedelta(seconds=3)


class WorkflowEnded(Exception):
    """The issue's workflow is no longer running (closed past reopen window, or cancelled)."""


class CommandAccepted(Exception):
    """The workflow accepted the command (it will be applied) but did not finish it in time.

    Answered 202 with the issue's Location; a retry with the same Idempotency-Key waits for
    the same command and answers its result, never applying it twice.
    """

    def __init__(self, issue_id: str) -> None:
        super().__init__(issue_id)
        self.issue_id = issue_id


def not_accepted_in_time(timeout: timedelta) -> Problem:
    return unavailable(
        f"the issue's workflow did not take the command within {timeout.total_seconds():g} s "
        "(no worker is running it, or Temporal is slow); retry with the same Idempotency-Key: "
        "the command is applied at most once"
    )


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
                GetSystemInfoRequest(), timeout=PING_TIMEOUT
            )
        except RPCError as exc:
            raise unavailable(f"Temporal is unreachable: {exc.message}") from exc

    async def check_workers(self, window: timedelta) -> int:
        """How many workers polled our task queue (workflow and activity tasks) within
        `window`; raises a 503 problem naming what is missing when none did.

        An idle worker re-polls about once a minute, so `window` must be longer than that.
        """
        client = await self.client()
        now = datetime.now(UTC)
        recent: dict[str, int] = {}
        for kind, queue_type in (
            ("workflow", TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
            ("activity", TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
        ):
            try:
                described = await client.workflow_service.describe_task_queue(
                    DescribeTaskQueueRequest(
                        namespace=client.namespace,
                        task_queue=TaskQueue(name=self._settings.temporal_task_queue),
                        task_queue_type=queue_type,
                    ),
                    timeout=PING_TIMEOUT,
                )
            except RPCError as exc:
                raise unavailable(f"Temporal is unreachable: {exc.message}") from exc
            recent[kind] = sum(
                1
                for poller in described.pollers
                if now - poller.last_access_time.ToDatetime(tzinfo=UTC) <= window
            )
        missing = [kind for kind, count in recent.items() if count == 0]
        if missing:
            raise unavailable(
                f"no worker polled {' and '.join(missing)} tasks on task queue "
                f"'{self._settings.temporal_task_queue}' in the last "
                f"{window.total_seconds():g} s"
            )
        return min(recent.values())

    async def handle(self, issue_id: str) -> WorkflowHandle[IssueWorkflow, Any]:
        client = await self.client()
        return client.get_workflow_handle_for(IssueWorkflow.run, workflow_id_for(issue_id))

    async def start_issue_dispatched(
        self, workflow_input: IssueWorkflowInput, wait: timedelta
    ) -> IssueStatus | None:
        """Start the issue's workflow together with its `intake_dispatched` Update: one round
        trip that answers once intake has dispatched the issue (owner named, or queued).

        None when that takes longer than `wait` (no worker, or a slow one): the workflow is
        then made sure to exist by a plain idempotent start (a 503 if Temporal is down), and
        the caller answers with the issue as it stands. A retry under the same key joins the
        running workflow (USE_EXISTING); one long finished answers None as well.
        """
        client = await self.client()
        operation = WithStartWorkflowOperation(
            IssueWorkflow.run,
            workflow_input,
            id=workflow_id_for(workflow_input.intake.issue_id),
            task_queue=self._settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
        try:
            async with asyncio.timeout(wait.total_seconds()):
                handle = await client.start_update_with_start_workflow(
                    IssueWorkflow.intake_dispatched,
                    start_workflow_operation=operation,
                    wait_for_stage=WorkflowUpdateStage.COMPLETED,
                    rpc_timeout=wait,
                )
                status: IssueStatus = await handle.result(rpc_timeout=wait)
                return status
        except (
            TimeoutError,
            WorkflowUpdateRPCTimeoutOrCancelledError,
            WorkflowUpdateFailedError,
            WorkflowAlreadyStartedError,
            RPCError,
        ):
            pass  # whether it started is unknown: make sure it did, the plain way
        await self.start_issue(workflow_input)
        return None

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
        """Run one command within ITR_COMMAND_TIMEOUT; a validator's rejection is a 409.

        Not accepted in time (no worker runs the workflow): 503 + Retry-After. Accepted but
        not completed in time: CommandAccepted (202). Either way the same update id (the
        Idempotency-Key) lets a retry join the command instead of sending it again.
        """
        handle = await self.handle(issue_id)
        result: CommandResult = await self._run_update(handle, update, command, update_id, issue_id)
        return result

    async def update_child(
        self, workflow_id: str, issue_id: str, update: Any, command: Any, update_id: str | None
    ) -> Any:
        """The same for a visit's or a spare part's workflow (a child of the issue's): its
        result, a 409 for a refused step, WorkflowEnded once the child has finished."""
        client = await self.client()
        handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(workflow_id)
        return await self._run_update(handle, update, command, update_id, issue_id)

    async def _run_update(
        self,
        handle: WorkflowHandle[Any, Any],
        update: Any,
        command: Any,
        update_id: str | None,
        issue_id: str,
    ) -> Any:
        bound = self._settings.command_timeout
        accepted: WorkflowUpdateHandle[Any] | None = None
        try:
            async with asyncio.timeout(bound.total_seconds()):
                accepted = await handle.start_update(
                    update,
                    command,
                    id=update_id,
                    wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                    rpc_timeout=bound,
                )
                return await accepted.result(rpc_timeout=bound)
        except (WorkflowUpdateRPCTimeoutOrCancelledError, TimeoutError) as exc:
            if accepted is None:
                raise not_accepted_in_time(bound) from exc
            raise CommandAccepted(issue_id) from exc
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.type == COMMAND_REJECTED:
                raise conflict(cause.message) from exc
            if isinstance(cause, ApplicationError) and cause.type == COMMAND_FORBIDDEN:
                raise forbidden(cause.message) from exc
            raise conflict(f"the command failed: {cause}") from exc
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise WorkflowEnded(issue_id) from exc
            raise _rpc_problem(exc) from exc

    async def allowed_commands(self, issue_id: str, query: AllowedCommandsQuery) -> AllowedCommands:
        """Ask the issue's workflow which commands it takes now (a query: no history is
        written). A worker must answer within ITR_COMMAND_TIMEOUT, else 503."""
        bound = self._settings.command_timeout
        handle = await self.handle(issue_id)
        try:
            async with asyncio.timeout(bound.total_seconds()):
                answer: AllowedCommands = await handle.query(
                    IssueWorkflow.allowed_commands, query, rpc_timeout=bound
                )
            return answer
        except TimeoutError as exc:
            raise unavailable(
                f"the issue's workflow did not answer within {bound.total_seconds():g} s "
                "(no worker is running it, or Temporal is slow)"
            ) from exc
        except WorkflowQueryFailedError as exc:
            raise unavailable(f"the issue's workflow could not answer: {exc.message}") from exc
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise WorkflowEnded(issue_id) from exc
            raise _rpc_problem(exc) from exc


def _rpc_problem(exc: RPCError) -> Problem:
    """Temporal could not take the request now: down, restarting, overloaded, or the issue's
    workflow task failing until a worker (or a fixed build) runs it again. Each passes, and a
    retry with the same Idempotency-Key is safe, so it is a 503 with Retry-After, never a
    5xx the client cannot act on."""
    if exc.status in (
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.CANCELLED,
        RPCStatusCode.UNKNOWN,
    ):
        return unavailable(f"Temporal is unreachable: {exc.message}")
    return unavailable(f"Temporal cannot take the request now: {exc.message}")
