"""Read Jira's JSON shapes (dates, comments) shared by the adapter and the webhook parser."""

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from integrations.tracker.markers import find_marker, strip_marker
from integrations.tracker.port import TrackerComment


def parse_jira_datetime(value: Any) -> datetime | None:
    """Jira's "2024-05-01T10:00:00.000+0000" (or epoch milliseconds) as an aware datetime."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        try:
            return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
        except ValueError:
            return None


def user_id(user: Any) -> str | None:
    """Cloud accountId, else Server/DC name or key."""
    if not isinstance(user, Mapping):
        return None
    for attr in ("accountId", "name", "key"):
        if user.get(attr):
            return str(user[attr])
    return None


def comment_from_raw(raw: Mapping[str, Any]) -> TrackerComment:
    """A TrackerComment from a v2 comment; our marker is stripped from the body and sets own."""
    body_raw = raw.get("body")
    body = body_raw if isinstance(body_raw, str) else json.dumps(body_raw)
    marker = find_marker(body)
    author = raw.get("author")
    return TrackerComment(
        id=str(raw.get("id", "")),
        body=strip_marker(body) if marker else body,
        marker=marker,
        own=marker is not None,
        author_id=user_id(author),
        author_name=str(author["displayName"])
        if isinstance(author, Mapping) and author.get("displayName")
        else None,
        created=parse_jira_datetime(raw.get("created")),
        updated=parse_jira_datetime(raw.get("updated")),
    )
