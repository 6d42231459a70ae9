"""How an issue's SLA looks to a caller: clock views computed at request time.

The read model stores the issue's `IssueSla` snapshot (policy + clocks); elapsed and
remaining time are derived from it here, with `now` taken when the request is answered, so
a detail never shows a stale countdown. Tier clocks are internal OLAs: only staff see them.
"""

from datetime import datetime

from api.auth import STAFF, Principal
from api.schemas import Deadline, IssueSlaRead, SlaPolicyInfo
from db.models import IssueRow
from domain.enums import SlaClockKind
from domain.sla import SlaClock
from domain.sla_tracking import PROMISE_CLOCKS, IssueSla


def sees_internal_clocks(principal: Principal) -> bool:
    return principal.role in STAFF


def snapshot(row: IssueRow) -> IssueSla | None:
    """The issue's SLA as last recorded (None for a row written before it was stored)."""
    return None if row.sla is None else IssueSla.model_validate(row.sla)


def _visible(sla: IssueSla, principal: Principal) -> list[SlaClock]:
    staff = sees_internal_clocks(principal)
    return [c for c in sla.clocks if staff or SlaClockKind(c.name) in PROMISE_CLOCKS]


def sla_read(row: IssueRow, principal: Principal, now: datetime) -> IssueSlaRead | None:
    sla = snapshot(row)
    if sla is None:
        return None
    visible = {c.name for c in _visible(sla, principal)}
    policy = sla.policy.policy
    clocks = [view for view in sla.views(now) if view.clock in visible]
    shown = sla.model_copy(update={"clocks": tuple(c for c in sla.clocks if c.name in visible)})
    return IssueSlaRead(
        policy=SlaPolicyInfo(
            contract_level=None if sla.fallback else policy.contract_level,
            severity=policy.severity,
            version=sla.policy.version,
            fallback=sla.fallback,
            calendar=sla.calendar.name,
            first_response=policy.first_response,
            resolution=policy.resolution,
            warnings=list(policy.warnings),
            breach_actions=list(policy.breach_actions),
            pause_while_waiting_for_rnd=policy.pause_while_waiting_for_rnd,
            pause_for_parts=policy.pause_for_parts,
        ),
        clocks=clocks,
        paused=shown.paused,
        at_risk=shown.at_risk,
        breached=shown.breached,
        next_breach_at=shown.next_breach_at,
        computed_at=now,
    )


def deadlines(row: IssueRow) -> list[Deadline]:
    """The two customer promises, as the detail's `deadlines` list has always shown them."""
    sla = snapshot(row)
    met = {
        SlaClockKind.FIRST_RESPONSE: row.first_response_at,
        SlaClockKind.RESOLUTION: row.resolved_at,
    }
    if sla is None:
        due = {
            SlaClockKind.FIRST_RESPONSE: row.first_response_due,
            SlaClockKind.RESOLUTION: row.resolution_due,
        }
        breached = {
            SlaClockKind.FIRST_RESPONSE: row.first_response_breached,
            SlaClockKind.RESOLUTION: row.resolution_breached,
        }
        return [
            Deadline(clock=kind, due_at=due[kind], met_at=met[kind], breached=breached[kind])
            for kind in (SlaClockKind.FIRST_RESPONSE, SlaClockKind.RESOLUTION)
            if due[kind] is not None
        ]
    result = []
    for kind in (SlaClockKind.FIRST_RESPONSE, SlaClockKind.RESOLUTION):
        clock = sla.clock(kind)
        if clock is None:
            continue
        result.append(
            Deadline(
                clock=kind,
                due_at=clock.deadline(sla.calendar),
                met_at=met[kind],
                breached=clock.breached,
            )
        )
    return result
