"""Which commands a page offers the viewer for an issue right now.

The workflow answers (`from_workflow`: its `allowed_commands` query runs the validators'
own checks for the actor), so a page never offers what the workflow would refuse. When the
workflow cannot answer in time (no worker), `allowed_actions` mirrors the lifecycle's state
rules from the projection instead. Offering is only a convenience either way: every command
still goes to the workflow, whose validator has the last word (409 with its reason).
"""

from datetime import datetime
from enum import StrEnum

from api.auth import Principal
from api.schemas import IssueActions, IssueRead
from domain.enums import IssueState, Role


class Action(StrEnum):
    REPLY = "reply"
    CONFIRM = "confirm"
    REOPEN = "reopen"
    COMMENT = "comment"


CUSTOMER_ROLES = frozenset({Role.CUSTOMER})
PORTAL_COMMANDS = {
    "customer_reply": Action.REPLY,
    "confirm_closure": Action.CONFIRM,
    "reopen": Action.REOPEN,
    "comment": Action.COMMENT,
}
"""The workflow's commands the portal has a form for."""


def from_workflow(answer: IssueActions) -> frozenset[Action]:
    """The portal forms for the commands the workflow allows the viewer now."""
    return frozenset(
        PORTAL_COMMANDS[a.command]
        for a in answer.actions
        if a.allowed and a.command in PORTAL_COMMANDS
    )


TERMINAL = frozenset({IssueState.CLOSED, IssueState.CANCELLED})


def allowed_actions(issue: IssueRead, principal: Principal, now: datetime) -> frozenset[Action]:
    """The customer-side commands the issue's current state allows (see module docstring)."""
    if principal.role not in CUSTOMER_ROLES:
        return frozenset()
    allowed: set[Action] = set()
    if issue.state == IssueState.WAITING_CUSTOMER:
        allowed.add(Action.REPLY)
    if issue.state == IssueState.AWAITING_CONFIRMATION:
        allowed.add(Action.CONFIRM)
    reopenable = issue.reopen_until is not None and now <= issue.reopen_until
    if issue.state == IssueState.CLOSED and reopenable:
        allowed.add(Action.REOPEN)
    if issue.state not in TERMINAL:
        allowed.add(Action.COMMENT)
    return frozenset(allowed)
