"""The `allowed_commands` query in the time-skipping server: the validators' own answers per
state and actor, and nothing written to the history by asking."""

from temporalio.testing import WorkflowEnvironment

from domain.allowed_commands import AllowedCommands, AllowedCommandsQuery
from domain.enums import IssueState
from domain.models import AcknowledgeCommand, Actor, RequestInfoCommand
from tests.workflows.fakes import FakeIssueActivities
from tests.workflows.test_issue_workflow import CUSTOMER, ENGINEER, running, start, wait_for
from workflows.issue import IssueWorkflow


def allowed(answer: AllowedCommands) -> set[str]:
    return {c.command for c in answer.commands if c.allowed}


def reason(answer: AllowedCommands, command: str) -> str | None:
    return next(c.reason for c in answer.commands if c.command == command)


async def ask(handle: object, actor: Actor) -> AllowedCommands:
    result: AllowedCommands = await handle.query(  # type: ignore[attr-defined]
        IssueWorkflow.allowed_commands, AllowedCommandsQuery(actor=actor)
    )
    return result


async def test_allowed_commands_follow_the_state_and_the_actor_without_adding_history(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    fakes = FakeIssueActivities()
    async with running(time_skipping_env, task_queue, fakes):
        handle = await start(time_skipping_env, task_queue)
        await wait_for(handle, IssueState.ASSIGNED)

        engineer = await ask(handle, ENGINEER)
        assert engineer.state == IssueState.ASSIGNED
        assert {"acknowledge", "comment", "internal_comment", "escalate", "cancel"} <= allowed(
            engineer
        )
        assert "propose_resolution" not in allowed(engineer)
        assert reason(engineer, "propose_resolution") == (
            "cannot propose a resolution for an issue in state 'assigned' "
            "(allowed in: escalated, in_progress)"
        )
        customer = await ask(handle, CUSTOMER)
        assert "internal_comment" not in allowed(customer)
        assert reason(customer, "internal_comment") == "customers cannot write internal comments"

        events_before = len((await handle.fetch_history()).events)
        for _ in range(3):
            await ask(handle, ENGINEER)
        assert len((await handle.fetch_history()).events) == events_before

        await handle.execute_update(IssueWorkflow.acknowledge, AcknowledgeCommand(actor=ENGINEER))
        working = await ask(handle, ENGINEER)
        assert {"propose_resolution", "request_info"} <= allowed(working)
        assert "acknowledge" not in allowed(working)

        await handle.execute_update(
            IssueWorkflow.request_info, RequestInfoCommand(actor=ENGINEER, question="Which build?")
        )
        waiting = await ask(handle, CUSTOMER)
        assert waiting.state == IssueState.WAITING_CUSTOMER
        assert "customer_reply" in allowed(waiting)
        assert "request_info" not in allowed(await ask(handle, ENGINEER))
