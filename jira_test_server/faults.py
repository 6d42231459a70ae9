"""Faults on demand (errors, 429, slow answers, lost responses) and a log of what clients asked."""

import asyncio
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

FaultKind = Literal["fail", "rate_limit", "delay", "drop"]


@dataclass
class Fault:
    """One planned fault for the next `remaining` requests matching method and path."""

    kind: FaultKind
    remaining: int
    method: str | None = None
    path: re.Pattern[str] | None = None
    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method.upper():
            return False
        return self.path is None or self.path.search(path) is not None


@dataclass(frozen=True)
class RecordedRequest:
    """What a client asked and what it got (status None: no answer was sent)."""

    method: str
    path: str
    query: str
    status: int | None
    fault: FaultKind | None


class FaultPlan:
    """Faults for the next matching requests, in planning order; path is a regex (re.search)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def _add(self, fault: Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("n must be at least 1")
        with self._lock:
            self._faults.append(fault)

    @staticmethod
    def _scope(method: str | None, path: str | None) -> tuple[str | None, re.Pattern[str] | None]:
        return (method.upper() if method else None, re.compile(path) if path else None)

    def fail_next(
        self, n: int = 1, status: int = 500, *, method: str | None = None, path: str | None = None
    ) -> None:
        """Answer the next n matching requests with `status` and a Jira-shaped error body."""
        m, p = self._scope(method, path)
        self._add(Fault("fail", n, m, p, status=status))

    def rate_limit_next(
        self,
        n: int = 1,
        retry_after: float | str | None = 2,
        *,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer 429 with Retry-After (seconds, or an HTTP-date string; None omits it)."""
        m, p = self._scope(method, path)
        header = None if retry_after is None else _retry_after_text(retry_after)
        self._add(Fault("rate_limit", n, m, p, status=429, retry_after=header))

    def timeout_next(
        self, n: int = 1, delay: float = 1.0, *, method: str | None = None, path: str | None = None
    ) -> None:
        """Wait `delay` seconds before handling (the request is still applied afterwards)."""
        m, p = self._scope(method, path)
        self._add(Fault("delay", n, m, p, delay=delay))

    def accept_then_drop_next(
        self, n: int = 1, *, method: str | None = None, path: str | None = None
    ) -> None:
        """Apply the request fully, then close the connection without any response."""
        m, p = self._scope(method, path)
        self._add(Fault("drop", n, m, p))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> int:
        """How many planned fault hits have not happened yet."""
        with self._lock:
            return sum(f.remaining for f in self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        """Consume one hit of the first fault matching this request."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None


def _retry_after_text(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)


class FaultInjectionMiddleware:
    """ASGI middleware applying the FaultPlan and recording every request."""

    def __init__(
        self,
        app: ASGIApp,
        plan: FaultPlan,
        log: list[RecordedRequest],
        drop_connection: Callable[[Scope], bool],
    ) -> None:
        self.app = app
        self.plan = plan
        self.log = log
        self.drop_connection = drop_connection

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = str(scope["method"])
        path = str(scope["path"])
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        fault = self.plan.take(method, path)
        recorded: list[bool] = []

        def record(status: int | None) -> None:
            # Logged before the client can see the outcome, so tests may read it right away.
            if not recorded:
                recorded.append(True)
                kind = fault.kind if fault else None
                self.log.append(RecordedRequest(method, path, query, status, kind))

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                record(int(message["status"]))
            await send(message)

        async def discard(message: Message) -> None:
            return None

        try:
            if fault is None:
                await self.app(scope, receive, recording_send)
            elif fault.kind in ("fail", "rate_limit"):
                await _error_response(fault, recording_send)
            elif fault.kind == "delay":
                await asyncio.sleep(fault.delay)
                await self.app(scope, receive, recording_send)
            else:
                await self.app(scope, receive, discard)
                record(None)
                self.drop_connection(scope)
                # Let the transport report the loss so the server sends nothing afterwards.
                for _ in range(5):
                    await asyncio.sleep(0)
        finally:
            record(None)


async def _error_response(fault: Fault, send: Send) -> None:
    if fault.kind == "rate_limit":
        message = "Rate limit exceeded."
    else:
        message = f"Injected failure (HTTP {fault.status})."
    body = json.dumps({"errorMessages": [message], "errors": {}}).encode()
    headers = [(b"content-type", b"application/json;charset=UTF-8")]
    if fault.retry_after is not None:
        headers.append((b"retry-after", fault.retry_after.encode()))
    await send({"type": "http.response.start", "status": fault.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
