"""What a test Jira looks like: users, projects, fields, statuses, workflow; all configurable."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

StatusCategory = Literal["new", "indeterminate", "done"]


class SpecModel(BaseModel):
    """Base of the server spec models: immutable so a running server cannot drift."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class UserSpec(SpecModel):
    """An account; basic auth accepts email or name with api_token, bearer accepts pat."""

    account_id: str
    name: str
    display_name: str
    email: str
    api_token: str = ""
    pat: str = ""
    time_zone: str = "UTC"


class StatusSpec(SpecModel):
    """A workflow status with its category (drives what ITR thinks it means)."""

    id: str
    name: str
    category: StatusCategory


class TransitionSpec(SpecModel):
    """A named transition; sources empty means "from any other status"."""

    id: str
    name: str
    to: str
    sources: tuple[str, ...] = ()
    screen_fields: tuple[str, ...] = ()
    default_resolution: str | None = None


class CustomFieldSpec(SpecModel):
    """A custom field as GET /field describes it."""

    id: str = Field(pattern=r"^customfield_\d+$")
    name: str
    type: str = "string"
    items: str | None = None
    custom_type: str = "com.atlassian.jira.plugin.system.customfieldtypes:textfield"


class ProjectSpec(SpecModel):
    """A project, its issue types and components."""

    id: str
    key: str
    name: str
    issue_types: tuple[str, ...] = ("Bug", "Task", "Story")
    components: tuple[str, ...] = ()
    versions: tuple[str, ...] = ()


INTEGRATION_USER = UserSpec(
    account_id="5b10ac8d82e05b22cc7d4ef5",
    name="itr-bot",
    display_name="ITR integration",
    email="itr-bot@example.com",
    api_token="itr-api-token",
    pat="itr-personal-access-token",
)
RND_USER = UserSpec(
    account_id="5b10a2844c20165700ede21g",
    name="rnd.dev",
    display_name="R&D Developer",
    email="rnd.dev@example.com",
    api_token="rnd-api-token",
)

CLASSIC_STATUSES = (
    StatusSpec(id="1", name="Open", category="new"),
    StatusSpec(id="3", name="In Progress", category="indeterminate"),
    StatusSpec(id="4", name="Reopened", category="new"),
    StatusSpec(id="5", name="Resolved", category="done"),
    StatusSpec(id="6", name="Closed", category="done"),
)
CLASSIC_TRANSITIONS = (
    TransitionSpec(id="4", name="Start Progress", to="In Progress", sources=("Open", "Reopened")),
    TransitionSpec(id="301", name="Stop Progress", to="Open", sources=("In Progress",)),
    TransitionSpec(
        id="5",
        name="Resolve Issue",
        to="Resolved",
        sources=("Open", "In Progress", "Reopened"),
        screen_fields=("resolution",),
        default_resolution="Fixed",
    ),
    TransitionSpec(
        id="2",
        name="Close Issue",
        to="Closed",
        sources=("Open", "In Progress", "Reopened", "Resolved"),
        screen_fields=("resolution",),
        default_resolution="Fixed",
    ),
    TransitionSpec(id="3", name="Reopen Issue", to="Reopened", sources=("Resolved", "Closed")),
)


class ServerSpec(SpecModel):
    """The whole test Jira; defaults are a classic Server/DC instance with an R&D project and an
    Operations project (somewhere to move defects to)."""

    deployment_type: Literal["Server", "Cloud"] = "Server"
    version: str = "9.12.0"
    server_title: str = "ITR test Jira"
    users: tuple[UserSpec, ...] = (INTEGRATION_USER, RND_USER)
    projects: tuple[ProjectSpec, ...] = (
        ProjectSpec(
            id="10000",
            key="RND",
            name="R&D",
            components=("Backend", "Firmware"),
            versions=("4.2.2", "4.3.0"),
        ),
        ProjectSpec(id="10001", key="OPS", name="Operations"),
    )
    priorities: tuple[str, ...] = ("Highest", "High", "Medium", "Low", "Lowest")
    resolutions: tuple[str, ...] = ("Fixed", "Won't Fix", "Duplicate", "Cannot Reproduce", "Done")
    statuses: tuple[StatusSpec, ...] = CLASSIC_STATUSES
    initial_status: str = "Open"
    transitions: tuple[TransitionSpec, ...] = CLASSIC_TRANSITIONS
    custom_fields: tuple[CustomFieldSpec, ...] = ()
    embedded_comment_limit: int | None = Field(
        default=None, description="cap on comments embedded in issue JSON (forces paging)"
    )
