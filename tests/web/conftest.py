"""The browser tests' rig: `paperwire run all` (embedded backends, the sample corpus plus a hostile paper) on a
free port, some engagement so that the trending page has something to rank, and Debian's Chromium driven by
Playwright for Python (launched from that executable: Playwright's own browser download cannot work here). The
launch gets a fresh temporary profile from Playwright, and every test a fresh browser context.

Screenshots go to tests/web/screenshots/ (git-ignored): <page>-desktop.png and <page>-phone.png, as a visitor
sees the page above the fold.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.conftest import MASTER_AUTH, ROOT, SAMPLE, TEST_MASTER_KEY, free_port
from tests.tools import need_tool

SCREENSHOTS = Path(__file__).parent / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
XSS_TITLE = "<img src=x onerror=alert(1)>"
XSS_PAPER = {
    "title": XSS_TITLE,
    "abstract": "A paper whose abstract carries <script>alert(2)</script> and <b>tags</b>, about time series "
    "markup. Links: javascript:alert(3) and https://github.com/example/xss-paper for the code.",
    "authors": ["Eve <script>alert(4)</script>", "Mallory"],
    "published": "2026-11-30",
}


@dataclass(frozen=True)
class Site:
    base: str
    hot: str  # the paper the engagement puts first (24h)
    hot_title: str
    xss: str  # the hostile paper's id
    topic: dict[str, Any]  # the largest topic
    feeds: frozenset[str]  # Atom feed routes the gateway serves (from its OpenAPI document)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Chromium for the tests of this package, closed with them: Playwright's sync API runs its own event loop,
    which must be gone before any other test's loop starts."""
    executable = need_tool("chromium")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS


def _wait(what: str, check: Any, timeout: float, proc: subprocess.Popen[bytes]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"paperwire run all exited ({proc.returncode}) while waiting for {what}"
        try:
            got = check()
            if got:
                return got
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _engage(base: str, ids: list[str]) -> None:
    """Upvotes, views and star gains, fewer for each next paper, all within the last hour."""
    now = time.time()
    events: list[dict[str, Any]] = []
    for k, pid in enumerate(ids):
        events += [
            {"paper_id": pid, "type": "upvote", "actor_id": f"u{i}", "ts": now - 60 * i} for i in range(12 - 2 * k)
        ]
        events += [
            {"paper_id": pid, "type": "view", "actor_id": f"v{i}", "ts": now - 90 * i} for i in range(30 - 4 * k)
        ]
        events += [
            {"paper_id": pid, "type": "star", "actor_id": "github", "ts": now - 3000, "stars": 50},
            {"paper_id": pid, "type": "star", "actor_id": "github", "ts": now - 120, "stars": 50 + 20 * (5 - k)},
        ]
    r = httpx.post(f"{base}/v1/events", json=events, headers=MASTER_AUTH, timeout=30)
    assert r.status_code == 202, r.text


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("site")
    xss = tmp / "xss.jsonl"
    xss.write_text(json.dumps(XSS_PAPER) + "\n")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PAPERWIRE_EMBEDDED_DATA_DIR"}
    env |= {
        "PAPERWIRE_BACKEND": "embedded",
        "PAPERWIRE_GATEWAY_PORT": str(port),
        "PAPERWIRE_GATEWAY_GRPC_PORT": "0",
        "PAPERWIRE_LOG_LEVEL": "WARNING",
        "PAPERWIRE_MASTER_KEY": TEST_MASTER_KEY,  # the engagement below is a write
        "PAPERWIRE_GATEWAY_RATE_LIMIT_ANONYMOUS": "100000/minute",  # a browser driven by tests outpaces a reader
    }
    log = (tmp / "run-all.log").open("wb")
    cmd = [sys.executable, "-m", "paperwire_cli.main", "run", "all", "--ingest", str(SAMPLE), "--ingest", str(xss)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait("readiness", lambda: httpx.get(f"{base}/readyz", timeout=2).status_code == 200, 300, proc)
        found = httpx.get(f"{base}/v1/search", params={"q": "time series", "mode": "keyword", "size": 6}).json()
        ids = [i["id"] for i in found["items"]]
        _engage(base, ids)

        def ranked_first() -> bool:
            top = httpx.get(f"{base}/v1/feeds/trending", params={"size": 1}, timeout=5).json()["items"]
            return bool(top) and top[0]["id"] == ids[0]

        _wait("the engagement to rank", ranked_first, 60, proc)
        topics = _wait("the first topics", lambda: httpx.get(f"{base}/v1/topics", timeout=5).json(), 240, proc)
        hostile = httpx.get(f"{base}/v1/search", params={"q": "onerror", "mode": "keyword"}).json()["items"]
        assert hostile and hostile[0]["title"] == XSS_TITLE, hostile
        paths = set(httpx.get(f"{base}/openapi.json").json()["paths"])
        yield Site(
            base=base,
            hot=ids[0],
            hot_title=found["items"][0]["title"],
            xss=hostile[0]["id"],
            topic=topics[0],
            feeds=frozenset(p for p in paths if p.endswith(".atom")),
        )
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
