"""Polling fallback for tracker webhooks: what changed in the tracker since the last poll."""

import asyncio
from datetime import UTC, datetime, timedelta

from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.tracker import tracker_call
from db.repositories import defects as defect_repo
from db.repositories.defects import WaitingIssue
from db.session import Database
from domain.ids import DEFECT_CHANGED_SIGNAL, DEFECT_COMMENTED_SIGNAL, workflow_id_for
from domain.lifecycle import defect_outcome_applies
from domain.models import DefectChange, DefectComment, TrackerPollInput, TrackerPollResult
from integrations.tracker import DEFECT_OUTCOMES as OUTCOMES
from integrations.tracker import DefectSnapshot, DefectTracker

# Jira's clock and ours differ a little; overlapping polls are harmless (stale changes are
# filtered here and ignored by the workflow), a gap would lose a change for good.
CLOCK_SKEW = timedelta(minutes=1)


def change_for_snapshot(snapshot: DefectSnapshot) -> DefectChange | None:
    """The change a snapshot announces; None when its status means nothing for the issues
    (open, in progress: our own comments and links land here too, so our echo never loops)."""
    outcome = OUTCOMES.get(snapshot.meaning)
    if outcome is None:
        return None
    return DefectChange(
        defect_key=snapshot.key,
        outcome=outcome,
        dedupe_key=f"poll:{snapshot.key}:{snapshot.status}:{snapshot.updated.isoformat()}",
        fix_versions=snapshot.fix_versions,
        reason=snapshot.resolution,
    )


class TrackerPollActivities:
    """Reads linked defects from the read model, asks the tracker, signals the issues."""

    def __init__(self, db: Database, tracker: DefectTracker, client: Client) -> None:
        self._db = db
        self._tracker = tracker
        self._client = client

    @activity.defn(name="itr.tracker.poll")
    async def poll(self, request: TrackerPollInput) -> TrackerPollResult:
        """Signal only issues the change still applies to (as the read model sees them), so a
        poll that repeats what a webhook already delivered leaves no trace on the timeline.

        Defects are found by their recorded immutable id (a moved defect keeps it; a reused key
        names another defect); by key only for issues linked before ids were recorded."""
        started = datetime.now(UTC)
        async with self._db.transaction() as session:
            waiting = await defect_repo.open_linked_issues(session)
        ids = sorted({i.defect_id for i in waiting if i.defect_id is not None})
        keys = sorted({i.defect_key for i in waiting if i.defect_id is None})
        snapshots = await asyncio.to_thread(
            tracker_call, lambda: self._tracker.search_updated_since(request.since, keys, ids)
        )
        by_id = {snapshot.id: snapshot for snapshot in snapshots if snapshot.id}
        by_key = {snapshot.key: snapshot for snapshot in snapshots}  # sorted by updated
        reached: dict[str, tuple[DefectSnapshot, list[WaitingIssue]]] = {}
        signalled: list[str] = []
        for issue in waiting:
            snapshot = (
                by_id.get(issue.defect_id)
                if issue.defect_id is not None
                else by_key.get(issue.defect_key)
            )
            if snapshot is None:
                continue
            reached.setdefault(snapshot.id or snapshot.key, (snapshot, []))[1].append(issue)
            change = change_for_snapshot(snapshot)
            if change is None or not defect_outcome_applies(
                issue.state, issue.tier, change.outcome
            ):
                continue
            # The workflow knows the defect by the key it was linked with, moved or not.
            change = change.model_copy(update={"defect_key": issue.defect_key})
            handle = self._client.get_workflow_handle(workflow_id_for(issue.issue_id))
            try:
                await handle.signal(DEFECT_CHANGED_SIGNAL, change)
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
                continue  # the issue's lifecycle ended since the read: nothing waits
            signalled.append(issue.issue_id)
        forwarded = 0
        for snapshot, linked in reached.values():
            forwarded += await self._forward_comments(snapshot, request.since, linked)
        watermark = max(request.since, started - CLOCK_SKEW)
        return TrackerPollResult(
            since=request.since,
            watermark=watermark,
            defects_updated=len(snapshots),
            signalled=tuple(signalled),
            comments_forwarded=forwarded,
        )

    async def _forward_comments(
        self, defect: DefectSnapshot, since: datetime, issues: list[WaitingIssue]
    ) -> int:
        """R&D's comments since the last poll, each forwarded once (webhook or poll, first wins)."""
        snapshot = await asyncio.to_thread(
            tracker_call, lambda: self._tracker.get_defect(defect.key, comments_since=since)
        )
        forwarded = 0
        for found in snapshot.comments:
            if found.own or not found.body.strip():
                continue
            delivery = defect_repo.comment_delivery_key(defect.id or None, defect.key, found.id)
            async with self._db.transaction() as session:
                if not await defect_repo.remember_delivery(session, delivery, defect.key):
                    continue
                for issue in issues:
                    comment = DefectComment(
                        defect_key=issue.defect_key,
                        comment_id=found.id,
                        author_name=found.author_name or "R&D",
                        body=found.body[:20_000],
                    )
                    handle = self._client.get_workflow_handle(workflow_id_for(issue.issue_id))
                    try:
                        await handle.signal(DEFECT_COMMENTED_SIGNAL, comment)
                    except RPCError as exc:
                        if exc.status != RPCStatusCode.NOT_FOUND:
                            raise
            forwarded += 1
        return forwarded
