"""The R&D tracker part of the issue state machine: linking a defect, sync failures and
retries, and what R&D's decisions (fixed, won't fix, reopened) and comments do to the issue.
"""

from dataclasses import dataclass
from datetime import datetime

from domain.case_base import (
    DEFECT_REOPEN_STATES,
    CaseBase,
    CommandRejected,
    Effects,
)
from domain.enums import (
    ActorKind,
    DefectOutcome,
    EventKind,
    IssueState,
    Tier,
    Visibility,
)
from domain.models import (
    SYSTEM_ACTOR,
    Actor,
    Audience,
    DefectChange,
    DefectComment,
    DefectLink,
    LinkDefectCommand,
    MirrorCommentInput,
    OwnerChoice,
    ProposeResolutionCommand,
    RetryTrackerSyncCommand,
)


def defect_outcome_applies(state: IssueState, tier: Tier, outcome: DefectOutcome) -> bool:
    """Whether an issue in this state and tier waits for this tracker outcome; shared by the
    workflow and the tracker poll (which reads the read model, so it can skip stale changes)."""
    waiting = state == IssueState.ESCALATED and tier == Tier.RND
    if outcome == DefectOutcome.REOPENED:
        return state in DEFECT_REOPEN_STATES and not waiting
    return waiting


DEFECT_BEING_CREATED = "a defect is being created for this issue; wait for it"


@dataclass(frozen=True)
class TrackerMirrors:
    """What R&D is told on the linked defect after one step: the customer-visible comments,
    severity changes and the closure, and (once per linking) that another customer is
    affected. Kept apart because each was introduced behind its own workflow patch."""

    comments: tuple[MirrorCommentInput, ...] = ()
    impact: MirrorCommentInput | None = None


class TrackerRules(CaseBase):
    """The defect-tracker steps of IssueCase: linking, sync failures, R&D decisions, and
    what R&D hears of the issue."""

    def _require_tracker(self) -> None:
        if not self.config.tracker_enabled:
            raise CommandRejected("no defect tracker is configured for this issue")

    def _require_no_creation_in_flight(self) -> None:
        if self.defect_pending:
            raise CommandRejected(DEFECT_BEING_CREATED)

    def needs_defect_creation(self) -> bool:
        """A defect must be created now: wanted, and no creation already under way."""
        return self.wants_defect() and not self.defect_pending

    def defect_creation_started(self) -> None:
        self.defect_pending = True

    def defect_creation_ended(self) -> None:
        """Created, linked or given up: linking and retrying are allowed again."""
        self.defect_pending = False

    def check_link_defect(self, cmd: LinkDefectCommand) -> None:
        self._require_no_creation_in_flight()
        self._require_tracker()
        if self.status.state != IssueState.ESCALATED or self.status.tier != Tier.RND:
            raise CommandRejected(
                "only an issue escalated to tier 3 (R&D) can be linked to a defect; "
                f"this one is {self.status.state.value} at tier {int(self.status.tier)}"
            )
        if self.status.defect_key is not None:
            raise CommandRejected(f"the issue is already linked to {self.status.defect_key}")
        self._require_authority(cmd.actor, "link a defect to")

    def wants_defect(self) -> bool:
        """Escalated to R&D with a tracker but no defect yet: one must be created."""
        s = self.status
        return (
            self.config.tracker_enabled
            and s.state == IssueState.ESCALATED
            and s.tier == Tier.RND
            and s.defect_key is None
        )

    def link_defect(self, link: DefectLink, now: datetime, actor: Actor) -> Effects:
        """Remember the defect the issue waits on (created by us or named by an engineer)."""
        effects = Effects()
        self._update(defect_key=link.key, defect_url=link.url, tracker_sync_error=None)
        how = "created" if link.created else "linked"
        self._event(
            effects,
            EventKind.DEFECT_LINKED,
            now,
            actor,
            visibility=Visibility.INTERNAL,
            summary=f"R&D defect {link.key} {how}",
            data={"defect_key": link.key, "defect_url": link.url, "created": int(link.created)},
        )
        return effects

    def tracker_sync_failed(self, reason: str, now: datetime) -> Effects:
        """The tracker refused for good: visible on the issue, managers told, issue unchanged."""
        effects = Effects()
        self._update(tracker_sync_error=reason[:500])
        self._event(
            effects,
            EventKind.TRACKER_SYNC_FAILED,
            now,
            SYSTEM_ACTOR,
            visibility=Visibility.INTERNAL,
            summary=f"the defect could not be created: {reason[:500]}",
        )
        self._notify(
            effects,
            "tracker_sync_failed",
            now,
            Audience(owner=True, owner_manager=True),
            f"{self.status.issue_id}: the R&D defect could not be created; link one by hand",
            {"reason": reason[:500]},
        )
        return effects

    def check_retry_tracker_sync(self, cmd: RetryTrackerSyncCommand) -> None:
        self._require_no_creation_in_flight()
        self._require_tracker()
        if self.status.defect_key is not None:
            raise CommandRejected(f"the issue is already linked to {self.status.defect_key}")
        if self.status.tracker_sync_error is None:
            raise CommandRejected("the defect tracker sync has not failed for this issue")
        if self.status.state != IssueState.ESCALATED or self.status.tier != Tier.RND:
            raise CommandRejected(
                "only an issue waiting on R&D needs its defect; "
                f"this one is {self.status.state.value} at tier {int(self.status.tier)}"
            )
        self._require_authority(cmd.actor, "retry the tracker sync of")

    def retry_tracker_sync(self, cmd: RetryTrackerSyncCommand, now: datetime) -> Effects:
        """Clear the error and record who retried; the workflow then creates the defect again."""
        self.check_retry_tracker_sync(cmd)
        effects = Effects()
        previous = self.status.tracker_sync_error
        self._update(tracker_sync_error=None)
        self._event(
            effects,
            EventKind.TRACKER_SYNC_RETRIED,
            now,
            cmd.actor,
            visibility=Visibility.INTERNAL,
            summary=f"defect creation retried after: {previous}",
        )
        return effects

    def tier_taking_over(self, change: DefectChange) -> Tier | None:
        """The tier that gets a new owner when R&D's decision applies: won't fix goes back to
        the experts (tier 2), a reopened defect back to R&D; a fix returns the issue to its
        tier-1 owner, so nobody new is needed (None), and neither for a change that no
        longer fits the issue."""
        if not self.defect_change_applies(change):
            return None
        if change.outcome == DefectOutcome.WONT_FIX:
            return Tier.EXPERT
        if change.outcome == DefectOutcome.REOPENED:
            return Tier.RND
        return None

    def tracker_mirrors(self, effects: Effects) -> TrackerMirrors:
        """What R&D hears on the linked defect of what this step did. Internal comments never
        leave ITR, customers appear only as "Customer", and ITR's own comments (which came
        from the tracker, e.g. "R&D fixed the defect") are not echoed back."""
        status = self.status
        if status.defect_key is None or not self.config.tracker_enabled:
            return TrackerMirrors()
        key, issue_id = status.defect_key, status.issue_id
        mirrors: list[MirrorCommentInput] = []
        comment = effects.comment
        if (
            comment is not None
            and comment.author.kind != ActorKind.SYSTEM
            and comment.visibility == Visibility.PUBLIC
        ):
            author = (
                "Customer" if comment.author.kind == ActorKind.CUSTOMER else comment.author.name
            )
            mirrors.append(
                MirrorCommentInput(
                    defect_key=key,
                    issue_id=issue_id,
                    marker=f"comment:{comment.comment_id}",
                    author=author,
                    body=comment.body,
                )
            )
        for event in effects.events:
            if event.kind == EventKind.SEVERITY_CHANGED:
                mirrors.append(
                    MirrorCommentInput(
                        defect_key=key,
                        issue_id=issue_id,
                        marker=f"severity:{event.event_id}",
                        author="ITR",
                        body=f"Customer impact changed: severity {event.data.get('from')} -> "
                        f"{event.data.get('to')} ({event.data.get('reason')}).",
                    )
                )
            if event.kind == EventKind.CLOSED:
                outcome = status.closure_outcome.value if status.closure_outcome else "closed"
                mirrors.append(
                    MirrorCommentInput(
                        defect_key=key,
                        issue_id=issue_id,
                        marker=f"closed:{event.event_id}",
                        author="ITR",
                        body=f"The customer issue is closed (outcome: {outcome}).",
                    )
                )
        return TrackerMirrors(comments=tuple(mirrors), impact=self._impact_update(effects))

    def _impact_update(self, effects: Effects) -> MirrorCommentInput | None:
        """An engineer linked this issue to an existing defect: tell R&D another customer is
        affected, once per linking (the marker is the issue id). Links our own create_defect
        made (the system actor) are the defect's first issue, so they say nothing. The
        activity adds the count of linked issues; no customer names leave ITR."""
        status = self.status
        for event in effects.events:
            if (
                event.kind == EventKind.DEFECT_LINKED
                and event.actor.kind != ActorKind.SYSTEM
                and status.defect_key is not None
            ):
                return MirrorCommentInput(
                    defect_key=status.defect_key,
                    issue_id=status.issue_id,
                    marker=f"linked:{status.issue_id}",
                    author="ITR",
                    body="Another customer is affected.",
                    impact_severity=status.severity,
                )
        return None

    def defect_change_applies(self, change: DefectChange) -> bool:
        """Whether the issue is still in a state this tracker change is meant for."""
        s = self.status
        if s.defect_key != change.defect_key:
            return False
        return defect_outcome_applies(s.state, s.tier, change.outcome)

    def defect_commented(self, comment: DefectComment, now: datetime) -> Effects:
        """R&D's comment becomes an internal comment for the owner (never shown to customers,
        never mirrored back to the tracker); a comment on another defect is ignored."""
        effects = Effects()
        if self.status.defect_key != comment.defect_key:
            return effects
        author = Actor(
            kind=ActorKind.INTEGRATION,
            id="tracker",
            name=f"R&D {comment.author_name} on {comment.defect_key}"[:200],
        )
        self._comment(effects, now, author, comment.body, Visibility.INTERNAL)
        self._event(
            effects,
            EventKind.DEFECT_COMMENTED,
            now,
            author,
            visibility=Visibility.INTERNAL,
            summary=f"R&D commented on {comment.defect_key}",
            data={"defect_key": comment.defect_key, "tracker_comment_id": comment.comment_id},
        )
        self._notify(
            effects,
            "defect_commented",
            now,
            Audience(owner=True),
            f"{self.status.issue_id}: R&D commented on {comment.defect_key}",
        )
        return effects

    def defect_changed(
        self, change: DefectChange, now: datetime, owner: OwnerChoice | None
    ) -> Effects:
        """Apply R&D's decision; a change that no longer fits is recorded and ignored."""
        if not self.defect_change_applies(change):
            effects = Effects()
            self._event(
                effects,
                EventKind.DEFECT_UPDATE_IGNORED,
                now,
                SYSTEM_ACTOR,
                visibility=Visibility.INTERNAL,
                summary=f"{change.defect_key} is now {change.outcome.value}; nothing to do for "
                f"an issue {self.status.state.value} at tier {int(self.status.tier)}",
                data={"defect_key": change.defect_key, "dedupe_key": change.dedupe_key},
            )
            return effects
        if change.outcome == DefectOutcome.FIXED:
            return self._defect_fixed(change, now)
        if change.outcome == DefectOutcome.WONT_FIX:
            return self._defect_wont_fix(change, now, owner)
        return self._defect_reopened(change, now, owner)

    def _defect_fixed(self, change: DefectChange, now: datetime) -> Effects:
        effects = Effects()
        previous = self.status.state
        versions = ", ".join(change.fix_versions) or "the next release"
        self._update(
            state=IssueState.IN_PROGRESS, tier=Tier.FRONTLINE, owner=self.status.tier1_owner
        )
        self._event(
            effects,
            EventKind.DEFECT_FIXED,
            now,
            SYSTEM_ACTOR,
            from_state=previous,
            summary=f"fix available in {versions}",
            data={"defect_key": change.defect_key, "fix_versions": versions},
        )
        if self.status.owner is not None:
            self._notify(
                effects,
                "defect_fixed",
                now,
                Audience(owner=True),
                f"{self.status.issue_id}: R&D fixed {change.defect_key} (in {versions})",
            )
        proposal = ProposeResolutionCommand(
            actor=SYSTEM_ACTOR,
            summary=f"R&D fixed the defect behind this issue; the fix is available in {versions}.",
        )
        effects.extend(self.propose_resolution(proposal, now))
        return effects

    def _defect_wont_fix(
        self, change: DefectChange, now: datetime, owner: OwnerChoice | None
    ) -> Effects:
        effects = Effects()
        previous = self.status.state
        reason = change.reason or "no reason given"
        self._update(state=IssueState.ESCALATED, tier=Tier.EXPERT, owner=owner)
        self._event(
            effects,
            EventKind.DEFECT_WONT_FIX,
            now,
            SYSTEM_ACTOR,
            from_state=previous,
            visibility=Visibility.INTERNAL,
            summary=f"R&D will not fix {change.defect_key}: {reason}; back to tier 2",
            data={"defect_key": change.defect_key, "reason": reason[:500]},
        )
        self._notify_owner_or_managers(effects, now, owner, f"R&D will not fix: {reason[:200]}")
        return effects

    def _defect_reopened(
        self, change: DefectChange, now: datetime, owner: OwnerChoice | None
    ) -> Effects:
        effects = Effects()
        previous = self.status.state
        self._update(
            state=IssueState.ESCALATED,
            tier=Tier.RND,
            owner=owner,
            resolved_at=None,
            confirmation_reminder_at=None,
            auto_close_at=None,
            confirmation_reminded=False,
        )
        self._event(
            effects,
            EventKind.DEFECT_REOPENED,
            now,
            SYSTEM_ACTOR,
            from_state=previous,
            summary=f"R&D reopened {change.defect_key}; waiting for R&D again",
            data={"defect_key": change.defect_key},
        )
        self._notify_owner_or_managers(effects, now, owner, f"{change.defect_key} was reopened")
        return effects

    def _notify_owner_or_managers(
        self, effects: Effects, now: datetime, owner: OwnerChoice | None, why: str
    ) -> None:
        tier = int(self.status.tier)
        if owner is not None:
            self._notify(
                effects,
                "issue_escalated",
                now,
                Audience(engineer_id=owner.engineer_id),
                f"{self.status.issue_id} is back with you (tier {tier}): {why}",
            )
        else:
            self._notify(
                effects,
                "issue_escalated_unowned",
                now,
                Audience(owner_manager=True),
                f"{self.status.issue_id} is back at tier {tier} with no engineer available",
            )

    def propose_resolution(self, cmd: ProposeResolutionCommand, now: datetime) -> Effects:
        """Defined by IssueCase; a fixed defect proposes the fix as the resolution."""
        raise NotImplementedError
