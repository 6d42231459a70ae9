"""The path one issue actually took through the lifecycle, read from its timeline.

Each stage visit is a state at a tier (so a lane of `lifecycle_graph`): when it was entered
and left, who owned the issue there, and the SLA warnings and breaches that fired during
it. A state visited twice is two visits, numbered. `public_path` is what customers may see:
the support tiers merged into one lane, staff-only stages dropped, no owners, no queue
waits, offers, claims or hand-offs, and only the breaches of the two promises made to them.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from domain.enums import EventKind, IssueState, SlaClockKind, Tier
from domain.lifecycle_graph import NODES, Lane, lane_of, public_lane
from domain.models import TimelineEvent
from domain.sla_tracking import PROMISE_CLOCKS

# Timeline entries that move the issue to another tier (the tier is in their data, or fixed).
_TIER_OF: dict[EventKind, Tier | None] = {
    EventKind.ESCALATED: None,  # data["tier"]
    EventKind.DEFECT_FIXED: Tier.FRONTLINE,
    EventKind.DEFECT_WONT_FIX: Tier.EXPERT,
    EventKind.DEFECT_REOPENED: Tier.RND,
    EventKind.HANDED_BACK: Tier.FRONTLINE,
}
_OWNER_EVENTS = frozenset(
    {EventKind.ASSIGNED, EventKind.REASSIGNED, EventKind.ESCALATED, EventKind.HANDED_BACK}
)
DISPATCH_EVENTS = frozenset(
    {
        EventKind.QUEUED,
        EventKind.OFFERED,
        EventKind.OFFER_DECLINED,
        EventKind.OFFER_EXPIRED,
        EventKind.CLAIMED,
        EventKind.OFFER_ACCEPTED,
        EventKind.HANDED_BACK,
        EventKind.HANDED_OVER,
    }
)
"""How an issue found (or changed) its owner: staff-only marks on the stage they happened in."""
_UNOWNING = frozenset({EventKind.QUEUED, EventKind.OFFERED})
"""The issue is nobody's while it waits in a queue or an offer is open."""
_TAKEN = frozenset({EventKind.CLAIMED, EventKind.OFFER_ACCEPTED})
"""Someone took it (their assignment follows, possibly in the next stage)."""


@dataclass(frozen=True)
class DispatchMark:
    """A queue wait, an offer and its answer, a claim, a hand-back or a hand-over; the
    engineer is the one offered, claiming, handed back to, or handed over from."""

    at: datetime
    kind: EventKind
    engineer_id: str | None


@dataclass(frozen=True)
class SlaMark:
    """A warning (percent < 100) or breach of one clock, during a visit."""

    at: datetime
    clock: SlaClockKind
    percent: int
    breached: bool


@dataclass(frozen=True)
class StageVisit:
    state: IssueState
    tier: Tier
    lane: Lane
    entered_at: datetime
    left_at: datetime | None
    """None: the issue is here now."""
    visit: int
    """1 the first time the issue stands at this state in this lane, 2 the next..."""
    owner_id: str | None = None
    marks: tuple[SlaMark, ...] = ()
    dispatch: tuple[DispatchMark, ...] = ()
    """Staff-only: how the issue was routed during this visit, oldest first."""
    waiting_owner: str | None = None
    """ "queue" or "offer" while the issue stands here unowned in its team's queue or offered
    to an engineer (as of the visit's end), else None."""

    @property
    def current(self) -> bool:
        return self.left_at is None

    @property
    def waiting_for(self) -> str | None:
        """ "customer" while the issue waits for the customer's answer or confirmation,
        "rnd" while it waits for R&D's decision on the defect, else None."""
        if self.state in (IssueState.WAITING_CUSTOMER, IssueState.AWAITING_CONFIRMATION):
            return "customer"
        if self.state == IssueState.ESCALATED and self.tier == Tier.RND:
            return "rnd"
        return None


def _dispatch_mark(event: TimelineEvent) -> DispatchMark | None:
    if event.kind not in DISPATCH_EVENTS:
        return None
    key = "from_engineer_id" if event.kind == EventKind.HANDED_OVER else "engineer_id"
    engineer = event.data.get(key)
    return DispatchMark(event.at, event.kind, engineer if isinstance(engineer, str) else None)


def _tier_after(event: TimelineEvent, tier: Tier) -> Tier:
    if event.kind not in _TIER_OF:
        return tier
    fixed = _TIER_OF[event.kind]
    if fixed is not None:
        return fixed
    value = event.data.get("tier")
    return Tier(value) if isinstance(value, int) and value in (1, 2, 3) else tier


def _mark(event: TimelineEvent) -> SlaMark | None:
    if event.kind not in (EventKind.SLA_WARNING, EventKind.SLA_BREACHED):
        return None
    clock, percent = event.data.get("clock"), event.data.get("percent")
    if not isinstance(clock, str) or clock not in set(SlaClockKind):
        return None
    breached = event.kind == EventKind.SLA_BREACHED
    return SlaMark(
        at=event.at,
        clock=SlaClockKind(clock),
        percent=percent if isinstance(percent, int) else (100 if breached else 0),
        breached=breached,
    )


def issue_path(events: Sequence[TimelineEvent]) -> tuple[StageVisit, ...]:
    """The visits, oldest first, from the whole timeline (internal entries included: they
    carry the SLA marks and R&D's decisions). The last visit is the current stage."""
    ordered = sorted(events, key=lambda e: e.seq)
    if not ordered:
        return ()
    visits: list[StageVisit] = []
    counts: dict[tuple[IssueState, Lane], int] = {}
    tier = Tier.FRONTLINE
    owner: str | None = None
    tier1_owner: str | None = None
    unowned: str | None = None

    def enter(state: IssueState, at: datetime) -> None:
        lane = lane_of(state, tier)
        counts[(state, lane)] = counts.get((state, lane), 0) + 1
        if visits:
            visits[-1] = replace(visits[-1], left_at=at)
        visits.append(StageVisit(state, tier, lane, at, None, counts[(state, lane)], owner))

    first = ordered[0]
    enter(first.to_state or IssueState.NEW, first.at)
    for event in ordered:
        tier = _tier_after(event, tier)
        if event.kind in _OWNER_EVENTS:
            engineer = event.data.get("engineer_id")
            owner = engineer if isinstance(engineer, str) else None
            if event.kind != EventKind.ESCALATED and tier == Tier.FRONTLINE:
                tier1_owner = owner
        elif event.kind == EventKind.DEFECT_FIXED:
            owner = tier1_owner
        elif event.kind in (EventKind.DEFECT_WONT_FIX, EventKind.DEFECT_REOPENED):
            owner = None  # the new tier's owner is chosen by dispatch, not recorded here
        elif event.kind in _UNOWNING:
            owner = None
        if event.kind in _UNOWNING:
            unowned = "queue" if event.kind == EventKind.QUEUED else "offer"
        elif event.kind in _TAKEN or (owner is not None and event.kind in _OWNER_EVENTS):
            unowned = None
        state = event.to_state or visits[-1].state
        current = visits[-1]
        if state != current.state or lane_of(state, tier) != current.lane:
            enter(state, event.at)
        elif owner != current.owner_id and current.owner_id is None:
            visits[-1] = replace(current, owner_id=owner)
        mark = _mark(event)
        if mark is not None:
            visits[-1] = replace(visits[-1], marks=(*visits[-1].marks, mark))
        routed = _dispatch_mark(event)
        if routed is not None:
            visits[-1] = replace(visits[-1], dispatch=(*visits[-1].dispatch, routed))
        if visits[-1].waiting_owner != unowned:
            visits[-1] = replace(visits[-1], waiting_owner=unowned)
    return tuple(visits)


def public_path(visits: Sequence[StageVisit]) -> tuple[StageVisit, ...]:
    """The path as a customer may see it (see the module): support tiers become one lane,
    staff-only stages vanish (merging what they separated), owners and internal clocks go."""
    shown: list[StageVisit] = []
    counts: dict[IssueState, int] = {}
    for visit in visits:
        if not NODES[visit.state].public:
            continue
        lane = public_lane(visit.lane)
        marks = tuple(m for m in visit.marks if m.clock in PROMISE_CLOCKS and m.breached)
        if shown and shown[-1].state == visit.state and shown[-1].lane == lane:
            previous = shown[-1]
            shown[-1] = replace(previous, left_at=visit.left_at, marks=previous.marks + marks)
            continue
        counts[visit.state] = counts.get(visit.state, 0) + 1
        shown.append(
            replace(
                visit,
                lane=lane,
                tier=Tier.FRONTLINE,
                owner_id=None,
                marks=marks,
                waiting_owner=None,
                dispatch=(),  # who was offered, claimed or handed over is staff business
                visit=counts[visit.state],
            )
        )
    if shown and visits and visits[-1].current:
        shown[-1] = replace(shown[-1], left_at=None)
    return tuple(shown)
