"""Dispatch in the issue state machine: team queues, claims, offers and the hand-offs between
owners (routing an escalation, handing back to tier 1, handing over from an engineer going
off duty), and who besides the owner may write on an issue.

Every hand-off is one step: the workflow asks for the next owner first, then this module
records the next owner (an offer, or the queue) in the same step that releases the previous
one, so a failing owner choice leaves the previous owner in charge.
"""

from datetime import datetime
from typing import Any

from domain.case_base import (
    CUSTOMER_SIDE,
    OPEN_STATES_BUT_NEW,
    REASSIGNABLE_STATES,
    CaseBase,
    CommandForbidden,
    CommandRejected,
    Effects,
    FollowUp,
)
from domain.enums import OPEN_STATES, ActorKind, EventKind, IssueState, Tier, Visibility
from domain.models import (
    SYSTEM_ACTOR,
    AcceptOfferCommand,
    Actor,
    Audience,
    ClaimCommand,
    CommentCommand,
    DeclineOfferCommand,
    HandBackCommand,
    HandOverCommand,
    Offer,
    OwnerAnswer,
    OwnerChoice,
)

# Who hands issues over from an engineer going off duty.
HANDING_OVER = frozenset(
    {ActorKind.SYSTEM, ActorKind.DISPATCHER, ActorKind.MANAGER, ActorKind.ADMIN}
)
# Who may claim any queue's issue (for themselves).
CLAIMING_FOR_ANY_QUEUE = frozenset(
    {ActorKind.DISPATCHER, ActorKind.MANAGER, ActorKind.ADMIN, ActorKind.SYSTEM}
)
HAND_BACK_STATES = frozenset({IssueState.ESCALATED, IssueState.IN_PROGRESS})


class DispatchRules(CaseBase):
    """The dispatch steps of IssueCase."""

    # The claimant whose claim is being applied (set by the workflow's claim handler before
    # it waits for its turn): a second claim is refused from then on. Not part of the status:
    # it lasts one handler.
    claim_pending: str | None = None

    # --- routing: an owner, an offer or the queue ------------------------------------------

    def _take_owner(
        self, effects: Effects, owner: OwnerChoice, now: datetime, actor: Actor, reason: str
    ) -> None:
        previous = self.status.state
        changes: dict[str, Any] = {"owner": owner, "offer": None, "declined_ids": ()}
        if owner.tier == Tier.FRONTLINE:
            changes["tier1_owner"] = owner
        first = previous == IssueState.ACCEPTED
        if first:
            changes["state"] = IssueState.ASSIGNED
            changes["assigned_at"] = now
        self._update(**changes)
        self._event(
            effects,
            EventKind.ASSIGNED if first else EventKind.REASSIGNED,
            now,
            actor,
            from_state=previous,
            summary=f"owner: {owner.engineer_name} (tier {int(owner.tier)}); {reason}",
            data={"engineer_id": owner.engineer_id, "tier": int(owner.tier)},
        )
        self._notify(
            effects,
            "issue_assigned",
            now,
            Audience(engineer_id=owner.engineer_id),
            f"{self.status.issue_id} is yours: {self.status.title}",
            {"severity": int(self.status.severity)},
        )

    def _route(
        self, effects: Effects, answer: OwnerAnswer, now: datetime, actor: Actor, reason: str
    ) -> None:
        """Give the issue to the chosen owner, offer it to them, or queue it in its team."""
        owner = answer.owner
        if owner is None:
            self._queue(effects, answer, now)
        elif owner.offer_timeout is not None:
            self._offer(effects, owner, now, actor, reason)
        else:
            self._take_owner(effects, owner, now, actor, reason)

    def _queue(self, effects: Effects, answer: OwnerAnswer, now: datetime) -> None:
        """Nobody qualifies: the issue waits unowned in its team's queue (its clocks keep
        running); the team's manager and the dispatchers are told."""
        team = answer.team_id or self.status.team_id
        tier = int(self.status.tier)
        why = (answer.why or "nobody is available")[:500]
        self._update(owner=None, offer=None, team_id=team)
        self._event(
            effects,
            EventKind.QUEUED,
            now,
            SYSTEM_ACTOR,
            visibility=Visibility.INTERNAL,
            summary=f"waits in the queue of team {team or '(none)'} for a tier-{tier} "
            f"engineer: {why}",
            data={"team_id": team, "tier": tier, "why": why},
        )
        self._notify(
            effects,
            "no_owner_available",
            now,
            Audience(owner_manager=True, team_id=team, dispatchers=True),
            f"{self.status.issue_id} needs a tier-{tier} owner; nobody is available",
            {"team_id": team, "why": why},
        )

    def _offer(
        self, effects: Effects, owner: OwnerChoice, now: datetime, actor: Actor, reason: str
    ) -> None:
        assert owner.offer_timeout is not None
        expires_at = now + owner.offer_timeout
        self._update(
            owner=None,
            offer=Offer(engineer=owner, expires_at=expires_at),
            team_id=owner.team_id or self.status.team_id,
        )
        self._event(
            effects,
            EventKind.OFFERED,
            now,
            actor,
            visibility=Visibility.INTERNAL,
            summary=f"offered to {owner.engineer_name} (tier {int(owner.tier)}) until "
            f"{expires_at.isoformat()}; {reason}",
            data={
                "engineer_id": owner.engineer_id,
                "team_id": owner.team_id,
                "expires_at": expires_at.isoformat(),
                "why": (owner.why or "")[:500] or None,
            },
        )
        self._notify(
            effects,
            "issue_offered",
            now,
            Audience(engineer_id=owner.engineer_id),
            f"{self.status.issue_id} is offered to you until {expires_at.isoformat()}: "
            f"{self.status.title}",
            {"expires_at": expires_at.isoformat(), "severity": int(self.status.severity)},
        )

    def queue_or_assign(self, answer: OwnerAnswer, now: datetime) -> Effects:
        """Intake's dispatch: the rule's owner, an offer, or the team's queue."""
        effects = Effects()
        self._route(effects, answer, now, SYSTEM_ACTOR, "assigned by dispatch rule")
        return effects

    # --- offers ----------------------------------------------------------------------------

    def offer_due(self, now: datetime) -> Effects:
        """An offer nobody answered in time expires: the next engineer is asked."""
        effects = Effects()
        offer = self.status.offer
        if (
            offer is not None
            and offer.expires_at <= now
            and self.status.state in OPEN_STATES_BUT_NEW
        ):
            self._pass_on(
                effects,
                offer,
                now,
                SYSTEM_ACTOR,
                EventKind.OFFER_EXPIRED,
                f"{offer.engineer.engineer_name} did not answer the offer in time",
            )
        return effects

    def _pass_on(
        self,
        effects: Effects,
        offer: Offer,
        now: datetime,
        actor: Actor,
        kind: EventKind,
        summary: str,
    ) -> None:
        engineer = offer.engineer
        self._update(offer=None, declined_ids=(*self.status.declined_ids, engineer.engineer_id))
        self._event(
            effects,
            kind,
            now,
            actor,
            visibility=Visibility.INTERNAL,
            summary=summary,
            data={"engineer_id": engineer.engineer_id, "team_id": engineer.team_id},
        )
        effects.follow_ups.append(FollowUp(reoffer=True, reason=summary))

    def wants_reoffer(self) -> bool:
        """Still nobody's and not offered (a claim or an assignment may have come first)."""
        s = self.status
        return s.owner is None and s.offer is None and s.state in OPEN_STATES_BUT_NEW

    def reoffer(self, answer: OwnerAnswer, now: datetime, reason: str) -> Effects:
        effects = Effects()
        if self.wants_reoffer():
            self._route(effects, answer, now, SYSTEM_ACTOR, f"re-offered: {reason}")
        return effects

    def _require_offered_to(self, actor: Actor, action: str) -> Offer:
        offer = self.status.offer
        if offer is None:
            raise CommandRejected(f"issue {self.status.issue_id} is not offered to anyone")
        if self.status.state not in OPEN_STATES:
            # An offer left standing when the issue closed or was cancelled is void.
            raise CommandRejected(f"issue {self.status.issue_id} is {self.status.state.value}")
        if actor.kind in (ActorKind.CUSTOMER, ActorKind.INTEGRATION):
            raise CommandForbidden(f"{actor.name} cannot {action}: offers go to engineers")
        if actor.scope is not None and offer.engineer.engineer_id != actor.id:
            raise CommandForbidden(
                f"{actor.name} cannot {action}: the issue is offered to "
                f"{offer.engineer.engineer_name}"
            )
        return offer

    def check_accept_offer(self, cmd: AcceptOfferCommand, now: datetime) -> None:
        offer = self._require_offered_to(cmd.actor, "accept the offer")
        if now >= offer.expires_at:
            raise CommandRejected(f"the offer expired at {offer.expires_at.isoformat()}")

    def accept_offer(self, cmd: AcceptOfferCommand, now: datetime) -> Effects:
        self.check_accept_offer(cmd, now)
        offer = self.status.offer
        assert offer is not None
        effects = Effects()
        self._event(
            effects,
            EventKind.OFFER_ACCEPTED,
            now,
            cmd.actor,
            visibility=Visibility.INTERNAL,
            summary=f"{offer.engineer.engineer_name} accepted the offer",
            data={"engineer_id": offer.engineer.engineer_id},
        )
        self._take_owner(effects, offer.engineer, now, cmd.actor, "accepted the offer")
        return effects

    def check_decline_offer(self, cmd: DeclineOfferCommand) -> None:
        self._require_offered_to(cmd.actor, "decline the offer")

    def decline_offer(self, cmd: DeclineOfferCommand, now: datetime) -> Effects:
        self.check_decline_offer(cmd)
        offer = self.status.offer
        assert offer is not None
        effects = Effects()
        why = f": {cmd.reason[:500]}" if cmd.reason else ""
        self._pass_on(
            effects,
            offer,
            now,
            cmd.actor,
            EventKind.OFFER_DECLINED,
            f"{offer.engineer.engineer_name} declined the offer{why}",
        )
        return effects

    # --- claims ----------------------------------------------------------------------------

    def check_claim(self, cmd: ClaimCommand) -> None:
        """Only an unowned issue, once (a claim under way wins), by an engineer of the queue's
        team at the issue's tier for themselves, or by a dispatcher or manager."""
        self._require_state(REASSIGNABLE_STATES, "claim")
        s, actor = self.status, cmd.actor
        if s.owner is not None:
            raise CommandRejected(f"{s.owner.engineer_name} already owns this issue")
        if self.claim_pending is not None:
            raise CommandRejected(f"{self.claim_pending} claimed this issue first")
        if cmd.engineer.tier != s.tier:
            raise CommandRejected(
                f"{cmd.engineer.engineer_name} works at tier {int(cmd.engineer.tier)} but the "
                f"issue waits for a tier-{int(s.tier)} engineer"
            )
        if actor.kind in CUSTOMER_SIDE:
            raise CommandForbidden("customers cannot claim issues")
        if actor.kind in CLAIMING_FOR_ANY_QUEUE or actor.scope is None:
            return
        if cmd.engineer.engineer_id != actor.id:
            raise CommandForbidden(
                f"{actor.name} can claim only for themselves; a dispatcher or manager assigns"
            )
        if s.team_id is not None and s.team_id not in actor.scope.team_ids:
            raise CommandForbidden(
                f"{actor.name} cannot claim issue {s.issue_id}: it waits in the queue of team "
                f"{s.team_id}, whose engineers, a dispatcher or a manager may claim it"
            )

    def reserve_claim(self, cmd: ClaimCommand) -> None:
        self.claim_pending = cmd.engineer.engineer_name

    def release_claim(self) -> None:
        self.claim_pending = None

    def claim(self, cmd: ClaimCommand, now: datetime) -> Effects:
        pending, self.claim_pending = self.claim_pending, None  # this claim is the one under way
        try:
            self.check_claim(cmd)
        finally:
            self.claim_pending = pending
        effects = Effects()
        team = self.status.team_id
        self._event(
            effects,
            EventKind.CLAIMED,
            now,
            cmd.actor,
            visibility=Visibility.INTERNAL,
            summary=f"{cmd.engineer.engineer_name} claimed it from the queue of team "
            f"{team or '(none)'}",
            data={"engineer_id": cmd.engineer.engineer_id, "team_id": team},
        )
        self._take_owner(effects, cmd.engineer, now, cmd.actor, "claimed from the queue")
        return effects

    # --- hand-back and hand-over -------------------------------------------------------------

    def check_hand_back(self, cmd: HandBackCommand) -> None:
        self._require_state(HAND_BACK_STATES, "hand back")
        s = self.status
        if s.tier != Tier.EXPERT:
            raise CommandRejected(
                f"only a tier-2 issue is handed back; this one is at tier {int(s.tier)}"
            )
        if s.tier1_owner is None:
            raise CommandRejected("the issue has no tier-1 owner to hand it back to")
        self._require_authority(cmd.actor, "hand back")

    def hand_back(self, cmd: HandBackCommand, now: datetime) -> Effects:
        """Back to the tier-1 owner with the expert's guidance; tier 1's budget resumes."""
        self.check_hand_back(cmd)
        effects = Effects()
        previous = self.status.state
        back_to = self.status.tier1_owner
        assert back_to is not None
        self._comment(effects, now, cmd.actor, cmd.guidance, Visibility.INTERNAL)
        self._update(
            state=IssueState.IN_PROGRESS,
            tier=Tier.FRONTLINE,
            owner=back_to,
            offer=None,
            declined_ids=(),
        )
        self._event(
            effects,
            EventKind.HANDED_BACK,
            now,
            cmd.actor,
            from_state=previous,
            summary=f"back to {back_to.engineer_name} (tier 1) with guidance from {cmd.actor.name}",
            data={
                "engineer_id": back_to.engineer_id,
                "tier": int(Tier.FRONTLINE),
                "comment_id": effects.comment.comment_id if effects.comment else None,
            },
        )
        self._notify(
            effects,
            "issue_handed_back",
            now,
            Audience(engineer_id=back_to.engineer_id),
            f"{self.status.issue_id} is back with you, with guidance from {cmd.actor.name}",
        )
        return effects

    def check_hand_over(self, cmd: HandOverCommand) -> None:
        self._require_state(OPEN_STATES_BUT_NEW, "hand over")
        if cmd.actor.kind not in HANDING_OVER:
            raise CommandForbidden(
                f"{cmd.actor.name} cannot hand issues over: dispatchers, managers and ITR do"
            )
        self._require_authority(cmd.actor, "hand over")
        s = self.status
        held = s.owner.engineer_id if s.owner else None
        offered = s.offer.engineer.engineer_id if s.offer else None
        if cmd.engineer_id not in (held, offered):
            raise CommandRejected(f"{cmd.engineer_id} neither owns this issue nor is offered it")

    def hand_over(self, cmd: HandOverCommand, answer: OwnerAnswer, now: datetime) -> Effects:
        """The next owner (their substitute first), an offer or the queue, recorded in the
        step that releases the engineer going off duty."""
        self.check_hand_over(cmd)
        effects = Effects()
        s = self.status
        leaving = s.owner if s.owner is not None else s.offer.engineer if s.offer else None
        name = leaving.engineer_name if leaving else cmd.engineer_id
        if answer.owner is not None and answer.owner.engineer_id == cmd.engineer_id:
            answer = OwnerAnswer(team_id=s.team_id, why=f"{name} is the only one available")
        self._update(declined_ids=(*s.declined_ids, cmd.engineer_id))
        self._route(effects, answer, now, cmd.actor, f"handed over from {name}")
        target = answer.owner.engineer_name if answer.owner else "the team's queue"
        self._event(
            effects,
            EventKind.HANDED_OVER,
            now,
            cmd.actor,
            visibility=Visibility.INTERNAL,
            summary=f"handed over from {name} to {target} by {cmd.actor.name}: {cmd.reason[:500]}",
            data={
                "from_engineer_id": cmd.engineer_id,
                "to_engineer_id": answer.owner.engineer_id if answer.owner else None,
                "reason": cmd.reason[:500],
            },
        )
        return effects

    # --- who may comment -------------------------------------------------------------------

    def _require_comment_right(self, cmd: CommentCommand) -> None:
        """Customers comment on their issues; staff answer the customer (public) only as the
        owner, the tier-1 owner (the customer's contact while higher tiers work), the owning
        team's manager or a dispatcher; the owning team's engineers add internal notes; a
        higher tier gives guidance."""
        actor, s = cmd.actor, self.status
        if cmd.guidance:
            if cmd.visibility != Visibility.INTERNAL:
                raise CommandRejected("guidance is internal: send it with visibility 'internal'")
            if actor.kind in CUSTOMER_SIDE:
                raise CommandForbidden("customers cannot give guidance")
            tier = actor.scope.tier if actor.scope else None
            if self._has_authority(actor) or (tier is not None and tier > s.tier):
                return
            raise CommandForbidden(
                f"{actor.name} cannot give guidance on this tier-{int(s.tier)} issue: "
                "guidance comes from a higher tier"
            )
        if self._has_authority(actor) or self._is_tier1_owner(actor):
            return  # the tier-1 owner stays the customer's contact while higher tiers work
        if cmd.visibility == Visibility.INTERNAL and self._on_the_team(actor):
            return
        if cmd.visibility == Visibility.PUBLIC:
            raise CommandForbidden(self._authority_refusal(actor, "answer the customer on"))
        raise CommandForbidden(
            f"{actor.name} cannot add internal notes to issue {s.issue_id}: the engineers of "
            f"team {s.team_id or '(none)'}, its owner, the team's manager or a dispatcher may"
        )

    def _is_tier1_owner(self, actor: Actor) -> bool:
        tier1 = self.status.tier1_owner
        return tier1 is not None and tier1.engineer_id == actor.id

    def _on_the_team(self, actor: Actor) -> bool:
        s, scope = self.status, actor.scope
        if scope is None:
            return True
        if s.team_id is None:
            return scope.tier == s.tier
        return s.team_id in scope.team_ids
