"""KnowledgeSweepWorkflow: one run per Schedule tick; suggests archiving articles nobody used
for `ITR_KNOWLEDGE_STALE_AFTER` and delivers knowledge prompts a notifier outage held back.

"Now" is the workflow's clock, so the time-skipping test server can age articles.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.knowledge import KnowledgeActivities
    from domain.knowledge import (
        KnowledgeSweepRequest,
        KnowledgeSweepResult,
        PromptDelivery,
        StaleArticlesQuery,
    )

SWEEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=1)
)


@workflow.defn
class KnowledgeSweepWorkflow:
    @workflow.run
    async def run(self, request: KnowledgeSweepRequest) -> KnowledgeSweepResult:
        suggested = await workflow.execute_activity_method(
            KnowledgeActivities.suggest_archiving,
            StaleArticlesQuery(now=workflow.now(), stale_after=request.stale_after),
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=SWEEP_RETRY,
        )
        delivered = await workflow.execute_activity_method(
            KnowledgeActivities.deliver_prompts,
            PromptDelivery(),
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=SWEEP_RETRY,
        )
        return KnowledgeSweepResult(suggested_for_archiving=tuple(suggested), delivered=delivered)
