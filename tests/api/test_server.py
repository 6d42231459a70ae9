"""The API as uvicorn serves it (`itr api`, `itr dev`): no banner, and a client that never
finishes its request head loses the connection instead of holding it."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from api.main import create_app
from api.server import bounded_h11, uvicorn_options
from config.settings import Settings
from devstack.run import EmbeddedApiServer
from tests.support.devserver import free_port

pytestmark = pytest.mark.timeout(60)


@asynccontextmanager
async def serving(tmp_path: Path, **overrides: Any) -> AsyncIterator[int]:
    """The API on a free port with the options `itr api` uses; yields the port."""
    settings = Settings(environment="test", database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db")
    port = free_port()
    options = {**uvicorn_options(settings), **overrides}
    server = EmbeddedApiServer(
        uvicorn.Config(
            app=create_app(settings), host="127.0.0.1", port=port, log_config=None, **options
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "the server did not start"
            await asyncio.sleep(0.05)
        yield port
    finally:
        server.should_exit = True
        await task


async def test_answers_carry_no_server_banner(tmp_path: Path) -> None:
    async with serving(tmp_path) as port, httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{port}/healthz")
    assert response.status_code == 200
    assert "server" not in response.headers
    assert "date" in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_request_head_that_never_completes_loses_its_connection(tmp_path: Path) -> None:
    async with serving(tmp_path, http=bounded_h11(0.3)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: itr.test\r\nX-Slow: ")
            await writer.drain()
            # The server closes the connection: EOF, not a wait until the test's own limit.
            assert await asyncio.wait_for(reader.read(), timeout=20) == b""
        finally:
            writer.close()


async def test_a_complete_request_head_is_served_on_the_bounded_protocol(tmp_path: Path) -> None:
    async with serving(tmp_path, http=bounded_h11(0.3)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: itr.test\r\nConnection: close\r\n\r\n")
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), timeout=20)
        finally:
            writer.close()
    assert answer.startswith(b"HTTP/1.1 200")


async def test_an_announced_oversized_body_is_refused_413_before_it_is_sent(
    tmp_path: Path,
) -> None:
    async with serving(tmp_path) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(
                b"POST /issues HTTP/1.1\r\nHost: itr.test\r\nContent-Type: application/json\r\n"
                b"Content-Length: 50000000\r\n\r\n{"
            )
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), timeout=20)  # closed after the 413
        finally:
            writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert b"application/problem+json" in head
    assert b"1048576 bytes" in body


async def test_a_second_request_head_on_a_kept_alive_connection_is_bounded_too(
    tmp_path: Path,
) -> None:
    async with serving(tmp_path, http=bounded_h11(0.3), timeout_keep_alive=60) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: itr.test\r\n\r\n")
            await writer.drain()
            first = await asyncio.wait_for(reader.readuntil(b'{"status":"ok"}'), timeout=20)
            assert first.startswith(b"HTTP/1.1 200")
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: itr.test\r\n")  # never finished
            await writer.drain()
            assert await asyncio.wait_for(reader.read(), timeout=20) == b""
        finally:
            writer.close()
