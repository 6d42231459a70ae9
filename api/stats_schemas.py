"""What the statistics endpoints answer: figures of a period, compared with the previous one."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.stats import (
    ComplianceFigures,
    DefectFigures,
    DurationFigures,
    Figures,
    Period,
    SatisfactionFigures,
)


class StatsDimension(StrEnum):
    """What a breakdown groups by (`by=`); team, tier and engineer are internal (staff only)."""

    TEAM = "team"
    TIER = "tier"
    ENGINEER = "engineer"
    PRODUCT = "product"
    ORGANISATION = "organisation"
    CONTRACT_LEVEL = "contract_level"
    SEVERITY = "severity"
    CATEGORY = "category"
    CHANNEL = "channel"


INTERNAL_DIMENSIONS = frozenset({StatsDimension.TEAM, StatsDimension.TIER, StatsDimension.ENGINEER})


class StatsFiguresRead(BaseModel):
    """The figures of one period. Customers get the service figures (volume, response and
    resolution times, compliance); every internal figure is null for them."""

    model_config = ConfigDict(frozen=True)

    created: int
    closed: int
    cancelled: int
    backlog: int
    backlog_age: dict[str, int]
    close_rate: float | None = Field(description="closed / created, in %")
    response_business: DurationFigures
    response_wall: DurationFigures
    resolution_business: DurationFigures
    resolution_wall: DurationFigures
    first_response_sla: ComplianceFigures
    resolution_sla: ComplianceFigures
    first_contact_resolution: float | None = None
    reassignments: int | None = None
    handoffs: int | None = None
    ola: dict[int, ComplianceFigures] | None = None
    time_in_tier: dict[int, float | None] | None = None
    waiting_customer: float | None = None
    waiting_rnd: float | None = None
    reopen_rate: float | None = None
    satisfaction: SatisfactionFigures | None = None
    defects: DefectFigures | None = None

    @classmethod
    def of(cls, figures: Figures, *, internal: bool) -> "StatsFiguresRead":
        shown = figures.model_dump()
        if not internal:
            shown = {name: shown[name] for name in SERVICE_FIGURES}
        return cls.model_validate(shown)


SERVICE_FIGURES = (
    "created",
    "closed",
    "cancelled",
    "backlog",
    "backlog_age",
    "close_rate",
    "response_business",
    "response_wall",
    "resolution_business",
    "resolution_wall",
    "first_response_sla",
    "resolution_sla",
)


class StatsSummary(BaseModel):
    period: Period
    timezone: str
    figures: StatsFiguresRead
    previous_period: Period
    previous: StatsFiguresRead


class StatsBucket(BaseModel):
    period: Period
    figures: StatsFiguresRead


class StatsTimeseries(BaseModel):
    period: Period
    timezone: str
    bucket: str
    buckets: list[StatsBucket]


class StatsGroup(BaseModel):
    key: str | None = Field(description="the dimension's value (None: not known, e.g. unowned)")
    label: str | None = Field(
        default=None, description="the team's, engineer's, product's or organisation's name"
    )
    figures: StatsFiguresRead
    previous: StatsFiguresRead


class StatsBreakdown(BaseModel):
    by: StatsDimension
    period: Period
    previous_period: Period
    timezone: str
    groups: list[StatsGroup]


class RecomputeReport(BaseModel):
    issues: int
    finished_at: datetime
