"""The daily digest sign-up in a real browser: the form, its answer and the pages of the e-mail's links, on a
gateway whose e-mail sign-up records what it is asked (the notifier's public sign-up plugs in there)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, expect

from paperwire_common.backends import make_backends
from paperwire_common.settings import CommonSettings
from paperwire_gateway.app import create_app
from paperwire_gateway.site.signup import SignupLinkInvalid
from tests.conftest import free_port

from .conftest import DESKTOP, PHONE
from .test_site import opened, serious


class Recorder:
    def __init__(self) -> None:
        self.signups: list[tuple[str, tuple[str, ...], str | None]] = []
        self.tokens = {"sub_1": "t0k3n"}

    async def sign_up(self, email: str, *, topics: Sequence[str], query: str | None, client: str) -> None:
        self.signups.append((email, tuple(topics), query))

    async def confirm(self, subscription_id: str, token: str) -> str:
        if self.tokens.get(subscription_id) != token:
            raise SignupLinkInvalid(subscription_id)
        return "active"

    async def unsubscribe(self, subscription_id: str, token: str) -> str:
        if self.tokens.get(subscription_id) != token:
            raise SignupLinkInvalid(subscription_id)
        return "unsubscribed"


@pytest.fixture(scope="module")
def signup_site() -> Iterator[tuple[str, Recorder]]:
    recorder, port = Recorder(), free_port()
    servers: list[uvicorn.Server] = []

    async def serve() -> None:
        b = make_backends(CommonSettings(backend="embedded", embeddings=False))
        await b.start()
        config = uvicorn.Config(create_app(b, signup=recorder), host="127.0.0.1", port=port, log_config=None)
        servers.append(uvicorn.Server(config))
        await servers[0].serve()
        await b.stop()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not (servers and servers[0].started):
        assert time.monotonic() < deadline and thread.is_alive(), "the gateway did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", recorder
    servers[0].should_exit = True
    thread.join(10)


def test_sign_up_confirm_and_unsubscribe(
    browser: Browser, signup_site: tuple[str, Recorder], screenshots: Path
) -> None:
    base, recorder = signup_site
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
    assert recorder.signups == [
        ("ada+desktop@example.org", (), "diffusion"),
        ("ada+phone@example.org", (), "diffusion"),
    ]
    with opened(browser, base + "/subscribe/confirm?id=sub_1&token=t0k3n", DESKTOP) as (page, response, _):
        assert response is not None and response.status == 200
        expect(page.locator("h1")).to_have_text("You are subscribed")
        page.screenshot(path=str(screenshots / "subscribe-confirmed-desktop.png"))
        assert serious(page) == []
    with opened(browser, base + "/subscribe/unsubscribe?id=sub_1&token=t0k3n", DESKTOP) as (page, response, _):
        expect(page.locator("h1")).to_have_text("You are unsubscribed")
    with opened(browser, base + "/subscribe/confirm?id=sub_1&token=wrong", DESKTOP) as (page, response, _):
        assert response is not None and response.status == 404
        expect(page.locator("h1")).to_have_text("This link is not valid")
