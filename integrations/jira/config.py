"""How ITR reaches one Jira and maps its vocabulary; nothing instance-specific is hard-coded."""

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from domain.enums import Severity
from integrations.tracker.port import DefectMeaning

CUSTOM_FIELD_ID_PATTERN = r"^customfield_\d+$"


class JiraModel(BaseModel):
    """Base of the configuration models: immutable, unknown keys refused so typos surface."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class BasicAuth(JiraModel):
    """Cloud (email + API token) or Server/DC (username + password) HTTP basic auth."""

    kind: Literal["basic"] = "basic"
    email: str
    api_token: SecretStr


class BearerAuth(JiraModel):
    """Server/DC personal access token sent as a bearer token."""

    kind: Literal["bearer"] = "bearer"
    token: SecretStr


JiraAuth = Annotated[BasicAuth | BearerAuth, Field(discriminator="kind")]


class ProductRoute(JiraModel):
    """Where defects of one of our products go in Jira."""

    project_key: str
    issue_type: str = "Bug"
    components: tuple[str, ...] = ()


class TransitionNames(JiraModel):
    """Workflow transition names tried in order (first one available on the defect wins)."""

    close: tuple[str, ...] = ("Close Issue", "Close", "Done")
    resolve: tuple[str, ...] = ("Resolve Issue", "Resolve")
    reopen: tuple[str, ...] = ("Reopen Issue", "Reopen")
    start: tuple[str, ...] = ("Start Progress", "In Progress")

    def for_meaning(self, meaning: DefectMeaning) -> tuple[str, ...]:
        """Names to try to reach a status with this meaning."""
        if meaning is DefectMeaning.FIXED:
            return self.resolve + self.close
        if meaning is DefectMeaning.WONT_FIX:
            return self.close + self.resolve
        if meaning in (DefectMeaning.REOPENED, DefectMeaning.OPEN):
            return self.reopen
        return self.start


def _default_priorities() -> dict[Severity, str]:
    return {
        Severity.CRITICAL: "Highest",
        Severity.MAJOR: "High",
        Severity.MINOR: "Medium",
        Severity.LOW: "Low",
    }


def _default_category_meanings() -> dict[str, DefectMeaning]:
    return {
        "new": DefectMeaning.OPEN,
        "indeterminate": DefectMeaning.IN_PROGRESS,
        "done": DefectMeaning.FIXED,
    }


def _default_status_meanings() -> dict[str, DefectMeaning]:
    return {"Reopened": DefectMeaning.REOPENED}


def _default_resolution_meanings() -> dict[str, DefectMeaning]:
    return {
        "Won't Fix": DefectMeaning.WONT_FIX,
        "Won't Do": DefectMeaning.WONT_FIX,
        "Cannot Reproduce": DefectMeaning.WONT_FIX,
        "Incomplete": DefectMeaning.WONT_FIX,
        "Duplicate": DefectMeaning.WONT_FIX,
    }


def _default_transition_resolutions() -> dict[DefectMeaning, str]:
    return {DefectMeaning.FIXED: "Fixed", DefectMeaning.WONT_FIX: "Won't Fix"}


class JiraConfig(JiraModel):
    """Connection, routing and vocabulary mapping for R&D's Jira."""

    url: str
    auth: JiraAuth
    deployment: Literal["server", "cloud"] | None = Field(
        default=None,
        description="None asks serverInfo: it picks /search (Server/DC) or /search/jql (Cloud)",
    )
    timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_secret: SecretStr | None = None
    webhook_max_age: timedelta = Field(
        default=timedelta(minutes=10),
        gt=timedelta(0),
        description="a signed delivery whose timestamp is older than this is refused (401)",
    )
    webhook_max_ahead: timedelta = Field(
        default=timedelta(minutes=1),
        ge=timedelta(0),
        description="clock skew tolerated for a signed timestamp ahead of ours",
    )
    products: dict[str, ProductRoute] = Field(default_factory=dict)
    default_route: ProductRoute | None = None
    priorities: dict[Severity, str] = Field(default_factory=_default_priorities)
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="our field name -> Jira field id (customfield_10042) or display name",
    )
    labels: tuple[str, ...] = ()
    label_prefix: str = Field(default="itr-", pattern=r"^[A-Za-z0-9_.-]*$")
    status_meanings: dict[str, DefectMeaning] = Field(default_factory=_default_status_meanings)
    status_category_meanings: dict[str, DefectMeaning] = Field(
        default_factory=_default_category_meanings
    )
    resolution_meanings: dict[str, DefectMeaning] = Field(
        default_factory=_default_resolution_meanings
    )
    transitions: TransitionNames = Field(default_factory=TransitionNames)
    transition_resolutions: dict[DefectMeaning, str] = Field(
        default_factory=_default_transition_resolutions
    )
    jql_timezone: str | None = Field(
        default=None,
        description="zone JQL dates are read in; None asks /myself for the user's zone",
    )
    poll_interval: timedelta = timedelta(minutes=5)
    remote_link_application: str = "ITR"
    remote_link_relationship: str = "customer issue"

    @field_validator("url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return value.rstrip("/")

    def route_for(self, product: str) -> ProductRoute | None:
        """The project route for one of our products, or the default route."""
        return self.products.get(product, self.default_route)

    def label_for(self, dedupe_key: str) -> str:
        """The Jira label that carries a dedupe key."""
        return f"{self.label_prefix}{dedupe_key}"

    def browse_url(self, key: str) -> str:
        """Human link to a defect."""
        return f"{self.url}/browse/{key}"

    def meaning_of(
        self, status: str, category: str | None, resolution: str | None = None
    ) -> DefectMeaning:
        """Map a Jira status (name first, then resolution when done, then category) to a meaning."""
        by_name = {name.casefold(): meaning for name, meaning in self.status_meanings.items()}
        if (named := by_name.get(status.casefold())) is not None:
            return named
        by_category = self.status_category_meanings.get((category or "").casefold())
        if resolution and by_category in (DefectMeaning.FIXED, DefectMeaning.WONT_FIX, None):
            by_resolution = {n.casefold(): m for n, m in self.resolution_meanings.items()}
            if (resolved := by_resolution.get(resolution.casefold())) is not None:
                return resolved
        return by_category or DefectMeaning.OPEN


def load_jira_config(path: Path | str) -> JiraConfig:
    """Read a JiraConfig from a YAML file (a top-level "jira:" key is optional)."""
    raw: Any = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return parse_jira_config(raw)


def parse_jira_config(raw: Any) -> JiraConfig:
    """Validate already-loaded YAML/JSON data into a JiraConfig."""
    if isinstance(raw, dict) and set(raw) == {"jira"}:
        raw = raw["jira"]
    return JiraConfig.model_validate(raw)
