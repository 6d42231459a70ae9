"""The record activity tells the owner of a resolved issue, once, to capture the resolution
as knowledge; a notifier outage leaves the prompt pending instead of failing the record."""

from datetime import timedelta

from temporalio.testing import ActivityEnvironment

from activities.knowledge import KnowledgeActivities
from activities.read_model import ReadModelActivities
from db.repositories import knowledge as knowledge_repo
from db.session import Database
from domain.enums import ActorKind, ContractLevel, Tier, WarrantyStatus
from domain.models import (
    AcknowledgeCommand,
    Actor,
    Entitlement,
    OwnerChoice,
    ProposeResolutionCommand,
    RecordBatch,
)
from integrations.notify.port import NotificationFailed, OutboundMessage
from tests.db.builders import CUSTOMER, T0, add_reference_data, batch_of, intake, opened

ENGINEER = Actor(kind=ActorKind.ENGINEER, id="e1", name="Name e1")
E1 = OwnerChoice(engineer_id="e1", engineer_name="Name e1", tier=Tier.FRONTLINE)
PREMIUM = Entitlement(
    contract_id="ctr", level=ContractLevel.PREMIUM, warranty_status=WarrantyStatus.IN_WARRANTY
)


class FlakyNotifier:
    """Refuses while `down`, then keeps what it sends."""

    def __init__(self) -> None:
        self.down = False
        self.sent: list[OutboundMessage] = []

    async def send(self, message: OutboundMessage) -> None:
        if self.down:
            raise NotificationFailed("webhook unreachable")
        self.sent.append(message)


def _resolved_issue() -> list[RecordBatch]:
    issue = intake("ITR-5")
    case = opened(issue)
    minute = timedelta(minutes=1)
    resolve = ProposeResolutionCommand(actor=ENGINEER, summary="Replace the power supply.")
    return [
        batch_of(case, case.register(T0, CUSTOMER), issue),
        batch_of(case, case.accept(PREMIUM, T0 + minute)),
        batch_of(case, case.assign_initial(E1, T0 + 2 * minute)),
        batch_of(case, case.acknowledge(AcknowledgeCommand(actor=ENGINEER), T0 + 3 * minute)),
        batch_of(case, case.propose_resolution(resolve, T0 + 4 * minute)),
    ]


async def test_a_resolution_prompts_its_owner_once_and_an_outage_only_delays_it(
    database: Database,
) -> None:
    async with database.transaction() as session:
        await add_reference_data(session)
    notifier = FlakyNotifier()
    knowledge = KnowledgeActivities(database, notifier, "http://itr.test")
    record = ReadModelActivities(database, knowledge).record
    env = ActivityEnvironment()
    notifier.down = True
    for batch in _resolved_issue():
        await env.run(record, batch)
    assert notifier.sent == []
    notifier.down = False
    await env.run(record, _resolved_issue()[-1])  # the retried last step delivers it
    await env.run(record, _resolved_issue()[-1])
    [message] = notifier.sent
    assert message.kind == "knowledge_capture_resolution"
    assert message.issue_url == "http://itr.test/issues/ITR-5"
    assert [r.id for r in message.recipients] == ["e1"]
    async with database.session() as session:
        [prompt] = await knowledge_repo.list_prompts(session, engineer_id="e1")
    assert prompt.notified_at is not None and prompt.done_at is None
