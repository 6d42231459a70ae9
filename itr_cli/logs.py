"""One log format for every process we start, and a clean way out past the SDK's runtime."""

import contextlib
import logging
import os
import sys
from typing import NoReturn

import structlog

from config.settings import Settings


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
