"""One validated settings object per process, read from ITR_* environment variables."""

from datetime import timedelta
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from limits import parse as parse_limit
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.enums import Severity
from domain.models import LifecycleConfig, SlaTargets

PLACEHOLDER_SECRET = "change-me"

Exposure = Literal["public", "admin", "off"]
"""Who may read /docs and /metrics: anyone, an admin token's holder, or nobody (404)."""


def package_version() -> str:
    """The installed `itr` distribution's version: the default build id of a worker."""
    try:
        return version("itr")
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "0.0.0+source"


DEFAULT_SLA_TARGETS: dict[Severity, SlaTargets] = {
    Severity.CRITICAL: SlaTargets(first_response=timedelta(hours=1), resolution=timedelta(days=1)),
    Severity.MAJOR: SlaTargets(first_response=timedelta(hours=2), resolution=timedelta(days=2)),
    Severity.MINOR: SlaTargets(first_response=timedelta(hours=4), resolution=timedelta(days=3)),
    Severity.LOW: SlaTargets(first_response=timedelta(hours=8), resolution=timedelta(days=5)),
}


class Settings(BaseSettings):
    """Everything a worker or API process needs; secrets refused at placeholders in production."""

    model_config = SettingsConfigDict(env_prefix="ITR_", env_file=".env", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("data")
    database_url: str = "sqlite+aiosqlite:///data/itr.db"

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "itr-issues"
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_tls_ca: Path | None = None
    temporal_ui_port: int = 8233

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_base_url: str = "http://127.0.0.1:8000"

    # Bounds: every request answers within request_timeout, whatever is down (503 +
    # Retry-After past it); a command waits command_timeout for its workflow.
    request_timeout: timedelta = timedelta(seconds=30)
    command_timeout: timedelta = timedelta(seconds=10)
    database_lock_timeout: timedelta = Field(
        default=timedelta(seconds=5),
        description="SQLite busy timeout, PostgreSQL lock_timeout, and the pool checkout wait",
    )
    database_statement_timeout: timedelta = timedelta(seconds=15)
    retry_after: timedelta = Field(
        default=timedelta(seconds=5), description="Retry-After of a 503 the bounds answer"
    )
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    body_read_timeout: timedelta = timedelta(seconds=10)
    header_read_timeout: timedelta = timedelta(seconds=10)
    keep_alive_timeout: timedelta = timedelta(seconds=5)
    ready_worker_window: timedelta = Field(
        default=timedelta(minutes=2),
        description="/readyz wants a worker poll this recent (an idle poll lasts about 1 min)",
    )
    auth_failure_limit: str = Field(
        default="20/minute",
        description="failed authentications per client IP (limits notation) before 429",
    )
    signin_lockout_attempts: int = Field(
        default=5, ge=1, description="consecutive failed sign-ins that lock a web user out"
    )
    signin_lockout_time: timedelta = Field(
        default=timedelta(minutes=15), description="how long a locked-out web user waits"
    )
    web_session_lifetime: timedelta = Field(
        default=timedelta(hours=12), description="a web sign-in lasts this long"
    )
    session_cookie_secure: bool | None = Field(
        default=None,
        description="the session cookie's Secure flag; default: on outside development",
    )
    attachment_dir: Path | None = Field(
        default=None,
        description="where the local attachment store keeps files (data_dir/attachments)",
    )
    attachment_max_bytes: int = Field(
        default=768 * 1024,
        ge=1,
        description="largest attachment; an upload also stays within max_body_bytes",
    )
    api_docs: Exposure | None = Field(
        default=None, description="/docs, /redoc, /openapi.json; default public, off in production"
    )
    api_metrics: Exposure | None = Field(
        default=None, description="/metrics; default public, admin-only in production"
    )

    # Fallback targets (24x7) for issues no SLA policy covers; policies live in the database.
    sla_targets: dict[Severity, SlaTargets] = Field(default_factory=lambda: DEFAULT_SLA_TARGETS)
    confirmation_reminder_after: timedelta = timedelta(days=3)
    # On-site visits: the field engineer and the customer are reminded this long before the
    # appointment window (ITR_VISIT_REMINDER_BEFORE).
    visit_reminder_before: timedelta = timedelta(hours=24)
    auto_close_after: timedelta = timedelta(days=7)
    reopen_window: timedelta = timedelta(days=14)

    # The knowledge base: validated articles unused this long are suggested for archiving
    # (checked every knowledge_sweep_interval by a Temporal Schedule); an article opened in a
    # client session with no issue from it within the window counts as a deflection.
    knowledge_stale_after: timedelta = timedelta(days=180)
    knowledge_sweep_interval: timedelta = timedelta(hours=6)
    knowledge_deflection_window: timedelta = timedelta(minutes=30)

    tracker_config: Path | None = Field(
        default=None, description="YAML JiraConfig; unset means no defect tracker sync"
    )

    notify_webhook_url: str | None = None
    notify_webhook_secret: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    # Scheduled statistics reports (weekly, monthly) also go by e-mail when a host is set.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "itr@localhost"
    smtp_starttls: bool = True
    stats_report_timezone: str = "UTC"

    seed_demo_data: bool = True
    log_level: str = "INFO"
    log_json: bool = False
    metrics_port: int | None = None
    worker_max_concurrent_activities: int = 50
    # How long an issue's next task waits for the worker that has it cached before any worker
    # may take it: after a worker dies, every issue it held waits this long (SDK default 10 s).
    worker_sticky_timeout: timedelta = Field(default=timedelta(seconds=5), gt=timedelta(0))

    # Worker Deployment versioning: every worker declares its deployment and build; with
    # `worker_versioning` on, Temporal sends workflow tasks only to the deployment's current
    # version (promoted with `temporal worker deployment set-current-version`), and open
    # issues move to it at their next task (AUTO_UPGRADE; the replay corpus proves they can).
    worker_deployment: str = Field(default="itr", pattern=r"^[^.]+$")
    worker_build_id: str = Field(default_factory=package_version, min_length=1)
    worker_versioning: bool = False

    @field_validator("stats_report_timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        """Refused at start, not when the first report is scheduled."""
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f"unknown IANA time zone {name!r}") from exc
        return name

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> "Settings":
        if self.environment == "production":
            if (
                self.notify_webhook_url
                and self.notify_webhook_secret.get_secret_value() == PLACEHOLDER_SECRET
            ):
                raise ValueError("ITR_NOTIFY_WEBHOOK_SECRET must be set in production")
            if self.database_url.startswith("sqlite"):
                raise ValueError("ITR_DATABASE_URL must point at PostgreSQL in production")
        if (self.temporal_tls_cert is None) != (self.temporal_tls_key is None):
            raise ValueError("ITR_TEMPORAL_TLS_CERT and ITR_TEMPORAL_TLS_KEY go together")
        try:
            parse_limit(self.auth_failure_limit)
        except ValueError as exc:
            raise ValueError(f"ITR_AUTH_FAILURE_LIMIT: {exc}") from None
        missing = [s for s in Severity if s not in self.sla_targets]
        if missing:
            raise ValueError(f"sla_targets lacks severities {[int(s) for s in missing]}")
        return self

    @property
    def secure_cookies(self) -> bool:
        """Cookies only over HTTPS, except on a developer's plain-HTTP machine."""
        if self.session_cookie_secure is not None:
            return self.session_cookie_secure
        return self.environment != "development"

    @property
    def docs_exposure(self) -> Exposure:
        if self.api_docs is not None:
            return self.api_docs
        return "off" if self.environment == "production" else "public"

    @property
    def metrics_exposure(self) -> Exposure:
        if self.api_metrics is not None:
            return self.api_metrics
        return "admin" if self.environment == "production" else "public"

    def lifecycle_config(self) -> LifecycleConfig:
        """The timing rules snapshotted into each new issue's workflow."""
        return LifecycleConfig(
            sla_targets=self.sla_targets,
            confirmation_reminder_after=self.confirmation_reminder_after,
            visit_reminder_before=self.visit_reminder_before,
            auto_close_after=self.auto_close_after,
            reopen_window=self.reopen_window,
            tracker_enabled=self.tracker_config is not None,
        )


@lru_cache
def get_settings() -> Settings:
    return Settings()
