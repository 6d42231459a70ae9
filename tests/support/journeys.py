"""Timelines written by the real state machine, for the path and diagram tests: an issue
that waits for the customer twice, goes to the experts and R&D, and is sent back."""

from datetime import datetime, timedelta

from domain.enums import ContractLevel, DefectOutcome, Tier, WarrantyStatus
from domain.lifecycle import Effects, IssueCase
from domain.models import (
    AcknowledgeCommand,
    Actor,
    CustomerReplyCommand,
    DefectChange,
    DefectLink,
    Entitlement,
    EscalateCommand,
    OwnerChoice,
    RequestInfoCommand,
    TimelineEvent,
)

ALICE = OwnerChoice(engineer_id="alice", engineer_name="Alice Martin", tier=Tier.FRONTLINE)
FRANK = OwnerChoice(engineer_id="frank", engineer_name="Frank Weber", tier=Tier.EXPERT)
RITA = OwnerChoice(engineer_id="rita", engineer_name="Rita Rnd", tier=Tier.RND)
ENGINEER = Actor(kind="engineer", id="alice", name="Alice Martin")
CUSTOMER_ACTOR = Actor(kind="customer", id="tok-acme", name="Ann Customer")


class Journey:
    """Steps applied to one case, every timeline entry kept in order."""

    def __init__(self, case: IssueCase, start: datetime) -> None:
        self.case = case
        self.now = start
        self.events: list[TimelineEvent] = []

    def take(self, effects: Effects, after: timedelta = timedelta(0)) -> "Journey":
        self.events.extend(effects.events)
        self.now += after
        return self

    def later(self, delta: timedelta) -> "Journey":
        self.now += delta
        return self.take(self.case.on_time(self.now))


def long_journey(case: IssueCase, start: datetime) -> Journey:
    """new, accepted, assigned, in progress, waiting, in progress (2), escalated to tier 2,
    waiting (2), escalated (2), escalated at tier 3 (R&D), escalated back at tier 2 (won't fix);
    the resolution clock breaches on the way."""
    j = Journey(case, start)
    c = case
    j.take(c.register(j.now, CUSTOMER_ACTOR))
    entitlement = Entitlement(
        contract_id="c", level=ContractLevel.PREMIUM, warranty_status=WarrantyStatus.IN_WARRANTY
    )
    j.take(c.accept(entitlement, j.now, None))
    j.take(c.assign_initial(ALICE, j.now))
    j.later(timedelta(minutes=40))
    j.take(c.acknowledge(AcknowledgeCommand(actor=ENGINEER), j.now))
    j.later(timedelta(hours=3))
    j.take(c.request_info(RequestInfoCommand(actor=ENGINEER, question="Which build?"), j.now))
    j.later(timedelta(hours=5))
    j.take(c.customer_reply(CustomerReplyCommand(actor=CUSTOMER_ACTOR, body="5.2"), j.now))
    j.later(timedelta(hours=20))
    escalate = EscalateCommand(actor=ENGINEER, to_tier=Tier.EXPERT, reason="needs an expert")
    j.take(c.escalate(escalate, j.now, FRANK))
    j.later(timedelta(hours=2))
    j.take(c.request_info(RequestInfoCommand(actor=ENGINEER, question="Logs?"), j.now))
    j.later(timedelta(hours=2))
    j.take(c.customer_reply(CustomerReplyCommand(actor=CUSTOMER_ACTOR, body="Here."), j.now))
    j.later(timedelta(days=2))
    to_rnd = EscalateCommand(actor=ENGINEER, to_tier=Tier.RND, reason="firmware defect")
    j.take(c.escalate(to_rnd, j.now, RITA))
    j.take(c.link_defect(DefectLink(key="RND-9", url="https://jira/RND-9"), j.now, ENGINEER))
    j.later(timedelta(hours=6))
    wont_fix = DefectChange(defect_key="RND-9", outcome=DefectOutcome.WONT_FIX, dedupe_key="w")
    j.take(c.defect_changed(wont_fix, j.now, FRANK))
    return j
