"""Dispatch reads and writes: routing rules, team candidates with their load, round-robin
cursors and the owner choices keyed by activity identity.

`plan_owner` gathers what `domain.dispatch` needs and applies it without writing anything,
so the owner-choice activity and the dry run answer alike; the activity then advances the
cursor and stores its answer in the same transaction (`advance_cursor`, `store_choice`).
Rows are read as plain tuples (no ORM objects): a team of a thousand engineers and five
hundred rules stay cheap to read on every choice.
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    EngineerRow,
    IssueRow,
    OrganisationRow,
    OwnerChoiceRow,
    RoundRobinCursorRow,
    RoutingDefaultRow,
    RoutingRuleRow,
    TeamMemberRow,
    TeamProductRow,
    TeamRow,
    utcnow,
)
from db.repositories._dialect import dialect_name, insert_if_absent
from db.repositories.reference import CLOSED_STATES, find_entitlement
from domain.dispatch import (
    Candidate,
    Demand,
    Eligibility,
    IssueFacts,
    Pick,
    Routing,
    RoutingRule,
    RuleCriteria,
    pick,
    route,
    substitute_first,
)
from domain.enums import AssignmentStrategy, IssueState, Presence, Tier
from domain.models import OwnerAnswer, OwnerChoice, OwnerQuery

NOT_RUNNING_STATES: tuple[IssueState, ...] = (
    *CLOSED_STATES,
    IssueState.RESOLVED,
    IssueState.AWAITING_CONFIRMATION,
)
"""Open issues whose resolution clock stopped (a resolution is proposed): no load for a team
counting running clocks only, like paused ones (waiting for the customer)."""


class TeamProfile(BaseModel):
    """A team as dispatch uses it."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    tier: Tier
    strategy: AssignmentStrategy
    offer_timeout: timedelta | None
    load_counts_running_only: bool


class DispatchPlan(BaseModel):
    """Everything one owner choice decided, and why: what the dry run shows."""

    model_config = ConfigDict(frozen=True)

    facts: IssueFacts
    routing: Routing
    team: TeamProfile | None
    pick: Pick | None = None
    substitute: Eligibility | None = None
    answer: OwnerAnswer


# --- rules and defaults ---------------------------------------------------------------------


def rule_from_row(rule_id: str, position: int, criteria: Any, teams: Any) -> RoutingRule:
    return RoutingRule(
        id=rule_id,
        position=position,
        criteria=RuleCriteria.model_validate(criteria or {}),
        teams={Tier(int(tier)): team for tier, team in (teams or {}).items()},
    )


_RULES_CACHE: dict[str, tuple[tuple[int, Any], list[RoutingRule]]] = {}
"""Parsed rules per database, with the (count, latest update) they were parsed at: every
choice checks that key (one aggregate) instead of reading and validating every rule."""


async def load_rules(session: AsyncSession) -> list[RoutingRule]:
    """Every rule in order (position, then id); parsed again only after a rule changed
    (every write stamps updated_at; a delete changes the count)."""
    count, latest = (
        await session.execute(
            sa.select(sa.func.count(), sa.func.max(RoutingRuleRow.updated_at)).select_from(
                RoutingRuleRow
            )
        )
    ).one()
    cache_key = str(session.get_bind().engine.url)
    version = (int(count), latest)
    cached = _RULES_CACHE.get(cache_key)
    if cached is not None and cached[0] == version:
        return cached[1]
    result = await session.execute(
        sa.select(
            RoutingRuleRow.id,
            RoutingRuleRow.position,
            RoutingRuleRow.criteria,
            RoutingRuleRow.teams,
        ).order_by(RoutingRuleRow.position, RoutingRuleRow.id)
    )
    rules = [rule_from_row(*row) for row in result]
    _RULES_CACHE[cache_key] = (version, rules)
    return rules


async def load_defaults(session: AsyncSession) -> dict[Tier, str]:
    result = await session.execute(sa.select(RoutingDefaultRow.tier, RoutingDefaultRow.team_id))
    return {Tier(tier): team_id for tier, team_id in result}


async def product_team_ids(session: AsyncSession, product_id: str, tier: Tier) -> list[str]:
    """Teams at the tier linked to the product: where issues went before rules existed."""
    result = await session.scalars(
        sa.select(TeamRow.id)
        .join(TeamProductRow, TeamProductRow.team_id == TeamRow.id)
        .where(TeamProductRow.product_id == product_id, TeamRow.tier == tier)
        .order_by(TeamRow.id)
    )
    return list(result)


async def team_profile(session: AsyncSession, team_id: str) -> TeamProfile | None:
    row = (
        await session.execute(
            sa.select(
                TeamRow.id,
                TeamRow.name,
                TeamRow.tier,
                TeamRow.strategy,
                TeamRow.offer_timeout_minutes,
                TeamRow.load_counts_running_only,
            ).where(TeamRow.id == team_id)
        )
    ).first()
    if row is None:
        return None
    return TeamProfile(
        id=row.id,
        name=row.name,
        tier=row.tier,
        strategy=row.strategy,
        offer_timeout=(
            timedelta(minutes=row.offer_timeout_minutes)
            if row.offer_timeout_minutes is not None
            else None
        ),
        load_counts_running_only=row.load_counts_running_only,
    )


# --- candidates and their load ----------------------------------------------------------------


def _counted(running_only: bool) -> Any:
    """Which open issues count as an engineer's load."""
    if running_only:
        return sa.and_(IssueRow.state.not_in(NOT_RUNNING_STATES), IssueRow.sla_paused.is_(False))
    return IssueRow.state.not_in(CLOSED_STATES)


async def load_by_owner(
    session: AsyncSession, engineer_ids: Sequence[str], running_only: bool
) -> dict[str, int]:
    """Open issues per engineer (absent: none), as the team counts them."""
    if not engineer_ids:
        return {}
    result = await session.execute(
        sa.select(IssueRow.owner_id, sa.func.count())
        .where(IssueRow.owner_id.in_(list(engineer_ids)), _counted(running_only))
        .group_by(IssueRow.owner_id)
    )
    return {owner: int(count) for owner, count in result if owner is not None}


_CANDIDATE_COLUMNS = (
    EngineerRow.id,
    EngineerRow.name,
    EngineerRow.presence,
    EngineerRow.capacity,
    EngineerRow.skills,
    EngineerRow.languages,
    EngineerRow.substitute_id,
)


def _candidates(rows: Iterable[Any], loads: dict[str, int]) -> list[Candidate]:
    return [
        Candidate(
            engineer_id=row.id,
            name=row.name,
            presence=row.presence,
            capacity=max(row.capacity, 0),
            load=loads.get(row.id, 0),
            skills=dict(row.skills or {}),
            languages=tuple(row.languages or ()),
            substitute_id=row.substitute_id,
        )
        for row in rows
    ]


async def team_candidates(
    session: AsyncSession, team_id: str, running_only: bool
) -> list[Candidate]:
    """The team's active engineers (managers do not take issues) with their load."""
    rows = list(
        await session.execute(
            sa.select(*_CANDIDATE_COLUMNS)
            .join(TeamMemberRow, TeamMemberRow.engineer_id == EngineerRow.id)
            .where(
                TeamMemberRow.team_id == team_id,
                EngineerRow.active.is_(True),
                EngineerRow.is_manager.is_(False),
            )
            .order_by(EngineerRow.id)
        )
    )
    loads = await load_by_owner(session, [row.id for row in rows], running_only)
    return _candidates(rows, loads)


def _counted_load(running_only: bool) -> Any:
    """The engineer's counted open issues, as a correlated count the (owner, state, paused)
    index answers alone: a team of a thousand costs a thousand index seeks, not a scan."""
    return (
        sa.select(sa.func.count())
        .select_from(IssueRow)
        .where(IssueRow.owner_id == EngineerRow.id, _counted(running_only))
        .correlate(EngineerRow)
        .scalar_subquery()
    )


async def ranked_candidates(
    session: AsyncSession,
    team_id: str,
    running_only: bool,
    strategy: AssignmentStrategy,
    demand: Demand,
    presence: Presence,
    cursor: str | None,
    offset: int,
    limit: int,
) -> list[Candidate]:
    """One slice of the team's engineers with `presence` who may take work (below capacity,
    not excluded), in the strategy's order: the database sorts and counts, so the strategy
    only looks at the first few. Ordered by the same keys as `domain.dispatch.pick` (ids
    compared bytewise, as Python does), so the first eligible engineer of the first slices
    is the one `pick` would choose among them all."""
    count = _counted_load(running_only)
    engineer_id: Any = EngineerRow.id
    if dialect_name(session) == "postgresql":
        engineer_id = EngineerRow.id.collate("C")
    query = (
        sa.select(*_CANDIDATE_COLUMNS, count.label("load"))
        .join(TeamMemberRow, TeamMemberRow.engineer_id == EngineerRow.id)
        .where(
            TeamMemberRow.team_id == team_id,
            EngineerRow.active.is_(True),
            EngineerRow.is_manager.is_(False),
            EngineerRow.presence == presence,
            count < EngineerRow.capacity,
        )
    )
    if demand.exclude:
        query = query.where(EngineerRow.id.not_in(list(demand.exclude)))
    order: list[Any]
    if strategy == AssignmentStrategy.ROUND_ROBIN:
        order = [engineer_id]
        if cursor is not None:
            order = [sa.case((engineer_id > cursor, 0), else_=1), engineer_id]
    elif strategy == AssignmentStrategy.SKILLS_WEIGHTED:
        level = sa.func.coalesce(EngineerRow.skills[demand.skill].as_integer(), 0)
        order = [level.desc(), count, engineer_id]
    else:
        order = [count, engineer_id]
    rows = list(await session.execute(query.order_by(*order).offset(offset).limit(limit)))
    return _candidates(rows, {row.id: int(row.load) for row in rows})


async def best_pick(
    session: AsyncSession,
    team: "TeamProfile",
    demand: Demand,
    cursor: str | None,
    batch: int = 32,
) -> Pick:
    """The strategy's pick without reading the whole team: available engineers slice by
    slice in the strategy's order, then away ones; the first slice with an eligible
    engineer decides (its `considered` lists only the engineers looked at)."""
    considered: list[Eligibility] = []
    for presence in (Presence.AVAILABLE, Presence.AWAY):
        offset = 0
        while True:
            candidates = await ranked_candidates(
                session,
                team.id,
                team.load_counts_running_only,
                team.strategy,
                demand,
                presence,
                cursor,
                offset,
                batch,
            )
            if not candidates:
                break
            chosen = pick(team.strategy, candidates, demand, cursor)
            if chosen.engineer_id is not None:
                return chosen.model_copy(update={"considered": (*considered, *chosen.considered)})
            considered.extend(chosen.considered)
            offset += batch
    return Pick(
        engineer_id=None, why="no eligible engineer", considered=tuple(considered), cursor=cursor
    )


async def engineer_candidate(
    session: AsyncSession, engineer_id: str, running_only: bool
) -> Candidate | None:
    """One engineer (active or not: an off-duty engineer's substitute link still counts)."""
    rows = list(
        await session.execute(
            sa.select(*_CANDIDATE_COLUMNS, EngineerRow.active).where(EngineerRow.id == engineer_id)
        )
    )
    if not rows:
        return None
    loads = await load_by_owner(session, [engineer_id], running_only)
    return _candidates(rows, loads)[0]


# --- the plan ---------------------------------------------------------------------------------


async def issue_facts(session: AsyncSession, query: OwnerQuery, on: date) -> IssueFacts:
    """What the rules match on: the query's own fields, the organisation's region and
    language, its contract level today. A query from before routing names only the product
    and tier, so only rules on those (or none) can take it."""
    region = language = None
    contract_level = None
    if query.organisation_id is not None:
        organisation = (
            await session.execute(
                sa.select(OrganisationRow.region, OrganisationRow.language).where(
                    OrganisationRow.id == query.organisation_id
                )
            )
        ).first()
        if organisation is not None:
            region, language = organisation.region, organisation.language
        entitlement = await find_entitlement(session, query.organisation_id, query.product_id, on)
        contract_level = entitlement.level
    return IssueFacts(
        product_id=query.product_id,
        tier=query.tier,
        category=query.category,
        severity=query.severity,
        organisation_id=query.organisation_id,
        contract_level=contract_level,
        region=region,
        service_mode=query.service_mode,
        language=language,
        channel=query.channel,
    )


async def plan_owner(
    session: AsyncSession,
    query: OwnerQuery,
    *,
    lock_cursor: bool = False,
    explain: bool = True,
    on: date | None = None,
) -> DispatchPlan:
    """Route the issue to a team and pick its owner there, without writing anything.

    `query.team_id` skips the rules (a re-offer in the same queue); `substitute_for` asks the
    absent engineer's substitute first when eligible; `exclude_engineer_ids` are never
    chosen. `cursor` is the team's round-robin cursor (the activity reads it locked)."""
    facts = await issue_facts(session, query, on or datetime.now(UTC).date())
    if query.team_id is not None:
        routing = Routing(team_id=query.team_id, why=f"queue of team {query.team_id}")
    else:
        routing = route(
            await load_rules(session),
            facts,
            await load_defaults(session),
            await product_team_ids(session, query.product_id, query.tier),
            explain=explain,
        )
    team = await team_profile(session, routing.team_id) if routing.team_id else None
    if team is None:
        why = routing.why if routing.team_id is None else f"unknown team {routing.team_id}"
        return DispatchPlan(
            facts=facts, routing=routing, team=None, answer=OwnerAnswer(team_id=None, why=why)
        )
    demand = Demand(
        skill=query.product_id, language=facts.language, exclude=query.exclude_engineer_ids
    )
    running_only = team.load_counts_running_only
    substitute: Eligibility | None = None
    if query.substitute_for is not None:
        absent = await engineer_candidate(session, query.substitute_for, running_only)
        if absent is not None and absent.substitute_id is not None:
            candidate = await engineer_candidate(session, absent.substitute_id, running_only)
            substitute = substitute_first(absent, candidate, demand)
    cursor: str | None = None
    if team.strategy == AssignmentStrategy.ROUND_ROBIN:
        cursor = await (locked_cursor if lock_cursor else cursor_of)(session, team.id)
    if explain:
        candidates = await team_candidates(session, team.id, running_only)
        chosen_pick = pick(team.strategy, candidates, demand, cursor)
    else:
        chosen_pick = await best_pick(session, team, demand, cursor)
    if substitute is not None:
        owner = _choice(
            substitute.engineer_id,
            substitute.name,
            query.tier,
            team,
            f"{routing.why}; substitute for {query.substitute_for}",
        )
        return DispatchPlan(
            facts=facts,
            routing=routing,
            team=team,
            pick=chosen_pick.model_copy(update={"cursor": cursor}),
            substitute=substitute,
            answer=OwnerAnswer(owner=owner, team_id=team.id, why=owner.why),
        )
    why = f"{routing.why} -> {team.id}; {chosen_pick.why}"
    if chosen_pick.engineer_id is None:
        return DispatchPlan(
            facts=facts,
            routing=routing,
            team=team,
            pick=chosen_pick,
            answer=OwnerAnswer(team_id=team.id, why=why),
        )
    name = next(c.name for c in chosen_pick.considered if c.engineer_id == chosen_pick.engineer_id)
    owner = _choice(chosen_pick.engineer_id, name, query.tier, team, why)
    return DispatchPlan(
        facts=facts,
        routing=routing,
        team=team,
        pick=chosen_pick,
        answer=OwnerAnswer(owner=owner, team_id=team.id, why=why),
    )


def _choice(engineer_id: str, name: str, tier: Tier, team: TeamProfile, why: str) -> OwnerChoice:
    return OwnerChoice(
        engineer_id=engineer_id,
        engineer_name=name,
        tier=tier,
        team_id=team.id,
        why=why[:2000],
        offer_timeout=team.offer_timeout,
    )


# --- round-robin cursors and stored choices ----------------------------------------------------


async def locked_cursor(session: AsyncSession, team_id: str) -> str | None:
    """The team's cursor, locked until the transaction ends (PostgreSQL: FOR UPDATE; SQLite
    takes the write lock at the insert), so two choices never take the same turn."""
    await insert_if_absent(
        session,
        RoundRobinCursorRow,
        {"team_id": team_id, "last_engineer_id": None, "updated_at": utcnow()},
        [RoundRobinCursorRow.team_id],
    )
    query = sa.select(RoundRobinCursorRow.last_engineer_id).where(
        RoundRobinCursorRow.team_id == team_id
    )
    if dialect_name(session) == "postgresql":
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def advance_cursor(session: AsyncSession, team_id: str, engineer_id: str) -> None:
    await session.execute(
        sa.update(RoundRobinCursorRow)
        .where(RoundRobinCursorRow.team_id == team_id)
        .values(last_engineer_id=engineer_id, updated_at=utcnow())
    )


async def cursor_of(session: AsyncSession, team_id: str) -> str | None:
    """The cursor without locking it (dry run, views)."""
    return await session.scalar(
        sa.select(RoundRobinCursorRow.last_engineer_id).where(
            RoundRobinCursorRow.team_id == team_id
        )
    )


async def stored_choice(session: AsyncSession, key: str) -> OwnerAnswer | None:
    answer = await session.scalar(sa.select(OwnerChoiceRow.answer).where(OwnerChoiceRow.key == key))
    return None if answer is None else OwnerAnswer.model_validate(answer)


async def store_choice(session: AsyncSession, key: str, issue_id: str, answer: OwnerAnswer) -> bool:
    """Remember the activity's answer; False when another attempt stored one first."""
    added = await insert_if_absent(
        session,
        OwnerChoiceRow,
        {
            "key": key,
            "issue_id": issue_id,
            "answer": answer.model_dump(mode="json"),
            "chosen_at": utcnow(),
        },
        [OwnerChoiceRow.key],
    )
    return added == 1


async def choose_owner(session: AsyncSession, key: str, query: OwnerQuery) -> OwnerAnswer:
    """The owner-choice activity's transaction: the answer stored for this activity identity,
    else plan, advance the round-robin cursor and store the answer, all in `session`'s
    transaction (a retry of the same activity answers the same and advances nothing).
    Raises ChoiceRace when a concurrent attempt stored its answer first."""
    stored = await stored_choice(session, key)
    if stored is not None:
        return stored
    plan = await plan_owner(session, query, lock_cursor=True, explain=False)
    turn = plan.pick.engineer_id if plan.pick is not None else None
    if (
        plan.team is not None
        and plan.team.strategy == AssignmentStrategy.ROUND_ROBIN
        and plan.substitute is None
        and turn is not None
    ):
        await advance_cursor(session, plan.team.id, turn)
    if not await store_choice(session, key, query.issue_id, plan.answer):
        raise ChoiceRace(key)
    return plan.answer


class ChoiceRace(RuntimeError):
    """Another attempt of the same activity stored its answer first: roll back and read it."""


# --- routing rules and defaults as data (admin) ------------------------------------------------


async def list_rule_rows(session: AsyncSession) -> list[RoutingRuleRow]:
    result = await session.scalars(
        sa.select(RoutingRuleRow).order_by(RoutingRuleRow.position, RoutingRuleRow.id)
    )
    return list(result)


async def get_rule_row(session: AsyncSession, rule_id: str) -> RoutingRuleRow | None:
    return await session.get(RoutingRuleRow, rule_id, populate_existing=True)


async def save_rule(
    session: AsyncSession,
    rule_id: str,
    name: str,
    position: int,
    criteria: dict[str, Any],
    teams: dict[str, str],
    *,
    create: bool,
) -> RoutingRuleRow:
    """Create the rule (create=True; a duplicate id fails at flush) or rewrite it."""
    values = {
        "name": name,
        "position": position,
        "criteria": criteria,
        "teams": teams,
        "updated_at": utcnow(),
    }
    if create:
        row = RoutingRuleRow(id=rule_id, **values)
        session.add(row)
        await session.flush()
        return row
    await session.execute(
        sa.update(RoutingRuleRow).where(RoutingRuleRow.id == rule_id).values(**values)
    )
    found = await get_rule_row(session, rule_id)
    assert found is not None
    return found


async def delete_rule(session: AsyncSession, rule_id: str) -> bool:
    result = await session.execute(sa.delete(RoutingRuleRow).where(RoutingRuleRow.id == rule_id))
    return bool(getattr(result, "rowcount", 0))


async def rules_naming_team(session: AsyncSession, team_id: str) -> list[str]:
    """Rules that route to the team (a team they name cannot be deleted)."""
    return [rule.id for rule in await load_rules(session) if team_id in rule.teams.values()]


async def set_default(session: AsyncSession, tier: Tier, team_id: str) -> None:
    await session.execute(sa.delete(RoutingDefaultRow).where(RoutingDefaultRow.tier == tier))
    session.add(RoutingDefaultRow(tier=tier, team_id=team_id))
    await session.flush()


async def delete_default(session: AsyncSession, tier: Tier) -> bool:
    result = await session.execute(
        sa.delete(RoutingDefaultRow).where(RoutingDefaultRow.tier == tier)
    )
    return bool(getattr(result, "rowcount", 0))
