"""Settings as the operator sees them: each problem named by the ITR_* variable to fix."""

import typer
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from config.settings import Settings


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
