"""Real parts for the notifier's tests: webhook receivers that verify every request with the third-party
`standardwebhooks` package (never with our signing code), a listener that only counts connections (SSRF tests),
and mailpit (a real SMTP server with an HTTP API).

mailpit: PAPERWIRE_MAILPIT_URL (its HTTP API) and PAPERWIRE_MAILPIT_SMTP (host:port) point at a running one (as
`make infra-up` may start); otherwise the fixture starts its own on free ports with `deploy/local/tools.sh path
mailpit` (installed by `make tools`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.conftest import free_port
from tests.tools import need_tool


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    payload: Any  # what standardwebhooks.verify returned
    at: float


@dataclass
class Receiver:
    """An HTTP endpoint: answers from `script` (one status per request, then `default`), verifies signatures."""

    secret: str = ""
    script: list[int] = field(default_factory=list)
    default: int = 200
    delay_s: float = 0.0  # before answering (a slow endpoint); long enough = a timeout
    extra_headers: dict[str, str] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # requests that failed verification, with why
    answered: list[int] = field(default_factory=list)
    port: int = 0
    path: str = "/hook"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def ok(self) -> list[Received]:
        return [r for r, code in zip(self.requests, self.answered, strict=False) if 200 <= code < 300]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            payload = Webhook(self.secret).verify(body, headers)
        except (WebhookVerificationError, ValueError) as e:
            self.rejected.append(f"{e}: {headers}")
            return web.Response(status=400)
        self.requests.append(Received(headers, body, payload, time.time()))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        code = self.script.pop(0) if self.script else self.default
        self.answered.append(code)
        return web.Response(status=code, text="ok", headers=self.extra_headers)


class Receivers:
    """Many receivers on one aiohttp server (one port): /hook/<n>."""

    def __init__(self) -> None:
        self.by_path: dict[str, Receiver] = {}
        self.port = free_port()
        self._runner: web.AppRunner | None = None

    def add(self, **kw: Any) -> Receiver:
        r = Receiver(port=self.port, path=f"/hook/{len(self.by_path)}", **kw)
        self.by_path[r.path] = r
        return r

    async def _dispatch(self, request: web.Request) -> web.Response:
        r = self.by_path.get(request.path)
        return await r.handle(request) if r else web.Response(status=404)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def receivers() -> AsyncIterator[Receivers]:
    rs = Receivers()
    await rs.start()
    yield rs
    await rs.stop()


class ConnectionCounter:
    """A TCP listener that counts connections and answers nothing (proof that no connection was made)."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = free_port()
        self._server: asyncio.Server | None = None

    async def _on(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
async def counter() -> AsyncIterator[ConnectionCounter]:
    c = ConnectionCounter()
    await c.start()
    yield c
    await c.stop()


async def eventually(check: Callable[[], Any], timeout_s: float = 30.0, every_s: float = 0.05) -> Any:
    """Poll `check` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s}s: {check}")
        await asyncio.sleep(every_s)


# ---------------------------------------------------------------------------------------------------- mailpit
@dataclass
class Mailpit:
    api: str
    smtp_host: str
    smtp_port: int

    @property
    def smtp_url(self) -> str:
        return f"smtp://{self.smtp_host}:{self.smtp_port}?starttls=off"

    def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        r = httpx.get(f"{self.api}/api/v1/messages", params={"limit": 500}, timeout=10)
        r.raise_for_status()
        out = r.json().get("messages") or []
        if to is not None:
            out = [m for m in out if any(a.get("Address") == to for a in m.get("To") or [])]
        return list(out)

    def message(self, message_id: str) -> dict[str, Any]:
        r = httpx.get(f"{self.api}/api/v1/message/{message_id}", timeout=10)
        r.raise_for_status()
        return dict(r.json())

    def raw(self, message_id: str) -> bytes:
        r = httpx.get(f"{self.api}/api/v1/message/{message_id}/raw", timeout=10)
        r.raise_for_status()
        return r.content

    def clear(self) -> None:
        httpx.delete(f"{self.api}/api/v1/messages", timeout=10).raise_for_status()


def _start_mailpit(tmp: str) -> tuple[subprocess.Popen[bytes], Mailpit]:
    binary = need_tool("mailpit")
    smtp, http = free_port(), free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--smtp",
            f"127.0.0.1:{smtp}",
            "--listen",
            f"127.0.0.1:{http}",
            "--database",
            os.path.join(tmp, "mailpit.db"),
            "--smtp-auth-accept-any",
            "--smtp-auth-allow-insecure",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    mp = Mailpit(f"http://127.0.0.1:{http}", "127.0.0.1", smtp)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{mp.api}/api/v1/info", timeout=1).status_code == 200:
                return proc, mp
        if proc.poll() is not None:
            raise RuntimeError(f"mailpit exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("mailpit did not start within 30 s")


@pytest.fixture(scope="session")
def mailpit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mailpit]:
    api, smtp = os.environ.get("PAPERWIRE_MAILPIT_URL"), os.environ.get("PAPERWIRE_MAILPIT_SMTP")
    if api and smtp:
        host, _, port = smtp.rpartition(":")
        yield Mailpit(api.rstrip("/"), host or "127.0.0.1", int(port))
        return
    proc, mp = _start_mailpit(str(tmp_path_factory.mktemp("mailpit")))
    try:
        yield mp
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()


@pytest.fixture
def mailpit(mailpit_server: Mailpit) -> Mailpit:
    """The session's mailpit; tests tell their messages apart by a recipient of their own."""
    return mailpit_server


def headers_of(mp: Mailpit, message_id: str) -> dict[str, list[str]]:
    r = httpx.get(f"{mp.api}/api/v1/message/{message_id}/headers", timeout=10)
    r.raise_for_status()
    return dict(json.loads(r.text))
