"""Failed authentications per client IP are limited: guessing tokens costs the guesser time.

A moving window (the `limits` library, in-process memory): past the limit every request from
that address is answered 429 with Retry-After, valid token or not, until the window frees a
slot. Each API process counts for itself; behind a load balancer the limit is per process.
"""

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter


class TooManyFailedAttempts(Exception):
    """Answered 429 problem+json with Retry-After (seconds until a failure leaves the window)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed authentications; retry in {retry_after} s")
        self.retry_after = retry_after


class AuthFailureLimiter:
    def __init__(self, limit: str) -> None:
        self._limit: RateLimitItem = parse(limit)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def refuse_if_blocked(self, client: str) -> None:
        """Raise TooManyFailedAttempts while `client` has used up its failures."""
        if not await self._limiter.test(self._limit, "auth-failure", client):
            stats = await self._limiter.get_window_stats(self._limit, "auth-failure", client)
            raise TooManyFailedAttempts(max(1, math.ceil(stats.reset_time - time.time())))

    async def failed(self, client: str) -> None:
        """Count one failed authentication of `client`."""
        await self._limiter.hit(self._limit, "auth-failure", client)
