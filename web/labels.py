"""How the workspace names the domain's vocabularies (translated when a page renders).

Each value is an English catalogue msgid marked with `N_`; templates show `_(label)`.
"""

from domain.enums import Category, EventKind, IssueState, ServiceMode, Severity, SlaClockKind
from domain.knowledge import ArticleState, Audience
from web.i18n import N_

STATES: dict[IssueState, str] = {
    IssueState.NEW: N_("New"),
    IssueState.ACCEPTED: N_("Accepted"),
    IssueState.ASSIGNED: N_("Assigned"),
    IssueState.IN_PROGRESS: N_("In progress"),
    IssueState.ESCALATED: N_("Escalated"),
    IssueState.WAITING_CUSTOMER: N_("Waiting for you"),
    IssueState.RESOLVED: N_("Resolved"),
    IssueState.AWAITING_CONFIRMATION: N_("Solution proposed"),
    IssueState.CLOSED: N_("Closed"),
    IssueState.CANCELLED: N_("Cancelled"),
}

CATEGORIES: dict[Category, str] = {
    Category.INCIDENT: N_("Incident: something stopped working"),
    Category.SERVICE_REQUEST: N_("Service request: please do something for us"),
    Category.QUESTION: N_("Question: how do I…"),
    Category.DEFECT: N_("Defect: the product behaves wrongly"),
    Category.CHANGE: N_("Change: please change a configuration"),
    Category.COMPLAINT: N_("Complaint"),
}

CATEGORY_SHORT: dict[Category, str] = {
    Category.INCIDENT: N_("Incident"),
    Category.SERVICE_REQUEST: N_("Service request"),
    Category.QUESTION: N_("Question"),
    Category.DEFECT: N_("Defect"),
    Category.CHANGE: N_("Change"),
    Category.COMPLAINT: N_("Complaint"),
}

SERVICE_MODES: dict[ServiceMode, str] = {
    ServiceMode.REMOTE: N_("Remote: we work on it from our side"),
    ServiceMode.ON_SITE: N_("On site: an engineer visits you"),
}

SEVERITIES: dict[Severity, str] = {
    Severity.CRITICAL: N_("1 — Critical"),
    Severity.MAJOR: N_("2 — Major"),
    Severity.MINOR: N_("3 — Minor"),
    Severity.LOW: N_("4 — Low"),
}

SEVERITY_EXPLAINED: dict[Severity, str] = {
    Severity.CRITICAL: N_(
        "Production is down or unusable for everyone, with no workaround. We answer fastest."
    ),
    Severity.MAJOR: N_(
        "An important function fails or is badly degraded for many users; a workaround may exist."
    ),
    Severity.MINOR: N_("A function fails for some users or in some cases; work can go on."),
    Severity.LOW: N_("A cosmetic problem, a question or a wish; no impact on the work."),
}

CLOCKS: dict[SlaClockKind, str] = {
    SlaClockKind.FIRST_RESPONSE: N_("First response"),
    SlaClockKind.RESOLUTION: N_("Resolution"),
}

EVENTS: dict[EventKind, str] = {
    EventKind.CREATED: N_("Issue opened"),
    EventKind.ACCEPTED: N_("Registered and classified"),
    EventKind.ASSIGNED: N_("Assigned to an engineer"),
    EventKind.ACKNOWLEDGED: N_("First response from our engineer"),
    EventKind.COMMENTED: N_("Comment"),
    EventKind.REASSIGNED: N_("Handed over to another engineer"),
    EventKind.ESCALATED: N_("Escalated to a specialist team"),
    EventKind.INFO_REQUESTED: N_("We asked you a question"),
    EventKind.CUSTOMER_REPLIED: N_("You replied"),
    EventKind.RESOLUTION_PROPOSED: N_("A solution was proposed"),
    EventKind.CONFIRMATION_REQUESTED: N_("We asked you to confirm the solution"),
    EventKind.CONFIRMATION_REMINDER: N_("Reminder: please confirm the solution"),
    EventKind.RESOLUTION_REJECTED: N_("You rejected the solution"),
    EventKind.CLOSED: N_("Closed"),
    EventKind.REOPENED: N_("Reopened"),
    EventKind.CANCELLED: N_("Cancelled"),
    EventKind.SLA_BREACHED: N_("A promised deadline was missed"),
    EventKind.SEVERITY_CHANGED: N_("Severity changed"),
    EventKind.DEFECT_FIXED: N_("Our R&D team fixed the defect"),
    EventKind.DEFECT_WONT_FIX: N_("Our R&D team will not change the product"),
    EventKind.DEFECT_REOPENED: N_("Our R&D team is working on this again"),
}
"""Timeline entries as customers read them; a kind without a label shows its summary."""

ARTICLE_STATES: dict[ArticleState, str] = {
    ArticleState.DRAFT: N_("Draft"),
    ArticleState.NOT_VALIDATED: N_("Not validated"),
    ArticleState.VALIDATED: N_("Validated"),
    ArticleState.ARCHIVED: N_("Archived"),
}

AUDIENCES: dict[Audience, str] = {
    Audience.INTERNAL: N_("Internal"),
    Audience.CUSTOMER: N_("Customers"),
}
