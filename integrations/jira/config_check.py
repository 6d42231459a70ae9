"""Check a JiraConfig against the live server before trusting it with escalations."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jira import JIRA
from pydantic import BaseModel, ConfigDict

from integrations.jira.client import DEPLOYMENT_TYPES, build_client
from integrations.jira.config import JiraConfig, ProductRoute
from integrations.jira.errors import tracker_errors
from integrations.jira.fields import FieldLookupError, parse_fields, resolve_field
from integrations.tracker.errors import TrackerError

T = TypeVar("T")
KNOWN_STATUS_CATEGORIES = frozenset({"new", "indeterminate", "done", "undefined"})


class ConfigProblem(BaseModel):
    """One thing wrong with the configuration, located by its path in the config."""

    model_config = ConfigDict(frozen=True)

    path: str
    message: str
    severity: Literal["error", "warning"] = "error"


class _Problems(list[ConfigProblem]):
    def add(self, path: str, message: str, severity: Literal["error", "warning"] = "error") -> None:
        self.append(ConfigProblem(path=path, message=message, severity=severity))

    @contextmanager
    def guard(self, path: str, what: str) -> Iterator[None]:
        try:
            with tracker_errors(what):
                yield
        except TrackerError as exc:
            self.add(path, f"could not {what}: {exc}")


def _call(problems: _Problems, path: str, what: str, call: Callable[[], T]) -> T | None:
    with problems.guard(path, what):
        return call()
    return None


def check_config(config: JiraConfig, client: JIRA | None = None) -> list[ConfigProblem]:
    """Reachability, auth, projects, issue types, components, priorities, fields, statuses."""
    problems = _Problems()
    if client is None:
        client = _call(problems, "url", "connect to Jira", lambda: build_client(config))
        if client is None:
            return list(problems)

    info = _call(problems, "url", "reach Jira (serverInfo)", client.server_info)
    if info is None:
        return list(problems)
    expected = DEPLOYMENT_TYPES.get(config.deployment or "")
    actual = info.get("deploymentType")
    if expected and actual and expected != actual:
        problems.add("deployment", f"configured {expected!r} but the server says {actual!r}")

    me = _call(problems, "auth", "authenticate (myself)", client.myself)
    if me is None:
        return list(problems)

    _check_routes(config, client, problems)
    _check_priorities(config, client, problems)
    _check_fields(config, client, problems)
    _check_statuses(config, client, problems)
    _check_resolutions(config, client, problems)
    if config.jql_timezone is not None:
        try:
            ZoneInfo(config.jql_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.add("jql_timezone", f"unknown time zone {config.jql_timezone!r}")
    if config.webhook_secret is None:
        problems.add("webhook_secret", "not set: every webhook will be rejected", "warning")
    return list(problems)


def _check_routes(config: JiraConfig, client: JIRA, problems: _Problems) -> None:
    routes: list[tuple[str, ProductRoute]] = [
        (f"products.{product}", route) for product, route in config.products.items()
    ]
    if config.default_route is not None:
        routes.append(("default_route", config.default_route))
    if not routes:
        problems.add("products", "no product is routed to a Jira project")
    for path, route in routes:
        project = _project(client, route.project_key, path, problems)
        if project is None:
            continue
        type_names = {str(t.get("name")).casefold() for t in project.get("issueTypes") or ()}
        if route.issue_type.casefold() not in type_names:
            problems.add(
                f"{path}.issue_type",
                f"issue type {route.issue_type!r} is not available in project {route.project_key}",
            )
        components = {str(c.get("name")).casefold() for c in project.get("components") or ()}
        for index, component in enumerate(route.components):
            if component.casefold() not in components:
                problems.add(
                    f"{path}.components[{index}]",
                    f"component {component!r} does not exist in project {route.project_key}",
                )


def _project(client: JIRA, key: str, path: str, problems: _Problems) -> dict[str, Any] | None:
    try:
        with tracker_errors("read project"):
            raw: dict[str, Any] = client.project(key, expand="issueTypes").raw
            return raw
    except TrackerError as exc:
        if exc.status_code == 404:
            problems.add(
                f"{path}.project_key",
                f"project {key!r} does not exist or is not visible to the integration account",
            )
        else:
            problems.add(f"{path}.project_key", f"could not read project {key!r}: {exc}")
        return None


def _check_priorities(config: JiraConfig, client: JIRA, problems: _Problems) -> None:
    priorities = _call(problems, "priorities", "list priorities", client.priorities)
    if priorities is None:
        return
    names = {str(p.raw.get("name")).casefold() for p in priorities}
    for severity, name in config.priorities.items():
        if name.casefold() not in names:
            problems.add(f"priorities.{int(severity)}", f"priority {name!r} does not exist")


def _check_fields(config: JiraConfig, client: JIRA, problems: _Problems) -> None:
    if not config.fields:
        return
    raw = _call(problems, "fields", "list fields", client.fields)
    if raw is None:
        return
    fields = parse_fields(raw)
    for our_name, reference in config.fields.items():
        try:
            field = resolve_field(reference, fields)
        except FieldLookupError as exc:
            problems.add(f"fields.{our_name}", str(exc))
            continue
        if field.schema_type in ("user", "group") or field.schema_items in ("user", "group"):
            problems.add(f"fields.{our_name}", f"{field.id} holds people; not supported")


def _check_statuses(config: JiraConfig, client: JIRA, problems: _Problems) -> None:
    statuses = _call(problems, "status_meanings", "list statuses", client.statuses)
    if statuses is None:
        return
    names = {str(s.raw.get("name")).casefold() for s in statuses}
    for name in config.status_meanings:
        if name.casefold() not in names:
            problems.add(f"status_meanings.{name}", f"status {name!r} does not exist")
    known = ", ".join(sorted(KNOWN_STATUS_CATEGORIES))
    for category in config.status_category_meanings:
        if category.casefold() not in KNOWN_STATUS_CATEGORIES:
            problems.add(
                f"status_category_meanings.{category}",
                f"{category!r} is not a status category key ({known})",
            )


def _check_resolutions(config: JiraConfig, client: JIRA, problems: _Problems) -> None:
    if not config.transition_resolutions:
        return
    resolutions = _call(problems, "transition_resolutions", "list resolutions", client.resolutions)
    if resolutions is None:
        return
    names = {str(r.raw.get("name")).casefold() for r in resolutions}
    for meaning, name in config.transition_resolutions.items():
        if name.casefold() not in names:
            problems.add(
                f"transition_resolutions.{meaning.value}", f"resolution {name!r} does not exist"
            )
