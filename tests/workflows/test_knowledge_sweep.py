"""The scheduled knowledge sweep in the time-skipping environment: an article nobody uses is
suggested for archiving once `stale_after` has passed on the workflow's clock, its owner
told once, and a later sweep repeats nothing."""

import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.knowledge import KnowledgeActivities
from db.migrate import upgrade_to_head
from db.repositories import knowledge as knowledge_repo
from db.session import Database
from domain.enums import ActorKind
from domain.knowledge import (
    ArticleKind,
    ArticleState,
    Audience,
    KnowledgeSweepRequest,
    KnowledgeSweepResult,
    PromptKind,
)
from domain.models import Actor
from integrations.notify.port import OutboundMessage
from tests.db.builders import add_reference_data
from workflows.knowledge_sweep import KnowledgeSweepWorkflow

ENGINEER = Actor(kind=ActorKind.ENGINEER, id="e1", name="Name e1")


class RecordingNotifier:
    """An honest notifier: keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    async def send(self, message: OutboundMessage) -> None:
        self.sent.append(message)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kb.db'}"
    await upgrade_to_head(url)
    db = Database(url)
    async with db.transaction() as session:
        await add_reference_data(session)
    yield db
    await db.dispose()


async def _sweep(env: WorkflowEnvironment, task_queue: str) -> KnowledgeSweepResult:
    return await env.client.execute_workflow(
        KnowledgeSweepWorkflow.run,
        KnowledgeSweepRequest(stale_after=timedelta(days=30)),
        id=f"sweep-{uuid.uuid4()}",
        task_queue=task_queue,
    )


async def test_an_unused_article_is_suggested_for_archiving_once_it_is_stale(
    time_skipping_env: WorkflowEnvironment, task_queue: str, database: Database
) -> None:
    env = time_skipping_env
    now = await env.get_current_time()
    async with database.transaction() as session:
        row = await knowledge_repo.create_article(
            session,
            {
                "title": "Reset the admin password",
                "problem": "Locked out of the web interface.",
                "resolution": "Hold reset for ten seconds.",
                "kind": ArticleKind.HOW_TO,
                "audience": Audience.CUSTOMER,
                "state": ArticleState.VALIDATED,
                "owner_id": "e1",
            },
            ENGINEER,
            now - timedelta(days=10),
        )
    notifier = RecordingNotifier()
    activities = KnowledgeActivities(database, notifier, "http://itr.test")
    with ThreadPoolExecutor(max_workers=2) as executor:
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[KnowledgeSweepWorkflow],
            activities=[activities.suggest_archiving, activities.deliver_prompts],
            activity_executor=executor,
        ):
            fresh = await _sweep(env, task_queue)
            await env.sleep(timedelta(days=21))
            stale = await _sweep(env, task_queue)
            later = await _sweep(env, task_queue)
    assert fresh == KnowledgeSweepResult()
    assert stale == KnowledgeSweepResult(suggested_for_archiving=(row.id,), delivered=1)
    assert later == KnowledgeSweepResult()
    [message] = notifier.sent
    assert message.kind == f"knowledge_{PromptKind.CONSIDER_ARCHIVING.value}"
    assert [r.email for r in message.recipients] == ["e1@itr.example"]
    assert message.issue_url == f"http://itr.test/knowledge/articles/{row.id}"
