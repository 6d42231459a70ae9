"""The agent workspace in process (real database, the API tests' fake Temporal): the queues,
the staff issue page with exactly the commands the issue allows, errors at the field, and
the commands sent as the JSON API sends them."""

import re
from datetime import timedelta
from pathlib import Path

from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from api.services.issue_actions import ENDPOINTS
from domain.enums import ActorKind, ContractLevel, IssueState, Role, Tier, WarrantyStatus
from domain.lifecycle import IssueCase
from domain.models import (
    AcknowledgeCommand,
    Actor,
    Entitlement,
    EscalateCommand,
    OwnerAnswer,
    OwnerChoice,
)
from tests.integration.conftest import CUSTOMER, NEW_ISSUE, unique
from tests.web.conftest import CSRF, Web
from web.routes.agent import FORMS

ROOT = Path(__file__).resolve().parents[2]
ALICE = OwnerChoice(engineer_id="alice", engineer_name="Alice Martin", tier=Tier.FRONTLINE)


async def opened_issue(web: Web) -> str:
    response = await web.http.post(
        "/issues", json=NEW_ISSUE, headers={**CUSTOMER, "Idempotency-Key": unique("agent")}
    )
    assert response.status_code == 201, response.text
    issue_id: str = response.json()["id"]
    return issue_id


def in_progress(web: Web, issue_id: str) -> None:
    """The fake workflow answers its allowed commands for an issue Alice is working on."""
    started = web.temporal.running[issue_id]
    case = IssueCase.open(started.intake, started.config)
    now = started.intake.created_at
    case.register(now, started.intake.reporter)
    case.accept(
        Entitlement(
            contract_id="c", level=ContractLevel.PREMIUM, warranty_status=WarrantyStatus.IN_WARRANTY
        ),
        now,
    )
    case.assign_initial(ALICE, now)
    actor = Actor(kind=ActorKind.ENGINEER, id="alice", name="Alice Martin")
    case.acknowledge(AcknowledgeCommand(actor=actor), now + timedelta(minutes=5))
    web.temporal.cases[issue_id] = case


def form_ids(html: str) -> list[str]:
    return re.findall(r'id="form-([a-z_]+)"', html)


async def test_customers_are_sent_to_their_portal_and_staff_see_the_open_queue(web: Web) -> None:
    issue_id = await opened_issue(web)
    await web.sign_in("jane", "demo-jane-acme")
    assert (await web.http.get("/workspace")).headers["location"] == "/portal"
    assert (await web.http.get(f"/workspace/issues/{issue_id}")).status_code == 403

    await web.sign_in("alice", "demo-alice-tier1")
    page = await web.http.get("/workspace?queue=open")
    assert page.status_code == 200
    assert issue_id in page.text and 'hx-trigger="every 30s"' in page.text
    rows = await web.http.get("/workspace/rows?queue=unowned")
    assert issue_id in rows.text  # nobody owns it: no worker dispatched it here
    mine = await web.http.get("/workspace/rows?queue=mine")
    assert issue_id not in mine.text


async def test_the_issue_page_offers_exactly_the_commands_the_workflow_allows(web: Web) -> None:
    issue_id = await opened_issue(web)
    await web.sign_in("alice", "demo-alice-tier1")
    new = await web.http.get(f"/workspace/issues/{issue_id}")
    assert new.status_code == 200, new.text
    allowed = {  # the workflow's answer, for what an engineer's role may send
        c.command
        for c in web.temporal.answers[issue_id].commands
        if c.allowed and Role.ENGINEER in ENDPOINTS[c.command].roles
    }
    offered = [name for name in FORMS if name in allowed or f"internal_{name}" in allowed]
    assert form_ids(new.text) == offered
    assert "acknowledge" not in offered and "request_info" not in offered
    assert "Not possible now" in new.text and "state &#39;new&#39;" in new.text
    assert "<svg" in new.text and 'role="img"' in new.text

    in_progress(web, issue_id)
    working = await web.http.get(f"/workspace/issues/{issue_id}")
    assert form_ids(working.text) == [
        "request_info",
        "propose_resolution",
        "comment",
        "escalate",
        "assign",
        "change_severity",
    ]
    live = await web.http.get(f"/workspace/issues/{issue_id}/live")
    assert live.status_code == 200 and 'id="timeline"' in live.text


async def test_a_command_with_a_bad_field_is_refused_at_the_field_and_a_good_one_is_sent(
    web: Web,
) -> None:
    issue_id = await opened_issue(web)
    in_progress(web, issue_id)
    await web.sign_in("alice", "demo-alice-tier1")
    page = await web.http.get(f"/workspace/issues/{issue_id}")
    token = CSRF.search(page.text)
    assert token
    url = f"/workspace/issues/{issue_id}/commands/request_info"
    empty = await web.http.post(url, data={"csrf_token": token.group(1), "question": "  "})
    assert empty.status_code == 422
    assert 'id="question-error"' in empty.text and 'aria-invalid="true"' in empty.text

    sent = await web.http.post(
        url,
        data={"csrf_token": token.group(1), "question": "Which firmware?", "idempotency_key": "k1"},
    )
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == f"/workspace/issues/{issue_id}?done=request_info"
    issue, name, command = web.temporal.updates[-1]
    assert (issue, name, command.question) == (issue_id, "request_info", "Which firmware?")

    forged = await web.http.post(url, data={"csrf_token": "wrong", "question": "x"})
    assert forged.status_code == 403


def test_the_diagram_texts_are_in_the_chinese_catalogue() -> None:
    with (ROOT / "web/translations/zh_Hans/LC_MESSAGES/messages.po").open("rb") as f:
        catalogue = read_po(f, locale="zh_Hans")
    translated = {m.id for m in catalogue if m.id and m.string and "fuzzy" not in m.flags}
    found = extract_from_file("python", str(ROOT / "api/progress_diagram.py"))
    texts = {message for _, message, _, _ in found}
    assert texts and texts <= translated, texts - translated


__all__ = ["IssueState"]


async def test_an_escalation_from_the_page_names_the_tier_and_the_engineer(web: Web) -> None:
    issue_id = await opened_issue(web)
    in_progress(web, issue_id)
    await web.sign_in("alice", "demo-alice-tier1")
    page = await web.http.get(f"/workspace/issues/{issue_id}")
    token = CSRF.search(page.text)
    assert token and 'id="escalate-to_tier"' in page.text
    url = f"/workspace/issues/{issue_id}/commands/escalate"
    form = {"csrf_token": token.group(1), "to_tier": "2", "summary": "Rebooted twice."}
    missing = await web.http.post(url, data={**form, "reason": ""})
    assert missing.status_code == 422 and 'id="reason-error"' in missing.text
    unknown = await web.http.post(url, data={**form, "reason": "x", "engineer_id": "nobody"})
    assert unknown.status_code == 422 and 'id="engineer_id-error"' in unknown.text
    sent = await web.http.post(url, data={**form, "reason": "Needs QoS", "engineer_id": "frank"})
    assert sent.status_code == 303, sent.text
    _, name, command = web.temporal.updates[-1]
    assert (name, command.to_tier, command.engineer.engineer_id) == ("escalate", 2, "frank")


def routed_case(web: Web, issue_id: str, answer: OwnerAnswer) -> IssueCase:
    """The fake workflow's issue as intake's dispatch left it: queued, offered or owned."""
    started = web.temporal.running[issue_id]
    case = IssueCase.open(started.intake, started.config)
    now = started.intake.created_at
    case.register(now, started.intake.reporter)
    entitlement = Entitlement(
        contract_id="c", level=ContractLevel.PREMIUM, warranty_status=WarrantyStatus.IN_WARRANTY
    )
    case.accept(entitlement, now)
    case.queue_or_assign(answer, now)
    web.temporal.cases[issue_id] = case
    return case


async def test_an_unowned_issue_is_claimed_from_the_page_for_the_engineer_themselves(
    web: Web,
) -> None:
    issue_id = await opened_issue(web)
    routed_case(web, issue_id, OwnerAnswer(why="nobody is on duty"))
    await web.sign_in("alice", "demo-alice-tier1")
    page = await web.http.get(f"/workspace/issues/{issue_id}")
    assert form_ids(page.text)[0] == "claim"
    assert "accept_offer" not in form_ids(page.text)
    token = CSRF.search(page.text)
    assert token
    url = f"/workspace/issues/{issue_id}/commands/claim"
    sent = await web.http.post(url, data={"csrf_token": token.group(1), "idempotency_key": "c1"})
    assert sent.status_code == 303, sent.text
    _, name, command = web.temporal.updates[-1]
    assert (name, command.engineer.engineer_id, command.actor.id) == ("claim", "alice", "alice")
    forged = await web.http.post(url, data={"csrf_token": "wrong"})
    assert forged.status_code == 403


async def test_an_offer_is_answered_from_the_page_only_by_whom_it_is_offered_to(web: Web) -> None:
    issue_id = await opened_issue(web)
    offered = ALICE.model_copy(update={"offer_timeout": timedelta(days=3650)})
    routed_case(web, issue_id, OwnerAnswer(owner=offered))
    await web.sign_in("frank", "demo-frank-tier2")
    other = await web.http.get(f"/workspace/issues/{issue_id}")
    assert "accept_offer" not in form_ids(other.text)
    assert "offered to Alice Martin" in other.text  # the refusal, with its reason

    await web.sign_in("alice", "demo-alice-tier1")
    page = await web.http.get(f"/workspace/issues/{issue_id}")
    assert form_ids(page.text)[:2] == ["accept_offer", "decline_offer"]
    token = CSRF.search(page.text)
    assert token
    url = f"/workspace/issues/{issue_id}/commands/decline_offer"
    sent = await web.http.post(
        url, data={"csrf_token": token.group(1), "reason": "On leave", "idempotency_key": "d1"}
    )
    assert sent.status_code == 303, sent.text
    _, name, command = web.temporal.updates[-1]
    assert (name, command.reason) == ("decline_offer", "On leave")


async def test_a_tier_2_owner_hands_back_with_guidance_required_at_the_field(web: Web) -> None:
    issue_id = await opened_issue(web)
    case = routed_case(web, issue_id, OwnerAnswer(owner=ALICE))
    now = web.temporal.running[issue_id].intake.created_at + timedelta(minutes=5)
    alice = Actor(kind=ActorKind.ENGINEER, id="alice", name="Alice Martin")
    case.acknowledge(AcknowledgeCommand(actor=alice), now)
    frank = OwnerChoice(engineer_id="frank", engineer_name="Frank Weber", tier=Tier.EXPERT)
    escalate = EscalateCommand(actor=alice, to_tier=Tier.EXPERT, reason="QoS", summary="tried")
    case.escalate(escalate, now, frank)
    await web.sign_in("frank", "demo-frank-tier2")
    page = await web.http.get(f"/workspace/issues/{issue_id}")
    assert "hand_back" in form_ids(page.text) and 'id="hand_back-guidance"' in page.text
    token = CSRF.search(page.text)
    assert token
    url = f"/workspace/issues/{issue_id}/commands/hand_back"
    empty = await web.http.post(url, data={"csrf_token": token.group(1), "guidance": " "})
    assert empty.status_code == 422 and 'id="guidance-error"' in empty.text
    sent = await web.http.post(
        url,
        data={"csrf_token": token.group(1), "guidance": "Reset QoS", "idempotency_key": "h1"},
    )
    assert sent.status_code == 303, sent.text
    _, name, command = web.temporal.updates[-1]
    assert (name, command.guidance) == ("hand_back", "Reset QoS")
