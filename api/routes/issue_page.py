"""What an issue page needs besides the issue: its progress diagram and the commands it
allows now (same authorisation as `GET /issues/{id}`)."""

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Response

from api.deps import PrincipalDep, SessionDep, TemporalDep
from api.schemas import IssueActions, refuse_control_characters
from api.services import issue_actions as actions_service
from api.services import issue_diagram as diagram_service

router = APIRouter(
    prefix="/issues", tags=["issues"], dependencies=[Depends(refuse_control_characters)]
)


class SvgResponse(Response):
    media_type = "image/svg+xml"


@router.get(
    "/{issue_id}/diagram.svg",
    response_class=SvgResponse,
    responses={200: {"content": {"image/svg+xml": {"schema": {"type": "string"}}}}},
)
async def get_issue_diagram(
    issue_id: str, principal: PrincipalDep, session: SessionDep
) -> SvgResponse:
    """The issue's progress as SVG: swimlanes, the lifecycle's states and the path it took
    (times, owners, SLA marks). Customers get the public variant."""
    svg = await diagram_service.diagram_svg(session, principal, issue_id)
    return SvgResponse(content=svg, headers={"Cache-Control": "no-store"})


@router.get("/{issue_id}/actions", response_model=IssueActions)
async def get_issue_actions(
    issue_id: str, principal: PrincipalDep, session: SessionDep, temporal: TemporalDep
) -> IssueActions:
    """Each command with whether the caller may send it now and, if not, why (from the
    workflow's validators); customers see their own commands only."""
    return await actions_service.issue_actions(
        session, temporal, principal, issue_id, datetime.now(UTC)
    )
