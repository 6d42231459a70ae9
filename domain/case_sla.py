"""The SLA part of the issue state machine: the promise taken at intake, clocks following
the state, warnings and breaches with their actions, severity changes and policy re-apply.

The clock arithmetic lives in `domain.sla` and `domain.sla_tracking`; this module turns it
into timeline events, notifications and follow-ups (escalate, raise the severity) that the
workflow carries out.
"""

from datetime import datetime, timedelta

from domain.case_base import (
    ESCALATABLE_STATES,
    CaseBase,
    CommandRejected,
    Effects,
    FollowUp,
)
from domain.enums import (
    OPEN_STATES,
    EventKind,
    Severity,
    SlaClockKind,
    Tier,
    Visibility,
)
from domain.models import (
    SYSTEM_ACTOR,
    Actor,
    Audience,
    ChangeSeverityCommand,
    ReapplySlaCommand,
)
from domain.sla import BREACH, BreachAction, ResolvedPolicy
from domain.sla_tracking import TIER_CLOCKS, ClockTransition, fallback_policy


class SlaRules(CaseBase):
    """The SLA steps of IssueCase: the promise, its clocks, thresholds and their actions."""

    def _follow_sla(self, effects: Effects, now: datetime) -> None:
        """Every step may pause, resume, stop or start clocks: the state decides, recorded."""
        s = self.status
        if s.sla is None:
            return
        parts = s.onsite.waiting_for_parts if s.onsite is not None else False
        sla, changes = s.sla.follow(s.state, s.tier, s.first_response_at is not None, now, parts)
        if sla == s.sla:
            return
        self._update(sla=sla)
        if changes:
            self._event(
                effects,
                EventKind.SLA_CLOCKS,
                now,
                SYSTEM_ACTOR,
                visibility=Visibility.INTERNAL,
                summary="; ".join(_describe(c) for c in changes),
                data={c.clock.value: c.change for c in changes},
            )

    def _policy_or_default(
        self, policy: ResolvedPolicy | None, severity: Severity
    ) -> tuple[ResolvedPolicy, bool]:
        if policy is not None:
            return policy, False
        targets = self.config.sla_targets[severity]
        return fallback_policy(severity, targets.first_response, targets.resolution), True

    def _policy_event(self, effects: Effects, now: datetime, actor: Actor, why: str) -> None:
        sla = self.status.sla
        assert sla is not None
        p = sla.policy.policy
        level = self.status.entitlement.level if self.status.entitlement else None
        source = (
            f"no policy for {level.value if level else 'no contract'} severity "
            f"{int(self.status.severity)}: default targets"
            if sla.fallback
            else f"policy {p.contract_level.value}/severity {int(p.severity)} v{sla.policy.version}"
        )
        self._event(
            effects,
            EventKind.SLA_POLICY_APPLIED,
            now,
            actor,
            visibility=Visibility.INTERNAL,
            summary=f"{source} {why}: first response {_hours(p.first_response)}, resolution "
            f"{_hours(p.resolution)} in calendar {sla.calendar.name}",
            data={
                "version": sla.policy.version,
                "fallback": int(sla.fallback),
                "calendar": sla.calendar.name,
                "first_response": int(p.first_response.total_seconds()),
                "resolution": int(p.resolution.total_seconds()),
            },
        )

    def sla_due(self, now: datetime) -> Effects:
        """Fire every warning and breach due by `now`, each once per cycle, with its actions.

        The workflow also calls this before applying a command, so a deadline that passed
        while the worker was down is recorded before the command stops its clock."""
        effects = Effects()
        s = self.status
        if s.sla is None or s.state not in OPEN_STATES:
            return effects
        sla, fired = s.sla.fire_due(now)
        if sla is not s.sla:
            self._update(sla=sla)
        for kind, percent in fired:
            if percent < BREACH:
                self._sla_warning(effects, kind, percent, now)
            else:
                self._sla_breach(effects, kind, now)
        return effects

    def _sla_data(self, kind: SlaClockKind, percent: int) -> dict[str, str | int | None]:
        sla = self.status.sla
        assert sla is not None
        clock = sla.clock(kind)
        assert clock is not None
        return {
            "clock": kind.value,
            "percent": percent,
            "cycle": clock.cycle,
            "target": int(clock.target.total_seconds()),
            "due_at": _iso(
                clock.breached_due_at
                if percent == BREACH
                else clock.instant_of(sla.calendar, percent)
            ),
            "deadline": _iso(clock.deadline(sla.calendar)),
        }

    def _sla_warning(
        self, effects: Effects, kind: SlaClockKind, percent: int, now: datetime
    ) -> None:
        data = self._sla_data(kind, percent)
        self._event(
            effects,
            EventKind.SLA_WARNING,
            now,
            SYSTEM_ACTOR,
            visibility=Visibility.INTERNAL,
            summary=f"{kind.value} at {percent} % of its target; breaches at {data['deadline']}",
            data=data,
        )
        audience = Audience(owner=True) if self.status.owner else Audience(owner_manager=True)
        self._notify(
            effects,
            "sla_warning",
            now,
            audience,
            f"{self.status.issue_id}: {kind.value} SLA at {percent} %, breaches at "
            f"{data['deadline']}",
            data,
        )

    def _sla_breach(self, effects: Effects, kind: SlaClockKind, now: datetime) -> None:
        data = self._sla_data(kind, BREACH)
        sla = self.status.sla
        assert sla is not None
        actions = sla.policy.policy.breach_actions
        self._event(
            effects,
            EventKind.SLA_BREACHED,
            now,
            SYSTEM_ACTOR,
            visibility=Visibility.INTERNAL,
            summary=f"{kind.value} target missed (deadline {data['due_at']}); actions: "
            + (", ".join(a.value for a in actions) or "none"),
            data=data,
        )
        subject = f"SLA breach on {self.status.issue_id}: {kind.value}"
        tier = self.status.tier
        escalate = (
            BreachAction.ESCALATE in actions
            and kind == TIER_CLOCKS[tier]
            and self.status.state in ESCALATABLE_STATES
        )
        if escalate and tier < Tier.RND:
            effects.follow_ups.append(
                FollowUp(
                    escalate_to=Tier(tier + 1),
                    reason=f"tier-{int(tier)} budget breached (SLA policy: escalate)",
                )
            )
        manager = BreachAction.NOTIFY_MANAGER in actions or (escalate and tier == Tier.RND)
        owner = BreachAction.NOTIFY_OWNER in actions and self.status.owner is not None
        if manager or owner:
            self._notify(
                effects,
                "sla_breached",
                now,
                Audience(owner=owner, owner_manager=manager),
                subject,
                data,
            )
        if BreachAction.RAISE_PRIORITY in actions and self.status.severity > Severity.CRITICAL:
            effects.follow_ups.append(
                FollowUp(
                    raise_to=Severity(self.status.severity - 1),
                    reason=f"{kind.value} breached (SLA policy: raise priority)",
                )
            )

    def check_change_severity(self, cmd: ChangeSeverityCommand) -> None:
        self._require_state(OPEN_STATES, "change the severity of")
        self._require_authority(cmd.actor, "change the severity of")
        if cmd.severity == self.status.severity:
            raise CommandRejected(f"the issue already has severity {int(cmd.severity)}")
        if self.status.sla is None:
            raise CommandRejected("the issue is not registered yet; try again in a moment")

    def change_severity(
        self, cmd: ChangeSeverityCommand, policy: ResolvedPolicy | None, now: datetime
    ) -> Effects:
        """New impact, new targets: the clocks keep what they counted and measure it against
        the new severity's policy (a shorter target may put thresholds in the past: they fire
        at the next check, once)."""
        self.check_change_severity(cmd)
        effects = Effects()
        sla = self.status.sla
        assert sla is not None
        previous = self.status.severity
        resolved, fallback = self._policy_or_default(policy, cmd.severity)
        self._update(severity=cmd.severity, sla=sla.reapply(resolved, fallback))
        self._event(
            effects,
            EventKind.SEVERITY_CHANGED,
            now,
            cmd.actor,
            summary=f"severity {int(previous)} -> {int(cmd.severity)}: {cmd.reason[:500]}",
            data={"from": int(previous), "to": int(cmd.severity), "reason": cmd.reason[:500]},
        )
        self._policy_event(effects, now, cmd.actor, "after the severity change")
        self._notify(
            effects,
            "severity_changed",
            now,
            # The customer hears of it too: the reason is an internal note (on the timeline for
            # staff), never in a message that may reach the customer.
            Audience(owner=True, reporter=True),
            f"{self.status.issue_id}: severity changed from {int(previous)} to {int(cmd.severity)}",
        )
        return effects

    def check_reapply_sla(self, cmd: ReapplySlaCommand) -> None:
        self._require_state(OPEN_STATES, "re-apply the SLA policy to")
        self._require_authority(cmd.actor, "re-apply the SLA policy to")
        if self.status.sla is None:
            raise CommandRejected("the issue is not registered yet; try again in a moment")

    def reapply_sla(
        self, cmd: ReapplySlaCommand, policy: ResolvedPolicy | None, now: datetime
    ) -> Effects:
        """Swap the policy snapshot for the current one and recount the clocks from their
        recorded running spans (a changed calendar recounts the past too)."""
        self.check_reapply_sla(cmd)
        effects = Effects()
        sla = self.status.sla
        assert sla is not None
        resolved, fallback = self._policy_or_default(policy, self.status.severity)
        self._update(sla=sla.reapply(resolved, fallback))
        why = "re-applied" + (f": {cmd.reason[:300]}" if cmd.reason else "")
        self._policy_event(effects, now, cmd.actor, why)
        return effects


def _describe(change: ClockTransition) -> str:
    return f"{change.clock.value} {change.change}"


def _hours(duration: timedelta) -> str:
    hours = duration.total_seconds() / 3600
    return f"{hours:g} h"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
