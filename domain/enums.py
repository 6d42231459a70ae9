"""Closed vocabularies shared by the workflow, the read model and the API."""

from enum import IntEnum, StrEnum


class IssueState(StrEnum):
    """Lifecycle states of one customer issue (see domain.lifecycle for the rules)."""

    NEW = "new"
    ACCEPTED = "accepted"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    ESCALATED = "escalated"
    WAITING_CUSTOMER = "waiting_customer"
    RESOLVED = "resolved"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    CLOSED = "closed"
    CANCELLED = "cancelled"


OPEN_STATES: frozenset[IssueState] = frozenset(
    s for s in IssueState if s not in (IssueState.CLOSED, IssueState.CANCELLED)
)


class Category(StrEnum):
    """ITIL-flavoured issue categories from the product brief."""

    INCIDENT = "incident"
    SERVICE_REQUEST = "service_request"
    QUESTION = "question"
    DEFECT = "defect"
    CHANGE = "change"
    COMPLAINT = "complaint"


class Severity(IntEnum):
    """1 is the most severe (production down), 4 the least."""

    CRITICAL = 1
    MAJOR = 2
    MINOR = 3
    LOW = 4


class Tier(IntEnum):
    """Support tiers: 1 frontline, 2 domain experts, 3 R&D."""

    FRONTLINE = 1
    EXPERT = 2
    RND = 3


class ServiceMode(StrEnum):
    REMOTE = "remote"
    ON_SITE = "on_site"


class Channel(StrEnum):
    PORTAL = "portal"
    EMAIL = "email"
    PHONE = "phone"
    CHAT = "chat"
    API = "api"


class ContractLevel(StrEnum):
    BASIC = "basic"
    STANDARD = "standard"
    PREMIUM = "premium"


class WarrantyStatus(StrEnum):
    IN_WARRANTY = "in_warranty"
    OUT_OF_WARRANTY = "out_of_warranty"
    NO_CONTRACT = "no_contract"


class Role(StrEnum):
    """What an API token may do; a customer token is bound to one organisation."""

    CUSTOMER = "customer"
    ENGINEER = "engineer"
    MANAGER = "manager"
    ADMIN = "admin"
    INTEGRATION = "integration"
    # Staff roles beyond engineers (issue 9): dispatchers route what rules cannot, field
    # engineers visit customers on site, the warehouse serves spare parts.
    DISPATCHER = "dispatcher"
    FIELD_ENGINEER = "field_engineer"
    WAREHOUSE = "warehouse"


class ActorKind(StrEnum):
    CUSTOMER = "customer"
    ENGINEER = "engineer"
    MANAGER = "manager"
    ADMIN = "admin"
    INTEGRATION = "integration"
    DISPATCHER = "dispatcher"
    FIELD_ENGINEER = "field_engineer"
    WAREHOUSE = "warehouse"
    SYSTEM = "system"


class Presence(StrEnum):
    """Whether an engineer takes work now: away engineers get no new offers, off-duty ones
    get nothing and hand their open issues over."""

    AVAILABLE = "available"
    AWAY = "away"
    OFF_DUTY = "off_duty"


class AssignmentStrategy(StrEnum):
    """How a team picks an owner among its qualified engineers."""

    LEAST_LOADED = "least_loaded"
    ROUND_ROBIN = "round_robin"
    SKILLS_WEIGHTED = "skills_weighted"


class Visibility(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"


class ClosureOutcome(StrEnum):
    ACCEPTED = "accepted"
    AUTO_CLOSED = "auto_closed"


class SlaClockKind(StrEnum):
    """The clocks an issue runs: the two customer promises, then each tier's budget (OLA)."""

    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"
    TIER_1 = "tier_1"
    TIER_2 = "tier_2"
    TIER_3 = "tier_3"


class EventKind(StrEnum):
    """Kinds of timeline entries written to the read model."""

    CREATED = "created"
    ACCEPTED = "accepted"
    ASSIGNED = "assigned"
    ACKNOWLEDGED = "acknowledged"
    COMMENTED = "commented"
    REASSIGNED = "reassigned"
    ESCALATED = "escalated"
    INFO_REQUESTED = "info_requested"
    CUSTOMER_REPLIED = "customer_replied"
    RESOLUTION_PROPOSED = "resolution_proposed"
    CONFIRMATION_REQUESTED = "confirmation_requested"
    CONFIRMATION_REMINDER = "confirmation_reminder"
    RESOLUTION_REJECTED = "resolution_rejected"
    CLOSED = "closed"
    REOPENED = "reopened"
    CANCELLED = "cancelled"
    SLA_BREACHED = "sla_breached"
    SLA_WARNING = "sla_warning"
    SLA_CLOCKS = "sla_clocks"
    SLA_POLICY_APPLIED = "sla_policy_applied"
    SEVERITY_CHANGED = "severity_changed"
    ARCHIVED = "archived"
    DEFECT_LINKED = "defect_linked"
    TRACKER_SYNC_FAILED = "tracker_sync_failed"
    TRACKER_SYNC_RETRIED = "tracker_sync_retried"
    DEFECT_FIXED = "defect_fixed"
    DEFECT_WONT_FIX = "defect_wont_fix"
    DEFECT_REOPENED = "defect_reopened"
    DEFECT_UPDATE_IGNORED = "defect_update_ignored"
    DEFECT_COMMENTED = "defect_commented"
    # On-site service (domain.onsite): visits and spare parts, recorded on the issue.
    VISIT_DISPATCHED = "visit_dispatched"
    VISIT_REMINDED = "visit_reminded"
    VISIT_CHECKED_IN = "visit_checked_in"
    VISIT_CHECKED_OUT = "visit_checked_out"
    VISIT_MISSED = "visit_missed"
    PART_REQUESTED = "part_requested"
    PART_PICKED = "part_picked"
    PART_SHIPPED = "part_shipped"
    PART_DELIVERED = "part_delivered"
    PART_INSTALLED = "part_installed"
    PART_RETURNED = "part_returned"
    # Dispatch (issue 9): queues, claims, offers and hand-offs between owners.
    QUEUED = "queued"
    CLAIMED = "claimed"
    OFFERED = "offered"
    OFFER_ACCEPTED = "offer_accepted"
    OFFER_DECLINED = "offer_declined"
    OFFER_EXPIRED = "offer_expired"
    HANDED_BACK = "handed_back"
    HANDED_OVER = "handed_over"


# The SLA's own timeline entries: bookkeeping that never moves the clocks itself, and what
# an issue's SLA history lists.
SLA_EVENTS: frozenset[EventKind] = frozenset(
    {
        EventKind.SLA_POLICY_APPLIED,
        EventKind.SLA_CLOCKS,
        EventKind.SLA_WARNING,
        EventKind.SLA_BREACHED,
        EventKind.SEVERITY_CHANGED,
    }
)


class DefectOutcome(StrEnum):
    """What R&D decided about a linked defect, as far as the waiting issues are concerned."""

    FIXED = "fixed"
    WONT_FIX = "wont_fix"
    REOPENED = "reopened"
