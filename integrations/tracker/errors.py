"""Tracker failures split by what a Temporal activity should do about them."""


class TrackerError(Exception):
    """Base of every tracker failure, so callers can catch the family in one clause."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class TrackerTransientError(TrackerError):
    """Worth retrying (5xx, 429, timeouts, lost connections); retry_after is the server's hint."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class TrackerPermanentError(TrackerError):
    """Retrying cannot help (auth, bad configuration, unknown key or transition)."""


class DefectNotFoundError(TrackerPermanentError):
    """The defect key does not exist or is not visible to the integration account."""
