"""Contracts between the API, the workflow and the activities (pydantic v2, small payloads)."""

from datetime import date, datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from domain.enums import (
    ActorKind,
    Category,
    Channel,
    ClosureOutcome,
    ContractLevel,
    DefectOutcome,
    EventKind,
    IssueState,
    ServiceMode,
    Severity,
    SlaClockKind,
    Tier,
    Visibility,
    WarrantyStatus,
)
from domain.onsite import OnsiteSummary
from domain.sla import ClockView, ResolvedPolicy, SlaClock
from domain.sla_tracking import IssueSla

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=64)]
DefectKey = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]*-[1-9][0-9]{0,17}$")]


class Contract(BaseModel):
    """Base for every contract: immutable, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ActorScope(Contract):
    """What the API resolved about a staff caller from the database: the teams it works in
    and manages, and its tier. The domain's ownership rules read it; an actor without a
    scope (the system, or a command recorded before the rules existed) is not checked."""

    team_ids: tuple[str, ...] = ()
    managed_team_ids: tuple[str, ...] = ()
    tier: Tier | None = None


class Actor(Contract):
    """Who issued a command; recorded on the timeline."""

    kind: ActorKind
    id: Identifier
    name: ShortText
    scope: ActorScope | None = None


SYSTEM_ACTOR = Actor(kind=ActorKind.SYSTEM, id="itr", name="ITR")


class IssueIntake(Contract):
    """What the API knows when it registers a new issue."""

    issue_id: Identifier
    organisation_id: Identifier
    product_id: Identifier
    title: ShortText
    description: Text
    category: Category
    severity: Severity
    service_mode: ServiceMode = ServiceMode.REMOTE
    channel: Channel = Channel.PORTAL
    reporter: Actor
    created_at: datetime


class SlaTargets(Contract):
    """First-response and resolution targets for one severity: the fallback (24x7) for an
    issue no SLA policy covers (no contract, or a gap in the policy tables)."""

    first_response: timedelta
    resolution: timedelta


class LifecycleConfig(Contract):
    """Timing rules snapshotted at intake: editing configuration changes new issues only."""

    sla_targets: dict[Severity, SlaTargets]
    confirmation_reminder_after: timedelta = timedelta(days=3)
    auto_close_after: timedelta = timedelta(days=7)
    reopen_window: timedelta = timedelta(days=14)
    max_events_per_run: int = 2_000
    tracker_enabled: bool = False
    # How long before an on-site visit's window the engineer and the customer are reminded.
    visit_reminder_before: timedelta = timedelta(hours=24)


class Entitlement(Contract):
    """The customer's contract as looked up at intake."""

    contract_id: str | None
    level: ContractLevel | None
    warranty_status: WarrantyStatus
    warranty_end: date | None = None


class OwnerChoice(Contract):
    """An engineer chosen (or named) to own the issue at a tier."""

    engineer_id: Identifier
    engineer_name: ShortText
    tier: Tier
    # The team the owner works for (None: recorded before teams were routed), and why this
    # engineer: the routing rule and the strategy's reason, for the timeline.
    team_id: str | None = None
    why: str | None = None
    # The team wants the engineer to accept within this (an offer, re-offered when it
    # expires); None: assigned directly.
    offer_timeout: timedelta | None = None


class Offer(Contract):
    """The issue offered to one engineer, who accepts or declines before `expires_at`."""

    engineer: OwnerChoice
    expires_at: datetime


class IssueStatus(Contract):
    """The live state of an issue: the workflow query result and the read-model projection."""

    issue_id: str
    organisation_id: str
    product_id: str
    title: str
    category: Category
    severity: Severity
    service_mode: ServiceMode
    state: IssueState
    previous_state: IssueState | None = None
    tier: Tier = Tier.FRONTLINE
    owner: OwnerChoice | None = None
    # The team accountable for the current stage: the owner's, or the queue's while nobody
    # owns the issue. None in histories recorded before teams were routed.
    team_id: str | None = None
    tier1_owner: OwnerChoice | None = None
    # The open offer, and who declined or let an offer expire since the issue last had an
    # owner (the next choice excludes them).
    offer: Offer | None = None
    declined_ids: tuple[str, ...] = ()
    entitlement: Entitlement | None = None
    sla: IssueSla | None = None
    waiting_for: str = ""
    created_at: datetime
    accepted_at: datetime | None = None
    assigned_at: datetime | None = None
    first_response_at: datetime | None = None
    escalated_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    cancelled_at: datetime | None = None
    confirmation_reminder_at: datetime | None = None
    confirmation_reminded: bool = False
    auto_close_at: datetime | None = None
    reopen_until: datetime | None = None
    archived_at: datetime | None = None
    closure_outcome: ClosureOutcome | None = None
    resolution_summary: str | None = None
    satisfaction: int | None = None
    reopen_count: int = 0
    defect_key: str | None = None
    defect_url: str | None = None
    tracker_sync_error: str | None = None
    # On-site service: visits and spare parts (None until the first is dispatched/requested).
    onsite: OnsiteSummary | None = None
    revision: int = 0

    def clock(self, kind: SlaClockKind) -> SlaClock | None:
        return self.sla.clock(kind) if self.sla else None

    @property
    def next_deadline(self) -> datetime | None:
        """The next breach if nothing changes (None while every clock is paused or stopped)."""
        return self.sla.next_breach_at if self.sla else None

    @property
    def breached(self) -> bool:
        return self.sla.breached if self.sla else False


class TimelineEvent(Contract):
    """One entry of the issue's audit trail; (issue_id, seq) makes recording idempotent."""

    issue_id: str
    seq: int
    at: datetime
    kind: EventKind
    actor: Actor
    from_state: IssueState | None = None
    to_state: IssueState | None = None
    visibility: Visibility = Visibility.PUBLIC
    summary: str = ""
    data: dict[str, str | int | None] = Field(default_factory=dict)

    @property
    def event_id(self) -> str:
        return f"{self.issue_id}:{self.seq:06d}"


class CommentRecord(Contract):
    """A comment; its text lives in the read model, never in workflow state."""

    comment_id: str
    issue_id: str
    at: datetime
    author: Actor
    body: str
    visibility: Visibility


class Audience(Contract):
    """Who a notification is for; resolved to addresses by the notify activity."""

    owner: bool = False
    owner_manager: bool = False
    reporter: bool = False
    engineer_id: str | None = None
    # The managers of this team (the queue an unowned issue waits in); and everyone holding
    # a live dispatcher token (an unowned issue, a missed on-site visit).
    team_id: str | None = None
    dispatchers: bool = False


class Notification(Contract):
    """A message to people; notification_id makes delivery idempotent."""

    notification_id: str
    issue_id: str
    kind: str
    audience: Audience
    subject: str
    at: datetime
    data: dict[str, str | int | None] = Field(default_factory=dict)


class RecordBatch(Contract):
    """Everything one workflow step writes to the read model, in one transaction."""

    status: IssueStatus
    events: tuple[TimelineEvent, ...] = ()
    comment: CommentRecord | None = None
    intake: IssueIntake | None = None


# --- commands (Temporal Update inputs) -------------------------------------------------


class Command(Contract):
    actor: Actor


class AcknowledgeCommand(Command):
    message: Text | None = None


class CommentCommand(Command):
    body: Text
    visibility: Visibility = Visibility.PUBLIC
    # Advice from a higher tier on an issue it does not own (always internal).
    guidance: bool = False


class AssignCommand(Command):
    engineer: OwnerChoice
    reason: ShortText | None = None


class EscalateCommand(Command):
    to_tier: Tier
    reason: Text
    engineer: OwnerChoice | None = None
    defect_key: DefectKey | None = None
    # What was tried before escalating (internal, like the reason); required from people.
    summary: Text | None = None


class ClaimCommand(Command):
    """Take an unowned issue from its team's queue; `engineer` is the claimant as owner."""

    engineer: OwnerChoice


class AcceptOfferCommand(Command):
    """The engineer the issue is offered to takes it."""


class DeclineOfferCommand(Command):
    """The engineer the issue is offered to passes; it is offered to the next one."""

    reason: Text | None = None


class HandBackCommand(Command):
    """The tier-2 owner returns the issue to its tier-1 owner, with guidance."""

    guidance: Text


class HandOverCommand(Command):
    """Move the issue away from an engineer going off duty (their substitute first)."""

    engineer_id: Identifier
    reason: Text


class RetryTrackerSyncCommand(Command):
    """Create the defect again after a permanent tracker error was fixed (config, project)."""


class LinkDefectCommand(Command):
    """Link the issue to an existing defect instead of creating one (many issues, one defect)."""

    defect_key: DefectKey


class DefectChange(Contract):
    """A tracker change for the defect an issue waits on (sent as a Signal, never refused)."""

    defect_key: DefectKey
    outcome: DefectOutcome
    dedupe_key: str
    fix_versions: tuple[str, ...] = ()
    reason: str | None = None


class DefectComment(Contract):
    """An R&D comment on the linked defect, brought back as an internal comment (a Signal)."""

    @property
    def delivery_key(self) -> str:
        """Shared by the webhook and the poll, so a comment both deliver is forwarded once."""
        return f"comment:{self.defect_key}:{self.comment_id}"

    defect_key: DefectKey
    comment_id: str
    author_name: str
    body: Annotated[str, StringConstraints(min_length=1, max_length=20_000)]


class TrackerPollRequest(Contract):
    """The schedule's fixed argument: how far back the very first poll looks (no watermark yet)."""

    initial_lookback: timedelta = timedelta(hours=24)


class TrackerPollInput(Contract):
    """One poll: defects updated at or after since (the last successful poll's watermark)."""

    since: datetime


class TrackerPollResult(Contract):
    """A poll's outcome; watermark is where the next poll starts (the run's completion result)."""

    since: datetime
    watermark: datetime
    defects_updated: int = 0
    signalled: tuple[str, ...] = ()
    comments_forwarded: int = 0


class RequestInfoCommand(Command):
    question: Text


class CustomerReplyCommand(Command):
    body: Text


class ProposeResolutionCommand(Command):
    summary: Text


class ConfirmClosureCommand(Command):
    accept: bool
    satisfaction: Annotated[int, Field(ge=1, le=5)] | None = None
    comment: Text | None = None


class ReopenCommand(Command):
    reason: Text


class CancelCommand(Command):
    reason: Text


class ChangeSeverityCommand(Command):
    """Re-rate the impact; the clocks keep their history and take the new severity's targets."""

    severity: Severity
    reason: Text


class ReapplySlaCommand(Command):
    """Measure the issue against the current policy (an admin's explicit choice)."""

    reason: Text | None = None


class SlaPolicyQuery(Contract):
    organisation_id: str
    contract_level: ContractLevel | None
    severity: Severity
    on: date


class SlaClocksReport(Contract):
    """The `sla_clocks` query's answer: every clock as of one instant."""

    as_of: datetime
    clocks: tuple[ClockView, ...] = ()


class SlaPolicyAnswer(Contract):
    """The policy in force, or None when none covers the combination (defaults apply)."""

    policy: ResolvedPolicy | None = None


class CommandResult(Contract):
    """What every update returns: the new state, and the comment it wrote if any."""

    status: IssueStatus
    comment_id: str | None = None


class IssueWorkflowInput(Contract):
    """Start (and continue-as-new) input of IssueWorkflow."""

    intake: IssueIntake
    config: LifecycleConfig
    carried: IssueStatus | None = None
    carried_seq: int = 0
    # Background work the previous run had not finished when it continued as new: this run
    # restarts it (the activities are idempotent), so no run waits on an outage to continue.
    pending_notifications: tuple[Notification, ...] = ()
    pending_mirrors: tuple["MirrorCommentInput", ...] = ()
    pending_defect_creation: bool = False


class IssueOutcome(Contract):
    issue_id: str
    state: IssueState
    closure_outcome: ClosureOutcome | None = None


# --- activity inputs and outputs -------------------------------------------------------


class EntitlementQuery(Contract):
    organisation_id: str
    product_id: str
    on: date


class OwnerQuery(Contract):
    """Who should own the issue at a tier. The optional fields feed the routing rules;
    histories recorded before routing carry only the first three."""

    issue_id: str
    product_id: str
    tier: Tier
    organisation_id: str | None = None
    category: Category | None = None
    severity: Severity | None = None
    service_mode: ServiceMode | None = None
    channel: Channel | None = None
    # Engineers not to offer it to (declined or timed-out offers, the previous owner).
    exclude_engineer_ids: tuple[str, ...] = ()
    # Route within this team only (a re-offer in the same queue), skipping the rules.
    team_id: str | None = None
    # Hand-over from this (off-duty) engineer: their substitute is asked first.
    substitute_for: str | None = None


class OwnerAnswer(Contract):
    owner: OwnerChoice | None = None
    # With no owner: the team whose queue the issue waits in, and why nobody qualified.
    team_id: str | None = None
    why: str | None = None


class IntakeFactsQuery(Contract):
    """Intake's three look-ups in one activity: the contract, then the SLA policy for its
    level and this severity (as of `policy_on`), then the tier-1 owner."""

    entitlement: EntitlementQuery
    severity: Severity
    policy_on: date
    owner: OwnerQuery


class IntakeFacts(Contract):
    entitlement: Entitlement
    policy: SlaPolicyAnswer
    owner: OwnerAnswer


class ProductQuery(Contract):
    product_id: str


class ProductInfo(Contract):
    """Reference data a defect report needs; version is the product's current release."""

    product_id: str
    name: str | None = None
    current_version: str | None = None


class CreateDefectInput(Contract):
    """Context R&D needs, without customer personal data (no reporter, no organisation)."""

    issue_id: str
    product_id: str
    product_version: str = ""
    title: str
    description_excerpt: str
    severity: Severity


class TrackerSyncReport(Contract):
    """One create-defect attempt as the issue's read model shows it (see SyncStatusSink).

    attempt is Temporal's attempt number: a late write from an attempt that already timed
    out must not overwrite what a later attempt recorded."""

    issue_id: str
    attempt: Annotated[int, Field(ge=1)]
    pending: bool
    last_error: str | None = None
    keep_last_error: bool = False


class MirrorCommentInput(Contract):
    """A comment to mirror on the defect; marker makes a retried post land only once."""

    defect_key: DefectKey
    issue_id: str
    marker: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
    author: ShortText
    body: str
    # Set for "another customer is affected": the activity then writes the body itself with
    # the number of linked issues it reads at posting time (the workflow cannot know it).
    impact_severity: Severity | None = None


class LinkDefectInput(Contract):
    issue_id: str
    defect_key: DefectKey
    title: str


class DefectLink(Contract):
    """The defect an issue is linked to; created is False when it already existed.

    defect_id is the tracker's immutable id (None from builds before it was recorded): the key
    changes when the defect moves, and a rebuilt tracker may reuse it for another defect."""

    key: str
    url: str
    created: bool = False
    defect_id: str | None = None
