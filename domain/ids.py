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


VISIT_WORKFLOW_TYPE = "VisitWorkflow"
"""An on-site visit, a child of its issue's workflow (id `visit-<issue id>-<n>`)."""

PART_WORKFLOW_TYPE = "SparePartWorkflow"
"""A spare-part request, a child of its issue's workflow (id `part-<issue id>-<n>`)."""

ISSUE_CANCELLED_SIGNAL = "issue_cancelled"
"""Signal to a visit or part workflow: its issue was cancelled (a visit nobody started and a
part still in the warehouse are called off)."""

ONSITE_STEP_SIGNAL = "onsite_step"
"""Signal: a visit or spare-part workflow took a step (an `OnsiteStep`), for the issue's
timeline."""


def workflow_id_for(issue_id: str) -> str:
    """One workflow per issue, so starting twice with the same id is refused by Temporal."""
    return f"issue-{issue_id}"
