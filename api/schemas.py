"""The API's request and response models (one family per resource), separate from the domain."""

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from domain.enums import (
    Category,
    Channel,
    ClosureOutcome,
    ContractLevel,
    EventKind,
    IssueState,
    Role,
    ServiceMode,
    Severity,
    SlaClockKind,
    Tier,
    Visibility,
    WarrantyStatus,
)
from domain.sla import BreachAction, ClockView

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)]
Body = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
Slug = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$"
    ),
]

DefectKey = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Z][A-Z0-9_]*-[1-9][0-9]{0,17}$"),
]


class Request(BaseModel):
    """Request bodies refuse unknown fields, so a typo is a 422, not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


# --- issues -----------------------------------------------------------------------------


class IssueCreate(Request):
    title: Title
    description: Body
    product_id: Slug
    severity: Severity = Field(description="1 = production down … 4 = cosmetic")
    category: Category = Category.INCIDENT
    service_mode: ServiceMode = ServiceMode.REMOTE
    channel: Channel = Channel.PORTAL
    organisation_id: Slug | None = Field(
        default=None, description="Required for staff and integrations; implied for customers"
    )


class Deadline(BaseModel):
    """A customer promise (first response, resolution); `due_at` is None while its clock is
    paused or stopped (the deadline moves with the pause)."""

    clock: SlaClockKind
    due_at: datetime | None
    met_at: datetime | None
    breached: bool


class SlaPolicyInfo(BaseModel):
    """The policy snapshot the issue is measured against (taken at intake, or re-applied)."""

    contract_level: ContractLevel | None = Field(
        description="None when no policy covered the issue and the defaults apply"
    )
    severity: Severity
    version: int = Field(description="The policy edit it was taken from; 0 = defaults")
    fallback: bool
    calendar: str
    first_response: timedelta
    resolution: timedelta
    warnings: list[int]
    breach_actions: list[BreachAction]
    pause_while_waiting_for_rnd: bool


class IssueSlaRead(BaseModel):
    policy: SlaPolicyInfo
    clocks: list[ClockView] = Field(description="Customers see first_response and resolution")
    paused: bool
    at_risk: bool
    breached: bool
    next_breach_at: datetime | None
    computed_at: datetime


class IssueRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    organisation_id: str
    product_id: str
    category: Category
    severity: Severity
    service_mode: ServiceMode
    channel: Channel
    state: IssueState
    tier: Tier
    owner_id: str | None
    owner_name: str | None
    waiting_for: str | None
    contract_level: ContractLevel | None
    warranty_status: WarrantyStatus | None
    reporter_name: str
    created_at: datetime
    updated_at: datetime | None
    accepted_at: datetime | None
    assigned_at: datetime | None
    first_response_at: datetime | None
    escalated_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None
    first_response_due: datetime | None
    resolution_due: datetime | None
    next_deadline: datetime | None
    first_response_breached: bool
    resolution_breached: bool
    breached: bool
    auto_close_at: datetime | None
    reopen_until: datetime | None
    closure_outcome: ClosureOutcome | None
    resolution_summary: str | None
    satisfaction: int | None
    reopen_count: int
    defect_key: str | None = None
    tracker_sync_error: str | None = None
    tracker_sync_pending: bool = False
    tracker_last_error: str | None = None
    tracker_attempts: int = 0


class TimelineEntry(BaseModel):
    seq: int
    at: datetime
    kind: EventKind
    actor_kind: str
    actor_name: str
    from_state: IssueState | None
    to_state: IssueState | None
    visibility: Visibility
    summary: str


class CommentRead(BaseModel):
    id: str
    at: datetime
    author_kind: str
    author_name: str
    body: str
    visibility: Visibility


class IssueDetail(IssueRead):
    description: str
    deadlines: list[Deadline]
    sla: IssueSlaRead | None = None
    timeline: list[TimelineEntry]
    comments: list[CommentRead]


class SlaHistoryEntry(BaseModel):
    seq: int
    at: datetime
    kind: EventKind
    actor_name: str
    visibility: Visibility
    summary: str
    data: dict[str, Any]


class IssueSlaHistory(BaseModel):
    """The issue's clocks now and how they got there: policy applications, clock
    transitions, warnings, breaches and severity changes, in timeline order."""

    issue_id: str
    sla: IssueSlaRead | None
    history: list[SlaHistoryEntry]


class AtRiskIssue(BaseModel):
    issue_id: str
    title: str
    organisation_id: str
    severity: Severity
    state: IssueState
    tier: Tier
    owner_id: str | None
    owner_name: str | None
    next_deadline: datetime = Field(description="When the next clock breaches")
    clock: SlaClockKind | None = Field(description="The clock that breaches next")
    remaining: timedelta = Field(description="Business time left (zero when overdue)")
    overdue: bool = Field(description="Past the deadline, breach not yet recorded")


class AtRiskPage(BaseModel):
    as_of: datetime
    within: timedelta
    items: list[AtRiskIssue]


class IssuePage(BaseModel):
    items: list[IssueRead]
    next_cursor: str | None


class CommandResponse(BaseModel):
    issue: IssueRead
    comment_id: str | None = None


class AcknowledgeBody(Request):
    message: Body | None = Field(default=None, description="Optional first public response")


class CommentBody(Request):
    body: Body
    visibility: Visibility = Visibility.PUBLIC


class AssignBody(Request):
    engineer_id: Slug
    reason: Annotated[str, StringConstraints(max_length=200)] | None = None


class EscalateBody(Request):
    to_tier: Annotated[Tier, Field(description="2 = domain experts, 3 = R&D")]
    reason: Body
    engineer_id: Slug | None = Field(default=None, description="Omit to dispatch automatically")
    defect_key: DefectKey | None = Field(
        default=None, description="Tier 3 only: link this existing defect instead of creating one"
    )


class LinkDefectBody(Request):
    defect_key: DefectKey = Field(description="An existing defect, e.g. PROJ-12")


class RequestInfoBody(Request):
    question: Body


class ReplyBody(Request):
    body: Body


class ResolutionBody(Request):
    summary: Body


class ConfirmationBody(Request):
    accept: bool
    satisfaction: Annotated[int, Field(ge=1, le=5)] | None = None
    comment: Body | None = None


class ReopenBody(Request):
    reason: Body


class CancelBody(Request):
    reason: Body


class SeverityBody(Request):
    severity: Severity = Field(description="1 = production down … 4 = cosmetic")
    reason: Body


IssueId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class ReapplyOneBody(Request):
    reason: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
        | None
    ) = None


class ReapplyBody(ReapplyOneBody):
    issue_ids: Annotated[list[IssueId], Field(min_length=1, max_length=200)]


class ReapplyResult(BaseModel):
    issue_id: str
    outcome: Literal["reapplied", "refused", "not_found"]
    detail: str | None = None
    issue: IssueRead | None = None


class ReapplyReport(BaseModel):
    results: list[ReapplyResult]


# --- reference data -----------------------------------------------------------------------


class OrganisationCreate(Request):
    id: Slug
    name: Title


class OrganisationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str


class ContractCreate(Request):
    id: Slug
    level: ContractLevel
    starts_on: date
    warranty_end: date


class ContractRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    organisation_id: str
    level: ContractLevel
    starts_on: date
    warranty_end: date


class ProductCreate(Request):
    id: Slug
    name: Title
    current_version: Annotated[str, StringConstraints(max_length=64)] | None = None


class ProductRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    current_version: str | None


class TeamCreate(Request):
    id: Slug
    name: Title
    tier: Tier
    product_ids: list[Slug] = Field(default_factory=list)


class TeamRead(BaseModel):
    id: str
    name: str
    tier: Tier
    manager_id: str | None
    product_ids: list[str]


class EngineerCreate(Request):
    id: Slug
    name: Title
    email: EmailStr
    team_id: Slug
    is_manager: bool = False


class EngineerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    email: str
    tier: Tier
    team_id: str
    is_manager: bool
    active: bool


class TokenCreate(Request):
    name: Title
    role: Role
    organisation_id: Slug | None = None
    engineer_id: Slug | None = None
    contact_email: EmailStr | None = None


class TokenCreated(BaseModel):
    id: str
    name: str
    role: Role
    token: str = Field(description="Shown once; only its hash is stored")


# --- tracker ----------------------------------------------------------------------------


class TrackerWebhookResult(BaseModel):
    """What became of one tracker delivery (Jira only looks at the status code)."""

    outcome: Literal["signalled", "duplicate", "ignored", "unlinked"]
    defect_key: str | None = None
    issue_ids: list[str] = Field(default_factory=list)
    detail: str | None = None  # why an "unlinked" delivery reached no issue


class TrackerSyncErrorOut(BaseModel):
    """An issue whose R&D defect could not be created, with the tracker's last refusal."""

    issue_id: str
    title: str
    state: IssueState
    tier: Tier
    owner_name: str | None = None
    tracker_sync_error: str
    updated_at: datetime
