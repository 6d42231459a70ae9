"""The names by which the API, the activities and the workers address issue workflows.

Temporal addresses a workflow by its id and a signal by its name, both plain strings. Kept
here, the API and the activities reach an issue without importing the workflow class, so
dependencies point one way: api -> domain, activities -> domain, workflows -> domain.
`tests/test_layering.py` checks the names against `IssueWorkflow` itself.
"""

ISSUE_WORKFLOW_TYPE = "IssueWorkflow"
"""The workflow type of every customer issue (`@workflow.defn` without a name: the class)."""

DEFECT_CHANGED_SIGNAL = "defect_changed"
"""Signal: R&D decided something about a linked defect (a `DefectChange`)."""

DEFECT_COMMENTED_SIGNAL = "defect_commented"
"""Signal: R&D commented on a linked defect (a `DefectComment`)."""


def workflow_id_for(issue_id: str) -> str:
    """One workflow per issue, so starting twice with the same id is refused by Temporal."""
    return f"issue-{issue_id}"
