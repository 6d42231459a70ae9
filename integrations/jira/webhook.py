"""Verify and parse Jira webhooks into TrackerEvents, recognising echoes of our own changes.

Only the body is signed (X-Hub-Signature covers neither the headers nor the time of delivery),
so everything that decides whether a delivery is new or fresh is read from the body: its
`timestamp` must lie inside the configured window, and its dedupe key is built from the ids
the body carries. A captured delivery re-sent with a fresh X-Atlassian-Webhook-Identifier is
therefore still a duplicate, and one re-sent later than `webhook_max_age` is refused.
"""

import hashlib
import hmac
import json
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from integrations.jira.config import JiraConfig
from integrations.jira.parsing import comment_from_raw, parse_jira_datetime, user_id
from integrations.tracker.port import FieldChange, TrackerEvent, TrackerEventKind

SIGNATURE_HEADER = "x-hub-signature"
MAX_DEDUPE_KEY_CHARS = 255  # tracker_deliveries.dedupe_key

_EVENT_KINDS = {
    "jira:issue_updated": TrackerEventKind.DEFECT_UPDATED,
    "jira:issue_deleted": TrackerEventKind.DEFECT_DELETED,
    "comment_created": TrackerEventKind.COMMENT_CREATED,
    "comment_updated": TrackerEventKind.COMMENT_UPDATED,
    "comment_deleted": TrackerEventKind.COMMENT_DELETED,
}
# Server/DC may report comments as jira:issue_updated with one of these event type names.
_COMMENT_TYPE_NAMES = {
    "issue_commented": TrackerEventKind.COMMENT_CREATED,
    "issue_comment_edited": TrackerEventKind.COMMENT_UPDATED,
    "issue_comment_deleted": TrackerEventKind.COMMENT_DELETED,
}


class WebhookRejectedError(Exception):
    """The delivery must not be processed; status_code is what to answer Jira."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


def sign_body(body: bytes, secret: SecretStr | str) -> str:
    """The X-Hub-Signature value Jira sends: sha256=<hex HMAC of the raw body>."""
    key = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, secret: SecretStr | str) -> bool:
    """Constant-time check of X-Hub-Signature against the raw body."""
    if not header:
        return False
    method, _, signature = header.strip().partition("=")
    if method.lower() != "sha256" or not signature:
        return False
    expected = sign_body(body, secret).partition("=")[2]
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())


def _lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def read_webhook(
    body: bytes,
    headers: Mapping[str, str],
    config: JiraConfig,
    own_user_ids: Collection[str] = (),
    now: datetime | None = None,
) -> TrackerEvent | None:
    """Verify the signature (fail closed without a secret) and the signed timestamp's
    freshness, then parse; None if no issue is involved."""
    if config.webhook_secret is None:
        raise WebhookRejectedError("no Jira webhook secret configured", 503)
    signature = _lower_keys(headers).get(SIGNATURE_HEADER)
    if not verify_signature(body, signature, config.webhook_secret):
        raise WebhookRejectedError("invalid or missing X-Hub-Signature", 401)
    check_fresh(_payload(body), config, now or datetime.now(UTC))
    return parse_webhook(body, headers, config, own_user_ids)


def check_fresh(payload: Mapping[str, Any], config: JiraConfig, now: datetime) -> None:
    """Refuse a delivery whose signed timestamp is outside [now - max_age, now + max_ahead].

    401, like a bad signature: the signed body no longer proves a current delivery (a replay,
    or a delivery delayed beyond the window). Refusing a genuine late delivery loses nothing:
    the scheduled tracker poll reads any change it carried."""
    signed_at = parse_jira_datetime(payload.get("timestamp"))
    if signed_at is None or signed_at.tzinfo is None:
        raise WebhookRejectedError(
            "the webhook body has no timestamp with a time zone: its freshness cannot be verified",
            400,
        )
    age = (now - signed_at).total_seconds()
    max_age = config.webhook_max_age.total_seconds()
    max_ahead = config.webhook_max_ahead.total_seconds()
    if age > max_age:
        raise WebhookRejectedError(
            f"stale delivery: signed at {signed_at.isoformat()}, {age:.0f} s ago; deliveries "
            f"older than {max_age:.0f} s are refused (webhook_max_age)",
            401,
        )
    if -age > max_ahead:
        raise WebhookRejectedError(
            f"delivery from the future: signed at {signed_at.isoformat()}, {-age:.0f} s ahead "
            f"of our clock; at most {max_ahead:.0f} s are tolerated (webhook_max_ahead)",
            401,
        )


def _payload(body: bytes) -> Mapping[str, Any]:
    try:
        payload: Any = json.loads(body)
    except ValueError as exc:
        raise WebhookRejectedError("webhook body is not JSON", 400) from exc
    if not isinstance(payload, Mapping):
        raise WebhookRejectedError("webhook body is not a JSON object", 400)
    return payload


def parse_webhook(
    body: bytes,
    headers: Mapping[str, str],
    config: JiraConfig,
    own_user_ids: Collection[str] = (),
) -> TrackerEvent | None:
    """Turn a (verified) Jira webhook body into a TrackerEvent; None when no issue is involved.

    headers are not read: nothing unsigned may decide what the event is or how it dedupes."""
    payload = _payload(body)
    issue = payload.get("issue")
    if not isinstance(issue, Mapping) or not issue.get("key"):
        return None

    source = str(payload.get("webhookEvent", ""))
    kind = _EVENT_KINDS.get(source, TrackerEventKind.OTHER)
    type_name = str(payload.get("issue_event_type_name", ""))
    if kind is TrackerEventKind.DEFECT_UPDATED and type_name in _COMMENT_TYPE_NAMES:
        kind = _COMMENT_TYPE_NAMES[type_name]

    fields: Mapping[str, Any] = issue.get("fields") or {}
    status_raw = fields.get("status")
    status = str(status_raw["name"]) if isinstance(status_raw, Mapping) else None
    category = (
        str((status_raw.get("statusCategory") or {}).get("key", ""))
        if isinstance(status_raw, Mapping)
        else None
    )
    resolution_raw = fields.get("resolution")
    resolution = str(resolution_raw["name"]) if isinstance(resolution_raw, Mapping) else None
    fix_versions = tuple(
        str(v["name"]) for v in fields.get("fixVersions") or () if isinstance(v, Mapping)
    )

    changelog = payload.get("changelog")
    changes: tuple[FieldChange, ...] = ()
    if isinstance(changelog, Mapping):
        changes = tuple(
            FieldChange(
                field=str(item.get("field", "")),
                from_value=item.get("fromString"),
                to_value=item.get("toString"),
            )
            for item in changelog.get("items") or ()
        )

    comment_raw = payload.get("comment")
    comment = comment_from_raw(comment_raw) if isinstance(comment_raw, Mapping) else None
    actor = user_id(payload.get("user")) or (comment.author_id if comment else None)
    own_echo = (comment is not None and comment.own) or (
        actor is not None and actor in own_user_ids
    )

    return TrackerEvent(
        dedupe_key=_dedupe_key(body, payload, source, issue, changelog, comment_raw),
        kind=kind,
        source_event=source,
        defect_key=str(issue["key"]),
        defect_id=str(issue["id"]) if issue.get("id") is not None else None,
        occurred_at=parse_jira_datetime(payload.get("timestamp")),
        actor_id=actor,
        changes=changes,
        status=status,
        status_category=category,
        meaning=config.meaning_of(status, category, resolution) if status is not None else None,
        resolution=resolution,
        fix_versions=fix_versions,
        comment=comment,
        own_echo=own_echo,
    )


def _dedupe_key(
    body: bytes,
    payload: Mapping[str, Any],
    source: str,
    issue: Mapping[str, Any],
    changelog: Any,
    comment: Any,
) -> str:
    """The change's identity as the signed body states it: event, issue id, changelog or
    comment id, and Jira's timestamp (a rebuilt Jira may reuse ids, never with the same
    timestamp); the hash of the exact signed body when the body names no such change."""
    timestamp, issue_id = payload.get("timestamp"), issue.get("id")
    key: str | None = None
    if timestamp is not None and issue_id is not None:
        base = f"jira:{source.removeprefix('jira:')}:issue:{issue_id}"
        if isinstance(changelog, Mapping) and changelog.get("id") is not None:
            key = f"{base}:changelog:{changelog['id']}:at:{timestamp}"
        elif isinstance(comment, Mapping) and comment.get("id") is not None:
            updated = comment.get("updated", "")
            key = f"{base}:comment:{comment['id']}:{updated}:at:{timestamp}"
    if key is None or len(key) > MAX_DEDUPE_KEY_CHARS:
        return "jira:body:" + hashlib.sha256(body).hexdigest()
    return key
