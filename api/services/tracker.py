"""Tracker webhooks: verify, dedupe, and tell every linked issue what R&D decided."""

from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.service import RPCError, RPCStatusCode

from api.errors import Problem, not_found, unavailable
from api.schemas import TrackerSyncErrorOut, TrackerWebhookResult
from api.temporal_gateway import TemporalGateway
from config.settings import Settings
from db.repositories import defects as defect_repo
from domain.models import DefectChange, DefectComment
from integrations.jira import JiraConfig, WebhookRejectedError, load_jira_config, read_webhook
from integrations.tracker import DEFECT_OUTCOMES as OUTCOMES
from integrations.tracker import TrackerEvent, TrackerEventKind
from workflows.issue import IssueWorkflow

SIGNAL_TIMEOUT = timedelta(seconds=5)


@lru_cache(maxsize=8)
def _load(path: Path) -> JiraConfig:
    return load_jira_config(path)


def jira_config(settings: Settings) -> JiraConfig:
    """The Jira configuration the worker uses too (read once per path)."""
    if settings.tracker_config is None:
        raise not_found("the Jira integration (ITR_TRACKER_CONFIG is not set)")
    return _load(settings.tracker_config)


def change_for(event: TrackerEvent) -> DefectChange | None:
    """The change linked issues must hear about; None for echoes and status-less noise."""
    if event.own_echo or event.kind is not TrackerEventKind.DEFECT_UPDATED:
        return None
    outcome = OUTCOMES.get(event.meaning) if event.meaning is not None else None
    if outcome is None or not event.status_changed:
        return None
    return DefectChange(
        defect_key=event.defect_key,
        outcome=outcome,
        dedupe_key=event.dedupe_key,
        fix_versions=event.fix_versions,
        reason=event.resolution,
    )


def comment_for(event: TrackerEvent) -> DefectComment | None:
    """R&D's new comment for the linked issues; None for our own (marked) comments."""
    if event.own_echo or event.kind is not TrackerEventKind.COMMENT_CREATED:
        return None
    comment = event.comment
    if comment is None or comment.own or not comment.body.strip():
        return None
    return DefectComment(
        defect_key=event.defect_key,
        comment_id=comment.id,
        author_name=comment.author_name or "R&D",
        body=comment.body[:20_000],
    )


async def handle_jira_webhook(
    session: AsyncSession,
    temporal: TemporalGateway,
    settings: Settings,
    body: bytes,
    headers: dict[str, str],
) -> TrackerWebhookResult:
    """Remember the delivery and signal before committing: a failure leaves Jira to redeliver.

    The delivery is remembered by what the signed body says (never by an unsigned header), and
    reaches the issues linked to the defect's immutable id; an issue that links the same key
    to another defect id (a rebuilt tracker reused the key) is never signalled."""
    try:
        event = read_webhook(body, headers, jira_config(settings))
    except WebhookRejectedError as exc:
        raise Problem(exc.status_code, "Webhook Rejected", str(exc)) from None
    change = change_for(event) if event is not None else None
    comment = comment_for(event) if event is not None else None
    if event is None or (change is None and comment is None):
        return TrackerWebhookResult(
            outcome="ignored", defect_key=event.defect_key if event else None
        )
    delivery = (
        defect_repo.comment_delivery_key(event.defect_id, event.defect_key, comment.comment_id)
        if comment is not None
        else event.dedupe_key
    )
    if not await defect_repo.remember_delivery(session, delivery, event.defect_key):
        await session.rollback()
        return TrackerWebhookResult(outcome="duplicate", defect_key=event.defect_key)
    match = await defect_repo.match_defect(session, event.defect_id, event.defect_key)
    for linked in match.issues:
        handle = await temporal.handle(linked.issue_id)
        # The workflow knows the defect by the key it was linked with (the defect may have
        # moved since): a signal naming another key would be ignored.
        try:
            if change is not None:
                await handle.signal(
                    IssueWorkflow.defect_changed,
                    change.model_copy(update={"defect_key": linked.defect_key}),
                    rpc_timeout=SIGNAL_TIMEOUT,
                )
            if comment is not None:
                await handle.signal(
                    IssueWorkflow.defect_commented,
                    comment.model_copy(update={"defect_key": linked.defect_key}),
                    rpc_timeout=SIGNAL_TIMEOUT,
                )
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                continue  # the issue's lifecycle has ended: nothing waits on the defect
            raise unavailable(f"Temporal is unreachable: {exc.message}") from exc
    await session.commit()
    if not match.issues:
        return TrackerWebhookResult(
            outcome="unlinked",
            defect_key=event.defect_key,
            detail=_unlinked_detail(event, len(match.other_defect)),
        )
    return TrackerWebhookResult(
        outcome="signalled", defect_key=event.defect_key, issue_ids=match.issue_ids
    )


async def sync_errors(session: AsyncSession) -> list[TrackerSyncErrorOut]:
    """Issues waiting on R&D without a defect because the tracker refused to create one."""
    return [
        TrackerSyncErrorOut(
            issue_id=row.id,
            title=row.title,
            state=row.state,
            tier=row.tier,
            owner_name=row.owner_name,
            tracker_sync_error=row.tracker_sync_error or "",
            updated_at=row.updated_at,
        )
        for row in await defect_repo.issues_with_sync_errors(session)
    ]


def _unlinked_detail(event: TrackerEvent, other_defect: int) -> str:
    """Why nobody heard of the event (recorded: a redelivery is a duplicate)."""
    defect = f"{event.defect_key} (id {event.defect_id or 'unknown'})"
    if other_defect:
        return (
            f"no open issue is linked to {defect}; {other_defect} open issue(s) link the key "
            f"{event.defect_key} to another defect id (the tracker reused the key) and were "
            "not signalled"
        )
    return f"no open issue is linked to {defect}"
