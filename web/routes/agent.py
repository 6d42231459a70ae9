"""The agent workspace (engineers, managers, admins): the queues and the staff issue page.

The issue page offers exactly the commands the issue's workflow allows now (its validators
answer, through `GET /issues/{id}/actions`'s service), each as a form validated with the
JSON API's own request body; a refusal comes back onto the page with its reason, a bad
field at the field. The queue refreshes every 30 s and the issue's live parts (state,
clocks, timeline, diagram) every 5 s through htmx; `countdown.js` ticks the clocks.
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from api.auth import STAFF, Principal
from api.deps import SessionDep, StateDep, TemporalDep
from api.errors import Problem
from api.schemas import (
    AcknowledgeBody,
    AssignBody,
    CancelBody,
    CommentBody,
    DeclineOfferBody,
    EscalateBody,
    HandBackBody,
    LinkDefectBody,
    ReopenBody,
    ReplyBody,
    RequestInfoBody,
    ResolutionBody,
    SeverityBody,
)
from api.services import agent_workspace as workspace
from api.services import issue_dispatch as dispatch_service
from api.services import issues as service
from api.temporal_gateway import CommandAccepted
from domain.allowed_commands import PEOPLE_FILL
from domain.enums import Tier, Visibility
from domain.models import (
    AcceptOfferCommand,
    AcknowledgeCommand,
    AssignCommand,
    CancelCommand,
    ChangeSeverityCommand,
    ClaimCommand,
    CommentCommand,
    CustomerReplyCommand,
    DeclineOfferCommand,
    EscalateCommand,
    HandBackCommand,
    LinkDefectCommand,
    ProposeResolutionCommand,
    ReopenCommand,
    RequestInfoCommand,
    RetryTrackerSyncCommand,
)
from web.deps import PageForbidden, PrincipalPage, Viewer, ViewerDep, verify_csrf
from web.forms import FieldErrors, problem_errors, validation_errors
from web.i18n import translations
from web.templating import render
from workflows.issue import IssueWorkflow

router = APIRouter(
    prefix="/workspace", include_in_schema=False, dependencies=[Depends(verify_csrf)]
)


def staff(principal: PrincipalPage) -> Principal:
    if principal.role not in STAFF:
        raise PageForbidden()
    return principal


StaffDep = Annotated[Principal, Depends(staff)]


def default_queue(principal: Principal) -> workspace.Queue:
    return workspace.Queue.MINE if principal.engineer_id else workspace.Queue.OPEN


@router.get("", response_class=HTMLResponse, response_model=None)
async def queue_page(
    request: Request,
    viewer: ViewerDep,
    principal: PrincipalPage,
    state: StateDep,
    session: SessionDep,
    queue: workspace.Queue | None = None,
    team: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    if principal.role not in STAFF:
        return RedirectResponse("/portal", status_code=status.HTTP_303_SEE_OTHER)
    which = queue or default_queue(principal)
    cards = await workspace.queue(session, principal, which, datetime.now(UTC), team)
    context = {"cards": cards, "queue": which, "queues": list(workspace.Queue), "team": team}
    return render(request, viewer, state.settings, "agent/queue.html", context)


@router.get("/rows", response_class=HTMLResponse)
async def queue_rows(
    request: Request,
    viewer: ViewerDep,
    principal: StaffDep,
    state: StateDep,
    session: SessionDep,
    queue: workspace.Queue | None = None,
    team: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    """The queue's rows alone, for htmx's refresh."""
    which = queue or default_queue(principal)
    cards = await workspace.queue(session, principal, which, datetime.now(UTC), team)
    return render(
        request, viewer, state.settings, "agent/_queue_rows.html", {"cards": cards, "queue": which}
    )


def _gettext(viewer: Viewer) -> Callable[[str], str]:
    return translations(viewer.locale).gettext


def _short_time(viewer: Viewer) -> Callable[[datetime], str]:
    return lambda moment: viewer.formats.datetime(moment, "short")


@router.get("/issues/{issue_id}", response_class=HTMLResponse)
async def issue_page(
    request: Request,
    issue_id: str,
    viewer: ViewerDep,
    principal: StaffDep,
    state: StateDep,
    session: SessionDep,
    temporal: TemporalDep,
    done: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    return await _issue_page(
        request,
        viewer,
        principal,
        state,
        session,
        temporal,
        issue_id,
        done=done if done in FORMS else None,
    )


@router.get("/issues/{issue_id}/live", response_class=HTMLResponse)
async def issue_live(
    request: Request,
    issue_id: str,
    viewer: ViewerDep,
    principal: StaffDep,
    state: StateDep,
    session: SessionDep,
    shown: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """The parts of the page that move on their own: state, clocks, timeline, diagram; and,
    once the state differs from the one the page was `shown` in, a prompt to reload (the
    commands offered were those of that state)."""
    try:
        detail, defect, svg = await workspace.live_view(
            session,
            principal,
            issue_id,
            gettext=_gettext(viewer),
            format_time=_short_time(viewer),
        )
    except Problem as problem:
        if problem.status != 404:
            raise
        return render(request, viewer, state.settings, "error.html", {"error": "not_found"}, 404)
    context = {
        "issue": detail,
        "defect": defect,
        "diagram": svg,
        "now": datetime.now(UTC),
        "shown": shown,
    }
    return render(request, viewer, state.settings, "agent/_live.html", context)


async def _issue_page(
    request: Request,
    viewer: Viewer,
    principal: Principal,
    state: StateDep,
    session: Any,
    temporal: TemporalDep,
    issue_id: str,
    *,
    done: str | None = None,
    errors: FieldErrors | None = None,
    refusal: str | None = None,
    values: dict[str, str] | None = None,
    form: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    now = datetime.now(UTC)
    try:
        page = await workspace.issue_workspace(
            session,
            temporal,
            principal,
            issue_id,
            now,
            gettext=_gettext(viewer),
            format_time=_short_time(viewer),
        )
    except Problem as problem:
        if problem.status != 404:
            raise
        return render(request, viewer, state.settings, "error.html", {"error": "not_found"}, 404)
    allowed = {a.command for a in page.actions.actions if a.allowed}
    context = {
        "page": page,
        "issue": page.issue,
        "defect": page.defect,
        "diagram": page.diagram_svg,
        "forms": [name for name in FORMS if name in allowed or _offered_together(name, allowed)],
        "refused": [a for a in page.actions.actions if not a.allowed],
        "api_only": [
            a
            for a in page.actions.actions
            if a.allowed and a.command not in FORMS and a.command != "internal_comment"
        ],
        "done": done,
        "errors": errors or {},
        "refusal": refusal,
        "failed_form": form,
        "values": {"idempotency_key": uuid.uuid4().hex, **(values or {})},
        "now": now,
        "tiers": [Tier.EXPERT, Tier.RND],
        "shown": None,
        "escalation_asks": escalation_asks(),
    }
    return render(request, viewer, state.settings, "agent/issue.html", context, status_code)


def _offered_together(name: str, allowed: set[str]) -> bool:
    """One comment form serves both visibilities: offered when either is allowed."""
    return name == "comment" and "internal_comment" in allowed


# --- the command forms ----------------------------------------------------------------------

Build = Callable[[Any, Principal, dict[str, str]], Awaitable[tuple[Any, BaseModel]]]


def _text(values: dict[str, str], name: str) -> str | None:
    return values.get(name, "").strip() or None


def _number(value: str) -> int | str:
    return int(value) if value.isdigit() else value


async def _acknowledge(s: Any, p: Principal, v: dict[str, str]) -> tuple[Any, BaseModel]:
    body = AcknowledgeBody(message=_text(v, "message"))
    return IssueWorkflow.acknowledge, AcknowledgeCommand(actor=p.actor, message=body.message)


async def _comment(s: Any, p: Principal, v: dict[str, str]) -> tuple[Any, BaseModel]:
    body = CommentBody.model_validate(
        {"body": v.get("body", ""), "visibility": v.get("visibility") or Visibility.PUBLIC.value}
    )
    command = CommentCommand(actor=p.actor, body=body.body, visibility=body.visibility)
    return IssueWorkflow.comment, command


async def _request_info(s: Any, p: Principal, v: dict[str, str]) -> tuple[Any, BaseModel]:
    body = RequestInfoBody(question=v.get("question", ""))
    return IssueWorkflow.request_info, RequestInfoCommand(actor=p.actor, question=body.question)


async def _resolution(s: Any, p: Principal, v: dict[str, str]) -> tuple[Any, BaseModel]:
    body = ResolutionBody(summary=v.get("summary", ""))
    command = ProposeResolutionCommand(actor=p.actor, summary=body.summary)
    return IssueWorkflow.propose_resolution, command


async def _escalate(s: Any, p: Principal, v: dict[str, str]) -> tuple[Any, BaseModel]:
    data: dict[str, object] = {
        "to_tier": _number(v.get("to_tier", "")),
        "reason": v.get("reason", ""),
        "engineer_id": _text(v, "engineer_id"),
    }
    asked = escalation_asks()
    data.update({name: v.get(name, "") for name in asked})
    body = EscalateBody.model_validate(data)
    engineer = None
    if body.engineer_id is not None:
        engineer = await service.engineer_choice(s, body.engineer_id, "body.engineer_id")
    command = EscalateCommand.model_validate(
        {
            "actor": p.actor,
            "to_tier": body.to_tier,
            "reason": body.reason,
            "engineer": engineer,
            **{name: getattr(body, name) for name in asked},
        }
    )
    return IssueWorkflow.escalate, command


def escalation_asks() -> tuple[str, ...]:
    """The texts people add to an escalation beyond its reason, as far as the API's body
    and the domain's command declare them (a summary of what was tried)."""
    return tuple(
        name
        for name in PEOPLE_FILL
        if name in EscalateBody.model_fields and name in EscalateCommand.model_fields
    )


async def _assign(s: Any, p: Principal, v: dict[str, str]) -> tuple[Any, BaseModel]:
    body = AssignBody.model_validate(
        {"engineer_id": v.get("engineer_id", ""), "reason": _text(v, "reason")}
    )
    engineer = await service.engineer_choice(s, body.engineer_id, "body.engineer_id")
    command = AssignCommand(actor=p.actor, engineer=engineer, reason=body.reason)
    return IssueWorkflow.assign, command


async def _severity(s: Any, p: Principal, v: dict[str, str]) -> tuple[Any, BaseModel]:
    body = SeverityBody.model_validate(
        {"severity": _number(v.get("severity", "")), "reason": v.get("reason", "")}
    )
    command = ChangeSeverityCommand(actor=p.actor, severity=body.severity, reason=body.reason)
    return IssueWorkflow.change_severity, command


async def _link(s: Any, p: Principal, v: dict[str, str]) -> tuple[Any, BaseModel]:
    body = LinkDefectBody.model_validate({"defect_key": v.get("defect_key", "").strip()})
    return IssueWorkflow.link_defect, LinkDefectCommand(actor=p.actor, defect_key=body.defect_key)


async def _retry(s: Any, p: Principal, v: dict[str, str]) -> tuple[Any, BaseModel]:
    return IssueWorkflow.retry_tracker_sync, RetryTrackerSyncCommand(actor=p.actor)


async def _reply(s: Any, p: Principal, v: dict[str, str]) -> tuple[Any, BaseModel]:
    body = ReplyBody(body=v.get("body", ""))
    return IssueWorkflow.customer_reply, CustomerReplyCommand(actor=p.actor, body=body.body)


async def _reopen(s: Any, p: Principal, v: dict[str, str]) -> tuple[Any, BaseModel]:
    body = ReopenBody(reason=v.get("reason", ""))
    return IssueWorkflow.reopen, ReopenCommand(actor=p.actor, reason=body.reason)


async def _cancel(s: Any, p: Principal, v: dict[str, str]) -> tuple[Any, BaseModel]:
    body = CancelBody(reason=v.get("reason", ""))
    return IssueWorkflow.cancel, CancelCommand(actor=p.actor, reason=body.reason)


async def _claim(s: Any, p: Principal, v: dict[str, str]) -> tuple[Any, BaseModel]:
    """For the caller themselves, as the JSON API claims (403 if they cannot own issues)."""
    engineer = await dispatch_service.claimant(s, p)
    return IssueWorkflow.claim, ClaimCommand(actor=p.actor, engineer=engineer)


async def _accept_offer(s: Any, p: Principal, v: dict[str, str]) -> tuple[Any, BaseModel]:
    return IssueWorkflow.accept_offer, AcceptOfferCommand(actor=p.actor)


async def _decline_offer(s: Any, p: Principal, v: dict[str, str]) -> tuple[Any, BaseModel]:
    body = DeclineOfferBody(reason=_text(v, "reason"))
    return IssueWorkflow.decline_offer, DeclineOfferCommand(actor=p.actor, reason=body.reason)


async def _hand_back(s: Any, p: Principal, v: dict[str, str]) -> tuple[Any, BaseModel]:
    body = HandBackBody(guidance=v.get("guidance", ""))
    return IssueWorkflow.hand_back, HandBackCommand(actor=p.actor, guidance=body.guidance)


@dataclass(frozen=True)
class CommandForm:
    build: Build
    fields: tuple[str, ...]
    """The form fields, kept to show again after a refusal."""


FORMS: dict[str, CommandForm] = {
    # an unowned issue is claimed or its offer answered before anything else happens to it
    "accept_offer": CommandForm(_accept_offer, ()),
    "decline_offer": CommandForm(_decline_offer, ("reason",)),
    "claim": CommandForm(_claim, ()),
    "acknowledge": CommandForm(_acknowledge, ("message",)),
    "request_info": CommandForm(_request_info, ("question",)),
    "propose_resolution": CommandForm(_resolution, ("summary",)),
    "comment": CommandForm(_comment, ("body", "visibility")),
    "escalate": CommandForm(_escalate, ("to_tier", "reason", "summary", "engineer_id")),
    "assign": CommandForm(_assign, ("engineer_id", "reason")),
    "change_severity": CommandForm(_severity, ("severity", "reason")),
    "link_defect": CommandForm(_link, ("defect_key",)),
    "retry_tracker_sync": CommandForm(_retry, ()),
    "customer_reply": CommandForm(_reply, ("body",)),
    "reopen": CommandForm(_reopen, ("reason",)),
    "cancel": CommandForm(_cancel, ("reason",)),
    "hand_back": CommandForm(_hand_back, ("guidance",)),
}
"""The commands the page has a form for, in the order it shows them; the rest of the
allowed commands are listed (the JSON API sends them)."""


@router.post("/issues/{issue_id}/commands/{command}", response_model=None)
async def run_command(
    request: Request,
    issue_id: str,
    command: str,
    viewer: ViewerDep,
    principal: StaffDep,
    state: StateDep,
    session: SessionDep,
    temporal: TemporalDep,
) -> Response:
    """Send one command as the JSON API does (the form's hidden key makes a double submit
    apply once); field errors and refusals come back onto the page."""
    spec = FORMS.get(command)
    if spec is None:
        return render(request, viewer, state.settings, "error.html", {"error": "not_found"}, 404)
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str) and len(v) <= 20_000}
    shown = {f"{command}.{name}": values.get(name, "") for name in spec.fields}
    t = translations(viewer.locale)

    async def again(**kwargs: Any) -> HTMLResponse:
        return await _issue_page(
            request,
            viewer,
            principal,
            state,
            session,
            temporal,
            issue_id,
            values=shown,
            form=command,
            **kwargs,
        )

    try:
        update, built = await spec.build(session, principal, values)
    except ValidationError as exc:
        return await again(errors=validation_errors(exc, t), status_code=422)
    except Problem as problem:
        if problem.status == 422:
            return await again(errors=problem_errors(problem, t), status_code=422)
        if problem.status == 403:  # e.g. a claim by someone who cannot own issues
            return await again(refusal=problem.detail, status_code=403)
        raise
    key = values.get("idempotency_key", "")[:64]
    try:
        row = await service.visible_issue(session, principal, issue_id)
        update_id = None
        if key:
            web_key = f"web-{key}"
            await service.claim_command_key(
                session, principal, update.__name__, row.id, built, web_key
            )
            update_id = service.command_update_id(principal, update.__name__, web_key)
        await service.run_command(session, temporal, row, update, built, update_id, principal)
    except CommandAccepted:
        pass
    except Problem as problem:
        if problem.status == 404:
            raise
        if problem.status == 422:
            return await again(errors=problem_errors(problem, t), status_code=422)
        return await again(refusal=problem.detail, status_code=problem.status)
    return RedirectResponse(
        f"/workspace/issues/{issue_id}?done={command}", status_code=status.HTTP_303_SEE_OTHER
    )
