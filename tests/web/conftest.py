"""The web workspace in process against a real database (SQLite and PostgreSQL) and the
API tests' fake Temporal: sign-in, CSRF, languages and forms, without a browser."""

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.main import create_app
from api.services import issues as issue_service
from api.state import AppState
from config.settings import Settings
from db.seed import seed_demo_data
from db.session import Database
from domain.enums import IssueState
from tests.api.conftest import FakeTemporal

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Web:
    http: httpx.AsyncClient
    temporal: FakeTemporal
    db: Database
    settings: Settings

    async def csrf(self, path: str = "/signin") -> str:
        page = await self.http.get(path)
        found = CSRF.search(page.text)
        assert found, page.text[:500]
        return found.group(1)

    async def sign_in(self, username: str, password: str) -> httpx.Response:
        token = await self.csrf()
        return await self.http.post(
            "/signin",
            data={"username": username, "password": password, "csrf_token": token},
        )


@pytest.fixture
async def web(
    database: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[Web]:
    monkeypatch.setattr(issue_service, "DISPATCHED", frozenset(IssueState))
    async with database.transaction() as session:
        await seed_demo_data(session)
    settings = Settings(
        environment="test",
        database_url=database.url,
        seed_demo_data=False,
        session_cookie_secure=False,
        auth_failure_limit="1000/minute",
        attachment_dir=tmp_path / "attachments",
        attachment_max_bytes=64 * 1024,
    )
    temporal = FakeTemporal(settings)
    app = create_app(settings, AppState(settings=settings, db=database, temporal=temporal))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://itr.test") as http:
        yield Web(http=http, temporal=temporal, db=database, settings=settings)
