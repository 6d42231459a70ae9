"""Dispatch rules: which team an issue goes to (routing rules as data) and which of its
engineers owns it (the team's assignment strategy).

Pure: the activity loads rules, engineers and loads, this module decides and says why, so
the decision is unit- and property-tested and the dry run explains exactly what the
activity would do. An empty criterion or an engineer who declares no skills or languages
means "any": data written before routing existed keeps dispatching.
"""

from collections.abc import Iterable, Sequence

from pydantic import Field

from domain.enums import (
    AssignmentStrategy,
    Category,
    Channel,
    ContractLevel,
    Presence,
    ServiceMode,
    Severity,
    Tier,
)
from domain.models import Contract

CRITERIA: tuple[str, ...] = (
    "products",
    "categories",
    "severities",
    "organisations",
    "contract_levels",
    "regions",
    "service_modes",
    "languages",
    "channels",
)
"""The criteria a rule may name, in the order they are checked (and reported)."""

_FACT_OF: dict[str, str] = {
    "products": "product_id",
    "categories": "category",
    "severities": "severity",
    "organisations": "organisation_id",
    "contract_levels": "contract_level",
    "regions": "region",
    "service_modes": "service_mode",
    "languages": "language",
    "channels": "channel",
}

PRESENCE_RANK: dict[Presence, int] = {Presence.AVAILABLE: 0, Presence.AWAY: 1}
"""Available engineers before away ones; off-duty engineers have no rank: never chosen."""


class RuleCriteria(Contract):
    """What an issue must be for a rule to take it: each list is "any of", empty is any."""

    products: tuple[str, ...] = ()
    categories: tuple[Category, ...] = ()
    severities: tuple[Severity, ...] = ()
    organisations: tuple[str, ...] = ()
    contract_levels: tuple[ContractLevel, ...] = ()
    regions: tuple[str, ...] = ()
    service_modes: tuple[ServiceMode, ...] = ()
    languages: tuple[str, ...] = ()
    channels: tuple[Channel, ...] = ()


class RoutingRule(Contract):
    """One ordered rule: the first whose criteria all hold names the team for the tier."""

    id: str
    position: int
    criteria: RuleCriteria = RuleCriteria()
    # The team per tier; a rule without a team for the issue's tier does not take it.
    teams: dict[Tier, str] = Field(default_factory=dict)


class IssueFacts(Contract):
    """What routing knows about the issue; None is unknown (older histories, no contract)."""

    product_id: str
    tier: Tier
    category: Category | None = None
    severity: Severity | None = None
    organisation_id: str | None = None
    contract_level: ContractLevel | None = None
    region: str | None = None
    service_mode: ServiceMode | None = None
    language: str | None = None
    channel: Channel | None = None


class RuleVerdict(Contract):
    """How one rule fared: matched, or the first criterion that failed."""

    rule_id: str
    position: int
    matched: bool
    failed: str | None = None
    team_id: str | None = None


class Routing(Contract):
    """The team routing chose (None: nobody at all), how, and every rule's verdict."""

    team_id: str | None
    rule_id: str | None = None
    why: str
    verdicts: tuple[RuleVerdict, ...] = ()


def first_failing_criterion(criteria: RuleCriteria, facts: IssueFacts) -> str | None:
    """The first criterion the issue does not meet ("severities: 3 not in [1, 2]"), or None.

    An unknown fact never meets a criterion that names values: a rule for severities 1-2
    does not take an issue whose severity nobody told us."""
    for name in CRITERIA:
        allowed: tuple[object, ...] = getattr(criteria, name)
        if not allowed:
            continue
        value = getattr(facts, _FACT_OF[name])
        if value not in allowed:
            shown = ", ".join(str(_plain(v)) for v in allowed)
            return f"{name}: {_plain(value) if value is not None else 'unknown'} not in [{shown}]"
    return None


def matches(criteria: RuleCriteria, facts: IssueFacts) -> bool:
    """Whether every criterion holds (`first_failing_criterion` is None), without saying why."""
    for name in CRITERIA:
        allowed: tuple[object, ...] = getattr(criteria, name)
        if allowed and getattr(facts, _FACT_OF[name]) not in allowed:
            return False
    return True


def _plain(value: object) -> object:
    return value.value if hasattr(value, "value") else value


def route(
    rules: Sequence[RoutingRule],
    facts: IssueFacts,
    defaults: dict[Tier, str],
    product_teams: Sequence[str] = (),
    *,
    explain: bool = True,
) -> Routing:
    """The team for the issue at its tier: the first matching rule (by position, then id),
    else the tier's default team, else the first team at the tier linked to the product
    (how issues were routed before rules existed). Without explain the rules after the
    first match are not looked at and no verdicts are kept (the owner-choice activity)."""
    verdicts: list[RuleVerdict] = []
    chosen: RuleVerdict | None = None
    for rule in sorted(rules, key=lambda r: (r.position, r.id)):
        if not explain and not matches(rule.criteria, facts):
            continue
        failed = first_failing_criterion(rule.criteria, facts)
        team_id = rule.teams.get(facts.tier)
        if failed is None and team_id is None:
            failed = f"teams: no team for tier {int(facts.tier)}"
        if failed is None and chosen is not None:
            failed = f"not reached: rule {chosen.rule_id} matched first"
        verdict = RuleVerdict(
            rule_id=rule.id,
            position=rule.position,
            matched=failed is None,
            failed=failed,
            team_id=team_id if failed is None else None,
        )
        if verdict.matched:
            chosen = verdict
            if not explain:
                break
        if explain:
            verdicts.append(verdict)
    if chosen is not None:
        return Routing(
            team_id=chosen.team_id,
            rule_id=chosen.rule_id,
            why=f"rule {chosen.rule_id}",
            verdicts=tuple(verdicts),
        )
    default = defaults.get(facts.tier)
    if default is not None:
        return Routing(
            team_id=default,
            why=f"default team for tier {int(facts.tier)}",
            verdicts=tuple(verdicts),
        )
    if product_teams:
        return Routing(
            team_id=sorted(product_teams)[0],
            why=f"team supporting {facts.product_id} at tier {int(facts.tier)}",
            verdicts=tuple(verdicts),
        )
    return Routing(
        team_id=None,
        why=f"no rule, default or team for {facts.product_id} at tier {int(facts.tier)}",
        verdicts=tuple(verdicts),
    )


# --- engineers ---------------------------------------------------------------------------------


class Candidate(Contract):
    """An engineer as dispatch sees them: presence, capacity, what they own, what they know."""

    engineer_id: str
    name: str
    presence: Presence = Presence.AVAILABLE
    capacity: int = Field(default=10, ge=0)
    load: int = Field(default=0, ge=0)
    skills: dict[str, int] = Field(default_factory=dict)
    languages: tuple[str, ...] = ()
    substitute_id: str | None = None


class Demand(Contract):
    """What the issue needs from its owner."""

    skill: str
    language: str | None = None
    exclude: tuple[str, ...] = ()


class Eligibility(Contract):
    """One engineer considered: eligible, or why not."""

    engineer_id: str
    name: str
    eligible: bool
    why: str
    load: int
    capacity: int
    presence: Presence
    skill_level: int | None = None


class Pick(Contract):
    """The strategy's answer: the engineer (None when nobody is eligible) and why."""

    engineer_id: str | None
    why: str
    considered: tuple[Eligibility, ...] = ()
    cursor: str | None = None  # round robin: the cursor after this pick


def skill_level(candidate: Candidate, skill: str) -> int | None:
    return candidate.skills.get(skill)


def eligibility(candidate: Candidate, demand: Demand) -> Eligibility:
    """Whether the engineer may own the issue now, with the first reason they may not."""
    level = skill_level(candidate, demand.skill)
    reason: str | None = None
    if candidate.engineer_id in demand.exclude:
        reason = "excluded (declined, timed out or previous owner)"
    elif candidate.presence == Presence.OFF_DUTY:
        reason = "off duty"
    elif candidate.load >= candidate.capacity:
        reason = f"at capacity ({candidate.load}/{candidate.capacity})"
    elif candidate.skills and not level:
        reason = f"no {demand.skill} skill"
    elif (
        demand.language is not None
        and candidate.languages
        and demand.language not in candidate.languages
    ):
        reason = f"does not speak {demand.language}"
    return Eligibility(
        engineer_id=candidate.engineer_id,
        name=candidate.name,
        eligible=reason is None,
        why=reason or f"{candidate.presence.value}, {candidate.load}/{candidate.capacity} open",
        load=candidate.load,
        capacity=candidate.capacity,
        presence=candidate.presence,
        skill_level=level,
    )


def pick(
    strategy: AssignmentStrategy,
    candidates: Iterable[Candidate],
    demand: Demand,
    cursor: str | None = None,
) -> Pick:
    """The team's strategy applied to its eligible engineers; ties broken by engineer id.

    least_loaded: fewest open issues. round_robin: the next engineer by id after the cursor
    (the last one picked), wrapping, so every eligible engineer gets one before anyone gets
    a second. skills_weighted: highest skill level for the product, then least loaded.
    Available engineers always come before away ones."""
    by_id = {c.engineer_id: c for c in candidates}
    considered = tuple(eligibility(by_id[i], demand) for i in sorted(by_id))
    eligible = [by_id[e.engineer_id] for e in considered if e.eligible]
    if not eligible:
        return Pick(
            engineer_id=None, why="no eligible engineer", considered=considered, cursor=cursor
        )
    best_rank = min(PRESENCE_RANK[c.presence] for c in eligible)
    pool = [c for c in eligible if PRESENCE_RANK[c.presence] == best_rank]
    presence = "available" if best_rank == 0 else "away (nobody available)"
    if strategy == AssignmentStrategy.ROUND_ROBIN:
        ordered = sorted(pool, key=lambda c: c.engineer_id)
        after = [c for c in ordered if cursor is not None and c.engineer_id > cursor]
        chosen = (after or ordered)[0]
        why = f"round robin after {cursor}" if cursor else "round robin, first turn"
        return Pick(
            engineer_id=chosen.engineer_id,
            why=f"{why}, {presence}",
            considered=considered,
            cursor=chosen.engineer_id,
        )
    if strategy == AssignmentStrategy.SKILLS_WEIGHTED:
        chosen = min(
            pool,
            key=lambda c: (-(skill_level(c, demand.skill) or 0), c.load, c.engineer_id),
        )
        level = skill_level(chosen, demand.skill) or 0
        why = f"skills weighted: {demand.skill} level {level}, {chosen.load} open, {presence}"
        return Pick(engineer_id=chosen.engineer_id, why=why, considered=considered, cursor=cursor)
    chosen = min(pool, key=lambda c: (c.load, c.engineer_id))
    why = f"least loaded: {chosen.load}/{chosen.capacity} open, {presence}"
    return Pick(engineer_id=chosen.engineer_id, why=why, considered=considered, cursor=cursor)


def substitute_first(
    absent: Candidate | None, substitute: Candidate | None, demand: Demand
) -> Eligibility | None:
    """The off-duty engineer's substitute, when they are eligible for the issue (None when
    there is no substitute or they cannot take it: the team's strategy decides then)."""
    if absent is None or substitute is None or absent.substitute_id != substitute.engineer_id:
        return None
    verdict = eligibility(substitute, demand)
    return verdict if verdict.eligible else None
