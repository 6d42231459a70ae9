"""The issue lifecycle as data: its states, the lane each stands in, what customers see, and
every transition (which command or automatic step moves an issue from which states to which).

`IssueCase` holds the rules; this module describes them, so the progress diagram and the
documentation are drawn from one declaration. `tests/domain/test_lifecycle_graph.py` keeps
the two from drifting: it drives `IssueCase` through random command sequences and checks
that every transition it performs is declared here, and that each command's declared
source states are exactly those where its `check_*` lets it through.
"""

from dataclasses import dataclass, field
from enum import StrEnum

from domain.case_base import DEFECT_REOPEN_STATES, REASSIGNABLE_STATES, WORKING_STATES
from domain.case_dispatch import HAND_BACK_STATES
from domain.case_onsite import ONSITE_STATES
from domain.enums import OPEN_STATES, EventKind, IssueState, Tier


class Lane(StrEnum):
    """Who holds the issue at a stage: a support tier, or the customer (whose answer or
    confirmation the issue waits for, and who ends it)."""

    TIER_1 = "tier_1"
    TIER_2 = "tier_2"
    TIER_3 = "tier_3"
    CUSTOMER = "customer"
    SUPPORT = "support"
    """The tiers as customers see them: one support team."""


TIER_LANES: dict[Tier, Lane] = {
    Tier.FRONTLINE: Lane.TIER_1,
    Tier.EXPERT: Lane.TIER_2,
    Tier.RND: Lane.TIER_3,
}
LANES: tuple[Lane, ...] = (Lane.TIER_1, Lane.TIER_2, Lane.TIER_3, Lane.CUSTOMER)
"""Left to right, as the diagram draws them for staff."""
PUBLIC_LANES: tuple[Lane, ...] = (Lane.SUPPORT, Lane.CUSTOMER)
"""As customers see them."""


def public_lane(lane: Lane) -> Lane:
    return Lane.CUSTOMER if lane == Lane.CUSTOMER else Lane.SUPPORT


@dataclass(frozen=True)
class StateNode:
    """One lifecycle state. A tiered state stands in the lane of the issue's current tier
    (work and escalation happen at any tier); the others always in `home`."""

    state: IssueState
    home: Lane
    tiered: bool = False
    public: bool = True
    """Customers see this stage (a transient bookkeeping state is staff-only)."""
    tiers: tuple[Tier, ...] = (Tier.FRONTLINE,)
    """The tiers a tiered state occurs at."""
    transient: bool = False
    """Passed through within one step, never at rest: no command ever finds an issue here."""

    def lane(self, tier: Tier) -> Lane:
        return TIER_LANES[tier] if self.tiered else self.home

    @property
    def lanes(self) -> tuple[Lane, ...]:
        return tuple(TIER_LANES[t] for t in self.tiers) if self.tiered else (self.home,)


ALL_TIERS = (Tier.FRONTLINE, Tier.EXPERT, Tier.RND)

STATES: tuple[StateNode, ...] = (
    StateNode(IssueState.NEW, Lane.TIER_1),
    StateNode(IssueState.ACCEPTED, Lane.TIER_1),
    StateNode(IssueState.ASSIGNED, Lane.TIER_1),
    StateNode(IssueState.IN_PROGRESS, Lane.TIER_1, tiered=True, tiers=ALL_TIERS),
    StateNode(IssueState.ESCALATED, Lane.TIER_2, tiered=True, tiers=(Tier.EXPERT, Tier.RND)),
    StateNode(IssueState.WAITING_CUSTOMER, Lane.CUSTOMER),
    # Passed through within the step that proposes a resolution: staff-only bookkeeping.
    StateNode(IssueState.RESOLVED, Lane.CUSTOMER, public=False, transient=True),
    StateNode(IssueState.AWAITING_CONFIRMATION, Lane.CUSTOMER),
    StateNode(IssueState.CLOSED, Lane.CUSTOMER),
    StateNode(IssueState.CANCELLED, Lane.CUSTOMER),
)
"""Every state, in lifecycle order."""

NODES: dict[IssueState, StateNode] = {node.state: node for node in STATES}


def lane_of(state: IssueState, tier: Tier) -> Lane:
    """The lane an issue in `state` at `tier` stands in."""
    return NODES[state].lane(tier)


class TriggerKind(StrEnum):
    COMMAND = "command"
    """A person's command (a Temporal Update); `trigger` names its `IssueCase.check_*`."""
    AUTOMATIC = "automatic"
    """A step of the workflow itself: intake, dispatch, timers."""
    TRACKER = "tracker"
    """R&D's decision on the linked defect (a Signal)."""


@dataclass(frozen=True)
class Transition:
    """`trigger` moves an issue in one of `sources` to `target` (None: it stays where it
    is), recorded as an `event` entry on the timeline. `within` names the steps that run
    this one as part of themselves (proposing a resolution asks for the confirmation)."""

    trigger: str
    kind: TriggerKind
    event: EventKind
    sources: frozenset[IssueState]
    target: IssueState | None
    within: frozenset[str] = field(default_factory=frozenset)


def _command(
    trigger: str,
    event: EventKind,
    sources: frozenset[IssueState],
    target: IssueState | None,
    within: frozenset[str] = frozenset(),
) -> Transition:
    return Transition(trigger, TriggerKind.COMMAND, event, sources, target, within)


def _states(*states: IssueState) -> frozenset[IssueState]:
    return frozenset(states)


_S = IssueState
ESCALATABLE = _states(_S.ASSIGNED, _S.IN_PROGRESS, _S.ESCALATED)
REGISTERED_OPEN = OPEN_STATES - {_S.NEW}
"""Open with an SLA promise taken (intake accepted the issue)."""
ROUTING = frozenset({"dispatch", "escalate", "hand_over", "reoffer"})
"""The steps that pick the next owner: an owner, an offer or the team's queue."""
OFFER_STANDS = REGISTERED_OPEN
"""Where an offer can be answered: an offer left standing when the issue closed or was
cancelled is void (its check refuses it)."""

TRANSITIONS: tuple[Transition, ...] = (
    # intake and dispatch
    Transition("accept", TriggerKind.AUTOMATIC, EventKind.ACCEPTED, _states(_S.NEW), _S.ACCEPTED),
    Transition(
        "assign_initial",
        TriggerKind.AUTOMATIC,
        EventKind.ASSIGNED,
        _states(_S.ACCEPTED),
        _S.ASSIGNED,
        # intake's dispatch assigns too; so does any other way a new issue finds its owner
        within=frozenset({"dispatch", "claim", "accept_offer", "hand_over", "reoffer"}),
    ),
    # dispatch: nobody qualifies (the team's queue) or the team wants its engineer to accept
    # (an offer); at intake, on an escalation, a hand-over, or after an offer lapsed
    Transition(
        "queue",
        TriggerKind.AUTOMATIC,
        EventKind.QUEUED,
        REGISTERED_OPEN,
        None,
        within=ROUTING,
    ),
    Transition(
        "offer",
        TriggerKind.AUTOMATIC,
        EventKind.OFFERED,
        REGISTERED_OPEN,
        None,
        within=ROUTING,
    ),
    Transition(
        "offer_expiry",
        TriggerKind.AUTOMATIC,
        EventKind.OFFER_EXPIRED,
        REGISTERED_OPEN,
        None,
        within=frozenset({"auto_close"}),  # the workflow's timer step fires it
    ),
    # people's commands
    _command("acknowledge", EventKind.ACKNOWLEDGED, _states(_S.ASSIGNED), _S.IN_PROGRESS),
    _command("comment", EventKind.COMMENTED, OPEN_STATES | {_S.CLOSED}, None),
    _command(
        "internal_comment",
        EventKind.COMMENTED,
        OPEN_STATES | {_S.CLOSED},
        None,
        within=frozenset({"hand_back"}),  # the guidance is an internal comment
    ),
    _command("assign", EventKind.ASSIGNED, _states(_S.ACCEPTED), _S.ASSIGNED),
    _command(
        "assign",
        EventKind.REASSIGNED,
        REASSIGNABLE_STATES - {_S.ACCEPTED},
        None,
        within=frozenset({"claim", "accept_offer", "hand_over", "reoffer"}),
    ),
    _command("escalate", EventKind.ESCALATED, ESCALATABLE, _S.ESCALATED),
    _command("request_info", EventKind.INFO_REQUESTED, WORKING_STATES, _S.WAITING_CUSTOMER),
    _command(
        "customer_reply", EventKind.CUSTOMER_REPLIED, _states(_S.WAITING_CUSTOMER), _S.IN_PROGRESS
    ),
    _command(
        "customer_reply", EventKind.CUSTOMER_REPLIED, _states(_S.WAITING_CUSTOMER), _S.ESCALATED
    ),
    _command(
        "propose_resolution",
        EventKind.RESOLUTION_PROPOSED,
        WORKING_STATES,
        _S.RESOLVED,
        within=frozenset({"defect_fixed"}),
    ),
    Transition(
        "request_confirmation",
        TriggerKind.AUTOMATIC,
        EventKind.CONFIRMATION_REQUESTED,
        _states(_S.RESOLVED),
        _S.AWAITING_CONFIRMATION,
        within=frozenset({"propose_resolution", "defect_fixed"}),
    ),
    _command("confirm_closure", EventKind.CLOSED, _states(_S.AWAITING_CONFIRMATION), _S.CLOSED),
    _command(
        "confirm_closure",
        EventKind.RESOLUTION_REJECTED,
        _states(_S.AWAITING_CONFIRMATION),
        _S.IN_PROGRESS,
    ),
    _command("reopen", EventKind.REOPENED, _states(_S.CLOSED), _S.IN_PROGRESS),
    _command("cancel", EventKind.CANCELLED, OPEN_STATES, _S.CANCELLED),
    _command("change_severity", EventKind.SEVERITY_CHANGED, REGISTERED_OPEN, None),
    _command(
        "reapply_sla",
        EventKind.SLA_POLICY_APPLIED,
        REGISTERED_OPEN,
        None,
        within=frozenset({"accept", "change_severity"}),  # they take a policy too
    ),
    _command("link_defect", EventKind.DEFECT_LINKED, _states(_S.ESCALATED), None),
    _command("retry_tracker_sync", EventKind.TRACKER_SYNC_RETRIED, _states(_S.ESCALATED), None),
    # on-site service: a field engineer's visit, a spare part (their own workflows follow)
    _command("dispatch_visit", EventKind.VISIT_DISPATCHED, ONSITE_STATES, None),
    _command("request_part", EventKind.PART_REQUESTED, ONSITE_STATES, None),
    # dispatch: claims from the queue, answers to offers, hand-offs between owners
    _command("claim", EventKind.CLAIMED, REASSIGNABLE_STATES, None),
    _command("accept_offer", EventKind.OFFER_ACCEPTED, OFFER_STANDS, None),
    _command("decline_offer", EventKind.OFFER_DECLINED, OFFER_STANDS, None),
    _command("hand_back", EventKind.HANDED_BACK, HAND_BACK_STATES, _S.IN_PROGRESS),
    _command("hand_over", EventKind.HANDED_OVER, REGISTERED_OPEN, None),
    # background work: the defect created for an issue escalated to R&D
    Transition(
        "create_defect",
        TriggerKind.AUTOMATIC,
        EventKind.DEFECT_LINKED,
        _states(_S.ESCALATED),
        None,
    ),
    # timers
    Transition(
        "auto_close",
        TriggerKind.AUTOMATIC,
        EventKind.CLOSED,
        _states(_S.AWAITING_CONFIRMATION),
        _S.CLOSED,
    ),
    # R&D's decisions on the linked defect
    Transition(
        "defect_fixed",
        TriggerKind.TRACKER,
        EventKind.DEFECT_FIXED,
        _states(_S.ESCALATED),
        _S.IN_PROGRESS,
    ),
    Transition(
        "defect_wont_fix",
        TriggerKind.TRACKER,
        EventKind.DEFECT_WONT_FIX,
        _states(_S.ESCALATED),
        _S.ESCALATED,
    ),
    Transition(
        "defect_reopened",
        TriggerKind.TRACKER,
        EventKind.DEFECT_REOPENED,
        DEFECT_REOPEN_STATES,
        _S.ESCALATED,
    ),
)


RESTING_STATES = frozenset(node.state for node in STATES if not node.transient)


def command_sources(trigger: str) -> frozenset[IssueState]:
    """The states a command is declared to be accepted in (any of its transitions); a
    transient state is never at rest, so no command meets an issue there."""
    found: frozenset[IssueState] = frozenset()
    for transition in TRANSITIONS:
        if transition.trigger == trigger and transition.kind == TriggerKind.COMMAND:
            found |= transition.sources
    return found & RESTING_STATES


def commands() -> tuple[str, ...]:
    """Every declared command, in declaration order."""
    seen: dict[str, None] = {}
    for transition in TRANSITIONS:
        if transition.kind == TriggerKind.COMMAND:
            seen.setdefault(transition.trigger, None)
    return tuple(seen)


def declared(trigger: str, event: EventKind, source: IssueState, target: IssueState) -> bool:
    """Whether `trigger` (or a step it runs within itself) may move an issue from `source`
    to `target`, recorded as `event`; a stay (source == target) matches a stay transition
    or one whose target is the source."""
    for transition in TRANSITIONS:
        if transition.trigger != trigger and trigger not in transition.within:
            continue
        if transition.event != event or source not in transition.sources:
            continue
        if transition.target == target or (transition.target is None and source == target):
            return True
    return False
