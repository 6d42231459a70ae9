"""Routing rules and assignment strategies: each criterion, rule order, defaults, and the
fairness properties every strategy keeps (hypothesis)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.dispatch import (
    CRITERIA,
    Candidate,
    Demand,
    IssueFacts,
    RoutingRule,
    RuleCriteria,
    first_failing_criterion,
    pick,
    route,
    substitute_first,
)
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

FACTS = IssueFacts(
    product_id="edge-router",
    tier=Tier.FRONTLINE,
    category=Category.INCIDENT,
    severity=Severity.MAJOR,
    organisation_id="acme",
    contract_level=ContractLevel.PREMIUM,
    region="eu",
    service_mode=ServiceMode.REMOTE,
    language="en",
    channel=Channel.PORTAL,
)

# For each criterion: a list the facts above meet, and one they do not.
MEETS_AND_MISSES: dict[str, tuple[tuple[object, ...], tuple[object, ...]]] = {
    "products": (("edge-router", "x"), ("storage-array",)),
    "categories": ((Category.INCIDENT,), (Category.QUESTION,)),
    "severities": ((Severity.CRITICAL, Severity.MAJOR), (Severity.LOW,)),
    "organisations": (("acme",), ("globex",)),
    "contract_levels": ((ContractLevel.PREMIUM,), (ContractLevel.BASIC,)),
    "regions": (("eu", "us"), ("apac",)),
    "service_modes": ((ServiceMode.REMOTE,), (ServiceMode.ON_SITE,)),
    "languages": (("en",), ("de",)),
    "channels": ((Channel.PORTAL, Channel.EMAIL), (Channel.PHONE,)),
}


def rule(rule_id: str, position: int, team: str = "t1", **criteria: object) -> RoutingRule:
    return RoutingRule(
        id=rule_id,
        position=position,
        criteria=RuleCriteria.model_validate(criteria),
        teams={Tier.FRONTLINE: team},
    )


def test_every_criterion_is_covered_by_the_table_below() -> None:
    assert set(MEETS_AND_MISSES) == set(CRITERIA)


@pytest.mark.parametrize("criterion", CRITERIA)
def test_a_rule_matches_on_each_criterion_and_names_it_when_it_fails(criterion: str) -> None:
    meets, misses = MEETS_AND_MISSES[criterion]
    assert first_failing_criterion(RuleCriteria.model_validate({criterion: meets}), FACTS) is None
    failed = first_failing_criterion(RuleCriteria.model_validate({criterion: misses}), FACTS)
    assert failed is not None and failed.startswith(f"{criterion}:")


def test_an_empty_criterion_matches_anything_and_an_unknown_fact_matches_no_list() -> None:
    assert first_failing_criterion(RuleCriteria(), FACTS) is None
    old = IssueFacts(product_id="edge-router", tier=Tier.FRONTLINE)  # a pre-routing query
    assert first_failing_criterion(RuleCriteria(products=("edge-router",)), old) is None
    failed = first_failing_criterion(RuleCriteria(severities=(Severity.MAJOR,)), old)
    assert failed == "severities: unknown not in [2]"


def test_the_first_failing_criterion_is_reported_in_criteria_order() -> None:
    criteria = RuleCriteria(products=("storage-array",), regions=("apac",))
    assert (first_failing_criterion(criteria, FACTS) or "").startswith("products:")


def test_rules_are_tried_by_position_and_the_first_match_wins() -> None:
    rules = [
        rule("late", 30, team="t-late"),
        rule("miss", 10, team="t-miss", regions=("apac",)),
        rule("first", 20, team="t-first", products=("edge-router",)),
    ]
    routing = route(rules, FACTS, defaults={Tier.FRONTLINE: "t-default"})
    assert (routing.team_id, routing.rule_id) == ("t-first", "first")
    assert [(v.rule_id, v.matched) for v in routing.verdicts] == [
        ("miss", False),
        ("first", True),
        ("late", False),
    ]
    assert routing.verdicts[0].failed == "regions: eu not in [apac]"
    assert routing.verdicts[2].failed == "not reached: rule first matched first"


def test_a_rule_without_a_team_for_the_tier_does_not_take_the_issue() -> None:
    expert = FACTS.model_copy(update={"tier": Tier.EXPERT})
    routing = route([rule("t1-only", 1)], expert, defaults={Tier.EXPERT: "t2"})
    assert routing.team_id == "t2" and routing.verdicts[0].failed == "teams: no team for tier 2"


def test_the_default_team_catches_what_no_rule_took_then_the_product_team() -> None:
    miss = [rule("miss", 1, regions=("apac",))]
    assert route(miss, FACTS, defaults={Tier.FRONTLINE: "t-default"}).team_id == "t-default"
    by_product = route(miss, FACTS, defaults={}, product_teams=("t1b", "t1a"))
    assert by_product.team_id == "t1a" and "supporting edge-router" in by_product.why
    nobody = route(miss, FACTS, defaults={})
    assert nobody.team_id is None


# --- strategies ---------------------------------------------------------------------------------

DEMAND = Demand(skill="edge-router", language="en")


def engineer(engineer_id: str, **fields: object) -> Candidate:
    return Candidate.model_validate({"engineer_id": engineer_id, "name": engineer_id, **fields})


def test_least_loaded_picks_the_fewest_open_issues_ties_by_id() -> None:
    team = [engineer("b", load=1), engineer("c", load=0), engineer("a", load=0)]
    chosen = pick(AssignmentStrategy.LEAST_LOADED, team, DEMAND)
    assert chosen.engineer_id == "a" and chosen.why.startswith("least loaded: 0/10")


def test_ineligible_engineers_are_named_with_the_reason() -> None:
    team = [
        engineer("full", load=3, capacity=3),
        engineer("gone", presence=Presence.OFF_DUTY),
        engineer("storage", skills={"storage-array": 5}),
        engineer("german", languages=("de",)),
        engineer("declined"),
        engineer("ok", skills={"edge-router": 1}, languages=("en", "fr")),
    ]
    demand = DEMAND.model_copy(update={"exclude": ("declined",)})
    chosen = pick(AssignmentStrategy.LEAST_LOADED, team, demand)
    reasons = {e.engineer_id: e.why for e in chosen.considered if not e.eligible}
    assert chosen.engineer_id == "ok"
    assert reasons == {
        "full": "at capacity (3/3)",
        "gone": "off duty",
        "storage": "no edge-router skill",
        "german": "does not speak en",
        "declined": "excluded (declined, timed out or previous owner)",
    }


def test_away_engineers_get_work_only_when_nobody_is_available() -> None:
    team = [engineer("a", presence=Presence.AWAY), engineer("b", load=5)]
    assert pick(AssignmentStrategy.LEAST_LOADED, team, DEMAND).engineer_id == "b"
    away_only = [engineer("a", presence=Presence.AWAY), engineer("b", presence=Presence.OFF_DUTY)]
    chosen = pick(AssignmentStrategy.ROUND_ROBIN, away_only, DEMAND)
    assert chosen.engineer_id == "a" and "away (nobody available)" in chosen.why


def test_skills_weighted_prefers_the_highest_level_and_load_breaks_ties() -> None:
    team = [
        engineer("a", skills={"edge-router": 3}),
        engineer("b", skills={"edge-router": 5}, load=4),
        engineer("c", skills={"edge-router": 5}, load=2),
    ]
    chosen = pick(AssignmentStrategy.SKILLS_WEIGHTED, team, DEMAND)
    assert chosen.engineer_id == "c" and "level 5" in chosen.why


def test_round_robin_takes_the_next_id_after_the_cursor_and_wraps() -> None:
    team = [engineer("a"), engineer("b"), engineer("c")]
    assert pick(AssignmentStrategy.ROUND_ROBIN, team, DEMAND, cursor="a").engineer_id == "b"
    assert pick(AssignmentStrategy.ROUND_ROBIN, team, DEMAND, cursor="c").engineer_id == "a"
    assert pick(AssignmentStrategy.ROUND_ROBIN, team, DEMAND).cursor == "a"


def test_nobody_eligible_is_no_pick() -> None:
    chosen = pick(AssignmentStrategy.LEAST_LOADED, [engineer("a", capacity=0)], DEMAND)
    assert chosen.engineer_id is None and chosen.why == "no eligible engineer"


def test_the_substitute_comes_first_only_when_eligible() -> None:
    absent = engineer("a", presence=Presence.OFF_DUTY, substitute_id="s")
    assert substitute_first(absent, engineer("s"), DEMAND) is not None
    assert substitute_first(absent, engineer("s", load=10), DEMAND) is None
    assert substitute_first(absent, engineer("other"), DEMAND) is None


# --- properties --------------------------------------------------------------------------------

candidates = st.lists(
    st.builds(
        Candidate,
        engineer_id=st.sampled_from([f"e{i:02d}" for i in range(12)]),
        name=st.just("n"),
        presence=st.sampled_from(list(Presence)),
        capacity=st.integers(0, 5),
        load=st.integers(0, 6),
        skills=st.dictionaries(st.sampled_from(["edge-router", "bgp"]), st.integers(1, 5)),
        languages=st.lists(st.sampled_from(["en", "de"]), max_size=2, unique=True).map(tuple),
    ),
    max_size=10,
    unique_by=lambda c: c.engineer_id,
)
strategies = st.sampled_from(list(AssignmentStrategy))


@settings(max_examples=300, deadline=None)
@given(team=candidates, strategy=strategies, cursor=st.none() | st.sampled_from(["e03", "e99"]))
def test_no_strategy_picks_an_off_duty_or_full_engineer_and_all_are_deterministic(
    team: list[Candidate], strategy: AssignmentStrategy, cursor: str | None
) -> None:
    chosen = pick(strategy, team, DEMAND, cursor)
    assert chosen == pick(strategy, list(reversed(team)), DEMAND, cursor)
    if chosen.engineer_id is None:
        assert not any(e.eligible for e in chosen.considered)
        return
    picked = next(c for c in team if c.engineer_id == chosen.engineer_id)
    assert picked.presence != Presence.OFF_DUTY
    assert picked.load < picked.capacity
    if any(e.eligible and e.presence == Presence.AVAILABLE for e in chosen.considered):
        assert picked.presence == Presence.AVAILABLE


@settings(max_examples=300, deadline=None)
@given(team=candidates)
def test_least_loaded_really_picks_a_least_loaded_eligible_engineer(team: list[Candidate]) -> None:
    chosen = pick(AssignmentStrategy.LEAST_LOADED, team, DEMAND)
    pool = [e for e in chosen.considered if e.eligible]
    if not pool:
        return
    best = min(0 if e.presence == Presence.AVAILABLE else 1 for e in pool)
    pool = [e for e in pool if (0 if e.presence == Presence.AVAILABLE else 1) == best]
    picked = next(e for e in pool if e.engineer_id == chosen.engineer_id)
    assert picked.load == min(e.load for e in pool)


@settings(max_examples=200, deadline=None)
@given(team=candidates, rounds=st.integers(1, 3))
def test_round_robin_visits_every_eligible_engineer_before_repeating(
    team: list[Candidate], rounds: int
) -> None:
    # Loads stay put here (an owner's load is the read model's business): only the turn moves.
    eligible = sorted(
        e.engineer_id
        for e in pick(AssignmentStrategy.ROUND_ROBIN, team, DEMAND).considered
        if e.eligible and e.presence == Presence.AVAILABLE
    )
    if not eligible:
        return
    team = [c for c in team if c.engineer_id in eligible]
    cursor: str | None = None
    turns: list[str] = []
    for _ in range(len(eligible) * rounds):
        chosen = pick(AssignmentStrategy.ROUND_ROBIN, team, DEMAND, cursor)
        assert chosen.engineer_id is not None
        turns.append(chosen.engineer_id)
        cursor = chosen.cursor
    for start in range(0, len(turns), len(eligible)):
        assert sorted(turns[start : start + len(eligible)]) == eligible


@settings(max_examples=200, deadline=None)
@given(
    positions=st.lists(st.integers(0, 5), min_size=0, max_size=6),
    regions=st.lists(st.sampled_from([(), ("eu",), ("apac",)]), min_size=6, max_size=6),
)
def test_routing_without_explanation_chooses_the_same_team(
    positions: list[int], regions: list[tuple[str, ...]]
) -> None:
    rules = [
        RoutingRule(
            id=f"r{i}",
            position=position,
            criteria=RuleCriteria(regions=regions[i]),
            teams={Tier.FRONTLINE: f"t{i}"},
        )
        for i, position in enumerate(positions)
    ]
    explained = route(rules, FACTS, defaults={Tier.FRONTLINE: "d"})
    quick = route(rules, FACTS, defaults={Tier.FRONTLINE: "d"}, explain=False)
    assert (quick.team_id, quick.rule_id, quick.why) == (
        explained.team_id,
        explained.rule_id,
        explained.why,
    )
    assert quick.verdicts == ()
