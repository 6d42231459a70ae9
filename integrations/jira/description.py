"""Render a defect description (Jira wiki markup) that carries no customer personal data."""

import re

from domain.enums import Severity
from domain.redaction import redact
from integrations.tracker.port import DefectDraft

MAX_DESCRIPTION_CHARS = 30_000
_NOFORMAT = re.compile(r"\{noformat\}", re.IGNORECASE)

__all__ = ["MAX_DESCRIPTION_CHARS", "redact", "render_description"]


def _block(title: str, text: str) -> str:
    body = _NOFORMAT.sub("{ noformat }", redact(text.strip())) or "(not provided)"
    return f"h3. {title}\n{{noformat}}\n{body}\n{{noformat}}"


def _label(severity: Severity) -> str:
    return f"{int(severity)} ({severity.name.lower()})"


def render_description(draft: DefectDraft, reference_label: str) -> str:
    """Version, environment, steps, impact and the link back, in that order."""
    facts = [
        f"*Product:* {draft.product}",
        f"*Product version:* {draft.product_version or '(unknown)'}",
        f"*Severity:* {_label(draft.severity)}",
        f"*Affected customers:* {draft.affected_customers}",
        f"*ITR issue:* [{draft.issue_id}|{draft.issue_url}]",
    ]
    sections = [
        "h3. Impact\n" + "\n".join(facts),
        _block("Environment", draft.environment),
        _block("Steps to reproduce", draft.steps_to_reproduce),
    ]
    if draft.expected_behaviour:
        sections.append(_block("Expected behaviour", draft.expected_behaviour))
    if draft.actual_behaviour:
        sections.append(_block("Actual behaviour", draft.actual_behaviour))
    sections.append(
        f"----\n_Escalated from ITR ({reference_label}). "
        "Customer contact details stay in ITR; ask through the linked issue._"
    )
    text = "\n\n".join(sections)
    if len(text) > MAX_DESCRIPTION_CHARS:
        text = text[: MAX_DESCRIPTION_CHARS - 20] + "\n... (truncated)"
    return text
