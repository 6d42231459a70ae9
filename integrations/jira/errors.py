"""Translate jira/requests failures into the port's transient/permanent errors."""

import email.utils
import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import requests
from jira.exceptions import JIRAError

from integrations.tracker.errors import (
    DefectNotFoundError,
    TrackerError,
    TrackerPermanentError,
    TrackerTransientError,
)

TRANSIENT_STATUS_CODES = frozenset({408, 409, 423, 425, 429})


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait per Retry-After (delta-seconds or HTTP-date); None if absent or bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def from_jira_error(exc: JIRAError, action: str, key: str | None = None) -> TrackerError:
    """Classify one JIRAError by its HTTP status."""
    status = exc.status_code
    detail = (exc.text or "").strip()[:500] or "no details"
    message = f"{action}: HTTP {status if status is not None else '?'}: {detail}"
    if status is None:
        # Raised by the library without any HTTP status (empty response, odd payload).
        return TrackerTransientError(message)
    if status == 429 or status >= 500 or status in TRANSIENT_STATUS_CODES:
        headers = exc.response.headers if exc.response is not None else {}
        retry_after = parse_retry_after(headers.get("Retry-After"))
        return TrackerTransientError(message, status_code=status, retry_after=retry_after)
    if status == 404 and key is not None:
        return DefectNotFoundError(message, status_code=status)
    return TrackerPermanentError(message, status_code=status)


@contextmanager
def tracker_errors(action: str, key: str | None = None) -> Iterator[None]:
    """Run Jira calls so that only TrackerError subclasses escape."""
    try:
        yield
    except TrackerError:
        raise
    except JIRAError as exc:
        raise from_jira_error(exc, action, key) from exc
    except requests.Timeout as exc:
        raise TrackerTransientError(f"{action}: timed out ({type(exc).__name__})") from exc
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
        raise TrackerTransientError(f"{action}: connection failed ({type(exc).__name__})") from exc
    except requests.JSONDecodeError as exc:
        raise TrackerTransientError(f"{action}: response was not JSON") from exc
    except requests.RequestException as exc:
        raise TrackerPermanentError(f"{action}: request failed ({type(exc).__name__})") from exc
