"""Which commands an issue accepts right now, and from whom, answered by the domain's own
checks.

Each command is one entry of `CATALOGUE`: its name and how to build a representative command
for an actor (the same shape a person would send, with placeholder text). `allowed_commands`
runs the case's `check_*` on each, so whatever the checks refuse (the state, the tier, the
tracker, the actor) the answer refuses with the same reason the command would get. A new
command is one more entry; a new rule in a check shows up here without any change.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from domain.case_base import CommandRejected
from domain.enums import IssueState, Severity, Tier, Visibility
from domain.lifecycle import IssueCase
from domain.models import (
    AcceptOfferCommand,
    AcknowledgeCommand,
    Actor,
    AssignCommand,
    CancelCommand,
    ChangeSeverityCommand,
    ClaimCommand,
    CommentCommand,
    ConfirmClosureCommand,
    Contract,
    CustomerReplyCommand,
    DeclineOfferCommand,
    EscalateCommand,
    HandBackCommand,
    HandOverCommand,
    LinkDefectCommand,
    OwnerChoice,
    ProposeResolutionCommand,
    ReapplySlaCommand,
    ReopenCommand,
    RequestInfoCommand,
    RetryTrackerSyncCommand,
)
from domain.onsite_contracts import DispatchVisitCommand, RequestPartCommand

PLACEHOLDER = "(representative command)"
"""The text of a representative command: checks judge the state and the actor, not words."""
PEOPLE_FILL = ("summary",)
"""Optional text fields a command model may declare that the domain requires from people
(an escalation's summary of what was tried): a representative command fills them."""
REPRESENTATIVE_DEFECT = "REP-1"
REPRESENTATIVE_ENGINEER = "representative-engineer"
REPRESENTATIVE_PART = "REP-1"
REPRESENTATIVE_WAREHOUSE = "representative-warehouse"
VISIT_LEAD = timedelta(days=1)
"""A representative visit's window starts this far ahead (a window must lie ahead)."""


class AllowedCommandsQuery(Contract):
    """The `allowed_commands` query's input: who asks, and as of when (the reopen window
    ends in time; default: the workflow's time)."""

    actor: Actor
    at: datetime | None = None


class AllowedCommand(Contract):
    command: str
    allowed: bool
    reason: str | None = None
    """Why not, in the words the command itself would be refused with."""


class AllowedCommands(Contract):
    state: IssueState
    commands: tuple[AllowedCommand, ...] = ()


Check = Callable[[IssueCase, Actor, datetime], None]
C = TypeVar("C", bound=Contract)


@dataclass(frozen=True)
class CatalogueEntry:
    """One command: `name` is also its lifecycle-graph trigger; `check` builds the
    representative command for the actor and runs the case's check on it."""

    name: str
    check: Check


def _assign(case: IssueCase, actor: Actor, now: datetime) -> None:
    status = case.status
    tier = Tier.FRONTLINE if status.state == IssueState.ACCEPTED else status.tier
    engineer = OwnerChoice(
        engineer_id=REPRESENTATIVE_ENGINEER, engineer_name="another engineer", tier=tier
    )
    case.check_assign(AssignCommand(actor=actor, engineer=engineer))


def as_person_sends(model: type[C], **fields: object) -> C:
    """The command with the optional texts people are asked for filled in too."""
    for name in PEOPLE_FILL:
        if name in model.model_fields and name not in fields:
            fields[name] = PLACEHOLDER
    return model.model_validate(fields)


def _escalate(case: IssueCase, actor: Actor, now: datetime) -> None:
    to_tier = Tier(min(int(case.status.tier) + 1, int(Tier.RND)))
    case.check_escalate(
        as_person_sends(EscalateCommand, actor=actor, to_tier=to_tier, reason=PLACEHOLDER)
    )


def _change_severity(case: IssueCase, actor: Actor, now: datetime) -> None:
    current = case.status.severity
    other = Severity.MAJOR if current == Severity.CRITICAL else Severity(current - 1)
    case.check_change_severity(
        ChangeSeverityCommand(actor=actor, severity=other, reason=PLACEHOLDER)
    )


def _dispatch_visit(case: IssueCase, actor: Actor, now: datetime) -> None:
    start = now + VISIT_LEAD
    cmd = DispatchVisitCommand(
        actor=actor, window_start=start, window_end=start + timedelta(hours=2)
    )
    case.check_dispatch_visit(cmd, now)


def _request_part(case: IssueCase, actor: Actor, now: datetime) -> None:
    cmd = RequestPartCommand(
        actor=actor, part_number=REPRESENTATIVE_PART, warehouse=REPRESENTATIVE_WAREHOUSE
    )
    case.check_request_part(cmd)


def _claim(case: IssueCase, actor: Actor, now: datetime) -> None:
    """A claim for the asking person themselves, at the tier the issue waits for (a
    dispatcher or manager may name someone else; the page offers the self-claim)."""
    me = OwnerChoice(engineer_id=actor.id, engineer_name=actor.name, tier=case.status.tier)
    case.check_claim(ClaimCommand(actor=actor, engineer=me))


def _hand_over(case: IssueCase, actor: Actor, now: datetime) -> None:
    """Hand over from whoever holds the issue now: its owner, else the engineer offered it
    (with neither, the check refuses with its own reason)."""
    s = case.status
    held = s.owner if s.owner is not None else s.offer.engineer if s.offer else None
    engineer_id = held.engineer_id if held is not None else REPRESENTATIVE_ENGINEER
    case.check_hand_over(HandOverCommand(actor=actor, engineer_id=engineer_id, reason=PLACEHOLDER))


CATALOGUE: tuple[CatalogueEntry, ...] = (
    CatalogueEntry("acknowledge", lambda c, a, _: c.check_acknowledge(AcknowledgeCommand(actor=a))),
    CatalogueEntry(
        "comment", lambda c, a, _: c.check_comment(CommentCommand(actor=a, body=PLACEHOLDER))
    ),
    CatalogueEntry(
        "internal_comment",
        lambda c, a, _: c.check_comment(
            CommentCommand(actor=a, body=PLACEHOLDER, visibility=Visibility.INTERNAL)
        ),
    ),
    CatalogueEntry("assign", _assign),
    CatalogueEntry("escalate", _escalate),
    CatalogueEntry(
        "request_info",
        lambda c, a, _: c.check_request_info(RequestInfoCommand(actor=a, question=PLACEHOLDER)),
    ),
    CatalogueEntry(
        "customer_reply",
        lambda c, a, _: c.check_customer_reply(CustomerReplyCommand(actor=a, body=PLACEHOLDER)),
    ),
    CatalogueEntry(
        "propose_resolution",
        lambda c, a, _: c.check_propose_resolution(
            ProposeResolutionCommand(actor=a, summary=PLACEHOLDER)
        ),
    ),
    CatalogueEntry(
        "confirm_closure",
        lambda c, a, _: c.check_confirm_closure(ConfirmClosureCommand(actor=a, accept=True)),
    ),
    CatalogueEntry(
        "reopen", lambda c, a, now: c.check_reopen(ReopenCommand(actor=a, reason=PLACEHOLDER), now)
    ),
    CatalogueEntry(
        "cancel", lambda c, a, _: c.check_cancel(CancelCommand(actor=a, reason=PLACEHOLDER))
    ),
    CatalogueEntry("change_severity", _change_severity),
    CatalogueEntry("reapply_sla", lambda c, a, _: c.check_reapply_sla(ReapplySlaCommand(actor=a))),
    CatalogueEntry(
        "link_defect",
        lambda c, a, _: c.check_link_defect(
            LinkDefectCommand(actor=a, defect_key=REPRESENTATIVE_DEFECT)
        ),
    ),
    CatalogueEntry(
        "retry_tracker_sync",
        lambda c, a, _: c.check_retry_tracker_sync(RetryTrackerSyncCommand(actor=a)),
    ),
    CatalogueEntry("dispatch_visit", _dispatch_visit),
    CatalogueEntry("request_part", _request_part),
    # dispatch: queues, offers and hand-offs (domain/case_dispatch.py)
    CatalogueEntry("claim", _claim),
    CatalogueEntry(
        "accept_offer",
        lambda c, a, now: c.check_accept_offer(AcceptOfferCommand(actor=a), now),
    ),
    CatalogueEntry(
        "decline_offer", lambda c, a, _: c.check_decline_offer(DeclineOfferCommand(actor=a))
    ),
    CatalogueEntry(
        "hand_back",
        lambda c, a, _: c.check_hand_back(HandBackCommand(actor=a, guidance=PLACEHOLDER)),
    ),
    CatalogueEntry("hand_over", _hand_over),
)

ENTRIES: dict[str, CatalogueEntry] = {entry.name: entry for entry in CATALOGUE}


def refusal(entry: CatalogueEntry, case: IssueCase, actor: Actor, now: datetime) -> str | None:
    """None if the case accepts the entry's representative command, else the reason."""
    try:
        entry.check(case, actor, now)
    except CommandRejected as exc:
        return str(exc)
    return None


def answer_for(case: IssueCase, actor: Actor, now: datetime) -> AllowedCommands:
    """Every catalogue command with whether `actor` may send it now and, if not, why.
    Reads the case only: the checks never change it."""
    answers = []
    for entry in CATALOGUE:
        reason = refusal(entry, case, actor, now)
        answers.append(AllowedCommand(command=entry.name, allowed=reason is None, reason=reason))
    return AllowedCommands(state=case.status.state, commands=tuple(answers))
