"""ASGI middleware that bounds every request and marks every response.

Pure ASGI (no BaseHTTPMiddleware), wrapped around the whole application including
Starlette's error middleware (see `api.main.ItrApi`), so even an error answer carries the
security headers and no request outlives its bound.

- `SecurityHeaders`: `nosniff`, no referrer, no framing, `Cache-Control: no-store` unless
  the route set its own, and a locked-down CSP on JSON answers (the docs page loads scripts).
- `RequestTimeout`: a request that has not started its answer within ITR_REQUEST_TIMEOUT is
  cancelled and answered 503 + Retry-After (an answer that started may take its time). A
  create cancelled that way is safe to retry with the same Idempotency-Key (the workflow
  start and the row insert both converge).
- `BodyLimit`: a body over ITR_MAX_BODY_BYTES is 413 (by its Content-Length before anything
  runs, or by counting a chunked body as it streams in); a body that trickles in slower than
  ITR_BODY_READ_TIMEOUT is 408.
"""

import asyncio
import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import PROBLEM_JSON
from config.settings import Settings


class BodyRefused(HTTPException):
    """A request body refused while the route reads it (413, 408); rendered as problem+json
    by its own handler (an HTTPException is the one kind the body parsing passes on)."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(status, detail)
        self.title = title


SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
JSON_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")


async def send_problem(
    scope: Scope,
    send: Send,
    status: int,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
) -> None:
    """A problem+json answer written straight to ASGI (for failures outside the routes)."""
    body = json.dumps(
        {
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": scope.get("path", ""),
        }
    ).encode()
    raw_headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                content_type = dict(headers).get(b"content-type", b"")
                if b"json" in content_type and JSON_CSP[0] not in present:
                    headers.append(JSON_CSP)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, marked)


class RequestTimeout:
    def __init__(self, app: ASGIApp, timeout: float, retry_after: int) -> None:
        self.app = app
        self.timeout = timeout
        self.retry_after = retry_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        bound = asyncio.timeout(self.timeout)

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start" and not started:
                started = True
                if not bound.expired():  # the bound is on the answer's start, not its length
                    bound.reschedule(None)
            await send(message)

        try:
            async with bound:
                await self.app(scope, receive, watched)
        except TimeoutError:
            if not bound.expired() or started:
                raise  # someone else's timeout, or too late to answer: the server logs it
            await send_problem(
                scope,
                send,
                503,
                "Service Unavailable",
                f"no answer within {self.timeout:g} s (a dependency is slow or down); "
                "retry later with the same Idempotency-Key: nothing is applied twice",
                {"Retry-After": str(self.retry_after)},
            )


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, read_timeout: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            # Connection: close, so the server drops the connection instead of reading on.
            await send_problem(
                scope, send, 413, "Content Too Large", self._too_large(), {"Connection": "close"}
            )
            return
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        complete = False
        received = 0

        async def counted() -> Message:
            """The app's receive, with the body counted and its arrival bounded in time.

            Raising an HTTPException here reaches the route's body parsing, which passes it
            on to the problem+json handler (any other exception would become a 400).
            """
            nonlocal deadline, complete, received
            if deadline is None:
                deadline = loop.time() + self.read_timeout
            try:
                # Once the body is complete, a receive waits for the disconnect: unbounded.
                async with asyncio.timeout_at(None if complete else deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyRefused(
                    408,
                    "Request Timeout",
                    f"the request body did not arrive within {self.read_timeout:g} s",
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyRefused(413, "Content Too Large", self._too_large())
                complete = not message.get("more_body", False)
            return message

        await self.app(scope, counted, send)

    def _too_large(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes"


def _content_length(scope: Scope) -> int | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def wrap(app: ASGIApp, settings: Settings) -> ASGIApp:
    """The order matters: headers on everything, then the overall bound, then the body."""
    bounded = BodyLimit(app, settings.max_body_bytes, settings.body_read_timeout.total_seconds())
    timed = RequestTimeout(
        bounded,
        settings.request_timeout.total_seconds(),
        max(1, int(settings.retry_after.total_seconds())),
    )
    return SecurityHeaders(timed)
