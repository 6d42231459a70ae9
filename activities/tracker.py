"""Sync activities that talk to R&D's defect tracker (run on the worker's thread pool)."""

import asyncio
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.repositories import defects as defect_repo
from db.repositories import issues as issue_repo
from db.session import Database
from domain.models import (
    CreateDefectInput,
    DefectLink,
    LinkDefectInput,
    MirrorCommentInput,
    TrackerSyncReport,
)
from integrations.tracker import (
    DefectDraft,
    DefectTracker,
    TrackerPermanentError,
    TrackerTransientError,
    dedupe_key_for,
)

TRANSIENT = "TrackerTransientError"
PERMANENT = "TrackerPermanentError"
MAX_EXCERPT_CHARS = 2_000

T = TypeVar("T")


def tracker_call(call: Callable[[], T]) -> T:
    """Transient failures retry (after Retry-After when given); permanent ones stop retrying."""
    try:
        return call()
    except TrackerTransientError as exc:
        delay = timedelta(seconds=exc.retry_after) if exc.retry_after else None
        raise ApplicationError(exc.message, type=TRANSIENT, next_retry_delay=delay) from exc
    except TrackerPermanentError as exc:
        raise ApplicationError(exc.message, type=PERMANENT, non_retryable=True) from exc


class SyncStatusSink(Protocol):
    """Where the activities show tracker sync progress on the issue's read model.

    Why a side channel: while Temporal retries create_defect the workflow hears nothing until
    the activity finally succeeds or fails for good, so only the activity can say "attempt 3
    failed: 503". The writes are idempotent read-model updates keyed by the attempt number,
    so they add no workflow commands and replay stays deterministic."""

    def report(self, report: TrackerSyncReport) -> None:
        """Record one attempt's state on the issue; must never raise."""
        ...

    def linked_issue_count(self, defect_key: str, defect_id: str | None = None) -> int | None:
        """How many of our issues link to the defect (by its id when given, so links made
        before and after a move count together); None when it cannot be told."""
        ...

    def record_defect_link(self, issue_id: str, defect_key: str, defect_id: str) -> None:
        """Remember the defect's immutable id for the issue (the webhook and the poll match
        by it); raises when it cannot, so the activity retries rather than lose the id."""
        ...

    def defect_id_of(self, issue_id: str) -> str | None:
        """The recorded immutable id of the issue's defect (None: linked before ids were
        kept); raises when it cannot be read."""
        ...


class DatabaseSyncStatusSink:
    """SyncStatusSink over the read model; the activities run on threads, the Database on the
    worker's event loop, so each write is handed to that loop and awaited (bounded)."""

    def __init__(self, db: Database, loop: asyncio.AbstractEventLoop) -> None:
        self._db = db
        self._loop = loop

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=15)

    def report(self, report: TrackerSyncReport) -> None:
        async def write() -> None:
            async with self._db.transaction() as session:
                await issue_repo.record_tracker_attempt(session, report)

        try:
            self._run(write())
        except Exception as exc:  # visibility only: never fail the tracker call over it
            activity.logger.warning("tracker sync status for %s lost: %s", report.issue_id, exc)

    def linked_issue_count(self, defect_key: str, defect_id: str | None = None) -> int | None:
        async def count() -> int:
            async with self._db.session() as session:
                if defect_id is not None:
                    return await defect_repo.count_linked_issues(session, defect_id, defect_key)
                return await issue_repo.count_linked_issues(session, defect_key)

        try:
            return self._run(count())
        except Exception as exc:
            activity.logger.warning("cannot count issues linked to %s: %s", defect_key, exc)
            return None

    def record_defect_link(self, issue_id: str, defect_key: str, defect_id: str) -> None:
        async def write() -> None:
            async with self._db.transaction() as session:
                await defect_repo.record_defect_link(session, issue_id, defect_key, defect_id)

        self._run(write())

    def defect_id_of(self, issue_id: str) -> str | None:
        async def read() -> str | None:
            async with self._db.session() as session:
                return await defect_repo.defect_id_of(session, issue_id)

        return self._run(read())


class TrackerActivities:
    """Bound to one DefectTracker; the tracker's blocking client runs on activity threads."""

    def __init__(
        self,
        tracker: DefectTracker,
        public_base_url: str,
        defect_url: Callable[[str], str],
        status_sink: SyncStatusSink | None = None,
    ) -> None:
        self._tracker = tracker
        self._base_url = public_base_url.rstrip("/")
        self._defect_url = defect_url
        self._sink = status_sink

    def _report(self, report: TrackerSyncReport) -> None:
        if self._sink is not None:
            self._sink.report(report)

    def _record_link(self, issue_id: str, defect_key: str, defect_id: str) -> None:
        """Keep the defect's id on the read model before the workflow hears of the link; a
        failure fails the attempt (retried: the tracker calls before it are idempotent)."""
        if self._sink is None or not defect_id:
            return
        try:
            self._sink.record_defect_link(issue_id, defect_key, defect_id)
        except Exception as exc:
            raise ApplicationError(
                f"cannot record the id of {defect_key} for {issue_id}: {exc}", type=TRANSIENT
            ) from exc

    def issue_url(self, issue_id: str) -> str:
        return f"{self._base_url}/issues/{issue_id}"

    @activity.defn(name="itr.tracker.create_defect")
    def create_defect(self, request: CreateDefectInput) -> DefectLink:
        """Create the defect once per issue: the adapter finds an earlier attempt by its label."""
        draft = DefectDraft(
            issue_id=request.issue_id,
            dedupe_key=dedupe_key_for(request.issue_id),
            issue_url=self.issue_url(request.issue_id),
            product=request.product_id,
            product_version=request.product_version,
            title=request.title,
            actual_behaviour=request.description_excerpt[:MAX_EXCERPT_CHARS],
            severity=request.severity,
        )
        attempt = activity.info().attempt
        issue_id = request.issue_id
        # Pending from the first attempt on; a later attempt keeps showing the last error.
        self._report(
            TrackerSyncReport(
                issue_id=issue_id, attempt=attempt, pending=True, keep_last_error=attempt > 1
            )
        )
        try:
            ref = tracker_call(lambda: self._tracker.create_defect(draft))
        except ApplicationError as exc:
            self._report(
                TrackerSyncReport(
                    issue_id=issue_id,
                    attempt=attempt,
                    pending=not exc.non_retryable,
                    last_error=exc.message,
                )
            )
            raise
        except Exception as exc:  # a bug or an unexpected failure: Temporal retries it too
            self._report(
                TrackerSyncReport(
                    issue_id=issue_id, attempt=attempt, pending=True, last_error=str(exc)
                )
            )
            raise
        self._record_link(issue_id, ref.key, ref.id)
        self._report(TrackerSyncReport(issue_id=issue_id, attempt=attempt, pending=False))
        return DefectLink(key=ref.key, url=ref.url, created=ref.created, defect_id=ref.id or None)

    @activity.defn(name="itr.tracker.link_defect")
    def link_defect(self, request: LinkDefectInput) -> DefectLink:
        """Check the defect exists, then add (or refresh) the link back to our issue."""
        url = self.issue_url(request.issue_id)

        def link() -> DefectLink:
            snapshot = self._tracker.get_defect(request.defect_key)
            self._tracker.link_issue(snapshot.key, request.issue_id, url, request.title)
            return DefectLink(
                key=snapshot.key,
                url=self._defect_url(snapshot.key),
                created=False,
                defect_id=snapshot.id or None,
            )

        linked = tracker_call(link)
        self._record_link(request.issue_id, linked.key, linked.defect_id or "")
        return linked

    @activity.defn(name="itr.tracker.mirror_comment")
    def mirror_comment(self, request: MirrorCommentInput) -> None:
        """Post once per marker (the adapter finds an earlier attempt); the marker also lets
        the webhook and the poll recognise the echo. Only the author label is sent: no emails."""
        text = request.body
        target = self._defect_ref(request.issue_id, request.defect_key)
        if request.impact_severity is not None:
            defect_id = target if target != request.defect_key else None
            count = (
                self._sink.linked_issue_count(request.defect_key, defect_id) if self._sink else None
            )
            linked = f" ({count} linked issues)" if count else ""
            severity = request.impact_severity
            text = (
                f"Another customer is affected{linked}, "
                f"severity {severity.value} ({severity.name.lower()})."
            )
        body = f"{request.author} on {self.issue_url(request.issue_id)}:\n\n{text}"
        tracker_call(lambda: self._tracker.add_comment(target, body, request.marker))

    def _defect_ref(self, issue_id: str, defect_key: str) -> str:
        """Address the defect by its recorded id when there is one: the key the workflow holds
        may since belong to another defect (a rebuilt tracker), where a customer's comment
        must never land. A moved defect is found by its id as well."""
        if self._sink is None:
            return defect_key
        try:
            defect_id = self._sink.defect_id_of(issue_id)
        except Exception as exc:
            raise ApplicationError(
                f"cannot read the id of {defect_key} for {issue_id}: {exc}", type=TRANSIENT
            ) from exc
        return defect_id or defect_key
