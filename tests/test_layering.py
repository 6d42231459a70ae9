"""Dependencies point one way: each layer imports only the layers below it.

    worker, cli, devstack, itr_cli    composition roots: wire everything, imported by none
    api, workflows                    the two front doors (HTTP, Temporal); the API reaches
                                      a workflow by id and name (domain.ids)
    activities                        side effects for the workflows; they signal an issue
                                      by name, never through the workflow class
    db, integrations                  adapters
    config                            settings
    domain                            pure rules and vocabularies: imports nothing of ours

Read from the source with `ast`, so an import inside a function or under TYPE_CHECKING
counts as much as one at the top of a module.
"""

import ast
from pathlib import Path

import pytest
from temporalio import workflow

from domain.ids import (
    DEFECT_CHANGED_SIGNAL,
    DEFECT_COMMENTED_SIGNAL,
    ISSUE_CANCELLED_SIGNAL,
    ISSUE_WORKFLOW_TYPE,
    ONSITE_STEP_SIGNAL,
    PART_WORKFLOW_TYPE,
    VISIT_WORKFLOW_TYPE,
    workflow_id_for,
)
from workflows.issue import IssueWorkflow
from workflows.spare_part import SparePartWorkflow
from workflows.visit import VisitWorkflow

ROOT = Path(__file__).resolve().parents[1]
ROOTS = ("worker", "cli", "itr_cli", "devstack")
"""The composition roots: they wire everything together, nothing imports them."""

FORBIDDEN: dict[str, tuple[str, ...]] = {
    "api": ("activities", "worker", *ROOTS),
    "web": ("activities", "worker", *ROOTS),
    "activities": ("workflows", "api", *ROOTS),
    "domain": ("api", "activities", "workflows", "db", "integrations", "config", *ROOTS),
    "db": ("api", "activities", "workflows", *ROOTS),
    "integrations": ("api", "activities", "workflows", "db", *ROOTS),
    "config": ("api", "activities", "workflows", "db", "integrations", *ROOTS),
}
"""Per package: the top-level packages and modules its code must not import."""


def imported_modules(source: Path) -> list[tuple[int, str]]:
    """(line, module) of every import statement in `source`, wherever it stands."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{source.relative_to(ROOT)}:{line} imports {module}"
        for source in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in source.parts
        for line, module in imported_modules(source)
        if module.split(".")[0] in forbidden
    ]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_each_package_imports_only_the_layers_below_it(package: str) -> None:
    assert violations(package, FORBIDDEN[package]) == []


def test_the_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    source = tmp_path / "late.py"
    source.write_text("def late():\n    from worker import run_worker\n    import activities.x\n")
    assert imported_modules(source) == [(2, "worker"), (3, "activities.x")]


ROUTE_FORBIDDEN = ("db", "sqlalchemy")
"""What a route module must not import: it reaches data only through `api.services`."""

TRANSACTION_CALLS = frozenset({"commit", "rollback", "flush"})
"""Calls that end or force a transaction: services own the session, never a route."""


def transaction_calls(source: Path) -> list[tuple[int, str]]:
    """(line, name) of every `<anything>.commit()`, `.rollback()` or `.flush()` in `source`."""
    return [
        (node.lineno, node.func.attr)
        for node in ast.walk(ast.parse(source.read_text(), filename=str(source)))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in TRANSACTION_CALLS
    ]


def test_every_route_goes_through_a_service_that_owns_the_transaction() -> None:
    """Route -> service -> repository: a route (of the JSON API or of a web page) parses,
    authorises and calls a service; it neither imports the database layer nor commits, so
    each rule lives in one place."""
    routes = sorted((ROOT / "api" / "routes").glob("*.py")) + sorted(
        (ROOT / "web" / "routes").glob("*.py")
    )
    assert len(routes) > 1
    found = [
        f"{source.relative_to(ROOT)}:{line} imports {module}"
        for source in routes
        for line, module in imported_modules(source)
        if module.split(".")[0] in ROUTE_FORBIDDEN
    ] + [
        f"{source.relative_to(ROOT)}:{line} calls .{name}()"
        for source in routes
        for line, name in transaction_calls(source)
    ]
    assert found == []


def test_the_route_check_sees_a_commit_and_a_repository_import(tmp_path: Path) -> None:
    source = tmp_path / "route.py"
    source.write_text(
        "from db.repositories import reference as repo\n"
        "async def create(session):\n"
        "    await repo.create(session)\n"
        "    await session.commit()\n"
    )
    assert imported_modules(source) == [(1, "db.repositories")]
    assert transaction_calls(source) == [(4, "commit")]


def test_the_shared_names_are_the_ones_the_issue_workflow_declares() -> None:
    """The API and the activities signal by these strings; a renamed handler fails here."""
    definition = workflow._Definition.must_from_class(IssueWorkflow)
    assert definition.name == ISSUE_WORKFLOW_TYPE
    assert {DEFECT_CHANGED_SIGNAL, DEFECT_COMMENTED_SIGNAL} <= set(definition.signals)
    assert workflow_id_for("ITR-7") == "issue-ITR-7"


def test_the_on_site_names_are_the_ones_the_workflows_declare() -> None:
    """The issue starts its children and both sides signal each other by these strings."""
    issue = workflow._Definition.must_from_class(IssueWorkflow)
    assert ONSITE_STEP_SIGNAL in issue.signals
    for child, type_name in (
        (VisitWorkflow, VISIT_WORKFLOW_TYPE),
        (SparePartWorkflow, PART_WORKFLOW_TYPE),
    ):
        definition = workflow._Definition.must_from_class(child)
        assert definition.name == type_name
        assert ISSUE_CANCELLED_SIGNAL in definition.signals
