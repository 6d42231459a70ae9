"""StatsReportWorkflow: one run per Schedule tick (weekly, monthly) sends the period's summary
to every team's manager and every customer organisation's contacts.

Deterministic by construction: the period comes from `workflow.now()` (the tick's time), the
figures from an activity that computes them with the dashboard's own code, and each report is
sent by its own idempotent activity, so a retried send never repeats another's.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.stats_report import StatsReportActivities
    from domain.stats import StatsReportInput, StatsReportRequest, StatsReportResult

REPORT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=20,
)


@workflow.defn
class StatsReportWorkflow:
    @workflow.run
    async def run(self, request: StatsReportRequest) -> StatsReportResult:
        reports = await workflow.execute_activity_method(
            StatsReportActivities.compose,
            StatsReportInput(unit=request.unit, timezone=request.timezone, now=workflow.now()),
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=REPORT_RETRY,
        )
        emailed = 0
        for report in reports.reports:
            await workflow.execute_activity_method(
                StatsReportActivities.send,
                report,
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=REPORT_RETRY,
            )
            if report.email:
                sent = await workflow.execute_activity_method(
                    StatsReportActivities.email,
                    report,
                    start_to_close_timeout=timedelta(minutes=2),
                    retry_policy=REPORT_RETRY,
                )
                emailed += int(sent)
        return StatsReportResult(
            period=reports.period, reports=len(reports.reports), emailed=emailed
        )
