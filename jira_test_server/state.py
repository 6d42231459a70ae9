"""In-memory Jira: what each endpoint does (validation, workflow, changelog), behind one lock."""

import base64
import threading
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from jira_test_server.issue_search import run_jql
from jira_test_server.records import (
    ISSUE_NOT_FOUND,
    ChangeGroup,
    ChangeItem,
    Clock,
    Comment,
    Issue,
    JiraApiError,
    RemoteLink,
    WebhookEvent,
)
from jira_test_server.rendering import JiraJson
from jira_test_server.spec import (
    CustomFieldSpec,
    ProjectSpec,
    ServerSpec,
    TransitionSpec,
    UserSpec,
)

SETTABLE_SYSTEM_FIELDS = frozenset(
    {"project", "issuetype", "summary", "description", "environment", "labels", "priority"}
    | {"components", "fixVersions", "versions"}
)


class JiraState:
    """The data of one test Jira; every public method takes the lock."""

    def __init__(self, spec: ServerSpec, clock: Clock | None = None) -> None:
        self.spec = spec
        self.clock = clock or Clock()
        self.json = JiraJson(spec)
        self.lock = threading.RLock()
        self.issues: dict[str, Issue] = {}
        self.webhook_events: list[WebhookEvent] = []
        self._ids = 10000
        self._issue_numbers: dict[str, int] = {}
        self._statuses = {s.name.casefold(): s for s in spec.statuses}
        self._custom = {f.id: f for f in spec.custom_fields}
        type_names = dict.fromkeys(name for p in spec.projects for name in p.issue_types)
        self.json.issue_type_ids = {name: str(10001 + i) for i, name in enumerate(type_names)}
        if spec.initial_status.casefold() not in self._statuses:
            raise ValueError(f"initial status {spec.initial_status!r} is not a status")
        for transition in spec.transitions:
            for name in (transition.to, *transition.sources):
                if name.casefold() not in self._statuses:
                    raise ValueError(
                        f"transition {transition.name!r} names unknown status {name!r}"
                    )

    # --- helpers ---------------------------------------------------------------------

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    def user_by_credentials(
        self, basic: tuple[str, str] | None, bearer: str | None
    ) -> UserSpec | None:
        """The user these credentials belong to, or None (the app answers 401)."""
        for user in self.spec.users:
            if bearer is not None and user.pat and bearer == user.pat:
                return user
            if (
                basic is not None
                and user.api_token
                and basic[1] == user.api_token
                and basic[0] in (user.email, user.name)
            ):
                return user
        return None

    def user(self, name_or_email: str) -> UserSpec:
        for user in self.spec.users:
            if name_or_email in (user.name, user.email, user.account_id):
                return user
        raise KeyError(name_or_email)

    def issue(self, id_or_key: str) -> Issue:
        """By id, key, or a key the issue had before it was moved (Jira still resolves those)."""
        with self.lock:
            wanted = id_or_key.upper()
            found = self.issues.get(wanted)
            if found is None and id_or_key.isdigit():
                found = next((i for i in self.issues.values() if i.id == int(id_or_key)), None)
            if found is None:
                found = next((i for i in self.issues.values() if wanted in i.previous_keys), None)
            if found is None:
                raise JiraApiError(404, [ISSUE_NOT_FOUND])
            return found

    def _project(self, ref: Mapping[str, Any] | str) -> ProjectSpec | None:
        wanted = str(ref.get("key") or ref.get("id") or "") if isinstance(ref, Mapping) else ref
        for project in self.spec.projects:
            if wanted in (project.key, project.id) or wanted.upper() == project.key:
                return project
        return None

    # --- JSON renderings -------------------------------------------------------------

    def project(self, id_or_key: str) -> dict[str, Any]:
        project = self._project(id_or_key)
        if project is None:
            raise JiraApiError(404, [f"No project could be found with key '{id_or_key}'."])
        return self.json.project_json(project)

    # --- issues ----------------------------------------------------------------------

    def create_issue(self, user: UserSpec, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST /issue with Jira's validation errors (400 with errors per field)."""
        raw_fields = body.get("fields")
        if not isinstance(raw_fields, Mapping):
            raise JiraApiError(400, ["Request body must contain 'fields'."])
        errors: dict[str, str] = {}
        project = self._project(raw_fields.get("project") or "")
        if project is None:
            errors["project"] = "valid project is required"
        issue_type = self._issue_type(project, raw_fields.get("issuetype"))
        if project is not None and issue_type is None:
            errors["issuetype"] = "valid issue type is required"
        summary = raw_fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        values = self._validate_fields(project, raw_fields, errors)
        if errors or project is None or issue_type is None or not isinstance(summary, str):
            raise JiraApiError(400, [], errors)
        with self.lock:
            number = self._issue_numbers.get(project.key, 0) + 1
            self._issue_numbers[project.key] = number
            now = self.clock.now()
            issue = Issue(
                id=self._next_id(),
                key=f"{project.key}-{number}",
                project=project,
                issue_type=issue_type,
                summary=summary,
                status=self._statuses[self.spec.initial_status.casefold()],
                reporter=user,
                created=now,
                updated=now,
            )
            self._apply_values(issue, values)
            self.issues[issue.key] = issue
            self._emit(
                "jira:issue_created",
                {"issue_event_type_name": "issue_created", "user": self.json.user_json(user)},
                issue,
            )
            return {
                "id": str(issue.id),
                "key": issue.key,
                "self": self.json.url(f"issue/{issue.id}"),
            }

    def _issue_type(self, project: ProjectSpec | None, ref: Any) -> str | None:
        if project is None or not isinstance(ref, Mapping):
            return None
        for name in project.issue_types:
            if ref.get("name") == name or str(ref.get("id")) == self.json.issue_type_ids[name]:
                return name
        return None

    def _validate_fields(
        self, project: ProjectSpec | None, raw: Mapping[str, Any], errors: dict[str, str]
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, value in raw.items():
            if name in ("project", "issuetype"):
                continue
            if name in self._custom:
                problem = _custom_value_problem(self._custom[name], value)
                if problem:
                    errors[name] = problem
                else:
                    values[name] = value
                continue
            if name not in SETTABLE_SYSTEM_FIELDS:
                errors[name] = _not_on_screen(name)
                continue
            if name in ("summary", "description", "environment"):
                if value is not None and not isinstance(value, str):
                    errors[name] = f"Field '{name}' must be a string."
                else:
                    values[name] = value
            elif name == "labels":
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    errors[name] = "Labels must be a list of strings."
                elif bad := [v for v in value if " " in v or not v]:
                    errors[name] = f"The label '{bad[0]}' contains spaces which is invalid."
                else:
                    values[name] = list(value)
            elif name == "priority":
                priority = _by_name_or_id(value, self.spec.priorities)
                if priority is None:
                    errors[name] = "Specify the Priority (id or name) in the proper format"
                else:
                    values[name] = priority
            else:
                allowed = (
                    (project.components if name == "components" else project.versions)
                    if project
                    else ()
                )
                picked = (
                    [_by_name_or_id(v, allowed) for v in value] if isinstance(value, list) else None
                )
                if picked is None or None in picked:
                    label = "Component" if name == "components" else "Version"
                    errors[name] = f"{label} name is not valid for project"
                else:
                    values[name] = picked
        return values

    def _apply_values(self, issue: Issue, values: Mapping[str, Any]) -> list[ChangeItem]:
        items: list[ChangeItem] = []
        attrs = {
            "summary": "summary",
            "description": "description",
            "environment": "environment",
            "labels": "labels",
            "priority": "priority",
            "components": "components",
            "fixVersions": "fix_versions",
            "versions": "versions",
        }
        for name, value in values.items():
            if name in attrs:
                old = getattr(issue, attrs[name])
                setattr(issue, attrs[name], value)
            else:
                old = issue.custom.get(name)
                issue.custom[name] = value
            if old != value:
                items.append(ChangeItem(name, None, _display(old), None, _display(value), "jira"))
        return items

    def edit_issue(self, user: UserSpec, key: str, body: Mapping[str, Any]) -> None:
        """PUT /issue/{key}: fields to set and update operations (labels add/remove)."""
        with self.lock:
            issue = self.issue(key)
            errors: dict[str, str] = {}
            raw_fields = dict(body.get("fields") or {})
            for operation in (body.get("update") or {}).get("labels", ()):
                labels = list(raw_fields.get("labels", issue.labels))
                if "add" in operation and operation["add"] not in labels:
                    labels.append(operation["add"])
                if "remove" in operation and operation["remove"] in labels:
                    labels.remove(operation["remove"])
                raw_fields["labels"] = labels
            for forbidden in ("project", "issuetype"):
                if forbidden in raw_fields:
                    errors[forbidden] = f"Field '{forbidden}' cannot be changed here."
            values = self._validate_fields(issue.project, raw_fields, errors)
            if errors:
                raise JiraApiError(400, [], errors)
            items = self._apply_values(issue, values)
            self._record(issue, user, items)

    def _record(
        self,
        issue: Issue,
        user: UserSpec,
        items: list[ChangeItem],
        type_name: str = "issue_generic",
    ) -> WebhookEvent | None:
        if not items:
            return None
        now = self.clock.now()
        group = ChangeGroup(self._next_id(), user, now, items)
        issue.changelog.append(group)
        issue.updated = now
        return self._emit(
            "jira:issue_updated",
            {
                "issue_event_type_name": type_name,
                "user": self.json.user_json(user),
                "changelog": {
                    "id": str(group.id),
                    "items": [
                        {
                            "field": item.field,
                            "fieldtype": item.fieldtype,
                            "from": item.from_id,
                            "fromString": item.from_string,
                            "to": item.to_id,
                            "toString": item.to_string,
                        }
                        for item in items
                    ],
                },
            },
            issue,
        )

    def _emit(self, name: str, extra: Mapping[str, Any], issue: Issue) -> WebhookEvent:
        body: dict[str, Any] = {
            "timestamp": int(self.clock.now().timestamp() * 1000),
            "webhookEvent": name,
            **extra,
            "issue": self.json.issue_json(issue),
        }
        event = WebhookEvent(identifier=str(uuid.uuid4()), name=name, body=body)
        self.webhook_events.append(event)
        return event

    def move_issue(self, key: str, project_key: str, user: UserSpec) -> WebhookEvent:
        """Move an issue to another project as Jira does: a new key there, the same id, and
        the old key kept as an alias (GET, JQL); returns the issue_moved update event."""
        with self.lock:
            issue = self.issue(key)
            target = self._project(project_key)
            if target is None:
                raise ValueError(f"no project {project_key!r}")
            if target.key == issue.project.key:
                raise ValueError(f"{issue.key} is already in {target.key}")
            number = self._issue_numbers.get(target.key, 0) + 1
            self._issue_numbers[target.key] = number
            old_key, old_project = issue.key, issue.project
            del self.issues[old_key]
            issue.previous_keys.append(old_key)
            issue.key, issue.project = f"{target.key}-{number}", target
            self.issues[issue.key] = issue
            items = [
                ChangeItem("Key", None, old_key, None, issue.key),
                ChangeItem("project", old_project.id, old_project.name, target.id, target.name),
            ]
            event = self._record(issue, user, items, type_name="issue_moved")
            assert event is not None
            return event

    def rebuild(self) -> None:
        """Forget every issue, as a Jira rebuilt from scratch would: numbering restarts, so
        keys are given again, to new issues with new ids (ids keep counting up; a restored
        Jira reusing ids as well could not be told apart by any client)."""
        with self.lock:
            self.issues.clear()
            self._issue_numbers.clear()

    # --- comments --------------------------------------------------------------------

    def list_comments(
        self, key: str, start_at: int, max_results: int, order_by: str | None
    ) -> dict[str, Any]:
        with self.lock:
            issue = self.issue(key)
            comments = list(issue.comments)
            if order_by and order_by.lstrip("+-") == "created" and order_by.startswith("-"):
                comments.reverse()
            page = comments[start_at : start_at + max_results]
            return {
                "startAt": start_at,
                "maxResults": max_results,
                "total": len(comments),
                "comments": [self.json.comment_json(issue, c) for c in page],
            }

    def add_comment(self, user: UserSpec, key: str, body: Mapping[str, Any]) -> dict[str, Any]:
        text = body.get("body")
        if not isinstance(text, str) or not text.strip():
            raise JiraApiError(400, [], {"comment": "Comment body can not be empty!"})
        with self.lock:
            issue = self.issue(key)
            now = self.clock.now()
            comment = Comment(self._next_id(), text, user, now, now)
            issue.comments.append(comment)
            issue.updated = now
            rendered = self.json.comment_json(issue, comment)
            self._emit("comment_created", {"comment": rendered}, issue)
            return rendered

    # --- workflow --------------------------------------------------------------------

    def _available(self, issue: Issue) -> list[TransitionSpec]:
        current = issue.status.name.casefold()
        return [
            t
            for t in self.spec.transitions
            if (current in {s.casefold() for s in t.sources})
            or (not t.sources and t.to.casefold() != current)
        ]

    def transitions(self, key: str, expand_fields: bool) -> dict[str, Any]:
        with self.lock:
            issue = self.issue(key)
            rendered: list[dict[str, Any]] = []
            for transition in self._available(issue):
                entry: dict[str, Any] = {
                    "id": transition.id,
                    "name": transition.name,
                    "to": self.json.status_json(self._statuses[transition.to.casefold()]),
                    "hasScreen": bool(transition.screen_fields),
                    "isGlobal": not transition.sources,
                    "isInitial": False,
                    "isConditional": False,
                }
                if expand_fields:
                    entry["fields"] = {
                        name: {
                            "required": False,
                            "name": name.capitalize(),
                            "operations": ["set"],
                            "allowedValues": self.json.resolutions()
                            if name == "resolution"
                            else [],
                        }
                        for name in transition.screen_fields
                    }
                rendered.append(entry)
            return {"expand": "transitions", "transitions": rendered}

    def do_transition(self, user: UserSpec, key: str, body: Mapping[str, Any]) -> WebhookEvent:
        """POST /issue/{key}/transitions: only transitions available from the current status."""
        with self.lock:
            issue = self.issue(key)
            wanted = str((body.get("transition") or {}).get("id", ""))
            transition = next((t for t in self._available(issue) if t.id == wanted), None)
            if transition is None:
                raise JiraApiError(400, [f"Transition id '{wanted}' is not valid for this issue."])
            return self._transition(issue, user, transition, body.get("fields") or {})

    def _transition(
        self,
        issue: Issue,
        user: UserSpec,
        transition: TransitionSpec,
        fields: Mapping[str, Any],
    ) -> WebhookEvent:
        errors: dict[str, str] = {}
        resolution: str | None = None
        for name, value in fields.items():
            if name not in transition.screen_fields:
                errors[name] = _not_on_screen(name)
            elif name == "resolution":
                resolution = _by_name_or_id(value, self.spec.resolutions)
                if resolution is None:
                    errors[name] = "Resolution is invalid."
        if errors:
            raise JiraApiError(400, [], errors)
        target = self._statuses[transition.to.casefold()]
        items = [
            ChangeItem("status", issue.status.id, issue.status.name, target.id, target.name),
        ]
        old_resolution = issue.resolution
        issue.status = target
        if target.category == "done":
            issue.resolution = resolution or transition.default_resolution or "Done"
            issue.resolution_date = self.clock.now()
        else:
            issue.resolution = None
            issue.resolution_date = None
        if issue.resolution != old_resolution:
            items.append(ChangeItem("resolution", None, old_resolution, None, issue.resolution))
        event = self._record(issue, user, items)
        assert event is not None
        return event

    def act_transition(
        self, key: str, name: str, user: UserSpec, resolution: str | None = None
    ) -> WebhookEvent:
        """Apply a transition by name as a person would in the UI."""
        with self.lock:
            issue = self.issue(key)
            transition = next(
                (t for t in self._available(issue) if t.name.casefold() == name.casefold()), None
            )
            if transition is None:
                offered = [t.name for t in self._available(issue)]
                raise ValueError(f"{key} has no transition {name!r} now; available: {offered}")
            fields = {"resolution": {"name": resolution}} if resolution else {}
            return self._transition(issue, user, transition, fields)

    def act_comment(self, key: str, body: str, user: UserSpec) -> WebhookEvent:
        """Add a comment as a person would; returns the comment_created event."""
        with self.lock:
            self.add_comment(user, key, {"body": body})
            return self.webhook_events[-1]

    def act_update(self, key: str, fields: Mapping[str, Any], user: UserSpec) -> WebhookEvent:
        """Set fields (e.g. fixVersions) as a person would; returns the issue_updated event."""
        with self.lock:
            before = len(self.webhook_events)
            self.edit_issue(user, key, {"fields": dict(fields)})
            if len(self.webhook_events) == before:
                raise ValueError("nothing changed")
            return self.webhook_events[-1]

    # --- remote links ----------------------------------------------------------------

    def remote_links(self, key: str) -> list[dict[str, Any]]:
        with self.lock:
            issue = self.issue(key)
            return [self.json.remote_link_json(issue, link) for link in issue.links]

    def add_remote_link(
        self, user: UserSpec, key: str, body: Mapping[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Create a link, or update the one with the same globalId (returns (json, created))."""
        obj = body.get("object")
        if not isinstance(obj, Mapping) or not obj.get("url") or not obj.get("title"):
            raise JiraApiError(400, [], {"object": "Remote link object needs 'url' and 'title'."})
        with self.lock:
            issue = self.issue(key)
            global_id = body.get("globalId")
            link = next((lk for lk in issue.links if global_id and lk.global_id == global_id), None)
            created = link is None
            if link is None:
                link = RemoteLink(self._next_id(), global_id, None, None, {})
                issue.links.append(link)
                self._record(
                    issue,
                    user,
                    [ChangeItem("RemoteIssueLink", None, None, str(link.id), str(obj["title"]))],
                )
            link.object = dict(obj)
            link.application = body.get("application")
            link.relationship = body.get("relationship")
            return {
                "id": link.id,
                "self": self.json.url(f"issue/{issue.key}/remotelink/{link.id}"),
            }, created

    # --- search ----------------------------------------------------------------------

    def search(
        self,
        user: UserSpec,
        jql: str,
        start_at: int,
        max_results: int,
        fields: list[str] | None,
        validate: bool,
    ) -> dict[str, Any]:
        """Server/DC /search: startAt/maxResults/total paging."""
        with self.lock:
            found = self._run_jql(user, jql, validate)
            page = found[start_at : start_at + max_results]
            return {
                "expand": "schema,names",
                "startAt": start_at,
                "maxResults": max_results,
                "total": len(found),
                "issues": [self.json.issue_json(i, fields) for i in page],
            }

    def search_jql(
        self,
        user: UserSpec,
        jql: str,
        next_page_token: str | None,
        max_results: int,
        fields: list[str] | None,
    ) -> dict[str, Any]:
        """Cloud /search/jql: nextPageToken paging; only ids unless fields are asked for."""
        with self.lock:
            found = self._run_jql(user, jql, False)
            start = (
                int(base64.urlsafe_b64decode(next_page_token).decode()) if next_page_token else 0
            )
            page = found[start : start + max_results]
            body: dict[str, Any] = {
                "issues": [self.json.issue_json(i, fields or ["id"]) for i in page],
                "isLast": start + max_results >= len(found),
            }
            if not body["isLast"]:
                body["nextPageToken"] = base64.urlsafe_b64encode(
                    str(start + max_results).encode()
                ).decode()
            return body

    def _run_jql(self, user: UserSpec, jql: str, validate: bool) -> list[Issue]:
        return run_jql(
            self.issues,
            lambda ref: self._project(ref) is not None,
            user,
            jql,
            validate,
            self.clock.now(),
        )


def _by_name_or_id(value: Any, names: Iterable[str]) -> str | None:
    listed = list(names)
    if isinstance(value, Mapping):
        if value.get("name") in listed:
            return str(value["name"])
        raw_id = str(value.get("id", ""))
        if raw_id.isdigit() and 0 < int(raw_id) <= len(listed):
            return listed[int(raw_id) - 1]
    return None


def _custom_value_problem(spec: CustomFieldSpec, value: Any) -> str | None:
    def ok(kind: str | None, item: Any) -> bool:
        if kind == "number":
            return isinstance(item, int | float) and not isinstance(item, bool)
        if kind == "option":
            return isinstance(item, Mapping) and isinstance(item.get("value"), str)
        if kind in ("version", "component"):
            return isinstance(item, Mapping) and isinstance(item.get("name"), str)
        return isinstance(item, str)

    if value is None:
        return None
    if spec.type == "array":
        valid = isinstance(value, list) and all(ok(spec.items, v) for v in value)
    else:
        valid = ok(spec.type, value)
    return None if valid else f"Field '{spec.name}' ({spec.id}) has a value of the wrong shape."


def _display(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return " ".join(_display(v) or "" for v in value)
    if isinstance(value, Mapping):
        return str(value.get("value") or value.get("name") or value)
    return str(value)


def _not_on_screen(name: str) -> str:
    return f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
