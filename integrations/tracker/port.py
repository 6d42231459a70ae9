"""What ITR needs from R&D's defect tracker, whatever it is; sync: activities run on threads."""

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Protocol, runtime_checkable

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from domain.enums import DefectOutcome, Severity

DEDUPE_KEY_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,99}$"
_UNSAFE_KEY_CHARS = re.compile(r"[^a-z0-9_.-]+")


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http(s) URL")
    return value


HttpUrlText = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_http_url)]
DedupeKey = Annotated[str, StringConstraints(pattern=DEDUPE_KEY_PATTERN)]
FieldValue = str | int | float


def dedupe_key_for(issue_id: str) -> str:
    """Derive the deterministic dedupe key (usable as a Jira label) from our issue id."""
    lowered = issue_id.strip().lower()
    safe = _UNSAFE_KEY_CHARS.sub("-", lowered).strip("-._") or "issue"
    if safe != issue_id or len(safe) > 80:
        digest = hashlib.sha256(issue_id.encode()).hexdigest()[:10]
        safe = f"{safe[:80]}-{digest}"
    return safe


class TrackerModel(BaseModel):
    """Base of the tracker DTOs: immutable, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class DefectMeaning(StrEnum):
    """What a tracker status means for the customer issues waiting on the defect."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    FIXED = "fixed"
    WONT_FIX = "wont_fix"
    REOPENED = "reopened"


DEFECT_OUTCOMES: dict[DefectMeaning, DefectOutcome] = {
    DefectMeaning.FIXED: DefectOutcome.FIXED,
    DefectMeaning.WONT_FIX: DefectOutcome.WONT_FIX,
    DefectMeaning.REOPENED: DefectOutcome.REOPENED,
}
"""What each tracker meaning asks of the linked issues; a meaning not here (open, in progress)
asks nothing. The webhook route and the polling activity both read changes through it."""


class DefectDraft(TrackerModel):
    """Everything R&D needs to act on a defect; deliberately no customer names, emails or phones."""

    issue_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    dedupe_key: DedupeKey
    issue_url: HttpUrlText
    product: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    product_version: Annotated[str, StringConstraints(max_length=100)] = ""
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    environment: Annotated[str, StringConstraints(max_length=5_000)] = ""
    steps_to_reproduce: Annotated[str, StringConstraints(max_length=10_000)] = ""
    expected_behaviour: Annotated[str, StringConstraints(max_length=5_000)] = ""
    actual_behaviour: Annotated[str, StringConstraints(max_length=5_000)] = ""
    severity: Severity
    affected_customers: Annotated[int, Field(ge=1)] = 1
    extra_fields: dict[str, FieldValue] = Field(default_factory=dict)

    def field_values(self) -> dict[str, FieldValue]:
        """Our field names with their values, as the tracker's field mapping sees them."""
        values: dict[str, FieldValue] = {
            "issue_id": self.issue_id,
            "issue_url": self.issue_url,
            "product": self.product,
            "product_version": self.product_version,
            "environment": self.environment,
            "severity": int(self.severity),
            "affected_customers": self.affected_customers,
        }
        values.update(self.extra_fields)
        return values


class DefectRef(TrackerModel):
    """Where the defect lives; created is False when an earlier attempt had already created it.

    id is the tracker's immutable id: the key changes when the defect moves to another project,
    and a rebuilt tracker may give the key to another defect."""

    key: str
    id: str
    url: str
    created: bool


class TrackerComment(TrackerModel):
    """One comment on a defect; own is True for comments ITR wrote (they carry our marker)."""

    id: str
    body: str
    marker: str | None = None
    own: bool = False
    author_id: str | None = None
    author_name: str | None = None
    created: datetime | None = None
    updated: datetime | None = None


class DefectSnapshot(TrackerModel):
    """The defect as the tracker shows it now, with the comments asked for."""

    key: str
    id: str
    summary: str = ""
    status: str
    status_category: str
    meaning: DefectMeaning
    resolution: str | None = None
    fix_versions: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    updated: datetime
    comments: tuple[TrackerComment, ...] = ()


class TrackerEventKind(StrEnum):
    """Kinds of pushed tracker changes ITR reacts to."""

    DEFECT_UPDATED = "defect_updated"
    DEFECT_DELETED = "defect_deleted"
    COMMENT_CREATED = "comment_created"
    COMMENT_UPDATED = "comment_updated"
    COMMENT_DELETED = "comment_deleted"
    OTHER = "other"


class FieldChange(TrackerModel):
    """One changed field of a changelog entry, as display strings."""

    field: str
    from_value: str | None = None
    to_value: str | None = None


class TrackerEvent(TrackerModel):
    """One pushed change; dedupe_key is stable across redeliveries of the same change."""

    dedupe_key: str
    kind: TrackerEventKind
    source_event: str
    defect_key: str
    defect_id: str | None = None
    occurred_at: datetime | None = None
    actor_id: str | None = None
    changes: tuple[FieldChange, ...] = ()
    status: str | None = None
    status_category: str | None = None
    meaning: DefectMeaning | None = None
    resolution: str | None = None
    fix_versions: tuple[str, ...] = ()
    comment: TrackerComment | None = None
    own_echo: bool = False

    @property
    def status_changed(self) -> bool:
        return any(change.field.lower() == "status" for change in self.changes)


@runtime_checkable
class DefectTracker(Protocol):
    """R&D's defect tracker as the escalation activities use it."""

    def create_defect(self, draft: DefectDraft) -> DefectRef:
        """Create the defect exactly once per draft.dedupe_key, however often it is retried."""
        ...

    def find_defect(self, dedupe_key: str) -> DefectRef | None:
        """Return the defect carrying this dedupe key, if one exists."""
        ...

    def get_defect(self, key: str, comments_since: datetime | None = None) -> DefectSnapshot:
        """Read the defect; comments are included only when comments_since is given."""
        ...

    def add_comment(self, key: str, body: str, marker: str) -> str:
        """Add a comment carrying our marker once; returns the comment id (existing on retry).
        key may be the defect's key or its immutable id."""
        ...

    def is_own_comment(self, comment: TrackerComment) -> bool:
        """Tell whether a comment that came back was written by ITR."""
        ...

    def link_issue(self, key: str, issue_id: str, url: str, title: str) -> None:
        """Link one of our issues to the defect; repeating it updates, never duplicates."""
        ...

    def transition(self, key: str, meaning: DefectMeaning) -> None:
        """Move the defect to a status with this meaning via the configured transition names."""
        ...

    def search_updated_since(
        self, since: datetime, keys: Sequence[str], ids: Sequence[str] = ()
    ) -> list[DefectSnapshot]:
        """Poll fallback: defects among keys or ids updated at or after since, with comments
        since then. ids are the tracker's immutable ids (a moved defect keeps its id, a rebuilt
        tracker may reuse a key for another defect); keys serve links recorded without an id."""
        ...
