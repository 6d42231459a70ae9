"""Activities that read reference data and write the read model for the issue workflow."""

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity

from activities.knowledge import KnowledgeActivities
from db.repositories import dispatch as dispatch_repo
from db.repositories import issues as issue_repo
from db.repositories import reference as reference_repo
from db.repositories import sla as sla_repo
from db.session import Database
from domain.ids import workflow_id_for
from domain.models import (
    Entitlement,
    EntitlementQuery,
    IntakeFacts,
    IntakeFactsQuery,
    OwnerAnswer,
    OwnerQuery,
    ProductInfo,
    ProductQuery,
    RecordBatch,
    SlaPolicyAnswer,
    SlaPolicyQuery,
)


def choice_key(info: activity.Info) -> str:
    """What identifies one owner choice across its retries: workflow, run and activity id."""
    return f"{info.workflow_id}/{info.workflow_run_id}/{info.activity_id}"


class ReadModelActivities:
    """Bound to one Database; registered on the worker as bound methods. With `knowledge`,
    the prompts a recorded step raised (capture a resolution, review a fixed version) are
    sent right after it commits."""

    def __init__(self, db: Database, knowledge: KnowledgeActivities | None = None) -> None:
        self._db = db
        self._knowledge = knowledge

    @activity.defn(name="itr.record")
    async def record(self, batch: RecordBatch) -> None:
        """Write events, comment and projection in one transaction; a retry writes nothing twice."""
        async with self._db.transaction() as session:
            await issue_repo.apply_record_batch(
                session, batch, workflow_id_for(batch.status.issue_id)
            )
        if self._knowledge is not None:
            await self._knowledge.deliver_pending(batch.status.issue_id)

    @activity.defn(name="itr.lookup_entitlement")
    async def lookup_entitlement(self, query: EntitlementQuery) -> Entitlement:
        async with self._db.transaction() as session:
            return await reference_repo.find_entitlement(
                session, query.organisation_id, query.product_id, query.on
            )

    @activity.defn(name="itr.choose_owner")
    async def choose_owner(self, query: OwnerQuery) -> OwnerAnswer:
        """Route the issue (rules -> team, or the query's team) and apply the team's strategy.

        Keyed by this activity's identity: a retry answers the stored choice, so a
        round-robin cursor advances once per choice, in the choice's own transaction."""
        key = choice_key(activity.info())
        try:
            async with self._db.transaction() as session:
                return await dispatch_repo.choose_owner(session, key, query)
        except dispatch_repo.ChoiceRace:
            async with self._db.transaction() as session:
                stored = await dispatch_repo.stored_choice(session, key)
            if stored is None:  # pragma: no cover - the race's winner committed it
                raise
            return stored

    @activity.defn(name="itr.intake_facts")
    async def intake_facts(self, query: IntakeFactsQuery) -> IntakeFacts:
        """Entitlement, SLA policy and owner in one transaction: intake's look-ups as one
        step instead of three round trips through Temporal (bench/intake.py). The owner
        choice is keyed by this activity's identity, as in `choose_owner`, so a retry
        answers the stored choice."""
        key = choice_key(activity.info())
        try:
            async with self._db.transaction() as session:
                entitlement, policy = await self.contract_terms(session, query)
                owner = await dispatch_repo.choose_owner(session, key, query.owner)
        except dispatch_repo.ChoiceRace:
            async with self._db.transaction() as session:
                entitlement, policy = await self.contract_terms(session, query)
                stored = await dispatch_repo.stored_choice(session, key)
            if stored is None:  # pragma: no cover - the race's winner committed it
                raise
            owner = stored
        return IntakeFacts(entitlement=entitlement, policy=policy, owner=owner)

    @staticmethod
    async def contract_terms(
        session: AsyncSession, query: IntakeFactsQuery
    ) -> tuple[Entitlement, SlaPolicyAnswer]:
        """The contract in force and the SLA policy for its level (none without a level)."""
        asked = query.entitlement
        entitlement = await reference_repo.find_entitlement(
            session, asked.organisation_id, asked.product_id, asked.on
        )
        if entitlement.level is None:
            return entitlement, SlaPolicyAnswer()
        policy = await sla_repo.resolve_policy(
            session, asked.organisation_id, entitlement.level, query.severity, query.policy_on
        )
        return entitlement, SlaPolicyAnswer(policy=policy)

    @activity.defn(name="itr.product_info")
    async def product_info(self, query: ProductQuery) -> ProductInfo:
        """The product's name and current version, for the defect report R&D receives."""
        async with self._db.transaction() as session:
            product = await reference_repo.get_product(session, query.product_id)
        if product is None:
            return ProductInfo(product_id=query.product_id)
        return ProductInfo(
            product_id=product.id, name=product.name, current_version=product.current_version
        )

    @activity.defn(name="itr.resolve_sla_policy")
    async def resolve_sla_policy(self, query: SlaPolicyQuery) -> SlaPolicyAnswer:
        """The policy in force for the contract level and severity, with the organisation's
        contract overrides and its calendar; none without a contract level or a policy."""
        if query.contract_level is None:
            return SlaPolicyAnswer()
        async with self._db.transaction() as session:
            policy = await sla_repo.resolve_policy(
                session, query.organisation_id, query.contract_level, query.severity, query.on
            )
        return SlaPolicyAnswer(policy=policy)
