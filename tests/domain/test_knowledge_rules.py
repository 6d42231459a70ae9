"""KCS rules: which state moves each role may make, what customers may read, and the words
search indexes for English and Chinese text."""

import pytest

from domain.enums import Role
from domain.knowledge import (
    TRANSITIONS,
    ArticleState,
    Audience,
    TransitionRefused,
    check_transition,
    customer_may_read,
    query_terms,
    search_terms,
)


def test_engineers_publish_drafts_but_only_reviewers_validate_or_archive() -> None:
    check_transition(ArticleState.DRAFT, ArticleState.NOT_VALIDATED, Role.ENGINEER)
    check_transition(ArticleState.NOT_VALIDATED, ArticleState.VALIDATED, Role.MANAGER)
    for target in (ArticleState.VALIDATED, ArticleState.ARCHIVED):
        with pytest.raises(TransitionRefused) as refused:
            check_transition(ArticleState.NOT_VALIDATED, target, Role.ENGINEER)
        assert refused.value.forbidden


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.INTEGRATION, Role.DISPATCHER])
def test_nobody_outside_support_staff_moves_an_article(role: Role) -> None:
    for current, target in TRANSITIONS:
        with pytest.raises(TransitionRefused):
            check_transition(current, target, role)


def test_a_move_outside_the_states_is_a_conflict_not_a_permission_problem() -> None:
    for current, target in [
        (ArticleState.ARCHIVED, ArticleState.VALIDATED),
        (ArticleState.DRAFT, ArticleState.DRAFT),
    ]:
        with pytest.raises(TransitionRefused) as refused:
            check_transition(current, target, Role.ADMIN)
        assert not refused.value.forbidden


def test_customers_read_only_validated_articles_written_for_them() -> None:
    readable = {
        (state, audience)
        for state in ArticleState
        for audience in Audience
        if customer_may_read(state, audience)
    }
    assert readable == {(ArticleState.VALIDATED, Audience.CUSTOMER)}


def test_english_words_are_stemmed_and_stop_words_dropped_versions_kept_whole() -> None:
    assert search_terms("How do I stop the router dropping packets on 5.2.1?") == [
        "stop",
        "router",
        "drop",
        "packet",
        "5.2.1",
    ]


def test_chinese_is_segmented_into_words_and_their_parts() -> None:
    terms = search_terms("路由器升级固件后频繁丢包")
    assert {"路由器", "路由", "升级", "固件", "丢包"} <= set(terms)
    assert "后" not in terms


def test_a_query_keeps_each_term_once_and_at_most_32() -> None:
    assert query_terms("vpn VPN vpn tunnel") == ["vpn", "tunnel"]
    assert len(query_terms(" ".join(f"word{n}" for n in range(100)))) == 32
