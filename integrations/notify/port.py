"""The notifier port: how ITR tells people that something happened to an issue."""

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict


class Recipient(BaseModel):
    """A person a message is addressed to; email may be unknown."""

    model_config = ConfigDict(frozen=True)

    kind: str
    id: str
    name: str
    email: str | None = None


class OutboundMessage(BaseModel):
    """A rendered notification; delivery_id lets receivers drop duplicates."""

    model_config = ConfigDict(frozen=True)

    delivery_id: str
    issue_id: str
    kind: str
    subject: str
    at: datetime
    recipients: tuple[Recipient, ...]
    data: dict[str, str | int | None]
    issue_url: str


class NotificationFailed(Exception):
    """Delivery did not happen; the caller (a Temporal activity) retries."""


class Notifier(Protocol):
    async def send(self, message: OutboundMessage) -> None: ...
