"""Which commands a page offers the viewer for an issue right now.

HOOK: for now this reads the issue's state as the services report it (the projection the
workflow writes) and mirrors the lifecycle's state rules; it is meant to be replaced by a
workflow query that runs the workflow's own validators for the actor, so a page never
offers what the workflow would refuse. Offering is only a convenience either way: every
command still goes to the workflow, whose validator has the last word (409 with its reason).
"""

from datetime import datetime
from enum import StrEnum

from api.auth import Principal
from api.schemas import IssueRead
from domain.enums import IssueState, Role


class Action(StrEnum):
    REPLY = "reply"
    CONFIRM = "confirm"
    REOPEN = "reopen"
    COMMENT = "comment"


CUSTOMER_ROLES = frozenset({Role.CUSTOMER})
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
