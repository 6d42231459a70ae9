"""Jira as R&D's defect tracker: configuration, adapter, webhook parsing, configuration check."""

from integrations.jira.adapter import JiraTracker
from integrations.jira.client import build_client
from integrations.jira.config import (
    BasicAuth,
    BearerAuth,
    JiraConfig,
    ProductRoute,
    TransitionNames,
    load_jira_config,
    parse_jira_config,
)
from integrations.jira.config_check import ConfigProblem, check_config
from integrations.jira.webhook import (
    WebhookRejectedError,
    parse_webhook,
    read_webhook,
    sign_body,
    verify_signature,
)

__all__ = [
    "BasicAuth",
    "BearerAuth",
    "ConfigProblem",
    "JiraConfig",
    "JiraTracker",
    "ProductRoute",
    "TransitionNames",
    "WebhookRejectedError",
    "build_client",
    "check_config",
    "load_jira_config",
    "parse_jira_config",
    "parse_webhook",
    "read_webhook",
    "sign_body",
    "verify_signature",
]
