"""Inbound defect-tracker webhooks (authenticated by signature, not by bearer token)."""

from fastapi import APIRouter, Request, status

from api.deps import SessionDep, StateDep, TemporalDep
from api.schemas import TrackerWebhookResult
from api.services import tracker as service

router = APIRouter(prefix="/tracker", tags=["tracker"])


@router.post(
    "/jira/webhook", status_code=status.HTTP_202_ACCEPTED, response_model=TrackerWebhookResult
)
async def jira_webhook(
    request: Request, session: SessionDep, temporal: TemporalDep, state: StateDep
) -> TrackerWebhookResult:
    """Jira pushes defect changes here, signed with X-Hub-Signature; answered fast with 202."""
    body = await request.body()
    return await service.handle_jira_webhook(
        session, temporal, state.settings, body, dict(request.headers)
    )
