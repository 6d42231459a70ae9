"""Inbound defect-tracker webhooks (authenticated by signature, not by bearer token)."""

from fastapi import APIRouter, Request, status

from api.deps import PrincipalDep, SessionDep, StateDep, TemporalDep
from api.schemas import TrackerSyncErrorOut, TrackerWebhookResult
from api.services import tracker as service
from domain.enums import Role

router = APIRouter(prefix="/tracker", tags=["tracker"])
MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})


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


@router.get("/sync-errors", response_model=list[TrackerSyncErrorOut])
async def sync_errors(principal: PrincipalDep, session: SessionDep) -> list[TrackerSyncErrorOut]:
    """Issues waiting on R&D without a defect because the tracker refused; fix, then retry
    each with POST /issues/{id}/tracker-retry."""
    principal.require(MANAGERS, "see tracker sync errors")
    return await service.sync_errors(session)
