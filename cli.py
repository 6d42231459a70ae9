"""`itr`: one command line for the one-machine dev stack and for each production process.

`itr dev` is the whole product on a laptop (devstack/): a Temporal dev server whose SQLite
file persists next to the read model, migrations, demo data, the worker and the API. In
production each piece runs on its own (`itr migrate`, `itr api`, `itr worker`) against
PostgreSQL and a real Temporal cluster; `itr check` (itr_cli/checks.py) says what is wrong
with a deployment's configuration before anything starts. This module only wires commands.
"""

import asyncio
from typing import TYPE_CHECKING, Any

import typer
import uvicorn
from pydantic import ValidationError

from config.settings import Settings
from devstack.demo import print_demo_tokens, seed_database
from devstack.run import refuse_taken_ports, run_dev_stack
from itr_cli.checks import run_checks
from itr_cli.logs import configure_logging, exit_hard
from itr_cli.settings import describe_settings_error, load_settings, redacted, split_address

if TYPE_CHECKING:
    from fastapi import FastAPI

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})


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
    refuse_taken_ports(settings, temporal_port)
    try:
        code = asyncio.run(run_dev_stack(settings, temporal_port))
    except KeyboardInterrupt:  # before the signal handlers were in place
        code = 0
    raise typer.Exit(code)


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
    from api.server import uvicorn_options

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
        **uvicorn_options(settings),
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
    results = run_checks(settings)
    for name, found in results.items():
        detail = f" ({settings.environment})" if name == "settings" else ""
        typer.echo(f"{name:<9} {'FAIL' if found else 'ok'}{detail}")
        for problem in found:
            typer.echo(f"  - {problem}")
    if any(results.values()):
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
