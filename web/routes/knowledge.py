"""Knowledge in the workspace: suggestions while a customer types a title, articles to
read (and the views that feed the deflection count), and for staff an issue's similar
cases with the knowledge prompt's actions (link an article, draft from the resolution).

Every rule (who may read which article, what is similar, what a link or a draft does) is
the knowledge service's; these routes parse, authorise by role and render.
"""

import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.deps import SessionDep, StateDep
from api.errors import Problem, invalid
from api.knowledge_schemas import ViewBody
from api.services import knowledge as service
from domain.knowledge import TRANSITIONS
from web.deps import ViewerDep, verify_csrf
from web.routes.agent import StaffDep
from web.routes.portal import CustomerDep
from web.templating import render

portal_router = APIRouter(
    prefix="/portal", include_in_schema=False, dependencies=[Depends(verify_csrf)]
)
workspace_router = APIRouter(
    prefix="/workspace", include_in_schema=False, dependencies=[Depends(verify_csrf)]
)

MAX_SUGGESTIONS = 5
MAX_SIMILAR = 5
MIN_TITLE = 3
"""Shorter titles match too much to be worth a suggestion."""

TAB = re.compile(r"^[A-Za-z0-9_.:-]{8,100}$")
"""A portal tab's session id, as the knowledge API's ViewBody accepts it."""

Tab = Annotated[str | None, Query(max_length=100)]


def new_tab() -> str:
    """A per-tab session id: the new-issue page mints one and keeps it in its links."""
    return uuid.uuid4().hex


def _tab(value: str | None) -> str | None:
    return value if value and TAB.match(value) else None


@portal_router.get("/suggestions", response_class=HTMLResponse)
async def suggestions(
    request: Request,
    viewer: ViewerDep,
    principal: CustomerDep,
    state: StateDep,
    session: SessionDep,
    title: Annotated[str, Query(max_length=200)] = "",
    product_id: Annotated[str, Query(max_length=100)] = "",
    tab: Tab = None,
) -> HTMLResponse:
    """The fragment under the title field: validated customer articles like the title."""
    text = title.strip()
    items = []
    if len(text) >= MIN_TITLE:
        answer = await service.suggest(
            session, principal, text, product_id or None, MAX_SUGGESTIONS
        )
        items = answer.items
    context = {"items": items, "tab": _tab(tab), "asked": len(text) >= MIN_TITLE}
    return render(request, viewer, state.settings, "knowledge/_suggestions.html", context)


@portal_router.get("/articles/{article_id}", response_class=HTMLResponse)
async def portal_article(
    request: Request,
    viewer: ViewerDep,
    principal: CustomerDep,
    state: StateDep,
    session: SessionDep,
    article_id: str,
    tab: Tab = None,
) -> HTMLResponse:
    """An article for a customer (404 unless validated and written for customers); the
    page records the view for its tab once loaded (htmx POST, CSRF-checked)."""
    article = await service.get_article(session, principal, article_id)
    context = {"article": article, "tab": _tab(tab), "staff": False}
    return render(request, viewer, state.settings, "knowledge/article.html", context)


@portal_router.post("/articles/{article_id}/viewed", response_model=None)
async def portal_viewed(
    principal: CustomerDep,
    session: SessionDep,
    article_id: str,
    tab: Annotated[str, Form(max_length=100)],
) -> Response:
    """The view of one tab's session: the deflection count's input (nothing to show)."""
    try:
        body = ViewBody.model_validate({"session_id": tab})
    except ValidationError:
        raise invalid("body.tab", "not a tab session id this site issued") from None
    await service.viewed(session, principal, article_id, body)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@workspace_router.get("/articles/{article_id}", response_class=HTMLResponse)
async def staff_article(
    request: Request,
    viewer: ViewerDep,
    principal: StaffDep,
    state: StateDep,
    session: SessionDep,
    article_id: str,
) -> HTMLResponse:
    """An article with its state and the KCS moves the viewer's role may make from it."""
    article = await service.get_article(session, principal, article_id)
    moves = [
        target
        for (source, target), roles in TRANSITIONS.items()
        if source == article.state and principal.role in roles
    ]
    context = {"article": article, "tab": None, "staff": True, "moves": moves}
    return render(request, viewer, state.settings, "knowledge/article.html", context)


@workspace_router.get("/issues/{issue_id}/similar", response_class=HTMLResponse)
async def similar(
    request: Request,
    viewer: ViewerDep,
    principal: StaffDep,
    state: StateDep,
    session: SessionDep,
    issue_id: str,
    resolved: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    """The "Similar cases" panel of the staff issue page, loaded once the page is shown;
    on a resolved issue it carries the knowledge prompt's two actions."""
    answer = await service.similar(session, principal, issue_id, MAX_SIMILAR)
    context = {"answer": answer, "issue_id": issue_id, "resolved": resolved, "done": None}
    return render(request, viewer, state.settings, "knowledge/_similar.html", context)


@workspace_router.post("/issues/{issue_id}/solved-with", response_class=HTMLResponse)
async def solved_with(
    request: Request,
    viewer: ViewerDep,
    principal: StaffDep,
    state: StateDep,
    session: SessionDep,
    issue_id: str,
    article_id: Annotated[str, Form(max_length=100)],
) -> HTMLResponse:
    """Link an existing article as the resolution's ("solved with"); the result, or the
    reason it was refused, replaces the panel's result line."""
    try:
        linked = await service.link_issue(session, principal, issue_id, article_id)
    except Problem as problem:
        if problem.status not in (409, 422):
            raise
        context: dict[str, Any] = {"error": problem.detail, "linked": None, "draft": None}
        return render(request, viewer, state.settings, "knowledge/_result.html", context, 200)
    context = {"error": None, "linked": linked, "draft": None}
    return render(request, viewer, state.settings, "knowledge/_result.html", context)


@workspace_router.post("/issues/{issue_id}/draft-article", response_class=HTMLResponse)
async def draft_article(
    request: Request,
    viewer: ViewerDep,
    principal: StaffDep,
    state: StateDep,
    session: SessionDep,
    issue_id: str,
) -> HTMLResponse:
    """Turn the issue's resolution into a draft article (the same draft on a second try)."""
    article, created = await service.draft_from_issue(session, principal, issue_id)
    context = {"error": None, "linked": None, "draft": article, "created": created}
    return render(request, viewer, state.settings, "knowledge/_result.html", context)
