"""Honest in-memory fakes of the issue activities, registered under the real names."""

from collections import Counter

from temporalio import activity

from domain.enums import ContractLevel, Tier, WarrantyStatus
from domain.models import (
    Entitlement,
    EntitlementQuery,
    Notification,
    OwnerAnswer,
    OwnerChoice,
    OwnerQuery,
    RecordBatch,
    TimelineEvent,
)

ENGINEERS = {
    Tier.FRONTLINE: OwnerChoice(engineer_id="alice", engineer_name="Alice", tier=Tier.FRONTLINE),
    Tier.EXPERT: OwnerChoice(engineer_id="bob", engineer_name="Bob", tier=Tier.EXPERT),
    Tier.RND: OwnerChoice(engineer_id="rita", engineer_name="Rita", tier=Tier.RND),
}


class FakeIssueActivities:
    """Keeps what the workflow recorded, keyed like the real read model (so retries dedupe)."""

    def __init__(self, *, fail_record_times: int = 0, owners: bool = True) -> None:
        self.events: dict[tuple[str, int], TimelineEvent] = {}
        self.record_calls = 0
        self.notifications: dict[str, Notification] = {}
        self.notify_calls: Counter[str] = Counter()
        self._fail_record_times = fail_record_times
        self._owners = owners

    @activity.defn(name="itr.record")
    async def record(self, batch: RecordBatch) -> None:
        self.record_calls += 1
        if self._fail_record_times > 0:
            self._fail_record_times -= 1
            raise RuntimeError("database is down")
        for event in batch.events:
            self.events.setdefault((event.issue_id, event.seq), event)

    @activity.defn(name="itr.lookup_entitlement")
    async def lookup_entitlement(self, query: EntitlementQuery) -> Entitlement:
        return Entitlement(
            contract_id="c-1",
            level=ContractLevel.PREMIUM,
            warranty_status=WarrantyStatus.IN_WARRANTY,
        )

    @activity.defn(name="itr.choose_owner")
    async def choose_owner(self, query: OwnerQuery) -> OwnerAnswer:
        return OwnerAnswer(owner=ENGINEERS[query.tier] if self._owners else None)

    @activity.defn(name="itr.notify")
    async def notify(self, notification: Notification) -> None:
        self.notify_calls[notification.notification_id] += 1
        self.notifications[notification.notification_id] = notification

    def all(self) -> list[object]:
        return [self.record, self.lookup_entitlement, self.choose_owner, self.notify]

    def kinds(self, issue_id: str) -> list[str]:
        return [
            e.kind.value
            for (iid, _), e in sorted(self.events.items(), key=lambda kv: kv[0][1])
            if iid == issue_id
        ]

    def notification_kinds(self, issue_id: str) -> list[str]:
        return [n.kind for n in self.notifications.values() if n.issue_id == issue_id]
