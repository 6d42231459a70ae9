"""Verify and parse Jira webhooks into TrackerEvents, recognising echoes of our own changes."""

import hashlib
import hmac
import json
from collections.abc import Collection, Mapping
from typing import Any

from pydantic import SecretStr

from integrations.jira.config import JiraConfig
from integrations.jira.parsing import comment_from_raw, parse_jira_datetime, user_id
from integrations.tracker.port import FieldChange, TrackerEvent, TrackerEventKind

SIGNATURE_HEADER = "x-hub-signature"
IDENTIFIER_HEADER = "x-atlassian-webhook-identifier"

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
) -> TrackerEvent | None:
    """Verify the signature (fail closed without a secret), then parse; None if no issue."""
    if config.webhook_secret is None:
        raise WebhookRejectedError("no Jira webhook secret configured", 503)
    signature = _lower_keys(headers).get(SIGNATURE_HEADER)
    if not verify_signature(body, signature, config.webhook_secret):
        raise WebhookRejectedError("invalid or missing X-Hub-Signature", 401)
    return parse_webhook(body, headers, config, own_user_ids)


def parse_webhook(
    body: bytes,
    headers: Mapping[str, str],
    config: JiraConfig,
    own_user_ids: Collection[str] = (),
) -> TrackerEvent | None:
    """Turn a (verified) Jira webhook body into a TrackerEvent; None when no issue is involved."""
    try:
        payload: Any = json.loads(body)
    except ValueError as exc:
        raise WebhookRejectedError("webhook body is not JSON", 400) from exc
    if not isinstance(payload, Mapping):
        raise WebhookRejectedError("webhook body is not a JSON object", 400)
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
        dedupe_key=_dedupe_key(body, headers, source, changelog, comment_raw),
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
    headers: Mapping[str, str],
    source: str,
    changelog: Any,
    comment: Any,
) -> str:
    """Delivery id when Jira sends one (stable across retries), else the change's own ids."""
    identifier = _lower_keys(headers).get(IDENTIFIER_HEADER)
    if identifier:
        return f"jira:webhook:{identifier}"
    if isinstance(changelog, Mapping) and changelog.get("id") is not None:
        return f"jira:changelog:{changelog['id']}"
    if isinstance(comment, Mapping) and comment.get("id") is not None:
        return f"jira:{source}:comment:{comment['id']}:{comment.get('updated', '')}"
    return "jira:body:" + hashlib.sha256(body).hexdigest()
