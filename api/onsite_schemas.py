"""Request and response models of on-site service (visits, spare parts)."""

from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import (
    AwareDatetime,
    BaseModel,
    Field,
    StrictInt,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from api.schemas import Body, IssueRead, Printable, Reason, Request, Slug
from domain.onsite import PartState, VisitState

PartNumber = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$"),
    Printable,
]


class VisitCreate(Request):
    """An appointment window agreed with the customer; omit the engineer to have one chosen
    (the customer's region first, when known)."""

    window_start: AwareDatetime = Field(description="ISO 8601 with offset, in the future")
    window_end: AwareDatetime = Field(description="After window_start")
    engineer_id: Slug | None = Field(default=None, description="A field engineer's id")
    note: Reason | None = Field(default=None, description="For the field engineer")

    @field_validator("window_start")
    @classmethod
    def _in_the_future(cls, value: datetime) -> datetime:
        if value <= datetime.now(UTC):
            raise ValueError("the appointment window must start in the future")
        return value

    @field_validator("window_end")
    @classmethod
    def _after_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("window_start")
        if isinstance(start, datetime) and value <= start:
            raise ValueError("the appointment window must end after it starts")
        return value


class CheckInBody(Request):
    pass


class CheckOutBody(Request):
    report: Body | None = Field(default=None, description="What was done on site")


class PartCreate(Request):
    part_number: PartNumber
    quantity: Annotated[StrictInt, Field(ge=1, le=10_000)] = 1
    warehouse: Slug
    note: Reason | None = None


class PartStepBody(Request):
    reason: Body | None = Field(default=None, description="Why a part goes back (return)")


class VisitRead(BaseModel):
    """A visit; customers see the appointment, the engineer's first name and the times on
    site, staff everything."""

    visit_id: str
    issue_id: str
    number: int
    state: VisitState
    engineer_first_name: str
    engineer_id: str | None = None
    engineer_name: str | None = None
    window_start: datetime
    window_end: datetime
    reminder_at: datetime | None = None
    reminded_at: datetime | None = None
    checked_in_at: datetime | None = None
    checked_out_at: datetime | None = None
    missed_at: datetime | None = None
    time_on_site: timedelta | None = None
    report: str | None = None
    dispatched_by: str | None = None


class PartStepRead(BaseModel):
    state: PartState
    at: datetime
    actor_name: str


class PartRead(BaseModel):
    """A spare part and its delays; the warehouse and who moved it are for staff only."""

    part_id: str
    issue_id: str
    number: int
    part_number: str
    quantity: int
    state: PartState
    requested_at: datetime
    since_requested: timedelta = Field(description="Until installed or returned, once it is")
    time_in_state: timedelta = Field(description="In the current state so far")
    time_in_states: dict[PartState, timedelta] | None = None
    warehouse: str | None = None
    steps: list[PartStepRead] | None = None
    return_reason: str | None = None


class OnsiteRead(BaseModel):
    issue_id: str
    redispatch_needed: bool = Field(description="The last visit was missed: dispatch a new one")
    waiting_for_parts: bool
    visits: list[VisitRead]
    parts: list[PartRead]
    as_of: datetime


class VisitDispatched(BaseModel):
    issue: IssueRead
    visit_id: str


class PartRequested(BaseModel):
    issue: IssueRead
    part_id: str


class VisitCommandResponse(BaseModel):
    visit: VisitRead


class PartCommandResponse(BaseModel):
    part: PartRead
