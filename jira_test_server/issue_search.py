"""Evaluate the JQL subset over in-memory issues, with Jira's validation and time-zone rules."""

from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from jira_test_server.jql import Clause, JqlError, parse_jql, parse_jql_datetime
from jira_test_server.records import Issue, JiraApiError
from jira_test_server.spec import UserSpec


def run_jql(
    issues: Mapping[str, Issue],
    project_exists: Callable[[str], bool],
    user: UserSpec,
    jql: str,
    validate: bool,
    now: datetime,
) -> list[Issue]:
    """Matching issues in the requested order; dates are read in the user's time zone (as Jira)."""
    try:
        query = parse_jql(jql)
        zone: tzinfo = ZoneInfo(user.time_zone)
        found = list(issues.values())
        for clause in query.clauses:
            if validate:
                _validate(clause, issues, project_exists)
            found = [i for i in found if _matches(i, clause, zone, now)]
    except JqlError as exc:
        raise JiraApiError(400, [str(exc)]) from exc
    found.sort(key=lambda i: i.created, reverse=True)
    for name, descending in reversed(query.order_by):
        found.sort(key=partial(_sort_key, name=name), reverse=descending)
    return found


def _validate(
    clause: Clause, issues: Mapping[str, Issue], project_exists: Callable[[str], bool]
) -> None:
    """validateQuery=true: unknown keys or projects fail the whole query, as on Server/DC."""
    for value in clause.values:
        if value is None:
            continue
        if clause.field == "key" and not any(
            value.upper() in (i.key, *i.previous_keys) for i in issues.values()
        ):
            raise JqlError(f"An issue with key '{value}' does not exist for field 'key'.")
        if clause.field == "project" and not project_exists(value):
            raise JqlError(f"The value '{value}' does not exist for the field 'project'.")


def _matches(issue: Issue, clause: Clause, zone: tzinfo, now: datetime) -> bool:
    name = clause.field
    if name in ("updated", "created"):
        moment = issue.updated if name == "updated" else issue.created
        if clause.values == (None,):
            return clause.op == "is not"
        limit = parse_jql_datetime(str(clause.values[0]), zone, now)
        return {
            ">=": moment >= limit,
            ">": moment > limit,
            "<=": moment <= limit,
            "<": moment < limit,
            "=": moment == limit,
            "!=": moment != limit,
        }.get(clause.op, False)
    own: set[str]
    if name == "key":  # a moved issue still answers to its old keys, as in Jira
        own = {k.casefold() for k in (issue.key, *issue.previous_keys)}
    elif name == "id":
        own = {str(issue.id)}
    elif name == "labels":
        own = {label.casefold() for label in issue.labels}
    elif name == "project":
        own = {issue.project.key.casefold(), issue.project.id, issue.project.name.casefold()}
    elif name == "status":
        own = {issue.status.name.casefold(), issue.status.id}
    else:
        own = {issue.resolution.casefold()} if issue.resolution else set()
    values = {v.casefold() for v in clause.values if v is not None}
    if clause.op in ("is", "is not"):
        return (not own) == (clause.op == "is")
    hit = bool(own & values)
    if clause.op in ("=", "in"):
        return hit
    if clause.op in ("!=", "not in"):
        return not hit
    raise JqlError(f"Operator '{clause.op}' is not supported for field '{name}'.")


def _sort_key(issue: Issue, name: str) -> Any:
    if name == "updated":
        return issue.updated
    if name == "created":
        return issue.created
    if name in ("key", "id"):
        return (issue.project.key, issue.id)
    return getattr(issue, name, "") or ""
