"""The read model and reference data as SQLAlchemy 2 typed tables, portable SQLite/PostgreSQL."""

from datetime import UTC, date, datetime
from enum import IntEnum, StrEnum
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from domain.enums import (
    ActorKind,
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
    Tier,
    Visibility,
    WarrantyStatus,
)
from domain.knowledge import ArticleKind, ArticleLinkKind, ArticleState, Audience, PromptKind
from domain.onsite import PartState, VisitState

# Deterministic constraint names: Alembic batch mode on SQLite needs them to alter tables.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = 64
NAME = 200
EMAIL = 320
RECORD_ID = 100

StrEnumT = TypeVar("StrEnumT", bound=StrEnum)
IntEnumT = TypeVar("IntEnumT", bound=IntEnum)


def utcnow() -> datetime:
    """The current instant, timezone-aware, so nothing naive ever reaches the database."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and returns aware UTC datetimes, because SQLite forgets the offset."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} refused: the read model stores UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class StrEnumType(TypeDecorator[StrEnumT]):
    """A closed vocabulary stored as its string value; no CHECK, so vocabularies grow in code."""

    impl = sa.String
    cache_ok = True

    def __init__(self, enum_type: type[StrEnumT], length: int = 32) -> None:
        super().__init__(length)
        self.enum_type = enum_type

    def process_bind_param(self, value: StrEnumT | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum_type(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> StrEnumT | None:
        return None if value is None else self.enum_type(value)


class IntEnumType(TypeDecorator[IntEnumT]):
    """An integer vocabulary (severity, tier) stored as a plain integer so it sorts naturally."""

    impl = sa.Integer
    cache_ok = True

    def __init__(self, enum_type: type[IntEnumT]) -> None:
        super().__init__()
        self.enum_type = enum_type

    def process_bind_param(self, value: IntEnumT | int | None, dialect: Dialect) -> int | None:
        return None if value is None else int(self.enum_type(value))

    def process_result_value(self, value: int | None, dialect: Dialect) -> IntEnumT | None:
        return None if value is None else self.enum_type(value)


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention every migration relies on."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


# --- reference data ------------------------------------------------------------------------


class OrganisationRow(Base):
    """A customer organisation; customer tokens are bound to one."""

    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(sa.String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(NAME))
    # Routing rules match the customer's region; engineers are matched on its language.
    region: Mapped[str | None] = mapped_column(sa.String(ID), nullable=True)
    language: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ContractRow(Base):
    """A support contract; its level and warranty end decide the issue's entitlement."""

    __tablename__ = "contracts"

    id: Mapped[str] = mapped_column(sa.String(ID), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    level: Mapped[ContractLevel] = mapped_column(StrEnumType(ContractLevel, 16))
    starts_on: Mapped[date] = mapped_column(sa.Date())
    warranty_end: Mapped[date] = mapped_column(sa.Date())
    sla_overrides: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ProductRow(Base):
    """A supported product; teams are linked to the products they know."""

    __tablename__ = "products"

    id: Mapped[str] = mapped_column(sa.String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(NAME))
    current_version: Mapped[str | None] = mapped_column(sa.String(NAME), nullable=True)


class TeamRow(Base):
    """A support team at one tier; its manager hears about breaches and unowned issues."""

    __tablename__ = "teams"

    id: Mapped[str] = mapped_column(sa.String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(NAME))
    tier: Mapped[Tier] = mapped_column(IntEnumType(Tier), index=True)
    # teams <-> engineers is a cycle: the manager key is added after both tables exist.
    manager_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("engineers.id", use_alter=True, ondelete="SET NULL"), nullable=True
    )
    regions: Mapped[list[str]] = mapped_column(sa.JSON(), default=list, server_default="[]")
    languages: Mapped[list[str]] = mapped_column(sa.JSON(), default=list, server_default="[]")
    # Its working hours (a business calendar's name); None: the SLA policy's calendar.
    calendar_name: Mapped[str | None] = mapped_column(
        sa.ForeignKey("business_calendars.name", ondelete="SET NULL"), nullable=True
    )
    strategy: Mapped[AssignmentStrategy] = mapped_column(
        StrEnumType(AssignmentStrategy),
        default=AssignmentStrategy.LEAST_LOADED,
        server_default=AssignmentStrategy.LEAST_LOADED.value,
    )
    # An engineer must accept an offer within this many minutes; None: assigned directly.
    offer_timeout_minutes: Mapped[int | None] = mapped_column(sa.Integer(), nullable=True)
    # Load counts only issues whose SLA clocks run (True), or every open issue.
    load_counts_running_only: Mapped[bool] = mapped_column(
        sa.Boolean(), default=True, server_default=sa.true()
    )


class TeamProductRow(Base):
    """Which team supports which product (drives dispatch and manager notification)."""

    __tablename__ = "team_products"

    team_id: Mapped[str] = mapped_column(
        sa.ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    product_id: Mapped[str] = mapped_column(
        sa.ForeignKey("products.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class EngineerRow(Base):
    """A support engineer or manager; owners of issues are chosen among these."""

    __tablename__ = "engineers"

    id: Mapped[str] = mapped_column(sa.String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(NAME))
    email: Mapped[str] = mapped_column(sa.String(EMAIL))
    tier: Mapped[Tier] = mapped_column(IntEnumType(Tier))
    team_id: Mapped[str] = mapped_column(sa.ForeignKey("teams.id"), index=True)
    is_manager: Mapped[bool] = mapped_column(sa.Boolean(), default=False)
    active: Mapped[bool] = mapped_column(sa.Boolean(), default=True)
    presence: Mapped[Presence] = mapped_column(
        StrEnumType(Presence, 16),
        default=Presence.AVAILABLE,
        server_default=Presence.AVAILABLE.value,
    )
    # The most open issues dispatch gives them (a manual assignment may exceed it).
    capacity: Mapped[int] = mapped_column(sa.Integer(), default=10, server_default="10")
    # Skill levels 1-5 by skill (a product id or a topic): {"edge-router": 4, "bgp": 2}.
    skills: Mapped[dict[str, int]] = mapped_column(sa.JSON(), default=dict, server_default="{}")
    languages: Mapped[list[str]] = mapped_column(sa.JSON(), default=list, server_default="[]")
    region: Mapped[str | None] = mapped_column(sa.String(ID), nullable=True)
    # Who takes over their issues while they are off duty.
    substitute_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("engineers.id", ondelete="SET NULL"), nullable=True
    )


class TeamMemberRow(Base):
    """An engineer's membership of a team (several teams each; `engineers.team_id` is the
    primary one, a member of it too)."""

    __tablename__ = "team_members"

    team_id: Mapped[str] = mapped_column(
        sa.ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    engineer_id: Mapped[str] = mapped_column(
        sa.ForeignKey("engineers.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class TeamManagerRow(Base):
    """Every manager of a team (`teams.manager_id`, the primary one, included): each may set
    the presence of the team's engineers and hears about the team's breaches."""

    __tablename__ = "team_managers"

    team_id: Mapped[str] = mapped_column(
        sa.ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    engineer_id: Mapped[str] = mapped_column(
        sa.ForeignKey("engineers.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class RoutingRuleRow(Base):
    """One ordered routing rule; `criteria` is the validated `RuleCriteria` dump (lists,
    empty = any) and `teams` the target team per tier ({"1": "t1-network"})."""

    __tablename__ = "routing_rules"

    id: Mapped[str] = mapped_column(sa.String(ID), primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer(), index=True)
    name: Mapped[str] = mapped_column(sa.String(NAME))
    criteria: Mapped[dict[str, Any]] = mapped_column(sa.JSON(), default=dict)
    teams: Mapped[dict[str, str]] = mapped_column(sa.JSON(), default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RoutingDefaultRow(Base):
    """The team that takes what no rule matched, per tier."""

    __tablename__ = "routing_defaults"

    tier: Mapped[Tier] = mapped_column(IntEnumType(Tier), primary_key=True, autoincrement=False)
    team_id: Mapped[str] = mapped_column(sa.ForeignKey("teams.id", ondelete="CASCADE"))


class RoundRobinCursorRow(Base):
    """A round-robin team's durable cursor: the engineer it picked last."""

    __tablename__ = "round_robin_cursors"

    team_id: Mapped[str] = mapped_column(
        sa.ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    last_engineer_id: Mapped[str | None] = mapped_column(sa.String(ID), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OwnerChoiceRow(Base):
    """The answer of one owner-choice activity, keyed by its identity (workflow id, run id,
    activity id): a retry answers the same and never advances a cursor twice."""

    __tablename__ = "owner_choices"

    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    issue_id: Mapped[str] = mapped_column(sa.String(ID), index=True)
    answer: Mapped[dict[str, Any]] = mapped_column(sa.JSON())
    chosen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TokenRow(Base):
    """An API credential; only the SHA-256 of the token is stored, never the token itself."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(sa.String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(NAME))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    role: Mapped[Role] = mapped_column(StrEnumType(Role, 16))
    organisation_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE"), nullable=True, index=True
    )
    engineer_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("engineers.id", ondelete="CASCADE"), nullable=True, index=True
    )
    contact_name: Mapped[str] = mapped_column(sa.String(NAME))
    contact_email: Mapped[str | None] = mapped_column(sa.String(EMAIL), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class UserRow(Base):
    """A person who signs in to the web workspace; bound to an organisation (customers) or an
    engineer (staff) as an API token is, so both resolve to the same kind of Principal.

    Only an argon2 hash of the password is stored. `failed_attempts` counts consecutive
    failed sign-ins; reaching the limit sets `locked_until` (a success resets both).
    """

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(sa.String(ID), primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(ID), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(StrEnumType(Role, 16))
    organisation_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE"), nullable=True, index=True
    )
    engineer_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("engineers.id", ondelete="CASCADE"), nullable=True, index=True
    )
    display_name: Mapped[str] = mapped_column(sa.String(NAME))
    email: Mapped[str | None] = mapped_column(sa.String(EMAIL), nullable=True)
    locale: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    timezone: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    failed_attempts: Mapped[int] = mapped_column(sa.Integer(), default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebSessionRow(Base):
    """A signed-in browser: the cookie carries a random token, only its SHA-256 is stored
    (so signing out, or a leaked table, ends or reveals nothing else), with the session's
    CSRF synchronizer token."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class AttachmentRow(Base):
    """A file a person attached to an issue (a log, a screenshot): its description here,
    its bytes in the attachment store under `storage_key`."""

    __tablename__ = "attachments"

    id: Mapped[str] = mapped_column(sa.String(ID), primary_key=True)
    issue_id: Mapped[str] = mapped_column(sa.String(ID), index=True)
    filename: Mapped[str] = mapped_column(sa.String(NAME))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column(sa.Integer())
    sha256: Mapped[str] = mapped_column(sa.String(64))
    storage_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    uploaded_by_kind: Mapped[ActorKind] = mapped_column(StrEnumType(ActorKind, 16))
    uploaded_by_name: Mapped[str] = mapped_column(sa.String(NAME))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- read model ------------------------------------------------------------------------------
# No foreign keys from issues to reference data: a projection must accept whatever the
# workflow recorded, or a retried activity would fail forever.


class IssueRow(Base):
    """The projection of one issue workflow's status, for listing and filtering."""

    __tablename__ = "issues"
    # Every list order ends with the id, and so do the indexes that serve them: a page is a
    # range of one index whatever the table's size (bench/read_model.py).
    __table_args__ = (
        # Dispatch counts each engineer's open issues from this index alone.
        sa.Index("ix_issues_owner_id_state", "owner_id", "state", "sla_paused"),
        sa.Index("ix_issues_created_at_id", "created_at", "id"),
        sa.Index("ix_issues_updated_at_id", "updated_at", "id"),
        sa.Index("ix_issues_organisation_id_created_at_id", "organisation_id", "created_at", "id"),
        sa.Index("ix_issues_state_created_at_id", "state", "created_at", "id"),
        sa.Index("ix_issues_state_updated_at_id", "state", "updated_at", "id"),
        sa.Index("ix_issues_at_risk_created_at_id", "sla_at_risk", "breached", "created_at", "id"),
        sa.Index("ix_issues_next_deadline_id", "next_deadline", "id"),
        sa.Index("ix_issues_soonest_deadline_id", "soonest_deadline", "id"),
        sa.Index("ix_issues_search_document", "search_document", postgresql_using="gin"),
    )

    id: Mapped[str] = mapped_column(sa.String(ID), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(sa.String(RECORD_ID))
    organisation_id: Mapped[str] = mapped_column(sa.String(ID))
    product_id: Mapped[str] = mapped_column(sa.String(ID), index=True)
    title: Mapped[str] = mapped_column(sa.String(NAME))
    description: Mapped[str] = mapped_column(sa.Text())
    category: Mapped[Category] = mapped_column(StrEnumType(Category))
    severity: Mapped[Severity] = mapped_column(IntEnumType(Severity), index=True)
    service_mode: Mapped[ServiceMode] = mapped_column(StrEnumType(ServiceMode, 16))
    channel: Mapped[Channel] = mapped_column(StrEnumType(Channel, 16))
    reporter_kind: Mapped[ActorKind] = mapped_column(StrEnumType(ActorKind, 16))
    reporter_id: Mapped[str] = mapped_column(sa.String(ID))
    reporter_name: Mapped[str] = mapped_column(sa.String(NAME))
    state: Mapped[IssueState] = mapped_column(StrEnumType(IssueState))
    previous_state: Mapped[IssueState | None] = mapped_column(
        StrEnumType(IssueState), nullable=True
    )
    tier: Mapped[Tier] = mapped_column(IntEnumType(Tier), index=True)
    owner_id: Mapped[str | None] = mapped_column(sa.String(ID), nullable=True, index=True)
    # The team accountable now: IssueStatus.team_id, else the owner's team.
    team_id: Mapped[str | None] = mapped_column(sa.String(ID), nullable=True, index=True)
    owner_name: Mapped[str | None] = mapped_column(sa.String(NAME), nullable=True)
    tier1_owner_id: Mapped[str | None] = mapped_column(sa.String(ID), nullable=True)
    # Dispatch (issue 9): the engineer the issue is offered to, until when.
    offered_to_id: Mapped[str | None] = mapped_column(sa.String(ID), nullable=True, index=True)
    offer_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    contract_level: Mapped[ContractLevel | None] = mapped_column(
        StrEnumType(ContractLevel, 16), nullable=True
    )
    warranty_status: Mapped[WarrantyStatus | None] = mapped_column(
        StrEnumType(WarrantyStatus), nullable=True
    )
    waiting_for: Mapped[str] = mapped_column(sa.Text(), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    first_response_due: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolution_due: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    next_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    first_response_breached: Mapped[bool] = mapped_column(sa.Boolean(), default=False)
    resolution_breached: Mapped[bool] = mapped_column(sa.Boolean(), default=False)
    breached: Mapped[bool] = mapped_column(sa.Boolean(), default=False, index=True)
    auto_close_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reopen_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closure_outcome: Mapped[ClosureOutcome | None] = mapped_column(
        StrEnumType(ClosureOutcome, 16), nullable=True
    )
    resolution_summary: Mapped[str | None] = mapped_column(sa.Text(), nullable=True)
    satisfaction: Mapped[int | None] = mapped_column(sa.Integer(), nullable=True)
    reopen_count: Mapped[int] = mapped_column(sa.Integer(), default=0)
    defect_key: Mapped[str | None] = mapped_column(sa.String(ID), nullable=True, index=True)
    tracker_sync_error: Mapped[str | None] = mapped_column(sa.Text(), nullable=True)
    # Written by the create-defect activity itself (not the projection): see SyncStatusSink.
    tracker_sync_pending: Mapped[bool] = mapped_column(
        sa.Boolean(), default=False, server_default=sa.false()
    )
    tracker_last_error: Mapped[str | None] = mapped_column(sa.Text(), nullable=True)
    tracker_attempts: Mapped[int] = mapped_column(sa.Integer(), default=0, server_default="0")
    # The `IssueSla` snapshot (policy + clocks) as JSON; the API derives clock views from it.
    sla: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON(), nullable=True)
    sla_paused: Mapped[bool] = mapped_column(
        sa.Boolean(), default=False, server_default=sa.false(), index=True
    )
    sla_at_risk: Mapped[bool] = mapped_column(
        sa.Boolean(), default=False, server_default=sa.false(), index=True
    )
    # When the current tier's budget (an internal OLA) breaches next; staff's at-risk list.
    ola_next_deadline: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), nullable=True, index=True
    )
    # The earlier of next_deadline and ola_next_deadline while the issue is open (None once
    # it is closed): staff's `/sla/at-risk` reads one index range instead of sorting a CASE.
    soonest_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revision: Mapped[int] = mapped_column(sa.Integer(), default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # PostgreSQL's tsvector of the title's and description's words (see issue_search); on
    # SQLite it stays empty and the words live in FTS5 (ISSUE_SEARCH_TABLE).
    search_document: Mapped[str] = mapped_column(
        sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql"), default=""
    )


class EventRow(Base):
    """One timeline entry; (issue_id, seq) is the workflow's own counter, so retries collide."""

    __tablename__ = "issue_events"

    issue_id: Mapped[str] = mapped_column(
        sa.ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(sa.Integer(), primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[EventKind] = mapped_column(StrEnumType(EventKind, 40))
    actor_kind: Mapped[ActorKind] = mapped_column(StrEnumType(ActorKind, 16))
    actor_id: Mapped[str] = mapped_column(sa.String(ID))
    actor_name: Mapped[str] = mapped_column(sa.String(NAME))
    from_state: Mapped[IssueState | None] = mapped_column(StrEnumType(IssueState), nullable=True)
    to_state: Mapped[IssueState | None] = mapped_column(StrEnumType(IssueState), nullable=True)
    visibility: Mapped[Visibility] = mapped_column(StrEnumType(Visibility, 16))
    summary: Mapped[str] = mapped_column(sa.Text(), default="")
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON(), default=dict)


class CommentRow(Base):
    """A comment body; it lives only here, never in workflow history."""

    __tablename__ = "comments"
    __table_args__ = (sa.Index("ix_comments_issue_id_at", "issue_id", "at"),)

    comment_id: Mapped[str] = mapped_column(sa.String(RECORD_ID), primary_key=True)
    issue_id: Mapped[str] = mapped_column(sa.ForeignKey("issues.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    author_kind: Mapped[ActorKind] = mapped_column(StrEnumType(ActorKind, 16))
    author_id: Mapped[str] = mapped_column(sa.String(ID))
    author_name: Mapped[str] = mapped_column(sa.String(NAME))
    body: Mapped[str] = mapped_column(sa.Text())
    visibility: Mapped[Visibility] = mapped_column(StrEnumType(Visibility, 16))


class IdempotencyKeyRow(Base):
    """Remembers what an Idempotency-Key was used for (the request's fingerprint and its
    issue), so a retry gets the same answer and a different request under it a 422.

    `scope` is the caller's token; `key` is the client's key for a create, and a digest of
    (issue, command, key) for a command. `created_at` is the create's intake instant, so
    every attempt starts the same workflow input; `completed_at` is set once, by the one
    request that answers 201.
    """

    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(sa.String(ID), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(sa.String(128))
    issue_id: Mapped[str] = mapped_column(sa.String(ID))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class NotificationRow(Base):
    """Delivery log of one notification; delivered_at makes a retried activity skip the send."""

    __tablename__ = "notifications"

    notification_id: Mapped[str] = mapped_column(sa.String(RECORD_ID), primary_key=True)
    issue_id: Mapped[str] = mapped_column(sa.String(ID), index=True)
    kind: Mapped[str] = mapped_column(sa.String(ID))
    subject: Mapped[str] = mapped_column(sa.Text())
    recipients: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON(), default=list)
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON(), default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(sa.Text(), nullable=True)


class TrackerDeliveryRow(Base):
    """A tracker webhook delivery already handled; its dedupe key makes redelivery a no-op."""

    __tablename__ = "tracker_deliveries"

    dedupe_key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    defect_key: Mapped[str] = mapped_column(sa.String(ID))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TrackerDefectLinkRow(Base):
    """The tracker's immutable id of the defect an issue is linked to (one defect per issue).

    Written by the create/link-defect activities (not the projection): the webhook and the poll
    find an issue's defect by this id, because the key changes when the defect moves to another
    project and a rebuilt tracker may give the key to another defect. Issues linked before this
    table existed have no row; for them the key alone still decides."""

    __tablename__ = "tracker_defect_links"

    issue_id: Mapped[str] = mapped_column(sa.String(ID), primary_key=True)
    defect_key: Mapped[str] = mapped_column(sa.String(ID))
    defect_id: Mapped[str] = mapped_column(sa.String(ID), index=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- SLA policies as data -------------------------------------------------------------------


class BusinessCalendarRow(Base):
    """A named business calendar; `definition` is the validated `BusinessCalendar` dump.

    Stored as one JSON document rather than interval rows because the calendar is only
    ever read whole (to be snapshotted into a workflow) and validated whole by the domain.
    """

    __tablename__ = "business_calendars"

    name: Mapped[str] = mapped_column(sa.String(NAME), primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(sa.JSON())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SlaPolicyRow(Base):
    """The `SlaPolicy` for one contract level and severity; `version` counts its edits."""

    __tablename__ = "sla_policies"

    contract_level: Mapped[ContractLevel] = mapped_column(
        StrEnumType(ContractLevel, 16), primary_key=True
    )
    severity: Mapped[Severity] = mapped_column(IntEnumType(Severity), primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(sa.JSON())
    version: Mapped[int] = mapped_column(sa.Integer(), default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- on-site service (visits, spare parts) --------------------------------------------------
# Projected by the visit and part workflows' own activities; `revision` is the child
# workflow's step counter, so a retried or late write of an older step changes nothing.


class OnsiteVisitRow(Base):
    """One on-site visit (its child workflow id is the key) as it stands."""

    __tablename__ = "onsite_visits"

    visit_id: Mapped[str] = mapped_column(sa.String(RECORD_ID), primary_key=True)
    issue_id: Mapped[str] = mapped_column(sa.String(ID), index=True)
    organisation_id: Mapped[str] = mapped_column(sa.String(ID), index=True)
    number: Mapped[int] = mapped_column(sa.Integer())
    state: Mapped[VisitState] = mapped_column(StrEnumType(VisitState, 16))
    engineer_id: Mapped[str] = mapped_column(sa.String(ID), index=True)
    engineer_name: Mapped[str] = mapped_column(sa.String(NAME))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    reminder_at: Mapped[datetime] = mapped_column(UTCDateTime())
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    checked_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    missed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    time_on_site_seconds: Mapped[int | None] = mapped_column(sa.Integer(), nullable=True)
    report: Mapped[str | None] = mapped_column(sa.Text(), nullable=True)
    dispatched_by_name: Mapped[str] = mapped_column(sa.String(NAME))
    revision: Mapped[int] = mapped_column(sa.Integer(), default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PartRequestRow(Base):
    """One spare-part request (its child workflow id is the key) and the states it went
    through (`steps`: [{state, at, actor_name}], oldest first)."""

    __tablename__ = "part_requests"

    part_id: Mapped[str] = mapped_column(sa.String(RECORD_ID), primary_key=True)
    issue_id: Mapped[str] = mapped_column(sa.String(ID), index=True)
    organisation_id: Mapped[str] = mapped_column(sa.String(ID), index=True)
    number: Mapped[int] = mapped_column(sa.Integer())
    part_number: Mapped[str] = mapped_column(sa.String(ID))
    quantity: Mapped[int] = mapped_column(sa.Integer())
    warehouse: Mapped[str] = mapped_column(sa.String(ID), index=True)
    state: Mapped[PartState] = mapped_column(StrEnumType(PartState, 16), index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    requested_by_name: Mapped[str] = mapped_column(sa.String(NAME))
    steps: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON(), default=list)
    return_reason: Mapped[str | None] = mapped_column(sa.Text(), nullable=True)
    revision: Mapped[int] = mapped_column(sa.Integer(), default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- statistics -------------------------------------------------------------------------------


class IssueFactsRow(Base):
    """The facts of one issue the statistics aggregate (`domain.stats.IssueFacts`), rewritten
    from its events and SLA snapshot in the same transaction that records each batch.

    Vocabularies are stored as their plain values: the figures only group and filter by them.
    Each instant a figure's cohort is anchored on is indexed, so a period's rows are a range.
    """

    __tablename__ = "issue_facts"

    issue_id: Mapped[str] = mapped_column(
        sa.ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[str] = mapped_column(sa.String(ID), index=True)
    product_id: Mapped[str] = mapped_column(sa.String(ID))
    category: Mapped[str] = mapped_column(sa.String(32))
    severity: Mapped[int] = mapped_column(sa.Integer())
    channel: Mapped[str] = mapped_column(sa.String(16))
    contract_level: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    team_id: Mapped[str | None] = mapped_column(sa.String(ID), nullable=True, index=True)
    engineer_id: Mapped[str | None] = mapped_column(sa.String(ID), nullable=True, index=True)
    first_owner_id: Mapped[str | None] = mapped_column(sa.String(ID), nullable=True)
    tier: Mapped[int] = mapped_column(sa.Integer())
    state: Mapped[str] = mapped_column(sa.String(32))
    calendar: Mapped[str | None] = mapped_column(sa.String(NAME), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    first_response_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), nullable=True, index=True
    )
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    response_wall: Mapped[int | None] = mapped_column(sa.Integer(), nullable=True)
    response_business: Mapped[int | None] = mapped_column(sa.Integer(), nullable=True)
    resolution_wall: Mapped[int | None] = mapped_column(sa.Integer(), nullable=True)
    resolution_business: Mapped[int | None] = mapped_column(sa.Integer(), nullable=True)
    first_response_sla: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    resolution_sla: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    ola_tier_1: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    ola_tier_2: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    ola_tier_3: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    time_tier_1: Mapped[int] = mapped_column(sa.Integer(), default=0)
    time_tier_2: Mapped[int] = mapped_column(sa.Integer(), default=0)
    time_tier_3: Mapped[int] = mapped_column(sa.Integer(), default=0)
    waiting_customer: Mapped[int] = mapped_column(sa.Integer(), default=0)
    waiting_rnd: Mapped[int] = mapped_column(sa.Integer(), default=0)
    escalations: Mapped[int] = mapped_column(sa.Integer(), default=0)
    reassignments: Mapped[int] = mapped_column(sa.Integer(), default=0)
    handoffs: Mapped[int] = mapped_column(sa.Integer(), default=0)
    first_contact_resolution: Mapped[bool] = mapped_column(sa.Boolean(), default=False)
    reopen_count: Mapped[int] = mapped_column(sa.Integer(), default=0)
    satisfaction: Mapped[int | None] = mapped_column(sa.Integer(), nullable=True)
    defect_key: Mapped[str | None] = mapped_column(sa.String(ID), nullable=True)
    defect_created: Mapped[bool] = mapped_column(sa.Boolean(), default=False)
    defect_linked_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), nullable=True, index=True
    )
    rnd_escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    defect_fixed_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), nullable=True, index=True
    )
    escalation_to_fix: Mapped[int | None] = mapped_column(sa.Integer(), nullable=True)
    last_seq: Mapped[int] = mapped_column(sa.Integer(), default=0)


# --- knowledge base (cases and articles) -------------------------------------------------------

SQLITE_SEARCH_TABLE = "knowledge_fts"
"""SQLite's FTS5 index of the articles: a virtual table (and its shadow tables) the migration
creates outside this metadata, because SQLAlchemy cannot declare one. PostgreSQL keeps the
index in `knowledge_articles.search_vector` (tsvector + GIN) instead."""


ISSUE_SEARCH_TABLE = "issues_fts"
"""SQLite's FTS5 index of the issues' titles and descriptions (see
db.repositories.issue_search); PostgreSQL keeps it in `issues.search_document`."""


def is_unmanaged_table(name: str | None) -> bool:
    """Tables the migrations create by hand (SQLite's FTS5 indexes), skipped by autogenerate."""
    return name is not None and name.startswith((SQLITE_SEARCH_TABLE, ISSUE_SEARCH_TABLE))


class ArticleRow(Base):
    """A knowledge article (KCS): a problem, where it happens, why, and what to do about it.

    `search_document` is PostgreSQL's weighted tsvector of the segmented words (GIN-indexed);
    on SQLite it stays empty (its index on it costs nothing) and the words live in FTS5.
    """

    __tablename__ = "knowledge_articles"
    __table_args__ = (
        sa.Index(
            "ix_knowledge_articles_search_document",
            "search_document",
            postgresql_using="gin",
        ),
    )

    id: Mapped[str] = mapped_column(sa.String(ID), primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(NAME))
    problem: Mapped[str] = mapped_column(sa.Text())
    environment: Mapped[str] = mapped_column(sa.Text(), default="")
    product_id: Mapped[str | None] = mapped_column(sa.String(ID), nullable=True, index=True)
    product_version: Mapped[str | None] = mapped_column(sa.String(NAME), nullable=True)
    cause: Mapped[str] = mapped_column(sa.Text(), default="")
    resolution: Mapped[str] = mapped_column(sa.Text(), default="")
    workaround: Mapped[str] = mapped_column(sa.Text(), default="")
    kind: Mapped[ArticleKind] = mapped_column(StrEnumType(ArticleKind, 16))
    category: Mapped[Category | None] = mapped_column(StrEnumType(Category), nullable=True)
    tags: Mapped[list[str]] = mapped_column(sa.JSON(), default=list)
    audience: Mapped[Audience] = mapped_column(StrEnumType(Audience, 16), index=True)
    state: Mapped[ArticleState] = mapped_column(StrEnumType(ArticleState, 16), index=True)
    owner_id: Mapped[str | None] = mapped_column(sa.String(ID), nullable=True, index=True)
    owner_name: Mapped[str | None] = mapped_column(sa.String(NAME), nullable=True)
    source_issue_id: Mapped[str | None] = mapped_column(sa.String(ID), nullable=True, unique=True)
    defect_key: Mapped[str | None] = mapped_column(sa.String(ID), nullable=True, index=True)
    fixed_in_version: Mapped[str | None] = mapped_column(sa.String(NAME), nullable=True)
    reuse_count: Mapped[int] = mapped_column(sa.Integer(), default=0)
    helpful_count: Mapped[int] = mapped_column(sa.Integer(), default=0)
    not_helpful_count: Mapped[int] = mapped_column(sa.Integer(), default=0)
    outdated_count: Mapped[int] = mapped_column(sa.Integer(), default=0)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    revision: Mapped[int] = mapped_column(sa.Integer(), default=1)
    search_document: Mapped[str] = mapped_column(
        sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql"), default=""
    )


class ArticleIssueRow(Base):
    """An issue an article came from or solved; solved-with links are its reuse."""

    __tablename__ = "knowledge_article_issues"

    article_id: Mapped[str] = mapped_column(
        sa.ForeignKey("knowledge_articles.id", ondelete="CASCADE"), primary_key=True
    )
    issue_id: Mapped[str] = mapped_column(sa.String(ID), primary_key=True, index=True)
    link: Mapped[ArticleLinkKind] = mapped_column(StrEnumType(ArticleLinkKind, 16))
    linked_by: Mapped[str] = mapped_column(sa.String(NAME))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ArticleAuditRow(Base):
    """Who changed what on an article, and when (state moves and edits): the KCS audit trail."""

    __tablename__ = "knowledge_article_audit"

    id: Mapped[int] = mapped_column(sa.Integer(), primary_key=True, autoincrement=True)
    article_id: Mapped[str] = mapped_column(
        sa.ForeignKey("knowledge_articles.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_kind: Mapped[ActorKind] = mapped_column(StrEnumType(ActorKind, 16))
    actor_id: Mapped[str] = mapped_column(sa.String(ID))
    actor_name: Mapped[str] = mapped_column(sa.String(NAME))
    action: Mapped[str] = mapped_column(sa.String(40))
    from_state: Mapped[ArticleState | None] = mapped_column(
        StrEnumType(ArticleState, 16), nullable=True
    )
    to_state: Mapped[ArticleState | None] = mapped_column(
        StrEnumType(ArticleState, 16), nullable=True
    )
    changes: Mapped[dict[str, Any]] = mapped_column(sa.JSON(), default=dict)


class ArticleFeedbackRow(Base):
    """One reader's verdict on an article: helpful or not, and whether it looks outdated."""

    __tablename__ = "knowledge_feedback"

    id: Mapped[int] = mapped_column(sa.Integer(), primary_key=True, autoincrement=True)
    article_id: Mapped[str] = mapped_column(
        sa.ForeignKey("knowledge_articles.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[str] = mapped_column(sa.String(ID))
    helpful: Mapped[bool | None] = mapped_column(sa.Boolean(), nullable=True)
    outdated: Mapped[bool] = mapped_column(sa.Boolean(), default=False)
    comment: Mapped[str] = mapped_column(sa.Text(), default="")


class ArticleViewRow(Base):
    """An article opened in a client session; deflections are counted from these at read time."""

    __tablename__ = "knowledge_views"
    __table_args__ = (sa.Index("ix_knowledge_views_viewer_at", "viewer_id", "at"),)

    id: Mapped[int] = mapped_column(sa.Integer(), primary_key=True, autoincrement=True)
    article_id: Mapped[str] = mapped_column(
        sa.ForeignKey("knowledge_articles.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[str] = mapped_column(sa.String(RECORD_ID), index=True)
    # The reporter id an issue opened by this caller would carry (IssueRow.reporter_id).
    viewer_id: Mapped[str] = mapped_column(sa.String(ID))
    organisation_id: Mapped[str | None] = mapped_column(sa.String(ID), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class KnowledgePromptRow(Base):
    """Something the knowledge base asks an engineer to do, shown in the workspace and sent
    through the notifier once (`notified_at`); `done_at` when acted upon."""

    __tablename__ = "knowledge_prompts"

    id: Mapped[str] = mapped_column(sa.String(RECORD_ID), primary_key=True)
    kind: Mapped[PromptKind] = mapped_column(StrEnumType(PromptKind, 32))
    issue_id: Mapped[str | None] = mapped_column(sa.String(ID), nullable=True, index=True)
    article_id: Mapped[str | None] = mapped_column(sa.String(ID), nullable=True, index=True)
    engineer_id: Mapped[str | None] = mapped_column(sa.String(ID), nullable=True, index=True)
    message: Mapped[str] = mapped_column(sa.Text())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
