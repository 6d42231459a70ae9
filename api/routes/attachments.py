"""Issue attachments (logs, screenshots customers attach in the portal), for API clients and
staff: listed and downloaded with the issue's own visibility (another organisation's: 404)."""

from urllib.parse import quote

from fastapi import APIRouter, Depends, Response

from api.deps import PrincipalDep, SessionDep, StateDep
from api.schemas import AttachmentRead, refuse_control_characters
from api.services import attachments as service

router = APIRouter(
    prefix="/issues", tags=["attachments"], dependencies=[Depends(refuse_control_characters)]
)


@router.get("/{issue_id}/attachments", response_model=list[AttachmentRead])
async def list_attachments(
    issue_id: str, principal: PrincipalDep, session: SessionDep
) -> list[AttachmentRead]:
    """The issue's attachments, oldest first."""
    views = await service.list_attachments(session, principal, issue_id)
    return [AttachmentRead.model_validate(v, from_attributes=True) for v in views]


@router.get(
    "/{issue_id}/attachments/{attachment_id}",
    response_class=Response,
    responses={200: {"description": "the file", "content": {"application/octet-stream": {}}}},
)
async def download_attachment(
    issue_id: str,
    attachment_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    state: StateDep,
) -> Response:
    """The file's bytes, always as a download (`Content-Disposition: attachment`)."""
    attachment, data = await service.read_attachment(
        session, state.attachments, principal, issue_id, attachment_id
    )
    disposition = f"attachment; filename*=UTF-8''{quote(attachment.filename, safe='')}"
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": disposition, "X-ITR-Content-Type": attachment.content_type},
    )
