"""Read deadlines for slow clients: uvicorn bounds the idle time between requests (keep-alive) but not the time a
client takes to send one, so a client announcing 200 bytes and sending 60 would hold its connection (and a
request task) forever. This HTTP protocol (uvicorn's httptools one, with two timers) closes a connection whose
headers are not in after `header_timeout_s`, and answers 408 (problem+json, `Connection: close`) when a body is
not in `body_timeout_s` after its headers.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .problems import PROBLEM


def _timeout_response() -> bytes:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Request Timeout",
            "status": 408,
            "detail": "the request body did not arrive in time",
        }
    ).encode()
    head = (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-type: " + PROBLEM.encode() + b"\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n"
    )
    return head + body


TIMEOUT_RESPONSE = _timeout_response()


def deadline_protocol(header_timeout_s: float, body_timeout_s: float) -> type[asyncio.Protocol]:
    """An HTTP protocol class for `uvicorn.Config(http=...)` with these deadlines."""

    class DeadlineProtocol(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None

        def _arm(self, seconds: float, callback: Any) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, callback)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm(header_timeout_s, self._headers_late)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            # The next request of a keep-alive connection: its headers get the deadline from its first byte
            # (until then uvicorn's keep-alive timeout applies).
            super().on_message_begin()
            if self._deadline is None:
                self._arm(header_timeout_s, self._headers_late)

        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            self._arm(body_timeout_s, self._body_late)

        def on_message_complete(self) -> None:
            self._disarm()
            super().on_message_complete()

        def _headers_late(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                self.transport.close()

        def _body_late(self) -> None:
            self._deadline = None
            if self.transport.is_closing():
                return
            cycle = self.cycle
            if cycle is not None and not cycle.response_started:
                self.transport.write(TIMEOUT_RESPONSE)
                cycle.response_started = cycle.response_complete = True
            if cycle is not None:
                # The app sees a disconnect: its pending receive() returns and what it sends is dropped.
                cycle.disconnected = True
                cycle.message_event.set()
            self.transport.close()

    return DeadlineProtocol
