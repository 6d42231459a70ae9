"""Jira's JSON shapes for users, statuses, projects, fields, comments, links and issues."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from jira_test_server.records import Comment, Issue, RemoteLink, jira_time
from jira_test_server.spec import ProjectSpec, ServerSpec, StatusSpec, UserSpec

CATEGORY_JSON: dict[str, dict[str, Any]] = {
    "new": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
    "indeterminate": {
        "id": 4,
        "key": "indeterminate",
        "colorName": "yellow",
        "name": "In Progress",
    },
    "done": {"id": 3, "key": "done", "colorName": "green", "name": "Done"},
}
SYSTEM_FIELDS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("summary", "Summary", {"type": "string", "system": "summary"}),
    ("description", "Description", {"type": "string", "system": "description"}),
    ("environment", "Environment", {"type": "string", "system": "environment"}),
    ("labels", "Labels", {"type": "array", "items": "string", "system": "labels"}),
    ("priority", "Priority", {"type": "priority", "system": "priority"}),
    ("components", "Component/s", {"type": "array", "items": "component", "system": "components"}),
    (
        "fixVersions",
        "Fix Version/s",
        {"type": "array", "items": "version", "system": "fixVersions"},
    ),
    ("versions", "Affects Version/s", {"type": "array", "items": "version", "system": "versions"}),
    ("issuetype", "Issue Type", {"type": "issuetype", "system": "issuetype"}),
    ("project", "Project", {"type": "project", "system": "project"}),
    ("status", "Status", {"type": "status", "system": "status"}),
    ("resolution", "Resolution", {"type": "resolution", "system": "resolution"}),
    ("resolutiondate", "Resolved", {"type": "datetime", "system": "resolutiondate"}),
    ("created", "Created", {"type": "datetime", "system": "created"}),
    ("updated", "Updated", {"type": "datetime", "system": "updated"}),
    ("reporter", "Reporter", {"type": "user", "system": "reporter"}),
    ("comment", "Comment", {"type": "comments-page", "system": "comment"}),
)


class JiraJson:
    """Renders records as Jira REST v2 does; base_url is set once the server has a port."""

    def __init__(self, spec: ServerSpec) -> None:
        self.spec = spec
        self.base_url = "http://127.0.0.1"
        type_names = dict.fromkeys(name for p in spec.projects for name in p.issue_types)
        self.issue_type_ids = {name: str(10001 + i) for i, name in enumerate(type_names)}

    def url(self, path: str) -> str:
        return f"{self.base_url}/rest/api/2/{path}"

    def user_json(self, user: UserSpec) -> dict[str, Any]:
        return {
            "self": self.url(f"user?accountId={user.account_id}"),
            "accountId": user.account_id,
            "name": user.name,
            "key": user.name,
            "emailAddress": user.email,
            "displayName": user.display_name,
            "active": True,
            "timeZone": user.time_zone,
        }

    def status_json(self, status: StatusSpec) -> dict[str, Any]:
        category = dict(CATEGORY_JSON[status.category])
        category["self"] = self.url(f"statuscategory/{category['id']}")
        return {
            "self": self.url(f"status/{status.id}"),
            "id": status.id,
            "name": status.name,
            "description": "",
            "statusCategory": category,
        }

    def named(self, kind: str, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {
            name: {"self": self.url(f"{kind}/{i + 1}"), "id": str(i + 1), "name": name}
            for i, name in enumerate(names)
        }

    def project_json(self, project: ProjectSpec, expand: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "self": self.url(f"project/{project.id}"),
            "id": project.id,
            "key": project.key,
            "name": project.name,
            "projectTypeKey": "software",
        }
        if expand:
            body["issueTypes"] = [self.issue_type_json(name) for name in project.issue_types]
            body["components"] = [
                {
                    "self": self.url(f"component/{project.id}{i}"),
                    "id": f"{project.id}{i}",
                    "name": n,
                }
                for i, n in enumerate(project.components)
            ]
            body["versions"] = [
                {"self": self.url(f"version/{project.id}{i}"), "id": f"{project.id}{i}", "name": n}
                for i, n in enumerate(project.versions)
            ]
        return body

    def issue_type_json(self, name: str) -> dict[str, Any]:
        type_id = self.issue_type_ids[name]
        return {
            "self": self.url(f"issuetype/{type_id}"),
            "id": type_id,
            "name": name,
            "subtask": False,
        }

    def comment_json(self, issue: Issue, comment: Comment) -> dict[str, Any]:
        return {
            "self": self.url(f"issue/{issue.id}/comment/{comment.id}"),
            "id": str(comment.id),
            "author": self.user_json(comment.author),
            "body": comment.body,
            "updateAuthor": self.user_json(comment.author),
            "created": jira_time(comment.created),
            "updated": jira_time(comment.updated),
        }

    def remote_link_json(self, issue: Issue, link: RemoteLink) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": link.id,
            "self": self.url(f"issue/{issue.key}/remotelink/{link.id}"),
            "object": link.object,
        }
        if link.global_id is not None:
            body["globalId"] = link.global_id
        if link.application is not None:
            body["application"] = link.application
        if link.relationship is not None:
            body["relationship"] = link.relationship
        return body

    def comment_page(self, issue: Issue) -> dict[str, Any]:
        limit = self.spec.embedded_comment_limit
        shown = issue.comments if limit is None else issue.comments[:limit]
        return {
            "comments": [self.comment_json(issue, c) for c in shown],
            "maxResults": len(shown),
            "total": len(issue.comments),
            "startAt": 0,
        }

    def issue_json(self, issue: Issue, wanted: Iterable[str] | None = None) -> dict[str, Any]:
        """Issue JSON with all fields, or only those asked for (names, *all, *navigable)."""
        priorities = self.named("priority", self.spec.priorities)
        resolutions = self.named("resolution", self.spec.resolutions)
        fields: dict[str, Any] = {
            "summary": issue.summary,
            "description": issue.description,
            "environment": issue.environment,
            "labels": list(issue.labels),
            "priority": priorities.get(issue.priority) if issue.priority else None,
            "components": [{"name": c} for c in issue.components],
            "fixVersions": [{"name": v, "released": False} for v in issue.fix_versions],
            "versions": [{"name": v, "released": False} for v in issue.versions],
            "issuetype": self.issue_type_json(issue.issue_type),
            "project": self.project_json(issue.project, expand=False),
            "status": self.status_json(issue.status),
            "resolution": resolutions.get(issue.resolution) if issue.resolution else None,
            "resolutiondate": jira_time(issue.resolution_date) if issue.resolution_date else None,
            "created": jira_time(issue.created),
            "updated": jira_time(issue.updated),
            "reporter": self.user_json(issue.reporter),
            "comment": self.comment_page(issue),
        }
        for custom in self.spec.custom_fields:
            fields[custom.id] = issue.custom.get(custom.id)
        requested = _requested_fields(wanted)
        if requested is not None:
            by_name = {f.name.casefold(): f.id for f in self.spec.custom_fields}
            ids = {by_name.get(name.casefold(), name) for name in requested}
            fields = {k: v for k, v in fields.items() if k in ids}
        return {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog",
            "id": str(issue.id),
            "self": self.url(f"issue/{issue.id}"),
            "key": issue.key,
            "fields": fields,
        }

    # --- metadata --------------------------------------------------------------------

    def server_info(self, now: datetime) -> dict[str, Any]:
        numbers = [int(part) for part in self.spec.version.split(".") if part.isdigit()]
        return {
            "baseUrl": self.base_url,
            "version": self.spec.version,
            "versionNumbers": numbers,
            "deploymentType": self.spec.deployment_type,
            "buildNumber": 100000,
            "serverTime": jira_time(now),
            "serverTitle": self.spec.server_title,
        }

    def fields(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = [
            {
                "id": field_id,
                "key": field_id,
                "name": name,
                "custom": False,
                "orderable": True,
                "navigable": True,
                "searchable": True,
                "clauseNames": [field_id],
                "schema": schema,
            }
            for field_id, name, schema in SYSTEM_FIELDS
        ]
        for custom in self.spec.custom_fields:
            number = custom.id.removeprefix("customfield_")
            schema: dict[str, Any] = {
                "type": custom.type,
                "custom": custom.custom_type,
                "customId": int(number),
            }
            if custom.items:
                schema["items"] = custom.items
            result.append(
                {
                    "id": custom.id,
                    "key": custom.id,
                    "name": custom.name,
                    "custom": True,
                    "orderable": True,
                    "navigable": True,
                    "searchable": True,
                    "clauseNames": [f"cf[{number}]", custom.name],
                    "schema": schema,
                }
            )
        return result

    def projects(self) -> list[dict[str, Any]]:
        return [self.project_json(p, expand=False) for p in self.spec.projects]

    def priorities(self) -> list[dict[str, Any]]:
        return list(self.named("priority", self.spec.priorities).values())

    def resolutions(self) -> list[dict[str, Any]]:
        return list(self.named("resolution", self.spec.resolutions).values())

    def statuses(self) -> list[dict[str, Any]]:
        return [self.status_json(s) for s in self.spec.statuses]


def _requested_fields(wanted: Iterable[str] | None) -> set[str] | None:
    if wanted is None:
        return None
    names = {part.strip() for item in wanted for part in item.split(",") if part.strip()}
    if not names or names & {"*all", "*navigable"}:
        return None
    return {name for name in names if not name.startswith("-")}
