"""Liveness and readiness: /healthz says the process runs, /readyz that it can serve."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import StateDep
from api.errors import Problem

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "a dependency is unreachable"}})
async def readyz(state: StateDep) -> JSONResponse:
    """Both the database and Temporal must answer; each is reported on its own."""
    checks: dict[str, str] = {}
    try:
        await state.db.ping()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    try:
        await state.temporal.ping()
        checks["temporal"] = "ok"
    except Problem as exc:
        checks["temporal"] = exc.detail
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )
