"""What the API process holds for its lifetime: settings, the database and the Temporal door."""

from dataclasses import dataclass, field

from api.ratelimit import AuthFailureLimiter
from api.temporal_gateway import TemporalGateway
from config.settings import Settings
from db.session import Database
from integrations.storage.local import LocalDirectoryStore
from integrations.storage.port import AttachmentStore


@dataclass
class AppState:
    settings: Settings
    db: Database
    temporal: TemporalGateway
    auth_failures: AuthFailureLimiter = field(init=False)
    attachments: AttachmentStore = field(init=False)

    def __post_init__(self) -> None:
        self.auth_failures = AuthFailureLimiter(self.settings.auth_failure_limit)
        directory = self.settings.attachment_dir or self.settings.data_dir / "attachments"
        self.attachments = LocalDirectoryStore(directory)
