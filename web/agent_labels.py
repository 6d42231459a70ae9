"""How the agent workspace names things staff see and customers do not (translated when a
page renders): every state in staff words, every clock, every command, the timeline kinds."""

from domain.enums import ContractLevel, EventKind, IssueState, SlaClockKind, WarrantyStatus
from web.i18n import N_

STATES: dict[IssueState, str] = {
    IssueState.NEW: N_("New"),
    IssueState.ACCEPTED: N_("Accepted"),
    IssueState.ASSIGNED: N_("Assigned"),
    IssueState.IN_PROGRESS: N_("In progress"),
    IssueState.ESCALATED: N_("Escalated"),
    IssueState.WAITING_CUSTOMER: N_("Waiting for the customer"),
    IssueState.RESOLVED: N_("Resolved"),
    IssueState.AWAITING_CONFIRMATION: N_("Awaiting confirmation"),
    IssueState.CLOSED: N_("Closed"),
    IssueState.CANCELLED: N_("Cancelled"),
}

CLOCKS: dict[SlaClockKind, str] = {
    SlaClockKind.FIRST_RESPONSE: N_("First response"),
    SlaClockKind.RESOLUTION: N_("Resolution"),
    SlaClockKind.TIER_1: N_("Tier 1 budget"),
    SlaClockKind.TIER_2: N_("Tier 2 budget"),
    SlaClockKind.TIER_3: N_("Tier 3 budget"),
}

COMMANDS: dict[str, str] = {
    "acknowledge": N_("Acknowledge"),
    "comment": N_("Comment"),
    "internal_comment": N_("Internal comment"),
    "assign": N_("Assign"),
    "escalate": N_("Escalate"),
    "request_info": N_("Ask the customer"),
    "customer_reply": N_("Reply for the customer"),
    "propose_resolution": N_("Propose a solution"),
    "confirm_closure": N_("Confirm the closure"),
    "reopen": N_("Reopen"),
    "cancel": N_("Cancel the issue"),
    "change_severity": N_("Change the severity"),
    "reapply_sla": N_("Re-apply the SLA policy"),
    "link_defect": N_("Link an R&D defect"),
    "retry_tracker_sync": N_("Retry creating the defect"),
    "dispatch_visit": N_("Dispatch an on-site visit"),
    "request_part": N_("Request a spare part"),
    "claim": N_("Claim from the queue"),
    "accept_offer": N_("Accept the offer"),
    "decline_offer": N_("Decline the offer"),
    "hand_back": N_("Hand back to tier 1"),
    "hand_over": N_("Hand over"),
}

DEFECT_STATUS: dict[str, str] = {
    "open": N_("R&D is working on it"),
    "fixed": N_("fixed"),
    "wont_fix": N_("will not be fixed"),
    "reopened": N_("reopened"),
}

CONTRACT_LEVELS: dict[ContractLevel, str] = {
    ContractLevel.BASIC: N_("Basic contract"),
    ContractLevel.STANDARD: N_("Standard contract"),
    ContractLevel.PREMIUM: N_("Premium contract"),
}

WARRANTY: dict[WarrantyStatus, str] = {
    WarrantyStatus.IN_WARRANTY: N_("in warranty"),
    WarrantyStatus.OUT_OF_WARRANTY: N_("out of warranty"),
    WarrantyStatus.NO_CONTRACT: N_("no contract"),
}

QUEUES: dict[str, str] = {
    "mine": N_("My issues"),
    "open": N_("All open issues"),
    "team": N_("My team's queue"),
    "unowned": N_("Unowned"),
}

OUTCOMES: dict[str, str] = {
    "assigned": N_("assigned"),
    "handed_over": N_("handed over"),
    "refused": N_("refused"),
    "forbidden": N_("not allowed"),
    "not_found": N_("not found"),
}

CRITERIA: dict[str, str] = {
    "products": N_("Products"),
    "categories": N_("Categories"),
    "severities": N_("Severities"),
    "organisations": N_("Organisations"),
    "contract_levels": N_("Contract levels"),
    "regions": N_("Regions"),
    "service_modes": N_("Service modes"),
    "languages": N_("Languages"),
    "channels": N_("Channels"),
}

PRESENCE: dict[str, str] = {
    "available": N_("Available"),
    "away": N_("Away"),
    "off_duty": N_("Off duty"),
}

METRICS: dict[str, str] = {
    "created": N_("Issues opened"),
    "closed": N_("Issues closed"),
    "cancelled": N_("Issues cancelled"),
    "backlog": N_("Open at the period's end"),
    "responded": N_("First responses"),
    "first_contact_resolution": N_("Resolved at first contact"),
    "reassigned": N_("Closed after a reassignment"),
    "reopened": N_("Closed after a reopening"),
    "rated": N_("Rated by the customer"),
    "first_response_met": N_("First response on time"),
    "first_response_breached": N_("First response breached"),
    "first_response_open": N_("First response still due"),
    "resolution_met": N_("Resolved on time"),
    "resolution_breached": N_("Resolution SLA breached"),
    "resolution_open": N_("Resolution still due"),
    "ola_breached": N_("Tier budget breached"),
    "defect_linked": N_("Linked to a defect"),
    "defect_fixed": N_("Defect fixed"),
}

EVENTS: dict[EventKind, str] = {
    EventKind.CREATED: N_("Opened"),
    EventKind.ACCEPTED: N_("Accepted and classified"),
    EventKind.ASSIGNED: N_("Assigned"),
    EventKind.ACKNOWLEDGED: N_("Acknowledged"),
    EventKind.COMMENTED: N_("Comment"),
    EventKind.REASSIGNED: N_("Reassigned"),
    EventKind.ESCALATED: N_("Escalated"),
    EventKind.INFO_REQUESTED: N_("Customer asked"),
    EventKind.CUSTOMER_REPLIED: N_("Customer replied"),
    EventKind.RESOLUTION_PROPOSED: N_("Solution proposed"),
    EventKind.CONFIRMATION_REQUESTED: N_("Confirmation requested"),
    EventKind.CONFIRMATION_REMINDER: N_("Confirmation reminder"),
    EventKind.RESOLUTION_REJECTED: N_("Solution rejected"),
    EventKind.CLOSED: N_("Closed"),
    EventKind.REOPENED: N_("Reopened"),
    EventKind.CANCELLED: N_("Cancelled"),
    EventKind.SLA_BREACHED: N_("SLA breached"),
    EventKind.SLA_WARNING: N_("SLA warning"),
    EventKind.SLA_CLOCKS: N_("SLA clocks"),
    EventKind.SLA_POLICY_APPLIED: N_("SLA policy applied"),
    EventKind.SEVERITY_CHANGED: N_("Severity changed"),
    EventKind.ARCHIVED: N_("Archived"),
    EventKind.DEFECT_LINKED: N_("Defect linked"),
    EventKind.TRACKER_SYNC_FAILED: N_("Defect creation failed"),
    EventKind.TRACKER_SYNC_RETRIED: N_("Defect creation retried"),
    EventKind.DEFECT_FIXED: N_("Defect fixed"),
    EventKind.DEFECT_WONT_FIX: N_("Defect will not be fixed"),
    EventKind.DEFECT_REOPENED: N_("Defect reopened"),
    EventKind.DEFECT_UPDATE_IGNORED: N_("Defect update ignored"),
    EventKind.DEFECT_COMMENTED: N_("R&D commented"),
    EventKind.QUEUED: N_("Waiting in the queue"),
    EventKind.CLAIMED: N_("Claimed"),
    EventKind.OFFERED: N_("Offered"),
    EventKind.OFFER_ACCEPTED: N_("Offer accepted"),
    EventKind.OFFER_DECLINED: N_("Offer declined"),
    EventKind.OFFER_EXPIRED: N_("Offer expired"),
    EventKind.HANDED_BACK: N_("Handed back"),
    EventKind.HANDED_OVER: N_("Handed over"),
}
