"""A Jira-compatible test server (REST API v2 subset) that the real `jira` library talks to."""

from jira_test_server.faults import FaultPlan, RecordedRequest
from jira_test_server.records import Issue, WebhookEvent
from jira_test_server.runner import JiraTestServer, sign_webhook, webhook_request
from jira_test_server.spec import (
    INTEGRATION_USER,
    RND_USER,
    CustomFieldSpec,
    ProjectSpec,
    ServerSpec,
    StatusSpec,
    TransitionSpec,
    UserSpec,
)
from jira_test_server.state import JiraState

__all__ = [
    "INTEGRATION_USER",
    "RND_USER",
    "CustomFieldSpec",
    "FaultPlan",
    "Issue",
    "JiraState",
    "JiraTestServer",
    "ProjectSpec",
    "RecordedRequest",
    "ServerSpec",
    "StatusSpec",
    "TransitionSpec",
    "UserSpec",
    "WebhookEvent",
    "sign_webhook",
    "webhook_request",
]
