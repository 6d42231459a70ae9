"""Liveness and readiness: /healthz says the process runs, /readyz that it can serve."""

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import StateDep
from api.errors import Problem

router = APIRouter(tags=["health"])

CHECK_TIMEOUT = 5.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _check(probe: Callable[[], Awaitable[object]], failed: str) -> str:
    """ "ok", or why not: a probe never takes longer than CHECK_TIMEOUT."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await probe()
    except Problem as exc:
        return exc.detail
    except TimeoutError:
        return f"{failed}: no answer within {CHECK_TIMEOUT:g} s"
    except Exception as exc:
        return f"{failed}: {type(exc).__name__}"
    return "ok"


@router.get("/readyz", responses={503: {"description": "a dependency is unreachable"}})
async def readyz(state: StateDep) -> JSONResponse:
    """Each dependency is a named check; 503 unless every one is "ok".

    - `database`: a round trip; `database_writable`: a write in a rolled-back transaction
      (a write-locked SQLite or a read-only PostgreSQL fails it);
    - `temporal`: the frontend answers; `worker`: a worker polled our task queue (workflow
      and activity tasks) within ITR_READY_WORKER_WINDOW, so commands will be applied.
    """
    window = state.settings.ready_worker_window
    database, writable, temporal, worker = await asyncio.gather(
        _check(state.db.ping, "unreachable"),
        _check(state.db.check_writable, "not writable"),
        _check(state.temporal.ping, "Temporal is unreachable"),
        _check(lambda: state.temporal.check_workers(window), "no worker"),
    )
    checks = {
        "database": database,
        "database_writable": writable,
        "temporal": temporal,
        "worker": worker,
    }
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )
