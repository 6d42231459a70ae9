"""The customer portal: the organisation's issues, opening one, and answering on its page.

Each page calls the services the JSON API calls, with the signed-in person's Principal;
each command runs as the API's does (claimed Idempotency-Key, then a Temporal Update), the
key being a hidden field of the form so a double-submitted form is applied once.
"""

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.auth import Principal
from api.deps import SessionDep, StateDep, TemporalDep
from api.errors import Problem
from api.schemas import CommentBody, ConfirmationBody, IssueCreate, ReopenBody, ReplyBody
from api.services import attachments as attachment_service
from api.services import issue_actions as actions_service
from api.services import issue_cards as cards_service
from api.services import issue_diagram as diagram_service
from api.services import issues as service
from api.services import reference as reference_service
from api.temporal_gateway import CommandAccepted
from domain.enums import Category, Channel, Role, ServiceMode, Severity
from domain.models import (
    CommentCommand,
    ConfirmClosureCommand,
    CustomerReplyCommand,
    ReopenCommand,
)
from web.actions import Action, allowed_actions, from_workflow
from web.deps import PageForbidden, PrincipalPage, Viewer, ViewerDep, verify_csrf
from web.forms import FieldErrors, problem_errors, validation_errors
from web.i18n import translations
from web.templating import render
from workflows.issue import IssueWorkflow

router = APIRouter(prefix="/portal", include_in_schema=False, dependencies=[Depends(verify_csrf)])

DONE = frozenset(
    {"opened", "replied", "confirmed", "rejected", "reopened", "commented", "attached", "pending"}
)
"""What the page after a command may say was done (a fixed vocabulary, never echoed text)."""


def customer(principal: PrincipalPage) -> Principal:
    if principal.role != Role.CUSTOMER:
        raise PageForbidden()
    return principal


CustomerDep = Annotated[Principal, Depends(customer)]
Text = Annotated[str, Form(max_length=20_000)]


def first_name(name: str | None) -> str | None:
    """Customers see their engineer by first name only."""
    return name.split()[0] if name else None


def see_issue(issue_id: str) -> RedirectResponse:
    return RedirectResponse(f"/portal/issues/{issue_id}", status_code=status.HTTP_303_SEE_OTHER)


@router.get("", response_class=HTMLResponse)
async def issues_page(
    request: Request,
    viewer: ViewerDep,
    principal: CustomerDep,
    state: StateDep,
    session: SessionDep,
    cursor: Annotated[str | None, Query(max_length=service.MAX_CURSOR_LENGTH)] = None,
) -> HTMLResponse:
    context = await _issue_list(session, principal, cursor)
    return render(request, viewer, state.settings, "portal/issues.html", context)


@router.get("/issues/rows", response_class=HTMLResponse)
async def issue_rows(
    request: Request,
    viewer: ViewerDep,
    principal: CustomerDep,
    state: StateDep,
    session: SessionDep,
    cursor: Annotated[str | None, Query(max_length=service.MAX_CURSOR_LENGTH)] = None,
) -> HTMLResponse:
    """The table body alone: htmx refreshes it every minute, so the countdowns move."""
    context = await _issue_list(session, principal, cursor)
    return render(request, viewer, state.settings, "portal/_issue_rows.html", context)


async def _issue_list(
    session: SessionDep, principal: Principal, cursor: str | None
) -> dict[str, Any]:
    try:
        cards, next_cursor = await cards_service.issue_cards(
            session,
            principal,
            service.IssueFilters(),
            service.IssueSort.CREATED_DESC,
            cursor,
            25,
            datetime.now(UTC),
        )
    except Problem:  # a cursor this site did not issue: show the first page
        cards, next_cursor = await cards_service.issue_cards(
            session,
            principal,
            service.IssueFilters(),
            service.IssueSort.CREATED_DESC,
            None,
            25,
            datetime.now(UTC),
        )
    return {"cards": cards, "next_cursor": next_cursor, "first_name": first_name}


@router.get("/issues/new", response_class=HTMLResponse)
async def new_issue_page(
    request: Request,
    viewer: ViewerDep,
    principal: CustomerDep,
    state: StateDep,
    session: SessionDep,
) -> HTMLResponse:
    return await _new_issue_form(request, viewer, state, session, {}, {})


async def _new_issue_form(
    request: Request,
    viewer: Viewer,
    state: StateDep,
    session: SessionDep,
    values: dict[str, str],
    errors: FieldErrors,
    status_code: int = 200,
) -> HTMLResponse:
    products = await reference_service.list_products(session)
    context = {
        "products": products,
        "values": {"idempotency_key": uuid.uuid4().hex, **values},
        "errors": errors,
        "categories": list(Category),
        "service_modes": list(ServiceMode),
        "severities": list(Severity),
        "tab": uuid.uuid4().hex,  # the tab's session id for the article views it leads to
    }
    return render(request, viewer, state.settings, "portal/new_issue.html", context, status_code)


@router.post("/issues", response_model=None)
async def open_issue(
    request: Request,
    viewer: ViewerDep,
    principal: CustomerDep,
    state: StateDep,
    session: SessionDep,
    temporal: TemporalDep,
    title: Annotated[str, Form(max_length=1000)] = "",
    description: Text = "",
    product_id: Annotated[str, Form(max_length=200)] = "",
    severity: Annotated[str, Form(max_length=4)] = "",
    category: Annotated[str, Form(max_length=40)] = Category.INCIDENT.value,
    service_mode: Annotated[str, Form(max_length=40)] = ServiceMode.REMOTE.value,
    idempotency_key: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Open the issue (the hidden key makes a resubmitted form open it once)."""
    values = {
        "title": title,
        "description": description,
        "product_id": product_id,
        "severity": severity,
        "category": category,
        "service_mode": service_mode,
        "idempotency_key": idempotency_key or uuid.uuid4().hex,
    }
    t = translations(viewer.locale)
    try:
        body = IssueCreate.model_validate(
            {
                "title": title,
                "description": description,
                "product_id": product_id,
                "severity": int(severity) if severity.isdigit() else severity,
                "category": category,
                "service_mode": service_mode,
                "channel": Channel.PORTAL.value,
            }
        )
    except ValidationError as exc:
        return await _new_issue_form(
            request, viewer, state, session, values, validation_errors(exc, t), 422
        )
    try:
        issue, _ = await service.create_issue(
            session, temporal, state.settings, principal, body, f"web-{values['idempotency_key']}"
        )
    except Problem as problem:
        errors = problem_errors(problem, t) if problem.status == 422 else {"form": problem.detail}
        return await _new_issue_form(
            request, viewer, state, session, values, errors, problem.status
        )
    return RedirectResponse(
        f"/portal/issues/{issue.id}?done=opened", status_code=status.HTTP_303_SEE_OTHER
    )


@router.get("/issues/{issue_id}", response_class=HTMLResponse)
async def issue_page(
    request: Request,
    issue_id: str,
    viewer: ViewerDep,
    principal: CustomerDep,
    state: StateDep,
    session: SessionDep,
    done: str | None = None,
) -> HTMLResponse:
    return await _issue_page(
        request, viewer, principal, state, session, issue_id, done=done if done in DONE else None
    )


async def _issue_page(
    request: Request,
    viewer: Viewer,
    principal: Principal,
    state: StateDep,
    session: SessionDep,
    issue_id: str,
    *,
    done: str | None = None,
    errors: FieldErrors | None = None,
    refusal: str | None = None,
    values: dict[str, str] | None = None,
    form: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    try:
        detail = await service.issue_detail(session, principal, issue_id)
    except Problem as problem:
        if problem.status != 404:
            raise
        return render(request, viewer, state.settings, "error.html", {"error": "not_found"}, 404)
    now = datetime.now(UTC)
    diagram = await diagram_service.diagram_svg(
        session,
        principal,
        issue_id,
        gettext=translations(viewer.locale).gettext,
        format_time=lambda moment: viewer.formats.datetime(moment, "short"),
    )
    attachments = await attachment_service.list_attachments(session, principal, issue_id)
    context = {
        "diagram": diagram,
        "issue": detail,
        "attachments": attachments,
        "accepted_extensions": ",".join(attachment_service.ACCEPTED_EXTENSIONS),
        "attachment_limit": state.settings.attachment_max_bytes,
        "actions": await _offered(request, session, principal, detail, now),
        "Action": Action,
        "done": done,
        "errors": errors or {},
        "refusal": refusal,
        "failed_form": form,
        "values": {"idempotency_key": uuid.uuid4().hex, **(values or {})},
        "first_name": first_name,
        "now": now,
    }
    return render(request, viewer, state.settings, "portal/issue.html", context, status_code)


async def _offered(
    request: Request, session: Any, principal: Principal, detail: Any, now: datetime
) -> frozenset[Action]:
    """What the workflow allows the customer now; its state's rules if it cannot answer."""
    temporal = request.app.state.itr.temporal
    try:
        answer = await actions_service.issue_actions(session, temporal, principal, detail.id, now)
    except Problem as problem:
        if problem.status != 503:
            raise
        return allowed_actions(detail, principal, now)
    return from_workflow(answer)


async def _run(
    request: Request,
    viewer: Viewer,
    principal: Principal,
    state: StateDep,
    session: SessionDep,
    temporal: TemporalDep,
    issue_id: str,
    update: Any,
    command: Any,
    key: str,
    done: str,
    values: dict[str, str],
    form: str,
) -> Response:
    """One command as the JSON API runs it; refusals come back onto the issue page."""
    t = translations(viewer.locale)
    try:
        row = await service.visible_issue(session, principal, issue_id)
        update_id = None
        if key:
            web_key = f"web-{key}"
            await service.claim_command_key(
                session, principal, update.__name__, row.id, command, web_key
            )
            update_id = service.command_update_id(principal, update.__name__, web_key)
        await service.run_command(session, temporal, row, update, command, update_id, principal)
    except CommandAccepted:
        return RedirectResponse(
            f"/portal/issues/{issue_id}?done=pending", status_code=status.HTTP_303_SEE_OTHER
        )
    except Problem as problem:
        if problem.status == 422:
            return await _issue_page(
                request,
                viewer,
                principal,
                state,
                session,
                issue_id,
                errors=problem_errors(problem, t),
                values=values,
                form=form,
                status_code=422,
            )
        if problem.status == 404:
            raise
        return await _issue_page(
            request,
            viewer,
            principal,
            state,
            session,
            issue_id,
            refusal=problem.detail,
            values=values,
            form=form,
            status_code=problem.status,
        )
    return RedirectResponse(
        f"/portal/issues/{issue_id}?done={done}", status_code=status.HTTP_303_SEE_OTHER
    )


async def _invalid(
    request: Request,
    viewer: Viewer,
    principal: Principal,
    state: StateDep,
    session: SessionDep,
    issue_id: str,
    exc: ValidationError,
    values: dict[str, str],
    form: str,
) -> HTMLResponse:
    errors = validation_errors(exc, translations(viewer.locale))
    return await _issue_page(
        request,
        viewer,
        principal,
        state,
        session,
        issue_id,
        errors=errors,
        values=values,
        form=form,
        status_code=422,
    )


@router.post("/issues/{issue_id}/reply", response_model=None)
async def reply(
    request: Request,
    issue_id: str,
    viewer: ViewerDep,
    principal: CustomerDep,
    state: StateDep,
    session: SessionDep,
    temporal: TemporalDep,
    body: Text = "",
    idempotency_key: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    values = {"reply_body": body}
    try:
        parsed = ReplyBody(body=body)
    except ValidationError as exc:
        return await _invalid(
            request, viewer, principal, state, session, issue_id, exc, values, "reply"
        )
    command = CustomerReplyCommand(actor=principal.actor, body=parsed.body)
    return await _run(
        request,
        viewer,
        principal,
        state,
        session,
        temporal,
        issue_id,
        IssueWorkflow.customer_reply,
        command,
        idempotency_key,
        "replied",
        values,
        "reply",
    )


@router.post("/issues/{issue_id}/comment", response_model=None)
async def comment(
    request: Request,
    issue_id: str,
    viewer: ViewerDep,
    principal: CustomerDep,
    state: StateDep,
    session: SessionDep,
    temporal: TemporalDep,
    body: Text = "",
    idempotency_key: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    values = {"comment_body": body}
    try:
        parsed = CommentBody(body=body)
    except ValidationError as exc:
        return await _invalid(
            request, viewer, principal, state, session, issue_id, exc, values, "comment"
        )
    command = CommentCommand(actor=principal.actor, body=parsed.body, visibility=parsed.visibility)
    return await _run(
        request,
        viewer,
        principal,
        state,
        session,
        temporal,
        issue_id,
        IssueWorkflow.comment,
        command,
        idempotency_key,
        "commented",
        values,
        "comment",
    )


@router.post("/issues/{issue_id}/confirmation", response_model=None)
async def confirmation(
    request: Request,
    issue_id: str,
    viewer: ViewerDep,
    principal: CustomerDep,
    state: StateDep,
    session: SessionDep,
    temporal: TemporalDep,
    decision: Annotated[str, Form(max_length=10)] = "",
    satisfaction: Annotated[str, Form(max_length=2)] = "",
    comment: Text = "",
    idempotency_key: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Accept (with an optional 1-5 rating and comment) or reject (a comment is required:
    the workflow's validator says so, and its reason is shown)."""
    values = {"decision": decision, "satisfaction": satisfaction, "confirm_comment": comment}
    try:
        parsed = ConfirmationBody.model_validate(
            {
                "accept": {"accept": True, "reject": False}.get(decision, decision),
                "satisfaction": int(satisfaction)
                if satisfaction.isdigit()
                else (satisfaction or None),
                "comment": comment.strip() or None,
            }
        )
    except ValidationError as exc:
        return await _invalid(
            request, viewer, principal, state, session, issue_id, exc, values, "confirmation"
        )
    command = ConfirmClosureCommand(
        actor=principal.actor,
        accept=parsed.accept,
        satisfaction=parsed.satisfaction if parsed.accept else None,
        comment=parsed.comment,
    )
    return await _run(
        request,
        viewer,
        principal,
        state,
        session,
        temporal,
        issue_id,
        IssueWorkflow.confirm_closure,
        command,
        idempotency_key,
        "confirmed" if parsed.accept else "rejected",
        values,
        "confirmation",
    )


@router.post("/issues/{issue_id}/reopen", response_model=None)
async def reopen(
    request: Request,
    issue_id: str,
    viewer: ViewerDep,
    principal: CustomerDep,
    state: StateDep,
    session: SessionDep,
    temporal: TemporalDep,
    reason: Text = "",
    idempotency_key: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    values = {"reopen_reason": reason}
    try:
        parsed = ReopenBody(reason=reason)
    except ValidationError as exc:
        return await _invalid(
            request, viewer, principal, state, session, issue_id, exc, values, "reopen"
        )
    command = ReopenCommand(actor=principal.actor, reason=parsed.reason)
    return await _run(
        request,
        viewer,
        principal,
        state,
        session,
        temporal,
        issue_id,
        IssueWorkflow.reopen,
        command,
        idempotency_key,
        "reopened",
        values,
        "reopen",
    )


@router.post("/issues/{issue_id}/attachments", response_model=None)
async def attach(
    request: Request,
    issue_id: str,
    viewer: ViewerDep,
    principal: CustomerDep,
    state: StateDep,
    session: SessionDep,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Attach a log or a screenshot; refusals (size, type) are shown at the field."""
    limit = state.settings.attachment_max_bytes
    data = await file.read(limit + 1) if file is not None else b""
    name = (file.filename or "") if file is not None else ""
    try:
        await attachment_service.add_attachment(
            session, state.attachments, state.settings, principal, issue_id, name, data
        )
    except Problem as problem:
        if problem.status != 422:
            raise
        return await _issue_page(
            request,
            viewer,
            principal,
            state,
            session,
            issue_id,
            errors=problem_errors(problem, translations(viewer.locale)),
            form="attachment",
            status_code=422,
        )
    return RedirectResponse(
        f"/portal/issues/{issue_id}?done=attached", status_code=status.HTTP_303_SEE_OTHER
    )


@router.get("/issues/{issue_id}/attachments/{attachment_id}", response_model=None)
async def download(
    issue_id: str,
    attachment_id: str,
    principal: CustomerDep,
    state: StateDep,
    session: SessionDep,
) -> Response:
    """The file, always as a download (never rendered inline by the browser)."""
    attachment, data = await attachment_service.read_attachment(
        session, state.attachments, principal, issue_id, attachment_id
    )
    disposition = f"attachment; filename*=UTF-8''{quote(attachment.filename, safe='')}"
    return Response(
        data,
        media_type=attachment.content_type,
        headers={"Content-Disposition": disposition, "Content-Security-Policy": "sandbox"},
    )
