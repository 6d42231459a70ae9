"""Dispatch through the API on the real workflow, both databases: bulk assignment with a
result per issue, the ownership rule answered 403 with the reason, the off-duty hand-over of
every open issue of an engineer, and state refusals staying 409."""

import pytest

from tests.integration.conftest import ADMIN, ENGINEER, MANAGER, Stack, open_issue, unique

pytestmark = pytest.mark.timeout(120)


async def test_bulk_assignment_ownership_refusals_and_an_engineers_hand_over(
    stack: Stack,
) -> None:
    api = stack.api()
    first = str((await open_issue(api, key=unique("dispatch")))["id"])
    second = str((await open_issue(api, key=unique("dispatch")))["id"])

    assigned = await api.post(
        "/issues/bulk/assign",
        json={"issue_ids": [first, second, "ITR-NONE"], "engineer_id": "carol"},
        headers={**MANAGER, "Idempotency-Key": unique("bulk")},
    )
    assert assigned.status_code == 200, assigned.text
    outcomes = {r["issue_id"]: r for r in assigned.json()["results"]}
    assert [outcomes[i]["outcome"] for i in (first, second, "ITR-NONE")] == [
        "assigned",
        "assigned",
        "not_found",
    ]
    assert outcomes[first]["issue"]["owner_id"] == "carol"
    again = await api.post(
        "/issues/bulk/assign",
        json={"issue_ids": [first], "engineer_id": "carol"},
        headers=MANAGER,
    )
    [refused] = again.json()["results"]
    assert refused["outcome"] == "refused" and "already owns" in refused["detail"]

    # Alice no longer owns the first issue: the domain refuses her, naming who may act.
    forbidden = await api.post(f"/issues/{first}/acknowledge", json={}, headers=ENGINEER)
    assert forbidden.status_code == 403, forbidden.text
    assert "only its owner (Carol Diaz)" in forbidden.json()["detail"]
    # A state refusal stays a 409: nothing to hand back at tier 1, nothing offered.
    back = await api.post(f"/issues/{first}/hand-back", json={"guidance": "x"}, headers=ADMIN)
    assert back.status_code == 409 and "cannot hand back" in back.json()["detail"]
    decline = await api.post(f"/issues/{first}/offer/decline", headers=ADMIN)
    assert decline.status_code == 409 and "not offered" in decline.json()["detail"]

    handed = await api.post(
        "/engineers/carol/hand-over", json={"reason": "Off duty at 17:00"}, headers=MANAGER
    )
    assert handed.status_code == 200, handed.text
    results = {r["issue_id"]: r for r in handed.json()["results"]}
    assert {first, second} <= set(results)
    for issue_id in (first, second):
        assert results[issue_id]["outcome"] == "handed_over", results[issue_id]
        assert results[issue_id]["issue"]["owner_id"] != "carol"
    detail = (await api.get(f"/issues/{first}", headers=MANAGER)).json()
    [entry] = [e for e in detail["timeline"] if e["kind"] == "handed_over"]
    assert entry["actor_name"] == "Nina Novak" and "Off duty at 17:00" in entry["summary"]
    unknown = await api.post("/engineers/nobody/hand-over", json={"reason": "x"}, headers=ADMIN)
    assert unknown.status_code == 404
