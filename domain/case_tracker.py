"""The R&D tracker part of the issue state machine: linking a defect, sync failures and
retries, and what R&D's decisions (fixed, won't fix, reopened) and comments do to the issue.
"""

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


class TrackerRules(CaseBase):
    """The defect-tracker steps of IssueCase: linking, sync failures, R&D decisions."""

    def _require_tracker(self) -> None:
        if not self.config.tracker_enabled:
            raise CommandRejected("no defect tracker is configured for this issue")

    def check_link_defect(self, cmd: LinkDefectCommand) -> None:
        self._require_tracker()
        if self.status.state != IssueState.ESCALATED or self.status.tier != Tier.RND:
            raise CommandRejected(
                "only an issue escalated to tier 3 (R&D) can be linked to a defect; "
                f"this one is {self.status.state.value} at tier {int(self.status.tier)}"
            )
        if self.status.defect_key is not None:
            raise CommandRejected(f"the issue is already linked to {self.status.defect_key}")

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
