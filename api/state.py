"""What the API process holds for its lifetime: settings, the database and the Temporal door."""

from dataclasses import dataclass

from api.temporal_gateway import TemporalGateway
from config.settings import Settings
from db.session import Database


@dataclass
class AppState:
    settings: Settings
    db: Database
    temporal: TemporalGateway
