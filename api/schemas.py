"""The API's request and response models (one family per resource), separate from the domain."""

import unicodedata
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import Request as HttpRequest
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StrictBool,
    StrictInt,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from api.errors import Problem
from domain.calendar import BusinessCalendar
from domain.enums import (
    AssignmentStrategy,
    Category,
    Channel,
    ClosureOutcome,
    ContractLevel,
    EventKind,
    IssueState,
    Presence,
    Role,
    ServiceMode,
    Severity,
    SlaClockKind,
    Tier,
    Visibility,
    WarrantyStatus,
)
from domain.sla import BreachAction, ClockView, SlaOverrides, SlaPolicy

# --- what every piece of text and every number must be --------------------------------------

_ALLOWED_CONTROLS = frozenset("\t\n\r")


def control_character(value: str) -> str | None:
    """The first character no stored text may hold, as U+XXXX, or None when there is none.

    NUL and the other control characters (except tab, newline, carriage return) and lone
    surrogates: PostgreSQL refuses NUL in text and cannot encode a lone surrogate, SQLite
    would store them, and neither belongs in a title, a comment or a reason.
    """
    for char in value:
        if char in _ALLOWED_CONTROLS:
            continue
        if unicodedata.category(char) in ("Cc", "Cs"):
            return f"U+{ord(char):04X}"
    return None


def _printable(value: str) -> str:
    found = control_character(value)
    if found is not None:
        raise PydanticCustomError(
            "control_character",
            "must not contain control characters (found {character})",
            {"character": found},
        )
    return value


def _json_integer(value: object) -> object:
    """An integer vocabulary (severity, tier) takes a JSON integer only: `true` is not 1 and
    "2" is not 2, as lax validation would have it."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError("int_type", "Input should be a JSON integer")
    return value


def _json_string(value: object) -> object:
    """A date takes an ISO 8601 string only, not a number of seconds."""
    if not isinstance(value, str | date):
        raise PydanticCustomError("date_type", "Input should be an ISO 8601 date string")
    return value


PRINTABLE_PATTERN = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
"""The rule as the OpenAPI document states it (ECMA 262 regex), so clients and contract
tests know it; `_printable` enforces it with a message naming the character."""


class _Printable:
    """Validator and documentation of the one rule for request text: no control characters
    but tab, newline and return."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(_printable, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.setdefault("pattern", PRINTABLE_PATTERN)
        return json_schema


Printable = _Printable()
"""The one rule for request text: no control characters but tab, newline and return."""

Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200), Printable
]
Body = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000), Printable
]
Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Printable
]
"""A short reason: like the domain's ShortText, blank or whitespace-only is refused."""
Slug = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$"
    ),
]
StrictSeverity = Annotated[Severity, BeforeValidator(_json_integer)]
StrictTier = Annotated[Tier, BeforeValidator(_json_integer)]
IsoDate = Annotated[date, BeforeValidator(_json_string)]


def _text_values(value: Any, path: tuple[str | int, ...]) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield ".".join(str(part) for part in path), value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _text_values(str(key), (*path, "<key>"))
            yield from _text_values(item, (*path, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _text_values(item, (*path, index))


def control_character_errors(value: Any, prefix: str) -> list[dict[str, str]]:
    """Every string in a free-form document (the SLA admin's JSON) holding a control
    character, as 422 errors at its path below `prefix`."""
    errors = []
    for loc, text in _text_values(value, (prefix,)):
        found = control_character(text)
        if found is not None:
            message = f"must not contain control characters (found {found})"
            errors.append({"loc": loc, "msg": message, "type": "control_character"})
    return errors


async def refuse_control_characters(request: HttpRequest) -> None:
    """Router dependency: the same rule for path and query parameters, which reach the
    database as lookups (a NUL there is a 500 on PostgreSQL)."""
    errors = control_character_errors(dict(request.path_params), "path")
    for name, value in request.query_params.multi_items():
        errors.extend(control_character_errors(value, f"query.{name}"))
    if errors:
        detail = "; ".join(f"{e['loc']}: {e['msg']}" for e in errors)
        raise Problem(422, "Unprocessable Content", detail, errors=list(errors))


DefectKey = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Z][A-Z0-9_]*-[1-9][0-9]{0,17}$"),
]


class Request(BaseModel):
    """Request bodies refuse unknown fields, so a typo is a 422, not a silent no-op.

    Every field takes its JSON type only: integers and booleans are `Strict*` (or
    `StrictSeverity`/`StrictTier`), text is `Printable`, so nothing is coerced into meaning
    something the client did not say.
    """

    model_config = ConfigDict(extra="forbid")


# --- issues -----------------------------------------------------------------------------


class IssueCreate(Request):
    title: Title
    description: Body
    product_id: Slug
    severity: StrictSeverity = Field(description="1 = production down … 4 = cosmetic")
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
    pause_for_parts: bool = False


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
    team_id: str | None = Field(
        default=None, description="The accountable team: the owner's, or the queue's (staff)"
    )
    offered_to_id: str | None = Field(default=None, description="Offered to this engineer")
    offer_expires_at: datetime | None = None


SEQ_DESCRIPTION = (
    "Position on the timeline: the recorded sequence number for staff; 1, 2, 3... over the "
    "entries they can see for customers (the same entry has the same number everywhere)"
)


class TimelineEntry(BaseModel):
    seq: int = Field(description=SEQ_DESCRIPTION)
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
    seq: int = Field(description=SEQ_DESCRIPTION)
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
    team_id: str | None = Field(default=None, description="The team accountable now")


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
    guidance: StrictBool = Field(
        default=False, description="Internal advice from a higher tier that does not own it"
    )


class AssignBody(Request):
    engineer_id: Slug
    reason: Reason | None = Field(default=None, description="Omit rather than send it blank")


class EscalateBody(Request):
    to_tier: Annotated[StrictTier, Field(description="2 = domain experts, 3 = R&D")]
    reason: Body
    summary: Body = Field(description="What was tried before escalating (internal)")
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
    accept: StrictBool
    satisfaction: Annotated[StrictInt, Field(ge=1, le=5)] | None = None
    comment: Body | None = None


class ReopenBody(Request):
    reason: Body


class CancelBody(Request):
    reason: Body


class SeverityBody(Request):
    severity: StrictSeverity = Field(description="1 = production down … 4 = cosmetic")
    reason: Body


IssueId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), Printable
]


class ReapplyOneBody(Request):
    reason: (
        Annotated[
            str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), Printable
        ]
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


# --- dispatch: claims, offers, hand-offs, bulk assignment ----------------------------------


class DeclineOfferBody(Request):
    reason: Body | None = None


class HandBackBody(Request):
    guidance: Body = Field(description="What the tier-1 owner should do next (internal)")


class HandOverBody(Request):
    engineer_id: Slug = Field(description="The engineer going off duty")
    reason: Body


class EngineerHandOverBody(Request):
    reason: Body


class BulkAssignBody(Request):
    issue_ids: Annotated[list[IssueId], Field(min_length=1, max_length=200)]
    engineer_id: Slug
    reason: Reason | None = None


BulkOutcomeKind = Literal["assigned", "handed_over", "refused", "forbidden", "not_found"]


class BulkOutcome(BaseModel):
    """One issue's result in a bulk command: a refusal never fails the others."""

    issue_id: str
    outcome: BulkOutcomeKind
    detail: str | None = None
    issue: IssueRead | None = None


class BulkReport(BaseModel):
    results: list[BulkOutcome]


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
    starts_on: IsoDate
    warranty_end: IsoDate


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
    current_version: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=64), Printable] | None
    ) = None


class ProductRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    current_version: str | None


LanguageCode = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=2,
        max_length=16,
        pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$",
    ),
]
"""A BCP 47 language tag as we store it: "en", "de", "pt-BR"."""
SkillLevel = Annotated[int, Field(ge=1, le=5), BeforeValidator(_json_integer)]
OfferMinutes = Annotated[int, Field(ge=1, le=10_080), BeforeValidator(_json_integer)]
Capacity = Annotated[int, Field(ge=0, le=10_000), BeforeValidator(_json_integer)]


class TeamFields(Request):
    """What a team's routing needs beyond its name and tier (all optional on create)."""

    product_ids: list[Slug] = Field(default_factory=list, description="Each product once")
    regions: list[Slug] = Field(default_factory=list, max_length=100)
    languages: list[LanguageCode] = Field(default_factory=list, max_length=50)
    calendar: Annotated[str, StringConstraints(min_length=1, max_length=200), Printable] | None = (
        Field(default=None, description="A business calendar's name: the team's working hours")
    )
    strategy: AssignmentStrategy = AssignmentStrategy.LEAST_LOADED
    offer_timeout_minutes: OfferMinutes | None = Field(
        default=None, description="An engineer must accept within this; none: direct assignment"
    )
    load_counts_running_only: StrictBool = Field(
        default=True, description="Load counts issues whose SLA clocks run (else every open one)"
    )


class TeamCreate(TeamFields):
    id: Slug
    name: Title
    tier: StrictTier


class TeamUpdate(TeamFields):
    """A full replacement of the team's editable fields (its id and tier stay)."""

    name: Title
    manager_id: Slug | None = Field(default=None, description="The primary manager")
    manager_ids: list[Slug] = Field(
        default_factory=list, max_length=20, description="Further managers, each once"
    )


class TeamRead(BaseModel):
    id: str
    name: str
    tier: Tier
    manager_id: str | None
    manager_ids: list[str] = Field(
        default_factory=list, description="Every manager, the primary one included"
    )
    product_ids: list[str]
    regions: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    calendar: str | None = None
    strategy: AssignmentStrategy = AssignmentStrategy.LEAST_LOADED
    offer_timeout_minutes: int | None = None
    load_counts_running_only: bool = True


class EngineerFields(Request):
    """An engineer's routing profile (all optional on create)."""

    team_ids: list[Slug] = Field(
        default_factory=list, description="Further teams beyond team_id, each once"
    )
    skills: dict[
        Annotated[
            str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
        ],
        SkillLevel,
    ] = Field(default_factory=dict, max_length=100, description='{"edge-router": 4, "bgp": 2}')
    languages: list[LanguageCode] = Field(default_factory=list, max_length=50)
    region: Slug | None = None
    presence: Presence = Presence.AVAILABLE
    capacity: Capacity = Field(default=10, description="Most open issues dispatch gives them")
    substitute_id: Slug | None = Field(
        default=None, description="Takes over their issues while they are off duty"
    )


class EngineerCreate(EngineerFields):
    id: Slug
    name: Title
    email: EmailStr
    team_id: Slug
    is_manager: StrictBool = False


class EngineerUpdate(EngineerFields):
    """A full replacement of the engineer's editable fields (id and manager role stay)."""

    name: Title
    email: EmailStr
    team_id: Slug
    active: StrictBool = True


class PresenceBody(Request):
    presence: Presence


class EngineerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    email: str
    tier: Tier
    team_id: str
    is_manager: bool
    active: bool
    team_ids: list[str] = Field(default_factory=list, description="Every team, primary included")
    skills: dict[str, int] = Field(default_factory=dict)
    languages: list[str] = Field(default_factory=list)
    region: str | None = None
    presence: Presence = Presence.AVAILABLE
    capacity: int = 10
    substitute_id: str | None = None


class TokenCreate(Request):
    name: Title
    role: Role
    organisation_id: Slug | None = None
    engineer_id: Slug | None = None
    contact_email: EmailStr | None = None


class TokenRead(BaseModel):
    """An issued token as admins list it: never the token itself (only its hash is kept)."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    role: Role
    organisation_id: str | None = None
    engineer_id: str | None = None
    created_at: datetime
    revoked_at: datetime | None = None


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


# --- SLA policies as data ----------------------------------------------------------------------


class CalendarRead(BaseModel):
    calendar: BusinessCalendar
    updated_at: datetime


class PolicyRead(BaseModel):
    policy: SlaPolicy
    version: int
    updated_at: datetime


class PolicyKey(BaseModel):
    contract_level: ContractLevel
    severity: Severity


class PolicyCheck(BaseModel):
    """Whether every contract level x severity has a policy, and which do not."""

    complete: bool
    missing: list[PolicyKey]


class ContractOverridesRead(BaseModel):
    contract_id: str
    overrides: SlaOverrides | None


# --- what the issue page offers --------------------------------------------------------------


class IssueAction(BaseModel):
    """One command and whether the caller may send it now; `reason` says why not (the words
    the command itself would be refused with). `path` is the endpoint to POST it to."""

    command: str
    allowed: bool
    reason: str | None = None
    path: str


class IssueActions(BaseModel):
    issue_id: str
    state: IssueState
    as_of: datetime
    actions: list[IssueAction]


class AttachmentRead(BaseModel):
    """A file attached to an issue; its bytes at `GET /issues/{id}/attachments/{attachment_id}`."""

    id: str
    filename: str
    content_type: str
    size: int = Field(description="bytes")
    uploaded_by_name: str
    uploaded_at: datetime


# --- dispatch: routing rules, dry run, work views ---------------------------------------------


class RuleCriteriaBody(Request):
    """Each criterion is "any of" the listed values; an empty or missing list matches any."""

    products: list[Slug] = Field(default_factory=list, max_length=200)
    categories: list[Category] = Field(default_factory=list)
    severities: list[StrictSeverity] = Field(default_factory=list)
    organisations: list[Slug] = Field(default_factory=list, max_length=1000)
    contract_levels: list[ContractLevel] = Field(default_factory=list)
    regions: list[Slug] = Field(default_factory=list, max_length=200)
    service_modes: list[ServiceMode] = Field(default_factory=list)
    languages: list[LanguageCode] = Field(default_factory=list, max_length=50)
    channels: list[Channel] = Field(default_factory=list)


class RoutingRuleFields(Request):
    name: Title
    position: Annotated[int, Field(ge=0, le=1_000_000), BeforeValidator(_json_integer)]
    criteria: RuleCriteriaBody = Field(default_factory=RuleCriteriaBody)
    teams: dict[Literal["1", "2", "3"], Slug] = Field(
        default_factory=dict, description='The target team per tier: {"1": "t1-network"}'
    )
    team_id: Slug | None = Field(default=None, description="Or one team (for its own tier)")


class RoutingRuleCreate(RoutingRuleFields):
    id: Slug


class RoutingRuleRead(BaseModel):
    id: str
    name: str
    position: int
    criteria: RuleCriteriaBody
    teams: dict[str, str]
    updated_at: datetime


class RoutingDefaultBody(Request):
    team_id: Slug


class RoutingDefaultRead(BaseModel):
    tier: Tier
    team_id: str


class DryRunBody(Request):
    """An issue id (routed as it stands, at its current tier unless `tier` is given), or an
    issue-like description."""

    issue_id: Annotated[str, StringConstraints(min_length=1, max_length=64), Printable] | None = (
        None
    )
    product_id: Slug | None = None
    tier: StrictTier | None = None
    organisation_id: Slug | None = None
    category: Category | None = None
    severity: StrictSeverity | None = None
    service_mode: ServiceMode | None = None
    channel: Channel | None = None
    exclude_engineer_ids: list[Slug] = Field(default_factory=list, max_length=100)
    team_id: Slug | None = None
    substitute_for: Slug | None = None


class RuleConsidered(BaseModel):
    rule_id: str
    position: int
    matched: bool
    failed: str | None = Field(description="The first criterion that did not hold")
    team_id: str | None


class EngineerConsidered(BaseModel):
    engineer_id: str
    name: str
    eligible: bool
    why: str
    presence: Presence
    load: int
    capacity: int
    skill_level: int | None
    chosen: bool


class DryRunTeam(BaseModel):
    id: str
    name: str
    tier: Tier
    strategy: AssignmentStrategy
    offer_timeout_minutes: int | None


class DryRunRead(BaseModel):
    """Who would get the issue, and why: every rule, the team, every engineer of it."""

    facts: dict[str, Any]
    rules: list[RuleConsidered]
    routing: str = Field(description="How the team was chosen (a rule, the default...)")
    team: DryRunTeam | None
    engineers: list[EngineerConsidered]
    strategy: str | None = Field(description="The strategy's reason for its pick")
    substitute_id: str | None = None
    owner_id: str | None
    owner_name: str | None
    why: str | None


class WorkloadEntry(BaseModel):
    engineer_id: str
    name: str
    presence: Presence
    capacity: int
    open_issues: int = Field(description="Every open issue they own")
    counted_load: int = Field(description="What dispatch counts (the team's load rule)")
    free: int = Field(description="capacity - counted_load, never below 0")


class TeamWorkload(BaseModel):
    team_id: str
    load_counts_running_only: bool
    engineers: list[WorkloadEntry]
