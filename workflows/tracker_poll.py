"""TrackerPollWorkflow: one run per Schedule tick, the safety net under lost tracker webhooks.

The watermark (where the next poll starts) is this run's result: Temporal hands a scheduled
workflow the last *successful* run's result, so it survives worker restarts and a failed
poll is simply retried from the same point by the next tick. No table, no migration.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.tracker_poll import TrackerPollActivities
    from domain.models import TrackerPollInput, TrackerPollRequest, TrackerPollResult

POLL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=1)
)


@workflow.defn
class TrackerPollWorkflow:
    @workflow.run
    async def run(self, request: TrackerPollRequest) -> TrackerPollResult:
        previous = workflow.get_last_completion_result(TrackerPollResult)
        if isinstance(previous, TrackerPollResult):
            since = previous.watermark
        else:  # first run of the schedule (or it was recreated): look back a fixed window
            since = workflow.now() - request.initial_lookback
        return await workflow.execute_activity_method(
            TrackerPollActivities.poll,
            TrackerPollInput(since=since),
            start_to_close_timeout=timedelta(minutes=2),
            schedule_to_close_timeout=timedelta(minutes=10),
            retry_policy=POLL_RETRY,
        )
