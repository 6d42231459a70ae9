"""The knowledge base's storage on SQLite and PostgreSQL: bilingual search with its filters,
and the solve and evolve loops driven by real recorded workflow steps."""

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from db.models import ArticleRow, KnowledgePromptRow
from db.repositories import issues as issue_repo
from db.repositories import knowledge as repo
from db.repositories import reference
from db.session import Database
from domain.enums import ActorKind, ContractLevel, DefectOutcome, Role, Tier, WarrantyStatus
from domain.knowledge import ArticleKind, ArticleLinkKind, ArticleState, Audience, PromptKind
from domain.models import (
    AcknowledgeCommand,
    Actor,
    DefectChange,
    DefectLink,
    Entitlement,
    EscalateCommand,
    OwnerChoice,
    ProposeResolutionCommand,
    RecordBatch,
)
from tests.db.builders import CUSTOMER, T0, add_reference_data, batch_of, intake, opened

ENGINEER = Actor(kind=ActorKind.ENGINEER, id="e1", name="Name e1")
EXPERT = OwnerChoice(engineer_id="x1", engineer_name="Name x1", tier=Tier.EXPERT)
E1 = OwnerChoice(engineer_id="e1", engineer_name="Name e1", tier=Tier.FRONTLINE)
PREMIUM = Entitlement(
    contract_id="ctr", level=ContractLevel.PREMIUM, warranty_status=WarrantyStatus.IN_WARRANTY
)
MINUTE = timedelta(minutes=1)
AVAILABLE = "the fix is available in 5.3."


async def _article(database: Database, **values: Any) -> str:
    defaults: dict[str, Any] = {
        "problem": "",
        "kind": ArticleKind.SOLUTION,
        "audience": Audience.CUSTOMER,
        "state": ArticleState.VALIDATED,
        "product_id": "router",
    }
    async with database.transaction() as session:
        row = await repo.create_article(session, {**defaults, **values}, ENGINEER, T0)
        return row.id


async def _search(database: Database, text: str, **filters: Any) -> list[str]:
    async with database.session() as session:
        hits = await repo.search(session, text, repo.SearchFilters(**filters), limit=5)
        return [hit.article.id for hit in hits]


async def test_english_search_ranks_the_matching_article_first_despite_rewording(
    database: Database,
) -> None:
    vpn = await _article(
        database,
        title="VPN tunnel drops every hour",
        problem="The IPsec tunnel to the branch office disconnects after 60 minutes.",
        resolution="Set the IKE lifetime to 28800 seconds on both peers.",
    )
    await _article(database, title="Printer queue stuck", problem="Jobs wait forever.")
    await _article(database, title="Router LED blinks red", problem="The tunnel LED is red.")
    assert (await _search(database, "ipsec tunnels disconnecting hourly"))[0] == vpn
    assert await _search(database, "the of and") == []


async def test_chinese_search_matches_words_segmented_differently_in_the_query(
    database: Database,
) -> None:
    article = await _article(
        database,
        title="路由器升级固件后频繁丢包",
        problem="升级到5.2版本固件之后 高负载时路由器丢包约百分之三。",
        resolution="升级到5.2.1版本 修复了QoS队列问题。",
    )
    await _article(database, title="打印机无法连接网络", problem="打印机驱动安装失败。")
    assert (await _search(database, "固件升级以后路由丢包"))[0] == article
    assert (await _search(database, "router 丢包"))[0] == article


async def test_filters_narrow_by_product_version_category_and_audience(database: Database) -> None:
    common = {"title": "Login page times out", "problem": "Users cannot sign in."}
    v1 = await _article(database, **common, product_version="1.0")
    v2 = await _article(database, **common, product_version="2.0")
    any_version = await _article(database, **common)
    internal = await _article(database, **common, audience=Audience.INTERNAL)
    other = await _article(database, **common, product_id="switch")
    found = set(
        await _search(database, "login timeout", product_id="router", product_version="2.0")
    )
    assert found == {v2, any_version, internal}
    customer = set(
        await _search(
            database,
            "login timeout",
            audiences=(Audience.CUSTOMER,),
            states=(ArticleState.VALIDATED,),
        )
    )
    assert customer == {v1, v2, any_version, other}


async def test_an_edit_is_audited_and_reindexed(database: Database) -> None:
    article_id = await _article(database, title="Fan noise", problem="Loud fan.")
    async with database.transaction() as session:
        row = await repo.get_article(session, article_id)
        assert row is not None
        changed = await repo.update_article(
            session, row, {"title": "Power supply whines"}, ENGINEER, T0 + MINUTE
        )
    assert changed == {"title": {"from": "Fan noise", "to": "Power supply whines"}}
    assert await _search(database, "power supply") == [article_id]
    assert await _search(database, "noise") == []
    async with database.session() as session:
        actions = [a.action for a in await repo.audit_trail(session, article_id)]
    assert actions == ["created", "edited"]


# --- the solve and evolve loops through apply_record_batch ---------------------------------


async def _apply_twice(database: Database, batch: RecordBatch) -> None:
    """Every batch applied twice: a retried record activity must add nothing."""
    for _ in range(2):
        async with database.transaction() as session:
            await issue_repo.apply_record_batch(session, batch, f"issue-{batch.status.issue_id}")


async def _count(database: Database, model: type[object], *where: Any) -> int:
    async with database.session() as session:
        query = sa.select(sa.func.count()).select_from(model).where(*where)
        return int(await session.scalar(query) or 0)


async def test_escalation_starts_one_redacted_draft_and_resolution_asks_the_owner(
    database: Database,
) -> None:
    async with database.transaction() as session:
        await add_reference_data(session)
        await reference.create_token(
            session,
            "Acme portal",
            Role.CUSTOMER,
            "secret-acme",
            organisation_id="acme",
            contact_name="Max Mustermann",
        )
    issue = intake("ITR-7", title="Router drops packets for Jane").model_copy(
        update={
            "description": "Since 5.2 packets are lost. Call Jane Doe at +49 30 1234567 or "
            "jane@acme.example; Max Mustermann knows more."
        }
    )
    case = opened(issue)
    steps = [
        batch_of(case, case.register(T0, CUSTOMER), issue),
        batch_of(case, case.accept(PREMIUM, T0 + MINUTE)),
        batch_of(case, case.assign_initial(E1, T0 + 2 * MINUTE)),
        batch_of(case, case.acknowledge(AcknowledgeCommand(actor=ENGINEER), T0 + 3 * MINUTE)),
        batch_of(
            case,
            case.escalate(
                EscalateCommand(
                    actor=ENGINEER, to_tier=Tier.EXPERT, reason="QoS queue overflow suspected"
                ),
                T0 + 4 * MINUTE,
                EXPERT,
            ),
        ),
    ]
    for batch in steps:
        await _apply_twice(database, batch)
    assert await _count(database, ArticleRow) == 1
    async with database.session() as session:
        draft = await repo.get_article(session, repo.draft_id_for("ITR-7"))
    assert draft is not None
    assert (draft.state, draft.kind, draft.audience) == (
        ArticleState.DRAFT,
        ArticleKind.KNOWN_ERROR,
        Audience.INTERNAL,
    )
    assert draft.owner_id == "x1" and draft.cause == "QoS queue overflow suspected"
    assert draft.title == "Router drops packets for [name removed]"
    for personal in ("Jane", "Doe", "1234567", "jane@", "Max", "Mustermann"):
        assert personal not in draft.problem
    assert "Since 5.2 packets are lost" in draft.problem

    resolve = ProposeResolutionCommand(
        actor=Actor(kind=ActorKind.ENGINEER, id="x1", name="Name x1"),
        summary="Upgrade to firmware 5.2.1; Jane confirmed it works.",
    )
    await _apply_twice(database, batch_of(case, case.propose_resolution(resolve, T0 + 9 * MINUTE)))
    async with database.session() as session:
        draft = await repo.get_article(session, repo.draft_id_for("ITR-7"))
        prompts = await repo.list_prompts(session, issue_id="ITR-7")
    assert draft is not None
    assert draft.resolution == "Upgrade to firmware 5.2.1; [name removed] confirmed it works."
    assert [(p.kind, p.engineer_id) for p in prompts] == [(PromptKind.CAPTURE_RESOLUTION, "x1")]


async def test_a_fixed_defect_updates_its_known_error_articles_once(database: Database) -> None:
    async with database.transaction() as session:
        await add_reference_data(session)
    issue = intake("ITR-8")
    case = opened(issue)
    steps = [
        batch_of(case, case.register(T0, CUSTOMER), issue),
        batch_of(case, case.accept(PREMIUM, T0 + MINUTE)),
        batch_of(case, case.assign_initial(E1, T0 + 2 * MINUTE)),
        batch_of(case, case.acknowledge(AcknowledgeCommand(actor=ENGINEER), T0 + 3 * MINUTE)),
        batch_of(
            case,
            case.escalate(
                EscalateCommand(actor=ENGINEER, to_tier=Tier.RND, reason="firmware bug"),
                T0 + 4 * MINUTE,
                None,
            ),
        ),
        batch_of(
            case,
            case.link_defect(
                DefectLink(key="RD-7", url="https://jira.example/browse/RD-7", created=True),
                T0 + 5 * MINUTE,
                ENGINEER,
            ),
        ),
    ]
    for batch in steps:
        await _apply_twice(database, batch)
    async with database.session() as session:
        draft = await repo.get_article(session, repo.draft_id_for("ITR-8"))
    assert draft is not None and draft.defect_key == "RD-7" and draft.fixed_in_version is None

    fixed = DefectChange(
        defect_key="RD-7", outcome=DefectOutcome.FIXED, dedupe_key="d1", fix_versions=("5.3",)
    )
    await _apply_twice(database, batch_of(case, case.defect_changed(fixed, T0 + 60 * MINUTE, E1)))
    async with database.session() as session:
        draft = await repo.get_article(session, repo.draft_id_for("ITR-8"))
    assert draft is not None and draft.fixed_in_version == "5.3"
    assert (
        await _count(
            database, KnowledgePromptRow, KnowledgePromptRow.kind == PromptKind.REVIEW_FIXED_VERSION
        )
        == 1
    )
    async with database.session() as session:
        edits = [
            e.changes for e in await repo.audit_trail(session, draft.id) if e.action == "edited"
        ]
    # The fix also proposes the resolution (the issue's own rule), which fills the draft in.
    assert edits == [
        {"fixed_in_version": {"from": None, "to": "5.3"}},
        {
            "resolution": {
                "from": "",
                "to": "R&D fixed the defect behind this issue; the fix is available in 5.3.",
            }
        },
    ]


async def test_solved_with_counts_each_issue_once_and_stale_articles_are_suggested_once(
    database: Database,
) -> None:
    article_id = await _article(database, title="Reset the admin password", problem="Locked out.")
    async with database.transaction() as session:
        first = await repo.link_issue(
            session, article_id, "ITR-1", ArticleLinkKind.SOLVED_WITH, "e1", T0
        )
        again = await repo.link_issue(
            session, article_id, "ITR-1", ArticleLinkKind.SOLVED_WITH, "e1", T0
        )
        await repo.link_issue(session, article_id, "ITR-2", ArticleLinkKind.SOLVED_WITH, "e1", T0)
    async with database.session() as session:
        row = await repo.get_article(session, article_id)
    assert (first, again) == (True, False)
    assert row is not None and row.reuse_count == 2 and row.last_used_at == T0

    stale_after = timedelta(days=90)
    async with database.transaction() as session:
        early = await repo.suggest_archiving(session, T0 + timedelta(days=30), stale_after)
        late = await repo.suggest_archiving(session, T0 + timedelta(days=91), stale_after)
        repeated = await repo.suggest_archiving(session, T0 + timedelta(days=92), stale_after)
    assert (early, late, repeated) == ([], [article_id], [])


async def test_a_view_without_an_issue_in_the_window_is_a_deflection(database: Database) -> None:
    async with database.transaction() as session:
        await add_reference_data(session)
    article_id = await _article(database, title="Reset the admin password", problem="Locked out.")
    window = timedelta(minutes=30)
    async with database.transaction() as session:
        await repo.record_view(session, article_id, "s-deflected", "tok-a", "acme", T0)
        await repo.record_view(session, article_id, "s-deflected", "tok-a", "acme", T0 + MINUTE)
        await repo.record_view(session, article_id, "s-submitted", CUSTOMER.id, "acme", T0)
        await repo.record_view(session, article_id, "s-open", "tok-c", "acme", T0 + 50 * MINUTE)
    async with database.transaction() as session:
        issue = intake("ITR-9", created_at=T0 + 10 * MINUTE)
        case = opened(issue)
        await issue_repo.apply_record_batch(
            session, batch_of(case, case.register(issue.created_at, CUSTOMER), issue), "issue-ITR-9"
        )
    async with database.session() as session:
        count = await repo.count_deflections(session, T0, T0 + 60 * MINUTE, window)
    # s-open's window is still running at the end of the period: not counted either way.
    assert (count.sessions_with_views, count.deflected) == (2, 1)


def test_common_words_score_but_only_rare_ones_select_in_a_large_index() -> None:
    shares = {"router": 0.5, "drop": 0.3, "qos": 0.001}
    assert repo.selective_terms(["router", "drop", "qos"], shares, 100_000) == (["qos"], False)
    # In a small index every word is rare enough: 1000 articles at most is cheap to rank.
    assert repo.selective_terms(["router", "qos"], shares, 1_000) == (["router", "qos"], False)
    assert repo.selective_terms(["router", "drop"], shares, 100_000) == (["router", "drop"], True)


def test_too_few_hits_retry_on_any_word_when_small_and_on_all_words_when_large() -> None:
    terms, rare = ["router", "qos"], ["qos"]
    assert repo.fallback(terms, rare, False, 1_000, found=2, limit=5) is False
    assert repo.fallback(terms, rare, False, 100_000, found=2, limit=5) is True
    assert repo.fallback(terms, terms, True, 100_000, found=2, limit=5) is None
    assert repo.fallback(terms, rare, False, 100_000, found=5, limit=5) is None
