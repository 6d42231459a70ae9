"""JiraTestServer: the test Jira on 127.0.0.1 (ephemeral port) in a background uvicorn thread."""

import asyncio
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import uvicorn
import yaml
from starlette.types import Scope

from jira_test_server.app import build_asgi
from jira_test_server.faults import FaultPlan, RecordedRequest
from jira_test_server.records import Issue, WebhookEvent
from jira_test_server.spec import INTEGRATION_USER, RND_USER, ServerSpec, UserSpec
from jira_test_server.state import JiraState

START_TIMEOUT_SECONDS = 10.0


def sign_webhook(body: bytes, secret: str) -> str:
    """X-Hub-Signature as Jira computes it: sha256=<hex HMAC-SHA256 of the raw body>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_request(
    event: WebhookEvent, secret: str | None, retry: int = 0
) -> tuple[bytes, dict[str, str]]:
    """The exact body and headers Jira would POST for this event."""
    body = json.dumps(event.body).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Atlassian-Webhook-Identifier": event.identifier,
        "X-Atlassian-Webhook-Retry": str(retry),
    }
    if secret is not None:
        headers["X-Hub-Signature"] = sign_webhook(body, secret)
    return body, headers


class JiraTestServer:
    """A stateful Jira-compatible server the real `jira` library talks to over loopback HTTP."""

    def __init__(self, spec: ServerSpec | None = None) -> None:
        self.spec = spec or ServerSpec()
        self.state = JiraState(self.spec)
        self.faults = FaultPlan()
        self.requests: list[RecordedRequest] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    # --- lifecycle -------------------------------------------------------------------

    def write_itr_config(
        self,
        path: Path,
        *,
        webhook_secret: str,
        products: Mapping[str, str] | None = None,
        api_token: str | None = None,
        poll_interval: float | None = None,
    ) -> Path:
        """An ITR_TRACKER_CONFIG file pointing ITR at this server as the integration user
        (`products`: product id -> project key, default edge-router -> RND), for the tests,
        the benchmarks and the replay recorder alike."""
        jira: dict[str, Any] = {
            "url": self.url,
            "auth": {
                "kind": "basic",
                "email": INTEGRATION_USER.email,
                "api_token": api_token or INTEGRATION_USER.api_token,
            },
            "timeout_seconds": 5,
            "webhook_secret": webhook_secret,
            "products": {
                product: {"project_key": project}
                for product, project in (products or {"edge-router": "RND"}).items()
            },
        }
        if poll_interval is not None:
            jira["poll_interval"] = poll_interval
        path.write_text(yaml.safe_dump({"jira": jira}))
        return path

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("server not started")
        return self._url

    def start(self) -> Self:
        if self._server is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
        self._url = f"http://127.0.0.1:{port}"
        self.state.json.base_url = self._url
        app = build_asgi(self.state, self.faults, self.requests, self._drop_connection)
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            http="h11",
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="jira-test-server", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("Jira test server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _drop_connection(self, scope: Scope) -> bool:
        """Abort the TCP connection a request came on (runs on the server's event loop)."""
        server = self._server
        client = scope.get("client")
        if server is None or client is None:
            return False
        for connection in list(server.server_state.connections):
            if tuple(getattr(connection, "client", None) or ()) == tuple(client):
                transport: asyncio.Transport | None = getattr(connection, "transport", None)
                if transport is not None:
                    transport.abort()
                    return True
        return False

    # --- users and time --------------------------------------------------------------

    @property
    def integration_user(self) -> UserSpec:
        return self.spec.users[0] if self.spec.users else INTEGRATION_USER

    def _rnd(self, user: UserSpec | str | None) -> UserSpec:
        if isinstance(user, UserSpec):
            return user
        if isinstance(user, str):
            return self.state.user(user)
        others = [u for u in self.spec.users if u != self.integration_user]
        return others[0] if others else RND_USER

    def freeze_time(self, at: datetime) -> None:
        """Stamp every change with `at` until advanced or unfrozen."""
        self.state.clock.freeze(at)

    def advance_time(self, delta: timedelta) -> None:
        self.state.clock.advance(delta)

    def unfreeze_time(self) -> None:
        self.state.clock.unfreeze()

    # --- acting as R&D ---------------------------------------------------------------

    def act_transition(
        self,
        key: str,
        name: str,
        resolution: str | None = None,
        user: UserSpec | str | None = None,
    ) -> WebhookEvent:
        """Transition by name as an R&D person; returns the jira:issue_updated event."""
        return self.state.act_transition(key, name, self._rnd(user), resolution)

    def act_comment(self, key: str, body: str, user: UserSpec | str | None = None) -> WebhookEvent:
        """Comment as an R&D person; returns the comment_created event."""
        return self.state.act_comment(key, body, self._rnd(user))

    def act_update(
        self, key: str, fields: Mapping[str, Any], user: UserSpec | str | None = None
    ) -> WebhookEvent:
        """Set fields as an R&D person (e.g. {"fixVersions": [{"name": "2.4"}]})."""
        return self.state.act_update(key, fields, self._rnd(user))

    def move_issue(
        self, key: str, project_key: str, user: UserSpec | str | None = None
    ) -> WebhookEvent:
        """Move the issue to another project (new key, same id; the old key still resolves)."""
        return self.state.move_issue(key, project_key, self._rnd(user))

    def rebuild(self) -> None:
        """Start over with no issues: keys are given again, to issues with new ids."""
        self.state.rebuild()

    # --- webhooks --------------------------------------------------------------------

    @property
    def webhook_events(self) -> list[WebhookEvent]:
        """Every change so far, including those our own API calls caused (Jira echoes them)."""
        with self.state.lock:
            return list(self.state.webhook_events)

    def send_webhook(
        self,
        url: str,
        secret: str | None,
        event: WebhookEvent,
        retry: int = 0,
        timeout: float = 5.0,
    ) -> httpx.Response:
        """POST the event as Jira would, signed with X-Hub-Signature when a secret is given."""
        body, headers = webhook_request(event, secret, retry)
        return httpx.post(url, content=body, headers=headers, timeout=timeout)

    # --- inspection ------------------------------------------------------------------

    def issues(self) -> list[Issue]:
        with self.state.lock:
            return list(self.state.issues.values())

    def issue(self, key: str) -> Issue:
        return self.state.issue(key)

    def issues_with_label(self, label: str) -> list[Issue]:
        return [i for i in self.issues() if label in i.labels]

    def requests_to(self, method: str, path_suffix: str) -> list[RecordedRequest]:
        """Recorded requests with this method whose path ends with path_suffix."""
        return [
            r
            for r in list(self.requests)
            if r.method == method.upper() and r.path.endswith(path_suffix)
        ]
