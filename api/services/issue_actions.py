"""Which commands the issue page offers: the workflow's own answer, narrowed to the caller.

The workflow answers from the validators' checks (`domain.allowed_commands`); this service
adds what the API decides on its own, the role each endpoint requires, and where each
command is sent. Customers see their own commands only; staff see every command, those
their role may not send marked so with the reason.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import CUSTOMER_SIDE, EVERYONE, STAFF, Principal
from api.auth import DISPATCHING as HANDING_OVER
from api.schemas import IssueAction, IssueActions
from api.services import issues as issue_service
from api.temporal_gateway import TemporalGateway, WorkflowEnded
from domain.allowed_commands import CATALOGUE, AllowedCommand, AllowedCommandsQuery
from domain.enums import Role

MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})
DISPATCHING = frozenset({Role.ENGINEER, Role.MANAGER, Role.ADMIN, Role.DISPATCHER})
REQUESTING_PARTS = STAFF | {Role.DISPATCHER, Role.FIELD_ENGINEER}
CUSTOMER_OR_MANAGER = CUSTOMER_SIDE | MANAGERS


@dataclass(frozen=True)
class Endpoint:
    """Where a command is POSTed (relative to `/issues/{id}`) and which roles may."""

    path: str
    roles: frozenset[Role]


ENDPOINTS: dict[str, Endpoint] = {
    "acknowledge": Endpoint("/acknowledge", STAFF),
    "comment": Endpoint("/comments", EVERYONE),
    # The route takes comments from everyone; the domain refuses internal ones from customers.
    "internal_comment": Endpoint("/comments", STAFF),
    "assign": Endpoint("/assign", STAFF),
    "escalate": Endpoint("/escalate", STAFF),
    "request_info": Endpoint("/request-info", STAFF),
    "customer_reply": Endpoint("/reply", CUSTOMER_OR_MANAGER),
    "propose_resolution": Endpoint("/resolution", STAFF),
    "confirm_closure": Endpoint("/confirmation", CUSTOMER_OR_MANAGER),
    "reopen": Endpoint("/reopen", CUSTOMER_OR_MANAGER),
    "cancel": Endpoint("/cancel", CUSTOMER_OR_MANAGER),
    "change_severity": Endpoint("/severity", STAFF),
    "reapply_sla": Endpoint("/sla/reapply", frozenset({Role.ADMIN})),
    "link_defect": Endpoint("/defect", STAFF),
    "retry_tracker_sync": Endpoint("/tracker-retry", MANAGERS),
    "dispatch_visit": Endpoint("/visits", DISPATCHING),
    "request_part": Endpoint("/parts", REQUESTING_PARTS),
    # dispatch (api/routes/issue_dispatch.py): a claim is for the caller themselves
    "claim": Endpoint("/claim", STAFF),
    "accept_offer": Endpoint("/offer/accept", STAFF),
    "decline_offer": Endpoint("/offer/decline", STAFF),
    "hand_back": Endpoint("/hand-back", STAFF),
    "hand_over": Endpoint("/hand-over", HANDING_OVER),
}
"""The roles mirror each route's `principal.require` (tests/api/test_issue_page_api.py
checks them against the routes); a command without an endpoint is not offered."""


def _for_caller(principal: Principal, issue_id: str, answer: AllowedCommand) -> IssueAction | None:
    endpoint = ENDPOINTS.get(answer.command)
    if endpoint is None:
        return None
    path = f"/issues/{issue_id}{endpoint.path}"
    if principal.role not in endpoint.roles:
        if principal.role not in STAFF:
            return None
        return IssueAction(
            command=answer.command,
            allowed=False,
            reason=f"role '{principal.role.value}' cannot send {answer.command}",
            path=path,
        )
    return IssueAction(
        command=answer.command, allowed=answer.allowed, reason=answer.reason, path=path
    )


async def issue_actions(
    session: AsyncSession,
    temporal: TemporalGateway,
    principal: Principal,
    issue_id: str,
    now: datetime,
) -> IssueActions:
    """The commands the caller may send to the issue now (404 for another organisation's)."""
    row = await issue_service.visible_issue(session, principal, issue_id)
    state = row.state
    await session.commit()  # no transaction held open while the workflow answers
    query = AllowedCommandsQuery(actor=principal.actor, at=now)
    try:
        answer = await temporal.allowed_commands(issue_id, query)
        answers, state = answer.commands, answer.state
    except WorkflowEnded:
        ended = f"issue {issue_id} is {state.value} and its lifecycle has ended"
        answers = tuple(
            AllowedCommand(command=entry.name, allowed=False, reason=ended) for entry in CATALOGUE
        )
    actions = [a for a in (_for_caller(principal, issue_id, x) for x in answers) if a is not None]
    return IssueActions(issue_id=issue_id, state=state, as_of=now, actions=actions)
