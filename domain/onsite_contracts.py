"""Contracts of on-site service: the issue's commands, the visit and part workflows' inputs,
commands and steps, and the activities' inputs (pydantic v2, like `domain.models`).

Kept apart from `domain.onsite` (the state machines, which `domain.models` imports for the
issue's status) so that the commands can name an `Actor` without an import cycle.
"""

from datetime import datetime, timedelta
from typing import Annotated

from pydantic import Field, StringConstraints

from domain.enums import EventKind
from domain.models import Actor, Command, Contract, Identifier, ShortText, Text
from domain.onsite import PartRequest, PartSummary, Visit, VisitSummary

PartNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
]
Quantity = Annotated[int, Field(ge=1, le=10_000)]


class FieldEngineer(Contract):
    """A field engineer named for (or chosen for) a visit."""

    engineer_id: Identifier
    engineer_name: ShortText
    region: str | None = None

    @property
    def first_name(self) -> str:
        return first_name(self.engineer_name)


def first_name(name: str) -> str:
    """What a customer is told of the engineer coming to them."""
    return name.split()[0] if name.split() else name


# --- commands on the issue (Updates of IssueWorkflow) ------------------------------------


class DispatchVisitCommand(Command):
    """Send a field engineer for an appointment window agreed with the customer; without an
    engineer, one is chosen (the customer's region first, when known)."""

    window_start: datetime
    window_end: datetime
    engineer: FieldEngineer | None = None
    note: ShortText | None = None


class RequestPartCommand(Command):
    part_number: PartNumber
    quantity: Quantity = 1
    warehouse: Identifier
    note: ShortText | None = None


# --- the child workflows --------------------------------------------------------------


class VisitInput(Contract):
    visit_id: str
    issue_id: str
    organisation_id: str
    number: int
    engineer: FieldEngineer
    window_start: datetime
    window_end: datetime
    reminder_before: timedelta
    dispatched_by: Actor
    dispatched_at: datetime


class VisitOutcome(Contract):
    visit: Visit


class CheckInCommand(Command):
    pass


class CheckOutCommand(Command):
    report: Text | None = None


class VisitResult(Contract):
    """What a visit's Updates return: the visit as it now is."""

    visit: Visit


class PartInput(Contract):
    part_id: str
    issue_id: str
    organisation_id: str
    number: int
    part_number: str
    quantity: int
    warehouse: str
    requested_by: Actor
    requested_at: datetime


class PartStepCommand(Command):
    """Pick, ship, deliver, install or return a part; a return says why."""

    reason: Text | None = None


class PartResult(Contract):
    part: PartRequest


class PartOutcome(Contract):
    part: PartRequest


class CallOff(Contract):
    """Parent -> child: the issue was cancelled (a Signal: the child is never refused, a
    visit or part that has moved on meanwhile ignores it)."""

    reason: str


class OnsiteStep(Contract):
    """A visit or part step, signalled to its issue (child -> parent), which records it on
    the timeline; `seq` is the child's own counter, so a repeated signal is recorded once."""

    child_id: str
    seq: int
    kind: EventKind
    at: datetime
    actor: Actor
    summary: str = ""
    visit: VisitSummary | None = None
    part: PartSummary | None = None
    data: dict[str, str | int | None] = Field(default_factory=dict)


# --- activities --------------------------------------------------------------------------


class VisitProjection(Contract):
    """The visit as the read model shows it; `seq` orders the writes (a late retry of an
    older step never overwrites a newer one)."""

    visit: Visit
    organisation_id: str
    seq: int
    dispatched_by_name: str


class PartProjection(Contract):
    part: PartRequest
    organisation_id: str
    seq: int
    requested_by_name: str


class FieldEngineerQuery(Contract):
    issue_id: str
    organisation_id: str


class FieldEngineerAnswer(Contract):
    engineer: FieldEngineer | None = None
    why: str | None = None
