"""The daily digest sign-up in a real browser: the form, its answer and the pages the e-mailed links open, on a
gateway over the embedded backends (the subscription store is read for the tokens the e-mail would carry)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, expect

from paperwire_common.backends import make_backends
from paperwire_common.settings import CommonSettings
from paperwire_common.subscriptions.service import ANONYMOUS
from paperwire_gateway.app import create_app
from tests.conftest import free_port

from .conftest import DESKTOP, PHONE
from .test_site import opened, serious


@pytest.fixture(scope="module")
def signup_site() -> Iterator[tuple[str, Any, asyncio.AbstractEventLoop]]:
    port = free_port()
    servers: list[uvicorn.Server] = []
    got: dict[str, Any] = {}

    async def serve() -> None:
        b = make_backends(CommonSettings(backend="embedded", embeddings=False))
        await b.start()
        got.update(backends=b, loop=asyncio.get_running_loop())
        config = uvicorn.Config(create_app(b), host="127.0.0.1", port=port, log_config=None)
        servers.append(uvicorn.Server(config))
        await servers[0].serve()
        await b.stop()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not (servers and servers[0].started):
        assert time.monotonic() < deadline and thread.is_alive(), "the gateway did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", got["backends"], got["loop"]
    servers[0].should_exit = True
    thread.join(10)


def test_sign_up_confirm_and_unsubscribe(browser: Browser, signup_site: Any, screenshots: Path) -> None:
    base, backends, loop = signup_site

    def subscriptions() -> list[Any]:
        return asyncio.run_coroutine_threadsafe(backends.subscriptions.list(ANONYMOUS), loop).result(10)

    for label, device in (("desktop", DESKTOP), ("phone", PHONE)):
        with opened(browser, base + "/subscribe", device) as (page, response, problems):
            assert response is not None and response.status == 200
            page.screenshot(path=str(screenshots / f"subscribe-form-{label}.png"))
            assert serious(page) == []
            page.get_by_label("E-mail address").fill("not-an-address@")
            page.get_by_label("Only papers matching a search (optional)").fill("diffusion")
            page.evaluate("document.querySelector('form[method=post]').noValidate = true")
            page.get_by_role("button", name="Subscribe").click()
            expect(page.locator("[role=alert]")).to_contain_text("is not an e-mail address")
            expect(page.get_by_label("Only papers matching a search (optional)")).to_have_value("diffusion")
            page.get_by_label("E-mail address").fill(f"ada+{label}@example.org")
            page.get_by_role("button", name="Subscribe").click()
            expect(page.locator("h1")).to_have_text("Check your inbox")
            assert page.url == base + "/subscribe/sent"
            assert serious(page) == []
            assert [p for p in problems if "status of 422" not in p] == []
    subs = sorted(subscriptions(), key=lambda r: r.email)
    assert [(r.email, r.query, r.status) for r in subs] == [
        ("ada+desktop@example.org", "diffusion", "pending_confirmation"),
        ("ada+phone@example.org", "diffusion", "pending_confirmation"),
    ]
    sub = subs[0]
    confirm = f"{base}/v1/subscriptions/{sub.id}/confirm?token={sub.confirm_token}"
    with opened(browser, confirm, DESKTOP) as (page, response, problems):
        assert response is not None and response.status == 200
        expect(page.locator("h1")).to_have_text("Subscription confirmed")
        page.screenshot(path=str(screenshots / "subscribe-confirmed-desktop.png"))
        assert serious(page) == [] and problems == []
    leave = f"{base}/v1/subscriptions/{sub.id}/unsubscribe?token={sub.unsubscribe_token}"
    with opened(browser, leave, PHONE) as (page, response, problems):
        expect(page.locator("h1")).to_have_text("Unsubscribe")
        page.screenshot(path=str(screenshots / "subscribe-unsubscribe-phone.png"))
        assert serious(page) == []
        page.get_by_role("button", name="Unsubscribe").click()
        expect(page.locator("h1")).to_have_text("Unsubscribed")
        assert problems == []
    assert {r.id: r.status for r in subscriptions()}[sub.id] == "unsubscribed"
    with opened(browser, f"{base}/v1/subscriptions/{sub.id}/confirm?token=wrong", DESKTOP) as (page, response, _):
        assert response is not None and response.status == 404
