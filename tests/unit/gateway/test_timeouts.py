"""Slow clients cannot hold a connection: a request whose body does not arrive in time gets a 408 and the
connection is closed; one whose headers do not arrive is closed. A real uvicorn server, a raw socket."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest

from paperwire_common.backends import make_backends
from paperwire_common.settings import CommonSettings
from paperwire_gateway.service import Gateway
from paperwire_gateway.settings import GatewaySettings
from tests.conftest import MASTER_AUTH, TEST_MASTER_KEY, free_port


@pytest.fixture
async def port(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[int]:
    monkeypatch.setenv("PAPERWIRE_MASTER_KEY", TEST_MASTER_KEY)
    b = make_backends(CommonSettings(backend="embedded"))
    await b.start()
    p = free_port()
    gw = Gateway(b, GatewaySettings(port=p, grpc_port=0, header_timeout_s=0.5, body_timeout_s=0.5))
    stop = asyncio.Event()
    task = asyncio.create_task(gw.run(stop))
    while not gw.started:
        await asyncio.sleep(0.02)
    yield p
    stop.set()
    await task
    await b.stop()


async def read_all(reader: asyncio.StreamReader, timeout: float = 5.0) -> bytes:
    return await asyncio.wait_for(reader.read(), timeout)  # until the server closes


async def test_a_body_that_never_completes_gets_408_and_a_close(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        "POST /v1/events HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 200\r\n"
        f"Authorization: {MASTER_AUTH['Authorization']}\r\n\r\n"
    )
    writer.write(head.encode() + b"[" + b" " * 59)  # 60 of the 200 bytes announced
    await writer.drain()
    t0 = time.monotonic()
    got = await read_all(reader)
    took = time.monotonic() - t0
    writer.close()
    status, _, rest = got.partition(b"\r\n")
    assert status == b"HTTP/1.1 408 Request Timeout", got[:200]
    assert b"application/problem+json" in rest and b"connection: close" in rest.lower()
    assert json.loads(rest.split(b"\r\n\r\n", 1)[1])["status"] == 408
    assert took < 3, f"closed after {took:.1f}s (deadline 0.5 s)"


async def test_headers_that_never_complete_are_closed(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /v1/search HTTP/1.1\r\nHost: t\r\nX-Slow: ")
    await writer.drain()
    t0 = time.monotonic()
    assert await read_all(reader) == b"", "closed without an answer"
    assert time.monotonic() - t0 < 3
    writer.close()


async def test_a_prompt_client_on_a_keep_alive_connection_is_served(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for _ in range(2):
        await asyncio.sleep(0.3)  # each request arrives within its own header deadline
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 5)
        assert line.startswith(b"HTTP/1.1 200"), line
        await asyncio.wait_for(reader.readuntil(b'{"status":"ok"}'), 5)
    writer.close()
