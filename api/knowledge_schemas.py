"""Request and response models of the knowledge base (articles, search, feedback, prompts)."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from api.schemas import Body, Printable, Request, Slug, Title
from domain.enums import Category
from domain.knowledge import ArticleKind, ArticleLinkKind, ArticleState, Audience, PromptKind

Version = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Printable
]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20_000), Printable]
Tag = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40), Printable
]
SessionId = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$"
    ),
]
DefectRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class ArticleFields(Request):
    """What a person writes; everything but the title and the problem may come later."""

    title: Title
    problem: Body
    environment: LongText = ""
    product_id: Slug | None = None
    product_version: Version | None = None
    cause: LongText = ""
    resolution: LongText = ""
    workaround: LongText = ""
    kind: ArticleKind = ArticleKind.SOLUTION
    category: Category | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    audience: Audience = Audience.INTERNAL
    defect_key: DefectRef | None = None


class ArticleCreate(ArticleFields):
    pass


class ArticleUpdate(Request):
    """A partial edit: only the given fields change, each change lands in the audit trail."""

    title: Title | None = None
    problem: Body | None = None
    environment: LongText | None = None
    product_id: Slug | None = None
    product_version: Version | None = None
    cause: LongText | None = None
    resolution: LongText | None = None
    workaround: LongText | None = None
    kind: ArticleKind | None = None
    category: Category | None = None
    tags: list[Tag] | None = Field(default=None, max_length=20)
    audience: Audience | None = None
    defect_key: DefectRef | None = None
    fixed_in_version: Version | None = None


class ArticleStateChange(Request):
    state: ArticleState


class ArticleRead(BaseModel):
    """An article as the caller may read it (customers get no internal bookkeeping)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    problem: str
    environment: str
    product_id: str | None
    product_version: str | None
    cause: str
    resolution: str
    workaround: str
    kind: ArticleKind
    category: Category | None
    tags: list[str]
    audience: Audience
    state: ArticleState
    fixed_in_version: str | None
    updated_at: datetime
    owner_id: str | None = None
    owner_name: str | None = None
    source_issue_id: str | None = None
    defect_key: str | None = None
    reuse_count: int | None = None
    helpful_count: int | None = None
    not_helpful_count: int | None = None
    outdated_count: int | None = None
    last_used_at: datetime | None = None
    created_at: datetime | None = None
    revision: int | None = None
    linked_issues: list[str] | None = None


class ArticleAuditEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    actor_id: str
    actor_name: str
    action: str
    from_state: ArticleState | None
    to_state: ArticleState | None
    changes: dict[str, object]


class SearchResult(BaseModel):
    article: ArticleRead
    score: float = Field(description="higher is better; comparable within one answer only")


class SearchAnswer(BaseModel):
    query: str
    items: list[SearchResult]


class SimilarIssue(BaseModel):
    issue_id: str
    title: str
    state: str
    via_article: str = Field(description="the similar article the issue is linked to")


class SimilarAnswer(BaseModel):
    """What the issue page shows: similar articles and the past issues behind them."""

    articles: list[SearchResult]
    issues: list[SimilarIssue]


class IssueArticleLink(Request):
    article_id: Slug


class IssueArticleLinked(BaseModel):
    article_id: str
    issue_id: str
    link: ArticleLinkKind
    created: bool = Field(description="false when the issue was already linked to the article")
    reuse_count: int


class FeedbackBody(Request):
    helpful: StrictBool | None = None
    outdated: StrictBool = False
    comment: LongText = ""


class ViewBody(Request):
    session_id: SessionId = Field(description="the client's session (portal tab) id")


class DeflectionAnswer(BaseModel):
    since: datetime
    until: datetime
    window_seconds: int
    sessions_with_views: int
    deflected: int
    rate: float | None


class PromptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: PromptKind
    issue_id: str | None
    article_id: str | None
    engineer_id: str | None
    message: str
    created_at: datetime
    notified_at: datetime | None
    done_at: datetime | None
