"""Honest in-memory fakes of the issue activities, registered under the real names."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from temporalio import activity

from activities.onsite import pick_field_engineer
from domain.enums import (
    OPEN_STATES,
    Category,
    Channel,
    ContractLevel,
    Severity,
    Tier,
    WarrantyStatus,
)
from domain.models import (
    Entitlement,
    EntitlementQuery,
    IntakeFacts,
    IntakeFactsQuery,
    Notification,
    OwnerAnswer,
    OwnerChoice,
    OwnerQuery,
    ProductInfo,
    ProductQuery,
    RecordBatch,
    SlaPolicyAnswer,
    SlaPolicyQuery,
    TimelineEvent,
)
from domain.onsite_contracts import (
    FieldEngineer,
    FieldEngineerAnswer,
    FieldEngineerQuery,
    PartProjection,
    VisitProjection,
)
from domain.sla import ResolvedPolicy
from integrations.tracker import (
    DefectDraft,
    DefectMeaning,
    DefectNotFoundError,
    DefectRef,
    DefectSnapshot,
    TrackerPermanentError,
    TrackerTransientError,
)

ENGINEERS = {
    Tier.FRONTLINE: OwnerChoice(engineer_id="alice", engineer_name="Alice", tier=Tier.FRONTLINE),
    Tier.EXPERT: OwnerChoice(engineer_id="bob", engineer_name="Bob", tier=Tier.EXPERT),
    Tier.RND: OwnerChoice(engineer_id="rita", engineer_name="Rita", tier=Tier.RND),
}


@dataclass(frozen=True)
class FakeTeam:
    """A team at a tier; like a routing rule it may serve only some organisations,
    categories, severities or channels (empty: all)."""

    id: str
    tier: Tier
    offer_timeout: timedelta | None = None
    organisations: frozenset[str] = frozenset()
    categories: frozenset[Category] = frozenset()
    severities: frozenset[Severity] = frozenset()
    channels: frozenset[Channel] = frozenset()

    def serves(self, query: OwnerQuery) -> bool:
        wanted = (
            (self.organisations, query.organisation_id),
            (self.categories, query.category),
            (self.severities, query.severity),
            (self.channels, query.channel),
        )
        return self.tier == query.tier and all(not s or v in s for s, v in wanted)


@dataclass(frozen=True)
class FakeEngineer:
    id: str
    name: str
    team_id: str
    capacity: int = 5
    substitute_id: str | None = None


@dataclass
class FakeRoster:
    """A small organisation for the owner choice: teams (the first at a tier takes its
    issues), engineers with a capacity and a substitute. Honours every OwnerQuery field
    that routing does: the team to stay in, who to exclude, whose substitute to ask first;
    load is counted from what the workflow recorded (open issues each engineer owns)."""

    teams: list[FakeTeam]
    engineers: list[FakeEngineer]
    off_duty: set[str] = field(default_factory=set)

    def team(self, team_id: str) -> FakeTeam:
        return next(t for t in self.teams if t.id == team_id)

    def choose(self, query: OwnerQuery, load: Counter[str]) -> OwnerAnswer:
        team = (
            self.team(query.team_id)
            if query.team_id is not None
            else next((t for t in self.teams if t.serves(query)), None)
        )
        if team is None:
            return OwnerAnswer(why=f"no team at tier {int(query.tier)}")
        eligible = [
            e
            for e in self.engineers
            if e.team_id == team.id
            and e.id not in query.exclude_engineer_ids
            and e.id not in self.off_duty
            and load[e.id] < e.capacity
        ]
        if not eligible:
            return OwnerAnswer(team_id=team.id, why=f"nobody in {team.id} can take it")
        substitute = None
        if query.substitute_for is not None:
            leaving = next((e for e in self.engineers if e.id == query.substitute_for), None)
            wanted = leaving.substitute_id if leaving else None
            substitute = next((e for e in eligible if e.id == wanted), None)
        chosen = substitute or min(eligible, key=lambda e: (load[e.id], e.id))
        why = "the substitute" if substitute else "least loaded"
        return OwnerAnswer(
            owner=OwnerChoice(
                engineer_id=chosen.id,
                engineer_name=chosen.name,
                tier=team.tier,
                team_id=team.id,
                why=why,
                offer_timeout=team.offer_timeout,
            )
        )


class FakeIssueActivities:
    """Keeps what the workflow recorded, keyed like the real read model (so retries dedupe),
    and every write besides (`writes`), so a test can tell a retry that wrote nothing twice
    from one the dedupe merely hid."""

    def __init__(
        self,
        *,
        fail_record_times: int = 0,
        owners: bool = True,
        policies: dict[Severity, ResolvedPolicy] | None = None,
        roster: FakeRoster | None = None,
    ) -> None:
        # The "policy tables": a test edits them to show a running issue keeps its snapshot.
        self.policies: dict[Severity, ResolvedPolicy] = dict(policies or {})
        self.statuses: dict[str, RecordBatch] = {}
        self.events: dict[tuple[str, int], TimelineEvent] = {}
        self.writes: list[TimelineEvent] = []
        self.record_calls = 0
        self.notifications: dict[str, Notification] = {}
        self.notify_calls: Counter[str] = Counter()
        self._fail_record_times = fail_record_times
        self._owners = owners
        self.roster = roster
        # Every owner query, and how many of the next calls fail (an outage of the choice).
        self.owner_queries: list[OwnerQuery] = []
        self.fail_choose_times = 0
        self.fail_notify_times = 0
        # Each recorded status's owner, in order: a hand-off never shows the issue unowned.
        self.recorded_owners: list[str | None] = []

    @activity.defn(name="itr.record")
    async def record(self, batch: RecordBatch) -> None:
        self.record_calls += 1
        if self._fail_record_times > 0:
            self._fail_record_times -= 1
            raise RuntimeError("database is down")
        owner = batch.status.owner
        self.recorded_owners.append(owner.engineer_id if owner else None)
        for event in batch.events:
            self.writes.append(event)
            self.events.setdefault((event.issue_id, event.seq), event)
        latest = self.statuses.get(batch.status.issue_id)
        if latest is None or latest.status.revision <= batch.status.revision:
            self.statuses[batch.status.issue_id] = batch

    @activity.defn(name="itr.resolve_sla_policy")
    async def resolve_sla_policy(self, query: SlaPolicyQuery) -> SlaPolicyAnswer:
        return SlaPolicyAnswer(policy=self.policies.get(query.severity))

    @activity.defn(name="itr.lookup_entitlement")
    async def lookup_entitlement(self, query: EntitlementQuery) -> Entitlement:
        return Entitlement(
            contract_id="c-1",
            level=ContractLevel.PREMIUM,
            warranty_status=WarrantyStatus.IN_WARRANTY,
        )

    @activity.defn(name="itr.choose_owner")
    async def choose_owner(self, query: OwnerQuery) -> OwnerAnswer:
        self.owner_queries.append(query)
        if self.fail_choose_times > 0:
            self.fail_choose_times -= 1
            raise RuntimeError("the organisation database is down")
        if self.roster is not None:
            return self.roster.choose(query, self.open_load())
        owner = ENGINEERS[query.tier] if self._owners else None
        if owner is not None and owner.engineer_id in query.exclude_engineer_ids:
            owner = None
        return OwnerAnswer(owner=owner)

    def open_load(self) -> Counter[str]:
        """Open issues per owner, as recorded."""
        return Counter(
            b.status.owner.engineer_id
            for b in self.statuses.values()
            if b.status.owner is not None and b.status.state in OPEN_STATES
        )

    @activity.defn(name="itr.intake_facts")
    async def intake_facts(self, query: IntakeFactsQuery) -> IntakeFacts:
        """The three fakes above in turn, as the real activity reads them in one transaction
        (a subclass holding or failing one of them holds or fails intake the same way)."""
        entitlement = await self.lookup_entitlement(query.entitlement)
        policy = await self.resolve_sla_policy(
            SlaPolicyQuery(
                organisation_id=query.entitlement.organisation_id,
                contract_level=entitlement.level,
                severity=query.severity,
                on=query.policy_on,
            )
        )
        owner = await self.choose_owner(query.owner)
        return IntakeFacts(entitlement=entitlement, policy=policy, owner=owner)

    @activity.defn(name="itr.product_info")
    async def product_info(self, query: ProductQuery) -> ProductInfo:
        return ProductInfo(product_id=query.product_id, name="Edge Router", current_version="4.2.1")

    @activity.defn(name="itr.notify")
    async def notify(self, notification: Notification) -> None:
        self.notify_calls[notification.notification_id] += 1
        if self.fail_notify_times > 0:
            self.fail_notify_times -= 1
            raise RuntimeError("the webhook is down")
        self.notifications[notification.notification_id] = notification

    def all(self) -> list[object]:
        return [
            self.record,
            self.lookup_entitlement,
            self.resolve_sla_policy,
            self.choose_owner,
            self.intake_facts,
            self.product_info,
            self.notify,
        ]

    def kinds(self, issue_id: str, *, sla: bool = False) -> list[str]:
        """The timeline's event kinds in order; SLA bookkeeping (clock transitions, policy,
        warnings, breaches) only when asked for, so lifecycle tests read as the lifecycle."""
        return [
            e.kind.value
            for (iid, _), e in sorted(self.events.items(), key=lambda kv: kv[0][1])
            if iid == issue_id and (sla or not e.kind.value.startswith("sla_"))
        ]

    def events_of(self, issue_id: str, kind: str) -> list[TimelineEvent]:
        return [
            e
            for (iid, _), e in sorted(self.events.items(), key=lambda kv: kv[0][1])
            if iid == issue_id and e.kind.value == kind
        ]

    def written_more_than_once(self, issue_id: str) -> dict[int, int]:
        """Timeline seqs of the issue that reached the read model more than once, with counts."""
        counts = Counter(e.seq for e in self.writes if e.issue_id == issue_id)
        return {seq: count for seq, count in counts.items() if count > 1}

    def notification_kinds(self, issue_id: str) -> list[str]:
        return [n.kind for n in self.notifications.values() if n.issue_id == issue_id]


class FakeDefectTracker:
    """An in-memory DefectTracker for the real TrackerActivities (so error mapping is real)."""

    def __init__(
        self,
        *,
        lose_create_responses: int = 0,
        permanent_error: str | None = None,
        existing: tuple[str, ...] = (),
    ) -> None:
        self.by_dedupe_key: dict[str, DefectRef] = {}
        self.drafts: list[DefectDraft] = []
        self.create_calls = 0
        self.links: list[tuple[str, str]] = []
        self.comments: dict[str, tuple[str, str]] = {}
        self.comment_posts: list[tuple[str, str, str]] = []  # (marker, key, body), every call
        self.keys: set[str] = set(existing)
        self._lose = lose_create_responses
        self._permanent = permanent_error

    def create_defect(self, draft: DefectDraft) -> DefectRef:
        self.create_calls += 1
        if self._permanent is not None:
            raise TrackerPermanentError(self._permanent, status_code=400)
        ref = self.by_dedupe_key.get(draft.dedupe_key)
        if ref is None:
            key = f"RND-{len(self.keys) + 1}"
            self.keys.add(key)
            self.drafts.append(draft)
            ref = DefectRef(key=key, id=key, url=browse_url(key), created=True)
            self.by_dedupe_key[draft.dedupe_key] = ref
        else:
            ref = ref.model_copy(update={"created": False})
        if self._lose > 0:  # Jira created it, then the response was lost
            self._lose -= 1
            raise TrackerTransientError("connection lost after Jira accepted", retry_after=1)
        return ref

    def get_defect(self, key: str, comments_since: object = None) -> DefectSnapshot:
        if key not in self.keys:
            raise DefectNotFoundError(f"{key} does not exist", status_code=404)
        return DefectSnapshot(
            key=key,
            id=key,
            status="Open",
            status_category="new",
            meaning=DefectMeaning.OPEN,
            updated=datetime(2025, 1, 1, tzinfo=UTC),
        )

    def link_issue(self, key: str, issue_id: str, url: str, title: str) -> None:
        self.links.append((key, issue_id))

    def add_comment(self, key: str, body: str, marker: str) -> str:
        """Once per marker, like the Jira adapter (a retried post finds the first one); every
        call is kept in `comment_posts`, so "told once" can be asserted on the calls."""
        self.comment_posts.append((marker, key, body))
        self.comments.setdefault(marker, (key, body))
        return marker


def browse_url(key: str) -> str:
    return f"https://jira.example/browse/{key}"


class FakeOnsiteActivities:
    """The on-site activities in memory: visits and parts keyed like the read model (the
    newest step wins), and a fixed roster of field engineers."""

    def __init__(self, engineers: tuple[FieldEngineer, ...] = ()) -> None:
        self.engineers = engineers
        self.visits: dict[str, VisitProjection] = {}
        self.parts: dict[str, PartProjection] = {}

    @activity.defn(name="itr.record_visit")
    async def record_visit(self, projection: VisitProjection) -> None:
        known = self.visits.get(projection.visit.visit_id)
        if known is None or known.seq < projection.seq:
            self.visits[projection.visit.visit_id] = projection

    @activity.defn(name="itr.record_part")
    async def record_part(self, projection: PartProjection) -> None:
        known = self.parts.get(projection.part.part_id)
        if known is None or known.seq < projection.seq:
            self.parts[projection.part.part_id] = projection

    @activity.defn(name="itr.choose_field_engineer")
    async def choose_field_engineer(self, query: FieldEngineerQuery) -> FieldEngineerAnswer:
        return pick_field_engineer(list(self.engineers), None, {})

    def all(self) -> list[object]:
        return [self.record_visit, self.record_part, self.choose_field_engineer]
