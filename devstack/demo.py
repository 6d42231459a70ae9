"""Demo data for a fresh stack, and the bearer tokens it creates (shown once)."""

from collections.abc import Sequence
from datetime import UTC, datetime

import typer


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
    print_demo_users()


def print_demo_users() -> None:
    """The demo people of the web workspace and their passwords (development only)."""
    from db.seed import demo_users

    people = demo_users()
    if not people:
        return
    typer.echo("Demo web workspace users (sign in at the API address, /):\n")
    typer.echo(
        format_table(
            ("ROLE", "WHO", "USERNAME", "PASSWORD"), [(r, w, u, p) for u, p, r, w in people]
        )
    )
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
