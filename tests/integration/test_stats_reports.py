"""The statistics report schedules on the real dev server: created once per deployment, and a
triggered tick runs StatsReportWorkflow on the worker to a report per audience."""

import asyncio

from temporalio.client import Client, ScheduleActionExecutionStartWorkflow

from db.repositories import reference
from domain.stats import BucketUnit, StatsReportResult
from tests.integration.conftest import Stack
from worker import REPORT_CRONS, ensure_report_schedules, report_schedule_id


async def test_report_schedules_are_created_once_and_a_tick_reports_to_every_audience(
    stack: Stack, temporal_client: Client
) -> None:
    settings = stack.settings
    ids = [report_schedule_id(settings, unit) for unit in REPORT_CRONS]
    try:
        assert await ensure_report_schedules(temporal_client, settings) == ids
        assert await ensure_report_schedules(temporal_client, settings) == [], "idempotent"
        weekly = temporal_client.get_schedule_handle(report_schedule_id(settings, BucketUnit.WEEK))
        described = await weekly.describe()
        spec = described.schedule.spec  # the server keeps the cron line as a calendar
        assert len(spec.calendars) == 1 and spec.time_zone_name == settings.stats_report_timezone
        (monday_six,) = spec.calendars
        assert [r.start for r in monday_six.hour] == [6]
        assert [r.start for r in monday_six.day_of_week] == [1]
        await weekly.trigger()
        workflow_id = None
        for _ in range(100):
            actions = (await weekly.describe()).info.recent_actions
            if actions:
                action = actions[-1].action
                assert isinstance(action, ScheduleActionExecutionStartWorkflow)
                workflow_id = action.workflow_id
                break
            await asyncio.sleep(0.1)
        assert workflow_id is not None, "the triggered tick started no workflow"
        result = await temporal_client.get_workflow_handle(
            workflow_id, result_type=StatsReportResult
        ).result()
        # The demo data: four teams with a manager, three organisations with a contact.
        async with stack.db.session() as session:
            teams = await reference.list_teams(session)
            organisations = await reference.list_organisations(session)
        # One report per team and per customer organisation of the demo data.
        assert result.reports == len(teams) + len(organisations) and result.emailed == 0
    finally:
        for schedule_id in ids:
            await temporal_client.get_schedule_handle(schedule_id).delete()
