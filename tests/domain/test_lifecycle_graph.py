"""The declared lifecycle graph cannot drift from `IssueCase`: every transition the case
performs is declared, and each command is declared in exactly the states its check allows."""

import copy
import functools
from collections.abc import Callable
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.allowed_commands import CATALOGUE, refusal
from domain.enums import (
    ActorKind,
    Category,
    DefectOutcome,
    EventKind,
    IssueState,
    ServiceMode,
    Severity,
    Tier,
    Visibility,
    WarrantyStatus,
)
from domain.lifecycle import CommandRejected, Effects, IssueCase
from domain.lifecycle_graph import (
    NODES,
    RESTING_STATES,
    STATES,
    TRANSITIONS,
    TriggerKind,
    command_sources,
    commands,
    declared,
    lane_of,
)
from domain.models import (
    SYSTEM_ACTOR,
    AcceptOfferCommand,
    AcknowledgeCommand,
    Actor,
    AssignCommand,
    CancelCommand,
    ChangeSeverityCommand,
    ClaimCommand,
    CommentCommand,
    ConfirmClosureCommand,
    CustomerReplyCommand,
    DeclineOfferCommand,
    DefectChange,
    DefectLink,
    Entitlement,
    EscalateCommand,
    HandBackCommand,
    HandOverCommand,
    IssueIntake,
    LifecycleConfig,
    LinkDefectCommand,
    OwnerAnswer,
    OwnerChoice,
    ProposeResolutionCommand,
    ReapplySlaCommand,
    ReopenCommand,
    RequestInfoCommand,
    RetryTrackerSyncCommand,
)
from domain.onsite_contracts import DispatchVisitCommand, FieldEngineer, RequestPartCommand
from tests.domain.test_lifecycle import CONFIG, CUSTOMER, T0

TRACKED = LifecycleConfig(sla_targets=CONFIG.sla_targets, tracker_enabled=True)
OWNERS = {
    Tier.FRONTLINE: OwnerChoice(engineer_id="alice", engineer_name="Alice", tier=Tier.FRONTLINE),
    Tier.EXPERT: OwnerChoice(engineer_id="bob", engineer_name="Bob", tier=Tier.EXPERT),
    Tier.RND: OwnerChoice(engineer_id="rita", engineer_name="Rita", tier=Tier.RND),
}
OTHERS = {
    Tier.FRONTLINE: OwnerChoice(engineer_id="carol", engineer_name="Carol", tier=Tier.FRONTLINE),
    Tier.EXPERT: OwnerChoice(engineer_id="dan", engineer_name="Dan", tier=Tier.EXPERT),
    Tier.RND: OwnerChoice(engineer_id="ravi", engineer_name="Ravi", tier=Tier.RND),
}
TEXT = "words"
TEAM = "support"
OFFER_TIMEOUT = timedelta(minutes=30)
"""Shorter than the smallest clock step: any `time` step lets a standing offer lapse."""
MANAGER = Actor(kind=ActorKind.MANAGER, id="nina", name="Nina")


def offered(owner: OwnerChoice) -> OwnerChoice:
    """The engineer as a team that wants offers routes them."""
    return owner.model_copy(update={"team_id": TEAM, "offer_timeout": OFFER_TIMEOUT})


def routed(owner: OwnerChoice, choice: int) -> OwnerAnswer:
    """The owner chooser's answer: the engineer directly, offered, or nobody (the queue)."""
    match choice % 3:
        case 0:
            return OwnerAnswer(owner=owner.model_copy(update={"team_id": TEAM}))
        case 1:
            return OwnerAnswer(owner=offered(owner))
    return OwnerAnswer(team_id=TEAM, why="nobody is available")


class Driver:
    """One issue and its clock; each step is one trigger of the graph, applied as the
    workflow applies it (check first for commands, follow-ups after a breach)."""

    def __init__(self, mode: ServiceMode = ServiceMode.REMOTE) -> None:
        self.case = IssueCase.open(
            IssueIntake(
                issue_id="ITR-1",
                organisation_id="acme",
                product_id="router",
                title="Down",
                description="All down",
                category=Category.INCIDENT,
                severity=Severity.MAJOR,
                service_mode=mode,
                reporter=CUSTOMER,
                created_at=T0,
            ),
            TRACKED,
        )
        self.case.register(T0, CUSTOMER)
        self.now = T0
        self.visits = 0
        self.performed: list[tuple[str, EventKind, IssueState, IssueState]] = []
        self.defects = 0
        self.dispatched = False

    def staff(self) -> Actor:
        """The owner if there is one (whoever may act on the issue), else a manager."""
        owner = self.case.status.owner
        if owner is None:
            return MANAGER
        return Actor(kind=ActorKind.ENGINEER, id=owner.engineer_id, name=owner.engineer_name)

    def offered_to(self) -> Actor:
        """The engineer the issue is offered to (answering the offer), else whoever acts."""
        offer = self.case.status.offer
        if offer is None:
            return self.staff()
        engineer = offer.engineer
        return Actor(kind=ActorKind.ENGINEER, id=engineer.engineer_id, name=engineer.engineer_name)

    def next_offer(self) -> OwnerAnswer:
        """As the workflow re-offers: the next engineer of the team at the issue's tier who
        has not declined or let the offer lapse, else the team's queue."""
        s = self.case.status
        for engineer in (OWNERS[s.tier], OTHERS[s.tier]):
            if engineer.engineer_id not in s.declined_ids:
                return OwnerAnswer(owner=offered(engineer))
        return OwnerAnswer(team_id=s.team_id or TEAM, why="everyone declined")

    def run(self, trigger: str, step: Callable[[], Effects]) -> bool:
        before = self.case.status.state
        try:
            effects = step()
        except CommandRejected:
            assert self.case.status.state == before
            return False
        self._record(trigger, before, effects)
        for follow_up in effects.follow_ups:
            if follow_up.escalate_to is not None:
                cmd = EscalateCommand(
                    actor=SYSTEM_ACTOR, to_tier=follow_up.escalate_to, reason=follow_up.reason
                )
                owner = OWNERS[follow_up.escalate_to]
                self.run("escalate", lambda c=cmd, o=owner: self.case.escalate(c, self.now, o))
            if follow_up.raise_to is not None:
                cmd2 = ChangeSeverityCommand(
                    actor=SYSTEM_ACTOR, severity=follow_up.raise_to, reason=follow_up.reason
                )
                self.run(
                    "change_severity", lambda c=cmd2: self.case.change_severity(c, None, self.now)
                )
            if follow_up.reoffer:
                answer = self.next_offer()
                why = follow_up.reason
                self.run("reoffer", lambda a=answer, r=why: self.case.reoffer(a, self.now, r))
        return True

    def _record(self, trigger: str, before: IssueState, effects: Effects) -> None:
        state = before
        events = {t.event for t in TRANSITIONS}
        for event in effects.events:
            target = event.to_state
            assert target is not None
            if target != state or event.kind in events:
                self.performed.append((trigger, event.kind, state, target))
            state = target

    def step(self, name: str, choice: int) -> bool:
        """Apply the trigger `name`; `choice` picks among its variants."""
        case, now, actor = self.case, self.now, self.staff()
        tier = case.status.tier
        match name:
            case "accept":
                return self.run("accept", lambda: _accept(case, now))
            case "assign_initial" | "dispatch":  # intake's dispatch, before and after queues
                if case.status.state != IssueState.ACCEPTED or self.dispatched:
                    return False
                self.dispatched = True
                if name == "assign_initial":
                    return self.run(name, lambda: case.assign_initial(OWNERS[tier], now))
                answer = routed(OWNERS[tier], choice)
                return self.run(name, lambda: case.queue_or_assign(answer, now))
            case "claim":
                claimant = OTHERS[tier] if choice % 2 else OWNERS[tier]
                by = (  # the engineer for themselves, or a manager for them
                    Actor(kind=ActorKind.ENGINEER, id=claimant.engineer_id, name="Claimant")
                    if choice % 2
                    else actor
                )
                cmd_k = ClaimCommand(actor=by, engineer=claimant)
                return self.run(name, lambda: case.claim(cmd_k, now))
            case "accept_offer":
                cmd_ao = AcceptOfferCommand(actor=self.offered_to())
                return self.run(name, lambda: case.accept_offer(cmd_ao, now))
            case "decline_offer":
                cmd_do = DeclineOfferCommand(
                    actor=self.offered_to(), reason=TEXT if choice % 2 else None
                )
                return self.run(name, lambda: case.decline_offer(cmd_do, now))
            case "hand_back":
                cmd_hb = HandBackCommand(actor=actor, guidance=TEXT)
                return self.run(name, lambda: case.hand_back(cmd_hb, now))
            case "hand_over":
                s = case.status
                held = s.owner if s.owner is not None else s.offer.engineer if s.offer else None
                leaving = held.engineer_id if held is not None else "nobody"
                cmd_ho = HandOverCommand(actor=MANAGER, engineer_id=leaving, reason=TEXT)
                nxt = OTHERS[tier] if leaving == OWNERS[tier].engineer_id else OWNERS[tier]
                answer_h = routed(nxt, choice)
                return self.run(name, lambda: case.hand_over(cmd_ho, answer_h, now))
            case "acknowledge":
                cmd_a = AcknowledgeCommand(actor=actor, message=TEXT if choice % 2 else None)
                return self.run(name, lambda: case.acknowledge(cmd_a, now))
            case "comment" | "internal_comment":
                author = CUSTOMER if choice % 2 and name == "comment" else actor
                visibility = (
                    Visibility.INTERNAL if name == "internal_comment" else Visibility.PUBLIC
                )
                cmd_c = CommentCommand(actor=author, body=TEXT, visibility=visibility)
                return self.run(name, lambda: case.comment(cmd_c, now))
            case "assign":
                at = Tier.FRONTLINE if case.status.state == IssueState.ACCEPTED else tier
                engineer = OTHERS[at] if choice % 2 else OWNERS[at]
                cmd_s = AssignCommand(actor=actor, engineer=engineer)
                return self.run(name, lambda: case.assign(cmd_s, now))
            case "escalate":
                to = Tier(min(int(tier) + 1 + choice % 2, 3))
                owner = OWNERS[to] if choice % 3 else None
                queue = None
                if choice == 3:  # routed: nobody qualifies, the target tier's queue
                    queue = OwnerAnswer(team_id=TEAM, why="nobody is available")
                if choice == 4 and owner is not None:  # routed to a team that offers
                    owner = offered(owner)
                cmd_e = EscalateCommand(actor=actor, to_tier=to, reason=TEXT)
                return self.run(name, lambda: case.escalate(cmd_e, now, owner, queue))
            case "request_info":
                cmd_r = RequestInfoCommand(actor=actor, question=TEXT)
                return self.run(name, lambda: case.request_info(cmd_r, now))
            case "customer_reply":
                cmd_y = CustomerReplyCommand(actor=CUSTOMER, body=TEXT)
                return self.run(name, lambda: case.customer_reply(cmd_y, now))
            case "propose_resolution":
                cmd_p = ProposeResolutionCommand(actor=actor, summary=TEXT)
                return self.run(name, lambda: case.propose_resolution(cmd_p, now))
            case "confirm_closure":
                accept = choice % 2 == 0
                cmd_f = ConfirmClosureCommand(
                    actor=CUSTOMER, accept=accept, satisfaction=4, comment=None if accept else TEXT
                )
                return self.run(name, lambda: case.confirm_closure(cmd_f, now))
            case "reopen":
                cmd_o = ReopenCommand(actor=CUSTOMER, reason=TEXT)
                return self.run(name, lambda: case.reopen(cmd_o, now))
            case "cancel":
                cmd_x = CancelCommand(actor=CUSTOMER, reason=TEXT)
                return self.run(name, lambda: case.cancel(cmd_x, now))
            case "change_severity":
                cmd_v = ChangeSeverityCommand(
                    actor=actor, severity=Severity(1 + choice % 4), reason=TEXT
                )
                return self.run(name, lambda: case.change_severity(cmd_v, None, now))
            case "reapply_sla":
                cmd_l = ReapplySlaCommand(actor=actor)
                return self.run(name, lambda: case.reapply_sla(cmd_l, None, now))
            case "link_defect":
                return self.run(name, lambda: self._link(actor))
            case "create_defect":
                if not case.needs_defect_creation():
                    return False
                if choice % 2:
                    return self.run(name, lambda: case.tracker_sync_failed("refused", now))
                return self.run(name, lambda: self._created())
            case "retry_tracker_sync":
                cmd_t = RetryTrackerSyncCommand(actor=actor)
                return self.run(name, lambda: case.retry_tracker_sync(cmd_t, now))
            case "time":
                self.now += timedelta(hours=[1, 5, 30, 24 * 9, 24 * 20][choice % 5])
                return self.run("auto_close", lambda: case.on_time(self.now))
            case "defect":
                return self._defect(choice)
            case "dispatch_visit":
                start = now + timedelta(days=1)
                cmd_d = DispatchVisitCommand(
                    actor=actor, window_start=start, window_end=start + timedelta(hours=2)
                )
                self.visits += 1
                engineer = FieldEngineer(engineer_id="fe1", engineer_name="Fiona Field")
                visit_id = f"ITR-1:v{self.visits}"
                return self.run(name, lambda: case.dispatch_visit(cmd_d, engineer, visit_id, now))
            case "request_part":
                cmd_q = RequestPartCommand(actor=actor, part_number="PSU-1", warehouse="central")
                return self.run(name, lambda: case.request_part(cmd_q, f"ITR-1:p{choice}", now))
        raise AssertionError(name)

    def _link(self, actor: Actor) -> Effects:
        self.case.check_link_defect(LinkDefectCommand(actor=actor, defect_key="RND-7"))
        return self.case.link_defect(
            DefectLink(key="RND-7", url="https://jira/RND-7"), self.now, actor
        )

    def _created(self) -> Effects:
        self.defects += 1
        key = f"RND-{self.defects}"
        return self.case.link_defect(
            DefectLink(key=key, url=f"https://jira/{key}", created=True), self.now, SYSTEM_ACTOR
        )

    def _defect(self, choice: int) -> bool:
        key = self.case.status.defect_key
        if key is None:
            return False
        outcome = list(DefectOutcome)[choice % 3]
        change = DefectChange(defect_key=key, outcome=outcome, dedupe_key=f"d{choice}")
        if not self.case.defect_change_applies(change):
            return False
        tier = self.case.tier_taking_over(change)
        owner = OWNERS[tier] if tier is not None else None
        trigger = f"defect_{outcome.value}"
        return self.run(trigger, lambda: self.case.defect_changed(change, self.now, owner))


def _accept(case: IssueCase, now: datetime) -> Effects:
    if case.status.state != IssueState.NEW:
        raise CommandRejected("accepted already")
    return case.accept(
        Entitlement(contract_id="c", level=None, warranty_status=WarrantyStatus.IN_WARRANTY),
        now,
        None,
    )


STEPS = (
    "accept",
    "assign_initial",
    "dispatch",
    *(entry.name for entry in CATALOGUE),
    "create_defect",
    "time",
    "defect",
)
steps = st.lists(st.tuples(st.sampled_from(STEPS), st.integers(0, 11)), max_size=40)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(ServiceMode), st.integers(0, 3), steps)
def test_every_transition_the_case_performs_is_declared_in_the_graph(
    mode: ServiceMode, start: int, sequence: list[tuple[str, int]]
) -> None:
    driver = Driver(mode)
    driver.step("accept", 0)
    if start == 3:
        driver.step("assign_initial", 0)
    else:  # assigned, offered or queued at intake
        driver.step("dispatch", start)
    for name, choice in sequence:
        before = driver.case.status.state
        for entry in CATALOGUE:  # what a check lets through is declared from this state
            for actor in (driver.staff(), CUSTOMER):
                if refusal(entry, driver.case, actor, driver.now) is None:
                    assert before in command_sources(entry.name), (entry.name, before)
        driver.step(name, choice)
    for trigger, event, source, target in driver.performed:
        assert declared(trigger, event, source, target), (trigger, event, source, target)
        assert lane_of(target, driver.case.status.tier) is not None


Performed = tuple[str, EventKind, IssueState, IssueState]


@functools.cache
def explore(depth: int) -> tuple[list[Driver], frozenset[Performed]]:
    """Every distinct situation reachable in `depth` steps (by state, tier, defect, tracker
    error, archive), and every transition performed on the way."""
    starts = [Driver(mode) for mode in ServiceMode]
    frontier = list(starts)
    seen: dict[tuple[object, ...], Driver] = {}
    performed: set[Performed] = set()
    for _ in range(depth):
        following: list[Driver] = []
        for driver in frontier:
            for name in STEPS:
                for choice in range(
                    6
                    if name in ("time", "defect", "escalate")
                    else 3
                    if name in ("dispatch", "hand_over")
                    else 2
                ):
                    nxt = copy.deepcopy(driver)
                    if not nxt.step(name, choice):
                        continue
                    performed.update(nxt.performed)
                    s = nxt.case.status
                    key = (
                        s.service_mode,
                        s.state,
                        s.tier,
                        s.defect_key is None,
                        s.tracker_sync_error is None,
                        s.archived_at is None,
                        s.previous_state,
                        s.owner is None,
                        s.offer is None,
                        nxt.case.defect_pending,
                    )
                    if key not in seen:
                        seen[key] = nxt
                        following.append(nxt)
        frontier = following
    return [*starts, *seen.values()], frozenset(performed)


def test_each_command_is_declared_in_exactly_the_states_its_check_allows() -> None:
    allowed: dict[str, set[IssueState]] = {entry.name: set() for entry in CATALOGUE}
    reached, _ = explore(7)
    for driver in reached:
        for entry in CATALOGUE:
            for actor in (driver.staff(), CUSTOMER):
                if refusal(entry, driver.case, actor, driver.now) is None:
                    allowed[entry.name].add(driver.case.status.state)
    assert {d.case.status.state for d in reached} == RESTING_STATES
    assert set(commands()) == set(allowed)
    for name, states in allowed.items():
        assert states == set(command_sources(name)), name


def test_every_transition_on_every_path_of_seven_steps_is_declared() -> None:
    _, performed = explore(7)
    for t in TRANSITIONS:  # and every declared transition happens on some path
        assert any(
            (trigger == t.trigger or trigger in t.within)
            and event == t.event
            and source in t.sources
            and (target == t.target or (t.target is None and target == source))
            for trigger, event, source, target in performed
        ), t
    for trigger, event, source, target in performed:
        assert declared(trigger, event, source, target), (trigger, event, source, target)


def test_every_state_is_declared_once_and_tiered_states_name_their_lanes() -> None:
    assert [node.state for node in STATES] == list(IssueState)
    assert lane_of(IssueState.ESCALATED, Tier.RND).value == "tier_3"
    assert lane_of(IssueState.WAITING_CUSTOMER, Tier.RND).value == "customer"
    assert NODES[IssueState.RESOLVED].public is False
    assert all(t.kind != TriggerKind.COMMAND or t.trigger in commands() for t in TRANSITIONS)


def test_every_check_of_the_case_has_a_catalogue_entry_and_a_declared_command() -> None:
    """A new command (a new `check_*`) needs its catalogue entry and its transitions, or the
    issue page would never offer it and the diagram would not know it."""
    checks = {name.removeprefix("check_") for name in dir(IssueCase) if name.startswith("check_")}
    entries = {entry.name for entry in CATALOGUE} - {"internal_comment"}
    assert checks == entries
    assert checks <= set(commands())
