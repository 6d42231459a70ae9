"""How uvicorn serves the API: no banner, and no connection held open by a slow client.

uvicorn 0.55 bounds an idle keep-alive connection (`timeout_keep_alive`) and the size of
an incomplete request head (`h11_max_incomplete_event_size`), but not the time a client
may take to send the head: a client that trickles header bytes (slowloris) holds its
connection for ever. `bounded_h11` adds that bound to uvicorn's h11 protocol; the body's
arrival is bounded by `api.middleware.BodyLimit`.
"""

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from config.settings import Settings, get_settings

MAX_HEAD_BYTES = 16 * 1024


class HeaderBoundH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request head is not complete
    within `header_read_timeout` seconds of its first byte (or of the connection).

    Unset, the bound is ITR_HEADER_READ_TIMEOUT: the class is named by its module path, so
    `itr api --workers N` can hand it to the worker processes uvicorn spawns.
    """

    header_read_timeout: float | None = None
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE and data:
            self._arm_header_timer()  # a (next) request head has begun: it must finish in time
        elif self.conn.their_state is not h11.IDLE:
            self._disarm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            timeout = self.header_read_timeout
            if timeout is None:
                timeout = get_settings().header_read_timeout.total_seconds()
            self._header_timer = self.loop.call_later(timeout, self._header_timed_out)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.logger.info("closing a connection whose request head did not arrive in time")
            self.transport.close()


def bounded_h11(header_read_timeout: float) -> type[HeaderBoundH11Protocol]:
    """The protocol with an explicit bound, for a server run in this process (tests)."""
    return type(
        "HeaderBoundH11Protocol",
        (HeaderBoundH11Protocol,),
        {"header_read_timeout": header_read_timeout},
    )


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The options `itr api` and `itr dev` pass to uvicorn for the API (their settings are
    the environment's, as `get_settings()` reads them in each uvicorn process)."""
    return {
        "http": HeaderBoundH11Protocol,
        "server_header": False,
        "timeout_keep_alive": max(1, round(settings.keep_alive_timeout.total_seconds())),
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
    }
