"""The statistics endpoints: what each role sees, CSV export, drill-down and the 422s."""

from datetime import UTC, datetime, timedelta

import pytest

from db.repositories import issues as issue_repo
from domain.enums import ActorKind, ContractLevel, Severity, Tier, WarrantyStatus
from domain.lifecycle import IssueCase
from domain.models import (
    AcknowledgeCommand,
    Actor,
    ConfirmClosureCommand,
    Entitlement,
    OwnerChoice,
    ProposeResolutionCommand,
    RecordBatch,
)
from tests.api.conftest import Api
from tests.db.builders import CONFIG, CUSTOMER, intake

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RANGE = {"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}
HOUR = timedelta(hours=1)
PREMIUM = Entitlement(
    contract_id="c", level=ContractLevel.PREMIUM, warranty_status=WarrantyStatus.IN_WARRANTY
)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer demo-{token}"}


async def record_closed_issue(api: Api, issue_id: str, organisation: str, engineer: str) -> None:
    """An issue answered within the hour and closed by its first owner (rated 4)."""
    issue = intake(issue_id, organisation_id=organisation, product_id="edge-router", created_at=T0)
    case = IssueCase.open(issue, CONFIG)
    owner = OwnerChoice(engineer_id=engineer, engineer_name=engineer.title(), tier=Tier.FRONTLINE)
    actor = Actor(kind=ActorKind.ENGINEER, id=engineer, name=engineer.title())
    steps = [
        case.register(T0, CUSTOMER),
        case.accept(PREMIUM, T0),
        case.assign_initial(owner, T0),
        case.acknowledge(AcknowledgeCommand(actor=actor), T0 + HOUR / 2),
        case.propose_resolution(ProposeResolutionCommand(actor=actor, summary="fix"), T0 + HOUR),
        case.confirm_closure(
            ConfirmClosureCommand(actor=CUSTOMER, accept=True, satisfaction=4), T0 + 2 * HOUR
        ),
    ]
    async with api.db.transaction() as session:
        for index, effects in enumerate(steps):
            batch = RecordBatch(
                status=case.status,
                events=tuple(effects.events),
                comment=effects.comment,
                intake=issue if index == 0 else None,
            )
            await issue_repo.apply_record_batch(session, batch, f"issue-{issue_id}")


@pytest.fixture
async def two_issues(api: Api) -> Api:
    await record_closed_issue(api, "S-1", "acme", "alice")  # team t1-network (nina)
    await record_closed_issue(api, "S-2", "globex", "dave")  # team t1-storage (oscar)
    return api


@pytest.mark.parametrize(
    ("token", "created"),
    [
        ("admin", 2),
        ("manager-nina", 1),  # her team's issue only
        ("manager-paula", 0),  # tier 2 never held them
        ("engineer-dave", 1),  # his own team
        ("customer-acme", 1),  # its organisation's
    ],
)
async def test_each_role_sees_the_figures_of_its_own_scope(
    two_issues: Api, token: str, created: int
) -> None:
    answer = await two_issues.http.get("/stats/summary", params=RANGE, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    figures = answer.json()["figures"]
    assert figures["created"] == created and figures["closed"] == created
    if created:
        assert figures["response_wall"]["median"] == 1800
        assert figures["first_response_sla"]["met"] == created


async def test_customers_get_service_figures_and_no_internal_dimension(two_issues: Api) -> None:
    customer = bearer("customer-acme")
    figures = (await two_issues.http.get("/stats/summary", params=RANGE, headers=customer)).json()
    assert figures["figures"]["first_contact_resolution"] is None
    assert figures["figures"]["satisfaction"] is None
    for by in ("engineer", "team", "tier"):
        refused = await two_issues.http.get(
            "/stats/breakdown", params={**RANGE, "by": by}, headers=customer
        )
        assert refused.status_code == 403, by
    peeking = await two_issues.http.get(
        "/stats/summary", params={**RANGE, "engineer_id": "alice"}, headers=customer
    )
    assert peeking.status_code == 403
    other = await two_issues.http.get(
        "/stats/summary", params={**RANGE, "organisation_id": "globex"}, headers=customer
    )
    assert other.status_code == 403


async def test_a_manager_asking_for_another_team_is_refused(two_issues: Api) -> None:
    answer = await two_issues.http.get(
        "/stats/summary",
        params={**RANGE, "team_id": "t1-storage"},
        headers=bearer("manager-nina"),
    )
    assert answer.status_code == 403
    assert "t1-storage" in answer.json()["detail"]


async def test_a_breakdown_groups_by_team_and_exports_as_csv(two_issues: Api) -> None:
    admin = bearer("admin")
    report = await two_issues.http.get(
        "/stats/breakdown", params={**RANGE, "by": "team"}, headers=admin
    )
    assert report.status_code == 200
    groups = {g["key"]: g["figures"]["closed"] for g in report.json()["groups"]}
    assert groups == {"t1-network": 1, "t1-storage": 1}
    labels = {g["key"]: g["label"] for g in report.json()["groups"]}
    assert labels["t1-network"] == "Frontline Network"
    for how in ({"format": "csv"}, {}):
        headers = admin if how else {**admin, "Accept": "text/csv"}
        exported = await two_issues.http.get(
            "/stats/breakdown", params={**RANGE, "by": "organisation", **how}, headers=headers
        )
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        lines = exported.text.splitlines()
        assert lines[0].split(",")[:4] == ["organisation", "label", "created", "closed"]
        assert sorted(line.split(",")[0] for line in lines[1:]) == ["acme", "globex"]


async def test_a_drill_down_lists_the_issues_a_figure_counts(two_issues: Api) -> None:
    answer = await two_issues.http.get(
        "/stats/issues",
        params={**RANGE, "metric": "first_contact_resolution"},
        headers=bearer("manager-nina"),
    )
    assert answer.status_code == 200
    assert [issue["id"] for issue in answer.json()["items"]] == ["S-1"]


async def test_the_timeseries_cuts_the_range_into_local_days(two_issues: Api) -> None:
    answer = await two_issues.http.get(
        "/stats/timeseries",
        params={"period": "week", "at": "2026-03-04", "tz": "Europe/Berlin", "bucket": "day"},
        headers=bearer("admin"),
    )
    assert answer.status_code == 200, answer.text
    days = answer.json()["buckets"]
    assert len(days) == 7
    assert days[0]["period"]["start"] == "2026-03-01T23:00:00Z"  # Monday 00:00 in Berlin
    assert [d["figures"]["created"] for d in days] == [2, 0, 0, 0, 0, 0, 0]


async def test_recompute_is_for_admins_and_counts_every_issue(two_issues: Api) -> None:
    refused = await two_issues.http.post("/stats/recompute", headers=bearer("manager-nina"))
    assert refused.status_code == 403
    done = await two_issues.http.post("/stats/recompute", headers=bearer("admin"))
    assert done.status_code == 200 and done.json()["issues"] == 2


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"by": "colour"}, "by"),
        ({"by": "team", "tz": "Mars/Olympus"}, "tz"),
        ({"by": "team", "period": "year"}, "period"),
        ({"by": "team", "from": "2026-03-01T00:00:00Z"}, "to"),
        ({"by": "team", "to": "2026-03-01T00:00:00Z"}, "from"),
        ({"by": "team", "from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "to"),
        ({"by": "team", "from": "yesterday", "to": "2026-03-01T00:00:00Z"}, "from"),
        ({"by": "team", "period": "week", "from": "2026-03-01T00:00:00Z"}, "period"),
        ({"by": "team", "period": "month", "at": "9999-12-31"}, "at"),
        ({"by": "team", "from": "0001-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "from"),
    ],
)
async def test_a_bad_dimension_period_timezone_or_range_is_a_422_at_its_parameter(
    api: Api, params: dict[str, str], where: str
) -> None:
    answer = await api.http.get("/stats/breakdown", params=params, headers=bearer("admin"))
    assert answer.status_code == 422, answer.text
    locations = [str(error["loc"]) for error in answer.json()["errors"]]
    assert any(where in location for location in locations), locations


async def test_a_severity_filter_narrows_the_figures(two_issues: Api) -> None:
    answer = await two_issues.http.get(
        "/stats/summary",
        params={**RANGE, "severity": int(Severity.CRITICAL)},
        headers=bearer("admin"),
    )
    assert answer.json()["figures"]["created"] == 0
