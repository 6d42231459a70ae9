"""The on-site part of the issue state machine: dispatching visits, requesting spare parts,
and recording what the visit and part workflows report back.

The visits and parts run their own state machines (`domain.onsite`) in child workflows;
the issue keeps a summary of them (`IssueStatus.onsite`) and puts each step they signal on
its timeline. A step is recorded once: the issue remembers the last sequence number of each
visit and part, so a repeated signal is ignored.
"""

from datetime import datetime

from domain.case_base import CaseBase, CommandRejected, Effects
from domain.enums import ActorKind, EventKind, IssueState, ServiceMode, Visibility
from domain.models import Audience
from domain.onsite import (
    ACTIVE_VISIT_STATES,
    CANCELLABLE_PART_STATES,
    OnsiteSummary,
    PartState,
    PartSummary,
    TransitionRefused,
    VisitState,
    VisitSummary,
    check_window,
)
from domain.onsite_contracts import (
    DispatchVisitCommand,
    FieldEngineer,
    OnsiteStep,
    RequestPartCommand,
)

ONSITE_STATES = frozenset(
    {
        IssueState.ASSIGNED,
        IssueState.IN_PROGRESS,
        IssueState.ESCALATED,
        IssueState.WAITING_CUSTOMER,
    }
)
"""Where a visit can be dispatched or a part requested: the issue is being worked on."""

DISPATCHERS = frozenset(
    {ActorKind.ENGINEER, ActorKind.MANAGER, ActorKind.ADMIN, ActorKind.DISPATCHER}
)
"""Who may dispatch a visit; an engineer only for an issue they own."""

PART_REQUESTERS = frozenset(
    {
        ActorKind.ENGINEER,
        ActorKind.MANAGER,
        ActorKind.ADMIN,
        ActorKind.DISPATCHER,
        ActorKind.FIELD_ENGINEER,
    }
)


class OnsiteRules(CaseBase):
    """The on-site steps of IssueCase."""

    @property
    def onsite(self) -> OnsiteSummary:
        return self.status.onsite or OnsiteSummary()

    def _require_on_site(self, action: str) -> None:
        if self.status.service_mode != ServiceMode.ON_SITE:
            raise CommandRejected(
                f"cannot {action}: the issue's service mode is "
                f"{self.status.service_mode.value}, not on_site"
            )

    # --- visits ------------------------------------------------------------------------

    def check_dispatch_visit(self, cmd: DispatchVisitCommand, now: datetime) -> None:
        self._require_on_site("dispatch a visit")
        self._require_state(ONSITE_STATES, "dispatch a visit to")
        if cmd.actor.kind not in DISPATCHERS:
            raise CommandRejected(f"a {cmd.actor.kind.value} cannot dispatch a visit")
        owner = self.status.owner
        if cmd.actor.kind == ActorKind.ENGINEER and (
            owner is None or owner.engineer_id != cmd.actor.id
        ):
            raise CommandRejected("only the issue's owner, a dispatcher or a manager can dispatch")
        active = self.onsite.active_visit
        if active is not None:
            raise CommandRejected(
                f"visit {active.visit_id} is still {active.state.value}; one visit at a time"
            )
        try:
            check_window(cmd.window_start, cmd.window_end, now)
        except TransitionRefused as exc:
            raise CommandRejected(str(exc)) from None

    def dispatch_visit(
        self, cmd: DispatchVisitCommand, engineer: FieldEngineer, visit_id: str, now: datetime
    ) -> Effects:
        """The visit is scheduled; its own workflow (started next) reminds and waits."""
        self.check_dispatch_visit(cmd, now)
        effects = Effects()
        number = self.onsite.next_visit_number
        visit = VisitSummary(
            visit_id=visit_id,
            number=number,
            state=VisitState.SCHEDULED,
            engineer_id=engineer.engineer_id,
            engineer_name=engineer.engineer_name,
            window_start=cmd.window_start,
            window_end=cmd.window_end,
        )
        self._update(onsite=self.onsite.with_visit(visit))
        window = f"{cmd.window_start.isoformat()} to {cmd.window_end.isoformat()}"
        self._event(
            effects,
            EventKind.VISIT_DISPATCHED,
            now,
            cmd.actor,
            summary=f"visit {number}: {engineer.first_name} on site from {window}",
            data={
                "visit_id": visit_id,
                "engineer_id": engineer.engineer_id,
                "window_start": cmd.window_start.isoformat(),
                "window_end": cmd.window_end.isoformat(),
            },
        )
        self._notify(
            effects,
            "visit_dispatched",
            now,
            Audience(engineer_id=engineer.engineer_id),
            f"{self.status.issue_id}: on-site visit from {window}",
            {"visit_id": visit_id, "note": cmd.note},
        )
        self._notify(
            effects,
            "visit_scheduled",
            now,
            Audience(reporter=True),
            f"{self.status.issue_id}: {engineer.first_name} will visit from {window}",
            {"visit_id": visit_id},
        )
        return effects

    # --- spare parts -------------------------------------------------------------------

    def check_request_part(self, cmd: RequestPartCommand) -> None:
        self._require_on_site("request a spare part")
        self._require_state(ONSITE_STATES, "request a spare part for")
        if cmd.actor.kind not in PART_REQUESTERS:
            raise CommandRejected(f"a {cmd.actor.kind.value} cannot request spare parts")

    def request_part(self, cmd: RequestPartCommand, part_id: str, now: datetime) -> Effects:
        self.check_request_part(cmd)
        effects = Effects()
        number = self.onsite.next_part_number
        part = PartSummary(
            part_id=part_id,
            number=number,
            part_number=cmd.part_number,
            quantity=cmd.quantity,
            state=PartState.REQUESTED,
        )
        self._update(onsite=self.onsite.with_part(part))
        self._event(
            effects,
            EventKind.PART_REQUESTED,
            now,
            cmd.actor,
            visibility=Visibility.INTERNAL,
            summary=f"part {number}: {cmd.quantity} x {cmd.part_number} from {cmd.warehouse}",
            data={"part_id": part_id, "part_number": cmd.part_number, "quantity": cmd.quantity},
        )
        return effects

    # --- what the children report ------------------------------------------------------

    def onsite_step(self, step: OnsiteStep, now: datetime) -> Effects:
        """Record a visit or part step once (by its child's sequence number); the issue's
        summary follows it, and so do the clocks (a part on its way may pause resolution)."""
        effects = Effects()
        last = self.onsite.last_seq(step.child_id)
        if last is not None and step.seq <= last:
            return effects  # already recorded: a repeated signal
        if step.visit is not None:
            self._update(
                onsite=self.onsite.with_visit(step.visit.model_copy(update={"seq": step.seq}))
            )
        elif step.part is not None:
            self._update(
                onsite=self.onsite.with_part(step.part.model_copy(update={"seq": step.seq}))
            )
        public = step.visit is not None or step.kind == EventKind.PART_INSTALLED
        self._event(
            effects,
            step.kind,
            step.at,
            step.actor,
            visibility=Visibility.PUBLIC if public else Visibility.INTERNAL,
            summary=step.summary,
            data={"child_id": step.child_id, "child_seq": step.seq, **step.data},
        )
        if step.kind == EventKind.VISIT_MISSED and self.status.state in ONSITE_STATES:
            self._notify(
                effects,
                "visit_missed",
                now,
                Audience(owner=True, owner_manager=True, dispatchers=True),
                f"{self.status.issue_id}: visit missed, re-dispatch needed",
                {"visit_id": step.child_id},
            )
        return effects

    def children_to_call_off(self) -> list[str]:
        """A cancelled issue calls off its visits nobody started and its parts still in the
        warehouse (the children ignore it when they have moved on meanwhile)."""
        if self.status.state != IssueState.CANCELLED:
            return []
        visits = [v.visit_id for v in self.onsite.visits if v.state in ACTIVE_VISIT_STATES]
        parts = [p.part_id for p in self.onsite.parts if p.state in CANCELLABLE_PART_STATES]
        return visits + parts
