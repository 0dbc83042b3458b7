"""/docs (Swagger UI) and /redoc work offline: the pages and their scripts and styles come from the gateway."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from paperwire_common.backends import make_backends
from paperwire_common.settings import CommonSettings
from paperwire_gateway.app import create_app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_backends(CommonSettings(backend="embedded")))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_load_everything_from_the_gateway(client: httpx.AsyncClient, page: str) -> None:
    r = await client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert not re.search(r"https?://", html), "the page names an external host"
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html) + re.findall(r"""url: ?['"]([^'"]+)['"]""", html)
    scripts = [a for a in assets if a.endswith(".js")]
    assert scripts, html
    for a in assets:
        assert a.startswith("/"), f"{page} loads {a} from elsewhere"
        got = await client.get(a)
        assert got.status_code == 200, a
        if a.endswith(".css"):
            assert got.headers["content-type"].startswith("text/css")
            assert not re.search(r"(@import|url\()\s*['\"]?https?://", got.text), f"{a} loads from another host"
        if a.endswith(".js"):
            assert "javascript" in got.headers["content-type"] and len(got.content) > 100_000
    assert "/openapi.json" in html
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "Paperwire"
