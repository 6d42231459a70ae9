"""The records a test Jira keeps (issues, comments, links, changelog) and its error/time helpers."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from jira_test_server.spec import ProjectSpec, StatusSpec, UserSpec

NOT_AUTHENTICATED = "You are not authenticated. Authentication required to perform this operation."
ISSUE_NOT_FOUND = "Issue does not exist or you do not have permission to see it."


class JiraApiError(Exception):
    """An error answer in Jira's shape: {"errorMessages": [...], "errors": {...}}."""

    def __init__(
        self,
        status: int,
        messages: Iterable[str] = (),
        errors: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.messages = list(messages)
        self.errors = dict(errors or {})
        super().__init__(f"HTTP {status}: {self.messages} {self.errors}")

    def body(self) -> dict[str, Any]:
        return {"errorMessages": self.messages, "errors": self.errors}


def jira_time(value: datetime) -> str:
    """Jira's timestamp format: 2024-05-01T10:00:00.000+0000."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


class Clock:
    """Real time unless a test freezes or advances it (no sleeping needed for time-based tests)."""

    def __init__(self) -> None:
        self._frozen: datetime | None = None

    def now(self) -> datetime:
        return self._frozen if self._frozen is not None else datetime.now(UTC)

    def freeze(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("freeze needs an aware datetime")
        self._frozen = at.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self._frozen = self.now() + delta

    def unfreeze(self) -> None:
        self._frozen = None


@dataclass
class Comment:
    id: int
    body: str
    author: UserSpec
    created: datetime
    updated: datetime


@dataclass
class RemoteLink:
    id: int
    global_id: str | None
    application: dict[str, Any] | None
    relationship: str | None
    object: dict[str, Any]


@dataclass
class ChangeItem:
    field: str
    from_id: str | None
    from_string: str | None
    to_id: str | None
    to_string: str | None
    fieldtype: str = "jira"


@dataclass
class ChangeGroup:
    id: int
    author: UserSpec
    created: datetime
    items: list[ChangeItem]


@dataclass
class Issue:
    id: int
    key: str
    project: ProjectSpec
    issue_type: str
    summary: str
    status: StatusSpec
    reporter: UserSpec
    created: datetime
    updated: datetime
    description: str | None = None
    environment: str | None = None
    labels: list[str] = field(default_factory=list)
    priority: str | None = None
    components: list[str] = field(default_factory=list)
    fix_versions: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    resolution: str | None = None
    resolution_date: datetime | None = None
    custom: dict[str, Any] = field(default_factory=dict)
    comments: list[Comment] = field(default_factory=list)
    links: list[RemoteLink] = field(default_factory=list)
    changelog: list[ChangeGroup] = field(default_factory=list)
    previous_keys: list[str] = field(default_factory=list)  # keys before moves (still resolve)


@dataclass(frozen=True)
class WebhookEvent:
    """One change as Jira would push it; identifier is the X-Atlassian-Webhook-Identifier."""

    identifier: str
    name: str
    body: dict[str, Any]
