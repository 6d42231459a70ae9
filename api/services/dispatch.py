"""Dispatch use cases behind the routes: routing rules and defaults (admin), the dry run,
and the work views (my issues, a team's queue and workload, an engineer's issues).

Every rule names teams that exist at the tier it routes for, and products and
organisations that exist; each refusal is a 422 at the field's path. The dry run answers
what the owner-choice activity would decide now, without writing (no cursor advances).
"""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.errors import conflict, invalid, not_found
from api.schemas import (
    DryRunBody,
    DryRunRead,
    DryRunTeam,
    EngineerConsidered,
    IssuePage,
    RoutingDefaultBody,
    RoutingDefaultRead,
    RoutingRuleCreate,
    RoutingRuleFields,
    RoutingRuleRead,
    RuleConsidered,
    RuleCriteriaBody,
    TeamWorkload,
    WorkloadEntry,
)
from api.services.issues import issue_view
from api.services.reference import _writing
from db.models import RoutingRuleRow
from db.repositories import dispatch as repo
from db.repositories import issues as issue_repo
from db.repositories import reference as reference_repo
from domain.dispatch import RuleCriteria
from domain.enums import Tier
from domain.models import OwnerQuery

# --- routing rules ------------------------------------------------------------------------


def _rule_read(row: RoutingRuleRow) -> RoutingRuleRead:
    return RoutingRuleRead(
        id=row.id,
        name=row.name,
        position=row.position,
        criteria=RuleCriteriaBody.model_validate(row.criteria or {}),
        teams=dict(sorted((row.teams or {}).items())),
        updated_at=row.updated_at,
    )


async def list_rules(session: AsyncSession) -> list[RoutingRuleRead]:
    return [_rule_read(r) for r in await repo.list_rule_rows(session)]


async def get_rule(session: AsyncSession, rule_id: str) -> RoutingRuleRead:
    row = await repo.get_rule_row(session, rule_id)
    if row is None:
        raise not_found(f"routing rule {rule_id}")
    return _rule_read(row)


async def _team_at(session: AsyncSession, field: str, team_id: str, tier: Tier | None) -> Tier:
    team = await reference_repo.get_team(session, team_id)
    if team is None:
        raise invalid(field, f"unknown team '{team_id}'")
    if tier is not None and team.tier != tier:
        raise invalid(
            field, f"team '{team_id}' is a tier-{int(team.tier)} team, not tier {int(tier)}"
        )
    return team.tier


async def _targets(session: AsyncSession, body: RoutingRuleFields) -> dict[str, str]:
    """The team per tier: `teams` checked tier by tier, or `team_id` for its own tier."""
    if body.team_id is not None and body.teams:
        raise invalid("body.team_id", "give teams (per tier) or team_id, not both")
    if body.team_id is not None:
        own_tier = await _team_at(session, "body.team_id", body.team_id, None)
        return {str(int(own_tier)): body.team_id}
    if not body.teams:
        raise invalid("body.teams", "name a target team for at least one tier (or team_id)")
    for tier, team_id in sorted(body.teams.items()):
        await _team_at(session, f"body.teams.{tier}", team_id, Tier(int(tier)))
    return dict(sorted(body.teams.items()))


async def _check_criteria(session: AsyncSession, criteria: RuleCriteriaBody) -> dict[str, Any]:
    for index, product_id in enumerate(criteria.products):
        if await reference_repo.get_product(session, product_id) is None:
            raise invalid(f"body.criteria.products.{index}", f"unknown product '{product_id}'")
    for index, organisation_id in enumerate(criteria.organisations):
        if await reference_repo.get_organisation(session, organisation_id) is None:
            raise invalid(
                f"body.criteria.organisations.{index}", f"unknown organisation '{organisation_id}'"
            )
    # Through the domain's own model: what is stored is exactly what routing reads.
    domain = RuleCriteria.model_validate(criteria.model_dump())
    return domain.model_dump(mode="json")


async def create_rule(session: AsyncSession, body: RoutingRuleCreate) -> RoutingRuleRead:
    if await repo.get_rule_row(session, body.id) is not None:
        raise conflict(f"routing rule '{body.id}' already exists")
    teams = await _targets(session, body)
    criteria = await _check_criteria(session, body.criteria)
    async with _writing(session, f"routing rule '{body.id}'"):
        row = await repo.save_rule(
            session, body.id, body.name, body.position, criteria, teams, create=True
        )
    return _rule_read(row)


async def update_rule(
    session: AsyncSession, rule_id: str, body: RoutingRuleFields
) -> RoutingRuleRead:
    if await repo.get_rule_row(session, rule_id) is None:
        raise not_found(f"routing rule {rule_id}")
    teams = await _targets(session, body)
    criteria = await _check_criteria(session, body.criteria)
    async with _writing(session, f"routing rule '{rule_id}'"):
        row = await repo.save_rule(
            session, rule_id, body.name, body.position, criteria, teams, create=False
        )
    return _rule_read(row)


async def delete_rule(session: AsyncSession, rule_id: str) -> None:
    async with _writing(session, f"routing rule '{rule_id}'"):
        deleted = await repo.delete_rule(session, rule_id)
    if not deleted:
        raise not_found(f"routing rule {rule_id}")


async def list_defaults(session: AsyncSession) -> list[RoutingDefaultRead]:
    defaults = await repo.load_defaults(session)
    return [RoutingDefaultRead(tier=t, team_id=defaults[t]) for t in sorted(defaults)]


async def set_default(
    session: AsyncSession, tier: Tier, body: RoutingDefaultBody
) -> RoutingDefaultRead:
    await _team_at(session, "body.team_id", body.team_id, tier)
    async with _writing(session, f"default team of tier {int(tier)}"):
        await repo.set_default(session, tier, body.team_id)
    return RoutingDefaultRead(tier=tier, team_id=body.team_id)


async def delete_default(session: AsyncSession, tier: Tier) -> None:
    async with _writing(session, f"default team of tier {int(tier)}"):
        deleted = await repo.delete_default(session, tier)
    if not deleted:
        raise not_found(f"default team of tier {int(tier)}")


# --- dry run --------------------------------------------------------------------------------


async def _dry_run_query(session: AsyncSession, body: DryRunBody) -> OwnerQuery:
    extra = {
        "exclude_engineer_ids": tuple(body.exclude_engineer_ids),
        "team_id": body.team_id,
        "substitute_for": body.substitute_for,
    }
    if body.team_id is not None and await reference_repo.get_team(session, body.team_id) is None:
        raise invalid("body.team_id", f"unknown team '{body.team_id}'")
    if body.issue_id is not None:
        row = await issue_repo.get_issue(session, body.issue_id)
        if row is None:
            raise not_found(f"issue {body.issue_id}")
        return OwnerQuery(
            issue_id=row.id,
            product_id=body.product_id or row.product_id,
            tier=body.tier or row.tier,
            organisation_id=body.organisation_id or row.organisation_id,
            category=body.category or row.category,
            severity=body.severity or row.severity,
            service_mode=body.service_mode or row.service_mode,
            channel=body.channel or row.channel,
            **extra,
        )
    if body.product_id is None:
        raise invalid("body.product_id", "required unless issue_id is given")
    if await reference_repo.get_product(session, body.product_id) is None:
        raise invalid("body.product_id", f"unknown product '{body.product_id}'")
    if (
        body.organisation_id is not None
        and await reference_repo.get_organisation(session, body.organisation_id) is None
    ):
        raise invalid("body.organisation_id", f"unknown organisation '{body.organisation_id}'")
    return OwnerQuery(
        issue_id="dry-run",
        product_id=body.product_id,
        tier=body.tier or Tier.FRONTLINE,
        organisation_id=body.organisation_id,
        category=body.category,
        severity=body.severity,
        service_mode=body.service_mode,
        channel=body.channel,
        **extra,
    )


async def dry_run(session: AsyncSession, body: DryRunBody) -> DryRunRead:
    """Who would get the issue now, and why; nothing is written."""
    query = await _dry_run_query(session, body)
    plan = await repo.plan_owner(session, query)
    await session.commit()
    owner = plan.answer.owner
    chosen = owner.engineer_id if owner else None
    team = plan.team
    return DryRunRead(
        facts=plan.facts.model_dump(mode="json"),
        rules=[RuleConsidered(**v.model_dump()) for v in plan.routing.verdicts],
        routing=plan.routing.why,
        team=DryRunTeam(
            id=team.id,
            name=team.name,
            tier=team.tier,
            strategy=team.strategy,
            offer_timeout_minutes=(
                int(team.offer_timeout.total_seconds() // 60) if team.offer_timeout else None
            ),
        )
        if team
        else None,
        engineers=[
            EngineerConsidered(**e.model_dump(), chosen=e.engineer_id == chosen)
            for e in (plan.pick.considered if plan.pick else ())
        ],
        strategy=plan.pick.why if plan.pick else None,
        substitute_id=plan.substitute.engineer_id if plan.substitute else None,
        owner_id=chosen,
        owner_name=owner.engineer_name if owner else None,
        why=plan.answer.why,
    )


# --- work views -------------------------------------------------------------------------------


async def _page(
    session: AsyncSession,
    principal: Principal,
    filters: issue_repo.IssueFilters,
    cursor: str | None,
    limit: int,
) -> IssuePage:
    try:
        rows, next_cursor = await issue_repo.list_issues(
            session, filters, issue_repo.IssueSort.NEXT_DEADLINE_ASC, cursor, limit
        )
    except issue_repo.InvalidCursor as exc:
        raise invalid("query.cursor", str(exc)) from None
    return IssuePage(items=[issue_view(r, principal) for r in rows], next_cursor=next_cursor)


async def my_issues(
    session: AsyncSession, principal: Principal, cursor: str | None, limit: int
) -> IssuePage:
    """The caller's open issues, the next SLA deadline first (none for a token that is not
    an engineer's)."""
    if principal.engineer_id is None:
        return IssuePage(items=[], next_cursor=None)
    filters = issue_repo.IssueFilters(owner_id=principal.engineer_id, open_only=True)
    return await _page(session, principal, filters, cursor, limit)


async def team_queue(
    session: AsyncSession,
    principal: Principal,
    team_id: str,
    assigned: bool | None,
    cursor: str | None,
    limit: int,
) -> IssuePage:
    """The team's open issues, unassigned and assigned (or one of them), most urgent first."""
    if await reference_repo.get_team(session, team_id) is None:
        raise not_found(f"team {team_id}")
    filters = issue_repo.IssueFilters(team_id=team_id, open_only=True, owned=assigned)
    return await _page(session, principal, filters, cursor, limit)


async def engineer_issues(
    session: AsyncSession,
    principal: Principal,
    engineer_id: str,
    include_closed: bool,
    cursor: str | None,
    limit: int,
) -> IssuePage:
    if await reference_repo.get_engineer(session, engineer_id) is None:
        raise not_found(f"engineer {engineer_id}")
    filters = issue_repo.IssueFilters(owner_id=engineer_id, open_only=not include_closed)
    return await _page(session, principal, filters, cursor, limit)


async def team_workload(session: AsyncSession, team_id: str) -> TeamWorkload:
    """Each engineer taking the team's issues: open issues, what dispatch counts, capacity."""
    team = await repo.team_profile(session, team_id)
    if team is None:
        raise not_found(f"team {team_id}")
    candidates = await repo.team_candidates(session, team_id, team.load_counts_running_only)
    open_issues = await repo.load_by_owner(
        session, [c.engineer_id for c in candidates], running_only=False
    )
    return TeamWorkload(
        team_id=team_id,
        load_counts_running_only=team.load_counts_running_only,
        engineers=[
            WorkloadEntry(
                engineer_id=c.engineer_id,
                name=c.name,
                presence=c.presence,
                capacity=c.capacity,
                open_issues=open_issues.get(c.engineer_id, 0),
                counted_load=c.load,
                free=max(c.capacity - c.load, 0),
            )
            for c in candidates
        ],
    )
