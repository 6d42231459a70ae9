"""JiraTracker: the DefectTracker port on the `jira` library (REST API v2)."""

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jira import JIRA

from integrations.jira.client import build_client
from integrations.jira.config import JiraConfig, ProductRoute
from integrations.jira.description import redact, render_description
from integrations.jira.errors import tracker_errors
from integrations.jira.fields import (
    FieldLookupError,
    JiraField,
    parse_fields,
    resolve_field,
    shape_value,
)
from integrations.jira.parsing import comment_from_raw, parse_jira_datetime
from integrations.tracker.errors import TrackerPermanentError
from integrations.tracker.markers import find_marker, validate_marker, with_marker
from integrations.tracker.port import (
    DefectDraft,
    DefectMeaning,
    DefectRef,
    DefectSnapshot,
    TrackerComment,
)

SNAPSHOT_FIELDS = ("summary", "status", "resolution", "fixVersions", "labels", "updated", "comment")
SEARCH_CHUNK = 50
COMMENT_PAGE = 100
MAX_COMMENT_CHARS = 30_000
JQL_MINUTE = "%Y-%m-%d %H:%M"
_ISSUE_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-[1-9]\d*$")
_ISSUE_ID = re.compile(r"^[1-9]\d{0,17}$")
_EPOCH = datetime.fromtimestamp(0, UTC)

# A transition that finds the defect already in one of these meanings has nothing to do
# (typically a retry after Jira applied the transition but the response was lost).
_ALREADY_THERE: dict[DefectMeaning, frozenset[DefectMeaning]] = {
    DefectMeaning.FIXED: frozenset({DefectMeaning.FIXED, DefectMeaning.WONT_FIX}),
    DefectMeaning.WONT_FIX: frozenset({DefectMeaning.FIXED, DefectMeaning.WONT_FIX}),
    DefectMeaning.REOPENED: frozenset(
        {DefectMeaning.REOPENED, DefectMeaning.OPEN, DefectMeaning.IN_PROGRESS}
    ),
    DefectMeaning.OPEN: frozenset({DefectMeaning.OPEN, DefectMeaning.REOPENED}),
    DefectMeaning.IN_PROGRESS: frozenset({DefectMeaning.IN_PROGRESS}),
}


def remote_link_global_id(issue_id: str) -> str:
    """The deterministic globalId that makes re-linking an update instead of a duplicate."""
    return f"itr:issue:{issue_id}"


class JiraTracker:
    """DefectTracker on Jira; safe to share between activity threads (one client per thread)."""

    def __init__(
        self,
        config: JiraConfig,
        client_factory: Callable[[JiraConfig], JIRA] = build_client,
    ) -> None:
        self._config = config
        self._client_factory = client_factory
        self._local = threading.local()
        self._lock = threading.Lock()
        self._clients: list[JIRA] = []
        self._fields: list[JiraField] | None = None
        self._jql_zone: tzinfo | None = None

    @property
    def config(self) -> JiraConfig:
        return self._config

    def close(self) -> None:
        """Close every client this tracker opened."""
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()  # type: ignore[no-untyped-call]
        self._local = threading.local()

    def _client(self) -> JIRA:
        client: JIRA | None = getattr(self._local, "client", None)
        if client is None:
            with tracker_errors("connect to Jira"):
                client = self._client_factory(self._config)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    # --- create ---------------------------------------------------------------------

    def create_defect(self, draft: DefectDraft) -> DefectRef:
        """Search by the dedupe label first, create only if absent, then ensure the link back."""
        route = self._config.route_for(draft.product)
        if route is None:
            raise TrackerPermanentError(f"no Jira project configured for product {draft.product!r}")
        ref = self.find_defect(draft.dedupe_key)
        if ref is None:
            fields = self._create_fields(draft, route)
            with tracker_errors("create defect"):
                issue = self._client().create_issue(fields=fields, prefetch=False)
            key = str(issue.raw["key"])
            ref = DefectRef(
                key=key,
                id=str(issue.raw["id"]),
                url=self._config.browse_url(key),
                created=True,
            )
        self.link_issue(ref.key, draft.issue_id, draft.issue_url, draft.title)
        return ref

    def find_defect(self, dedupe_key: str) -> DefectRef | None:
        """The oldest defect carrying the dedupe label, if any."""
        label = self._config.label_for(dedupe_key)
        if '"' in label or "\\" in label:
            raise TrackerPermanentError(f"dedupe label {label!r} cannot be searched")
        jql = f'labels = "{label}" ORDER BY created ASC'
        with tracker_errors("search defect by dedupe label"):
            found = self._search(jql, fields=("labels", "created"), max_results=10)
        if not found:
            return None
        first = found[0]
        key = str(first["key"])
        return DefectRef(
            key=key, id=str(first["id"]), url=self._config.browse_url(key), created=False
        )

    def _create_fields(self, draft: DefectDraft, route: ProductRoute) -> dict[str, Any]:
        label = self._config.label_for(draft.dedupe_key)
        fields: dict[str, Any] = {
            "project": {"key": route.project_key},
            "issuetype": {"name": route.issue_type},
            "summary": redact(draft.title)[:255],
            "description": render_description(draft, label),
            "labels": [label, *self._config.labels],
        }
        priority = self._config.priorities.get(draft.severity)
        if priority:
            fields["priority"] = {"name": priority}
        if route.components:
            fields["components"] = [{"name": name} for name in route.components]
        values = draft.field_values()
        for our_name, reference in self._config.fields.items():
            value = values.get(our_name)
            if value is None or value == "":
                continue
            try:
                field = resolve_field(reference, self._jira_fields())
                shaped = shape_value(field, redact(value) if isinstance(value, str) else value)
            except (FieldLookupError, ValueError) as exc:
                raise TrackerPermanentError(f"fields.{our_name}: {exc}") from exc
            fields[field.id] = shaped
        return fields

    def _jira_fields(self) -> list[JiraField]:
        if self._fields is None:
            with tracker_errors("list Jira fields"):
                raw = self._client().fields()
            parsed = parse_fields(raw)
            with self._lock:
                self._fields = parsed
        return self._fields

    # --- read -----------------------------------------------------------------------

    def get_defect(self, key: str, comments_since: datetime | None = None) -> DefectSnapshot:
        """Read one defect; comments (created or edited at/after comments_since) only when asked."""
        _check_key(key)
        fields = SNAPSHOT_FIELDS if comments_since is not None else SNAPSHOT_FIELDS[:-1]
        with tracker_errors("read defect", key):
            issue = self._client().issue(key, fields=",".join(fields))
        return self._snapshot(issue.raw, comments_since)

    def search_updated_since(
        self, since: datetime, keys: Sequence[str], ids: Sequence[str] = ()
    ) -> list[DefectSnapshot]:
        """Defects among keys or ids updated at/after since (JQL is minute-precise; we filter
        exactly). A defect found both ways is returned once."""
        if since.tzinfo is None:
            raise ValueError("since must be timezone-aware")
        for key in keys:
            _check_key(key)
        for defect_id in ids:
            _check_id(defect_id)
        stamp = since.astimezone(self._zone()).strftime(JQL_MINUTE) if keys or ids else ""
        found: dict[str, DefectSnapshot] = {}
        for field, values in (("id", ids), ("key", keys)):
            unique = list(dict.fromkeys(values))
            for start in range(0, len(unique), SEARCH_CHUNK):
                chunk = ", ".join(unique[start : start + SEARCH_CHUNK])
                jql = f'{field} in ({chunk}) AND updated >= "{stamp}" ORDER BY updated ASC'
                with tracker_errors("search updated defects"):
                    raw = self._search(jql, fields=SNAPSHOT_FIELDS, max_results=0)
                for snapshot in (self._snapshot(r, since) for r in raw):
                    found.setdefault(snapshot.id or snapshot.key, snapshot)
        snapshots = [s for s in found.values() if s.updated >= since]
        snapshots.sort(key=lambda s: s.updated)
        return snapshots

    def _search(self, jql: str, fields: Sequence[str], max_results: int) -> list[dict[str, Any]]:
        # validate_query=False: on Server/DC a key that no longer exists would fail the whole query.
        issues = self._client().search_issues(
            jql, maxResults=max_results, fields=list(fields), validate_query=False
        )
        return [issue.raw for issue in issues]

    def _zone(self) -> tzinfo:
        if self._jql_zone is None:
            name = self._config.jql_timezone
            if name is None:
                with tracker_errors("read Jira user profile"):
                    name = str(self._client().myself().get("timeZone") or "UTC")
            try:
                zone: tzinfo = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                zone = UTC
            self._jql_zone = zone
        return self._jql_zone

    def _snapshot(self, raw: Mapping[str, Any], comments_since: datetime | None) -> DefectSnapshot:
        key = str(raw["key"])
        fields: Mapping[str, Any] = raw.get("fields") or {}
        status = fields.get("status") or {}
        status_name = str(status.get("name", ""))
        category = str((status.get("statusCategory") or {}).get("key", "undefined"))
        resolution_raw = fields.get("resolution")
        resolution = str(resolution_raw["name"]) if resolution_raw else None
        comments: tuple[TrackerComment, ...] = ()
        if comments_since is not None:
            comments = tuple(
                c
                for c in self._comments_of(key, fields.get("comment"))
                if (c.updated or c.created or _EPOCH) >= comments_since
            )
        return DefectSnapshot(
            key=key,
            id=str(raw.get("id", "")),
            summary=str(fields.get("summary") or ""),
            status=status_name,
            status_category=category,
            meaning=self._config.meaning_of(status_name, category, resolution),
            resolution=resolution,
            fix_versions=tuple(str(v.get("name")) for v in fields.get("fixVersions") or ()),
            labels=tuple(str(label) for label in fields.get("labels") or ()),
            updated=parse_jira_datetime(fields.get("updated")) or _EPOCH,
            comments=comments,
        )

    def _comments_of(self, key: str, embedded: Any) -> list[TrackerComment]:
        if isinstance(embedded, Mapping):
            raw_comments = list(embedded.get("comments") or ())
            total = int(embedded.get("total", len(raw_comments)))
            if total <= len(raw_comments):
                return [comment_from_raw(c) for c in raw_comments]
        return [comment_from_raw(c) for c in self._all_raw_comments(key)]

    def _all_raw_comments(self, key: str, newest_first: bool = False) -> list[dict[str, Any]]:
        collected: list[dict[str, Any]] = []
        client = self._client()
        with tracker_errors("list comments", key):
            while True:
                page = client.comments(
                    key,
                    start_at=len(collected),
                    max_results=COMMENT_PAGE,
                    order_by="-created" if newest_first else "created",
                )
                collected.extend(c.raw for c in page)
                if len(page) < COMMENT_PAGE:
                    return collected

    # --- write ----------------------------------------------------------------------

    def add_comment(self, key: str, body: str, marker: str) -> str:
        """Post body with our marker, unless a comment with that marker is already there; key
        may be the issue id (Jira's REST paths take either)."""
        if not _ISSUE_ID.match(key):
            _check_key(key)
        try:
            validate_marker(marker)
        except ValueError as exc:
            raise TrackerPermanentError(str(exc)) from exc
        for raw in self._all_raw_comments(key, newest_first=True):
            if find_marker(str(raw.get("body") or "")) == marker:
                return str(raw["id"])
        text = with_marker(body[:MAX_COMMENT_CHARS], marker)
        with tracker_errors("add comment", key):
            comment = self._client().add_comment(key, text)
        return str(comment.raw["id"])

    def is_own_comment(self, comment: TrackerComment) -> bool:
        """Ours when it carries our marker (set when the comment was parsed)."""
        return comment.own or find_marker(comment.body) is not None

    def link_issue(self, key: str, issue_id: str, url: str, title: str) -> None:
        """Remote link with globalId itr:issue:<id>; Jira updates a link with a known globalId."""
        _check_key(key)
        with tracker_errors("link issue", key):
            self._client().add_remote_link(
                key,
                destination={"url": url, "title": redact(f"{issue_id}: {title}")[:255]},
                globalId=remote_link_global_id(issue_id),
                application={"type": "itr", "name": self._config.remote_link_application},
                relationship=self._config.remote_link_relationship,
            )

    def transition(self, key: str, meaning: DefectMeaning) -> None:
        """Apply the first configured transition available; a no-op if already there."""
        current = self.get_defect(key)
        if current.meaning in _ALREADY_THERE[meaning]:
            return
        names = self._config.transitions.for_meaning(meaning)
        client = self._client()
        with tracker_errors("list transitions", key):
            available: list[dict[str, Any]] = client.transitions(key, expand="transitions.fields")
        by_name = {str(t.get("name", "")).casefold(): t for t in available}
        chosen = next((by_name[n.casefold()] for n in names if n.casefold() in by_name), None)
        if chosen is None:
            offered = ", ".join(sorted(str(t.get("name")) for t in available)) or "none"
            raise TrackerPermanentError(
                f"{key}: no transition named {list(names)} from status {current.status!r} "
                f"(available: {offered}); check transitions in the Jira config"
            )
        fields: dict[str, Any] = {}
        resolution = self._config.transition_resolutions.get(meaning)
        if resolution and "resolution" in (chosen.get("fields") or {}):
            fields["resolution"] = {"name": resolution}
        with tracker_errors("transition defect", key):
            client.transition_issue(key, str(chosen["id"]), fields=fields)


def _check_key(key: str) -> None:
    if not _ISSUE_KEY.match(key):
        raise TrackerPermanentError(f"{key!r} is not a Jira issue key")


def _check_id(defect_id: str) -> None:
    if not _ISSUE_ID.match(defect_id):
        raise TrackerPermanentError(f"{defect_id!r} is not a Jira issue id")
