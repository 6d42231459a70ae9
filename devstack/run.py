"""`itr dev`: the whole stack in one asyncio loop, stopped in order.

The dev server first (its SQLite file next to the read model, so a restart resumes every
open issue), then migrations and demo data, then the API and the worker side by side until
Ctrl-C/SIGTERM or a failure; on the way out the API stops before the worker, and the dev
server last.
"""

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

import structlog
import typer
import uvicorn

from config.settings import Settings
from devstack.demo import print_demo_tokens, seed_database
from devstack.temporal import DevServer, DevServerError, port_in_use
from itr_cli.settings import redacted

T = TypeVar("T")
log = structlog.get_logger("itr.cli")


class Shutdown:
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


async def first_or_shutdown(work: Awaitable[T], shutdown: asyncio.Event) -> T | None:
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


def refuse_taken_ports(settings: Settings, temporal_port: int) -> None:
    """Exit 1, naming the setting to change, when a port we would listen on is taken."""
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


def print_urls(settings: Settings) -> None:
    api = f"http://{settings.api_host}:{settings.api_port}"
    typer.echo(
        "\nITR is starting:\n"
        f"  API          {api}\n"
        f"  OpenAPI      {api}/docs\n"
        f"  Temporal UI  http://127.0.0.1:{settings.temporal_ui_port}\n"
        f"  Data         {settings.data_dir.resolve()}\n"
        "Press Ctrl-C to stop.\n"
    )


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


async def _prepare(settings: Settings, server: DevServer) -> None:
    """Everything before serving: Temporal up, schema current, demo data present."""
    from db.migrate import upgrade_to_head

    log.info("temporal dev server starting", log=str(server.log_file))
    await server.start()
    if server.added_search_attributes:
        log.info(
            "registered search attributes missing from the dev server",
            names=server.added_search_attributes,
        )
    log.info("temporal dev server ready", address=server.address, pid=server.pid)
    await upgrade_to_head(settings.database_url)
    log.info("database schema up to date", database=redacted(settings.database_url))
    if settings.seed_demo_data:
        print_demo_tokens(await seed_database(settings.database_url))


async def _until_exited(server: DevServer) -> None:
    """Return when the dev server process ends (without us asking it to)."""
    await server.wait_exited()
    log.error(
        "the Temporal dev server exited unexpectedly",
        log=str(server.log_file),
        tail=server.log_tail(10),
    )


async def _serve(settings: Settings, shutdown: Shutdown, dev_server: DevServer) -> int:
    """API and worker side by side until a signal or a failure, then stop API before worker.

    The API goes first so no new command reaches a workflow whose worker is leaving;
    the worker then finishes its in-flight activities (graceful shutdown).
    """
    from api.main import create_app
    from api.server import uvicorn_options
    from worker import run_worker

    server = EmbeddedApiServer(
        uvicorn.Config(
            app=create_app(settings),
            host=settings.api_host,
            port=settings.api_port,
            log_config=None,
            lifespan="on",
            **uvicorn_options(settings),
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


async def run_dev_stack(settings: Settings, temporal_port: int) -> int:
    """The dev stack until a signal or a failure; the exit code (0 after Ctrl-C/SIGTERM)."""
    shutdown = Shutdown()
    shutdown.install()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    server = DevServer(
        db_file=settings.data_dir / "temporal.db",
        port=temporal_port,
        ui_port=settings.temporal_ui_port,
        log_file=settings.data_dir / "temporal.log",
        namespace=settings.temporal_namespace,
    )
    try:
        try:
            await first_or_shutdown(_prepare(settings, server), shutdown.requested)
        except DevServerError as error:
            typer.echo(str(error), err=True)
            return 1
        except Exception:
            log.exception("the dev stack could not start")
            return 1
        if shutdown.requested.is_set():
            return 0
        print_urls(settings)
        return await _serve(settings, shutdown, server)
    finally:
        was_running = server.running()
        await server.stop()
        if was_running:
            log.info("temporal dev server stopped")
