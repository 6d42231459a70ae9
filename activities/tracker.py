"""Sync activities that talk to R&D's defect tracker (run on the worker's thread pool)."""

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.models import CreateDefectInput, DefectLink, LinkDefectInput, MirrorCommentInput
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


class TrackerActivities:
    """Bound to one DefectTracker; the tracker's blocking client runs on activity threads."""

    def __init__(
        self, tracker: DefectTracker, public_base_url: str, defect_url: Callable[[str], str]
    ) -> None:
        self._tracker = tracker
        self._base_url = public_base_url.rstrip("/")
        self._defect_url = defect_url

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
        ref = tracker_call(lambda: self._tracker.create_defect(draft))
        return DefectLink(key=ref.key, url=ref.url, created=ref.created)

    @activity.defn(name="itr.tracker.link_defect")
    def link_defect(self, request: LinkDefectInput) -> DefectLink:
        """Check the defect exists, then add (or refresh) the link back to our issue."""
        url = self.issue_url(request.issue_id)

        def link() -> DefectLink:
            snapshot = self._tracker.get_defect(request.defect_key)
            self._tracker.link_issue(snapshot.key, request.issue_id, url, request.title)
            return DefectLink(key=snapshot.key, url=self._defect_url(snapshot.key), created=False)

        return tracker_call(link)

    @activity.defn(name="itr.tracker.mirror_comment")
    def mirror_comment(self, request: MirrorCommentInput) -> None:
        """Post once per marker (the adapter finds an earlier attempt); the marker also lets
        the webhook and the poll recognise the echo. Only the author label is sent: no emails."""
        body = f"{request.author} on {self.issue_url(request.issue_id)}:\n\n{request.body}"
        tracker_call(lambda: self._tracker.add_comment(request.defect_key, body, request.marker))
