"""Each worker ensures the knowledge sweep's Temporal Schedule on the dev server: created
once, left alone when it matches the settings, brought in line when they change."""

import uuid
from datetime import timedelta

from temporalio.client import Client, ScheduleActionStartWorkflow

from config.settings import Settings
from worker import ScheduleChange, ensure_knowledge_schedule, knowledge_schedule_id


async def test_the_knowledge_sweep_schedule_follows_the_settings(temporal_client: Client) -> None:
    settings = Settings(environment="test", temporal_task_queue=f"kb-{uuid.uuid4().hex[:8]}")
    handle = temporal_client.get_schedule_handle(knowledge_schedule_id(settings))
    try:
        assert await ensure_knowledge_schedule(temporal_client, settings) == ScheduleChange.CREATED
        again = await ensure_knowledge_schedule(temporal_client, settings)
        assert again == ScheduleChange.UNCHANGED
        for change in (
            {"knowledge_stale_after": timedelta(days=90)},
            {"knowledge_sweep_interval": timedelta(hours=1)},
        ):
            settings = settings.model_copy(update=change)
            assert await ensure_knowledge_schedule(temporal_client, settings) == (
                ScheduleChange.UPDATED
            )
            assert await ensure_knowledge_schedule(temporal_client, settings) == (
                ScheduleChange.UNCHANGED
            )
        described = (await handle.describe()).schedule
        assert [i.every for i in described.spec.intervals] == [timedelta(hours=1)]
        assert isinstance(described.action, ScheduleActionStartWorkflow)
        assert described.action.workflow == "KnowledgeSweepWorkflow"
    finally:
        await handle.delete()
