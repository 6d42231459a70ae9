"""Knowledge base endpoints: articles (KCS states, audit), search and suggestions, the issue
page's similar cases and "solved with" links, feedback, views, deflections and prompts."""

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from api.auth import EVERYONE, STAFF
from api.deps import PrincipalDep, SessionDep, StateDep
from api.knowledge_schemas import (
    ArticleAuditEntry,
    ArticleCreate,
    ArticleRead,
    ArticleStateChange,
    ArticleUpdate,
    DeflectionAnswer,
    FeedbackBody,
    IssueArticleLink,
    IssueArticleLinked,
    PromptRead,
    SearchAnswer,
    SimilarAnswer,
    ViewBody,
)
from api.schemas import refuse_control_characters
from api.services import knowledge as service
from domain.enums import Category
from domain.knowledge import ArticleState, Audience

router = APIRouter(tags=["knowledge"], dependencies=[Depends(refuse_control_characters)])

SearchText = Annotated[str, Query(min_length=1, max_length=500)]
Limit = Annotated[int, Query(ge=1, le=50)]
ProductFilter = Annotated[str | None, Query(max_length=64)]
VersionFilter = Annotated[str | None, Query(max_length=200)]


@router.post("/knowledge/articles", status_code=status.HTTP_201_CREATED, response_model=ArticleRead)
async def create_article(
    body: ArticleCreate, principal: PrincipalDep, session: SessionDep
) -> ArticleRead:
    principal.require(STAFF, "write knowledge articles")
    return await service.create_article(session, principal, body)


@router.get("/knowledge/articles", response_model=list[ArticleRead])
async def list_articles(
    principal: PrincipalDep,
    session: SessionDep,
    product_id: ProductFilter = None,
    product_version: VersionFilter = None,
    category: Category | None = None,
    audience: Audience | None = None,
    state: Annotated[list[ArticleState] | None, Query()] = None,
    limit: Limit = 50,
) -> list[ArticleRead]:
    filters = service.search_filters(
        principal,
        product_id=product_id,
        product_version=product_version,
        category=category,
        audience=audience,
        states=tuple(state or ()),
    )
    return await service.list_articles(session, principal, filters, limit)


@router.get("/knowledge/articles/{article_id}", response_model=ArticleRead)
async def get_article(article_id: str, principal: PrincipalDep, session: SessionDep) -> ArticleRead:
    return await service.get_article(session, principal, article_id)


@router.patch("/knowledge/articles/{article_id}", response_model=ArticleRead)
async def update_article(
    article_id: str, body: ArticleUpdate, principal: PrincipalDep, session: SessionDep
) -> ArticleRead:
    principal.require(STAFF, "edit knowledge articles")
    return await service.update_article(session, principal, article_id, body)


@router.post("/knowledge/articles/{article_id}/state", response_model=ArticleRead)
async def change_state(
    article_id: str, body: ArticleStateChange, principal: PrincipalDep, session: SessionDep
) -> ArticleRead:
    principal.require(STAFF, "change an article's state")
    return await service.change_state(session, principal, article_id, body)


@router.get("/knowledge/articles/{article_id}/audit", response_model=list[ArticleAuditEntry])
async def audit_trail(
    article_id: str, principal: PrincipalDep, session: SessionDep
) -> list[ArticleAuditEntry]:
    principal.require(STAFF, "read an article's audit trail")
    return await service.audit_trail(session, principal, article_id)


@router.post("/knowledge/articles/{article_id}/feedback", response_model=ArticleRead)
async def feedback(
    article_id: str, body: FeedbackBody, principal: PrincipalDep, session: SessionDep
) -> ArticleRead:
    principal.require(EVERYONE, "give feedback")
    return await service.feedback(session, principal, article_id, body)


@router.post("/knowledge/articles/{article_id}/viewed", status_code=status.HTTP_204_NO_CONTENT)
async def viewed(
    article_id: str, body: ViewBody, principal: PrincipalDep, session: SessionDep
) -> Response:
    await service.viewed(session, principal, article_id, body)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/knowledge/search", response_model=SearchAnswer)
async def search(
    q: SearchText,
    principal: PrincipalDep,
    session: SessionDep,
    product_id: ProductFilter = None,
    product_version: VersionFilter = None,
    category: Category | None = None,
    audience: Audience | None = None,
    state: Annotated[list[ArticleState] | None, Query()] = None,
    limit: Limit = 10,
) -> SearchAnswer:
    filters = service.search_filters(
        principal,
        product_id=product_id,
        product_version=product_version,
        category=category,
        audience=audience,
        states=tuple(state or ()),
    )
    return await service.search(session, principal, q, filters, limit)


@router.get("/knowledge/suggest", response_model=SearchAnswer)
async def suggest(
    title: SearchText,
    principal: PrincipalDep,
    session: SessionDep,
    product_id: ProductFilter = None,
    limit: Annotated[int, Query(ge=1, le=10)] = 5,
) -> SearchAnswer:
    return await service.suggest(session, principal, title, product_id, limit)


@router.get("/knowledge/deflections", response_model=DeflectionAnswer)
async def deflections(
    since: datetime,
    principal: PrincipalDep,
    session: SessionDep,
    state: StateDep,
    until: datetime | None = None,
    window: timedelta | None = None,
) -> DeflectionAnswer:
    principal.require(STAFF, "read deflection figures")
    return await service.deflections(
        session,
        principal,
        since,
        until,
        window if window is not None else state.settings.knowledge_deflection_window,
    )


@router.get("/knowledge/prompts", response_model=list[PromptRead])
async def prompts(
    principal: PrincipalDep,
    session: SessionDep,
    issue_id: Annotated[str | None, Query(max_length=64)] = None,
    everyone: bool = False,
) -> list[PromptRead]:
    principal.require(STAFF, "read knowledge prompts")
    return await service.prompts(session, principal, issue_id, everyone)


@router.get("/issues/{issue_id}/similar", response_model=SimilarAnswer)
async def similar(
    issue_id: str, principal: PrincipalDep, session: SessionDep, limit: Limit = 5
) -> SimilarAnswer:
    return await service.similar(session, principal, issue_id, limit)


@router.post(
    "/issues/{issue_id}/articles",
    status_code=status.HTTP_201_CREATED,
    response_model=IssueArticleLinked,
    responses={200: {"model": IssueArticleLinked, "description": "the link already existed"}},
)
async def link_article(
    issue_id: str,
    body: IssueArticleLink,
    principal: PrincipalDep,
    session: SessionDep,
    response: Response,
) -> IssueArticleLinked:
    principal.require(STAFF, "link issues to articles")
    linked = await service.link_issue(session, principal, issue_id, body.article_id)
    response.status_code = status.HTTP_201_CREATED if linked.created else status.HTTP_200_OK
    return linked


@router.post(
    "/issues/{issue_id}/articles/draft",
    status_code=status.HTTP_201_CREATED,
    response_model=ArticleRead,
    responses={200: {"model": ArticleRead, "description": "the issue's article already existed"}},
)
async def draft_from_issue(
    issue_id: str, principal: PrincipalDep, session: SessionDep, response: Response
) -> ArticleRead:
    principal.require(STAFF, "draft articles from issues")
    article, created = await service.draft_from_issue(session, principal, issue_id)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return article
