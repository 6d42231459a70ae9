"""Test data for the read model: intakes, statuses and batches built like the workflow does."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import DEFAULT_SLA_TARGETS
from db.repositories import issues as issue_repo
from db.repositories import reference
from domain.enums import ActorKind, Category, ContractLevel, Role, Severity, Tier
from domain.lifecycle import Effects, IssueCase
from domain.models import (
    Actor,
    IssueIntake,
    IssueStatus,
    LifecycleConfig,
    RecordBatch,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TODAY = date(2026, 3, 2)
CONFIG = LifecycleConfig(sla_targets=DEFAULT_SLA_TARGETS)
CUSTOMER = Actor(kind=ActorKind.CUSTOMER, id="tok-acme", name="Jane Doe")


def intake(
    issue_id: str,
    *,
    organisation_id: str = "acme",
    product_id: str = "router",
    title: str = "Router drops packets",
    severity: Severity = Severity.MAJOR,
    created_at: datetime = T0,
    reporter: Actor = CUSTOMER,
) -> IssueIntake:
    return IssueIntake(
        issue_id=issue_id,
        organisation_id=organisation_id,
        product_id=product_id,
        title=title,
        description=f"Description of {title}",
        category=Category.INCIDENT,
        severity=severity,
        reporter=reporter,
        created_at=created_at,
    )


def opened(issue: IssueIntake) -> IssueCase:
    """The workflow's state right after intake, before any step was recorded."""
    return IssueCase.open(issue, CONFIG)


def batch_of(case: IssueCase, effects: Effects, issue: IssueIntake | None = None) -> RecordBatch:
    """What the workflow records after one step (intake only with the CREATED step)."""
    return RecordBatch(
        status=case.status,
        events=tuple(effects.events),
        comment=effects.comment,
        intake=issue,
    )


async def add_issue(session: AsyncSession, issue: IssueIntake, **status: Any) -> IssueStatus:
    """Insert an issue whose status fields are overridden by `status` (for list tests)."""
    current = opened(issue).status.model_copy(update=status)
    await issue_repo.insert_issue_if_absent(session, issue, current, f"issue-{issue.issue_id}")
    return current


async def add_reference_data(session: AsyncSession) -> None:
    """A small world: product "router" supported by tier-1 team t1a; t1b and t2 unlinked.

    t1a: manager m1, engineers e1, e2, inactive e3. t1b: manager m2, engineer e4.
    t2: manager m3, engineer x1. Organisation acme has a premium contract in warranty.
    """
    await reference.create_organisation(session, "acme", "Acme")
    await reference.create_contract(
        session,
        "ctr-acme",
        "acme",
        ContractLevel.PREMIUM,
        TODAY - timedelta(days=10),
        TODAY + timedelta(days=365),
    )
    await reference.create_product(session, "router", "Router", "1.0")
    await reference.create_product(session, "orphan", "Product nobody is linked to")
    await reference.create_team(session, "t1a", "Frontline A", Tier.FRONTLINE, ["router"])
    await reference.create_team(session, "t1b", "Frontline B", Tier.FRONTLINE)
    await reference.create_team(session, "t2", "Experts", Tier.EXPERT)
    people = [
        ("m1", "t1a", Tier.FRONTLINE, True, True),
        ("e1", "t1a", Tier.FRONTLINE, False, True),
        ("e2", "t1a", Tier.FRONTLINE, False, True),
        ("e3", "t1a", Tier.FRONTLINE, False, False),
        ("m2", "t1b", Tier.FRONTLINE, True, True),
        ("e4", "t1b", Tier.FRONTLINE, False, True),
        ("m3", "t2", Tier.EXPERT, True, True),
        ("x1", "t2", Tier.EXPERT, False, True),
    ]
    for engineer_id, team_id, tier, is_manager, active in people:
        await reference.create_engineer(
            session,
            engineer_id,
            f"Name {engineer_id}",
            f"{engineer_id}@itr.example",
            tier,
            team_id,
            is_manager=is_manager,
            active=active,
        )
    for team_id, manager_id in (("t1a", "m1"), ("t1b", "m2"), ("t2", "m3")):
        await reference.set_team_manager(session, team_id, manager_id)
    await reference.create_token(
        session,
        "Jane at Acme",
        Role.CUSTOMER,
        "secret-acme-token",
        organisation_id="acme",
        contact_name="Jane Doe",
        contact_email="jane@acme.example",
        token_id="tok-acme",
    )
