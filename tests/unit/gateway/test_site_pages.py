"""The site's pages through the ASGI app on the embedded backends: headers, escaping, parameters a reader can get
wrong, search paging and facets, and the sign-up form and the e-mailed links' pages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from paperwire_common.backends import make_backends
from paperwire_common.settings import CommonSettings
from paperwire_common.subscriptions.service import ANONYMOUS
from paperwire_common.topics import TopicRecord
from paperwire_gateway.app import create_app

XSS = "<img src=x onerror=alert(1)>"
PAGES = ["/", "/latest", "/topics", "/topics/tp-1", "/papers/p0", "/search?q=series", "/subscribe"]


def _doc(i: int, **over: Any) -> dict[str, Any]:
    doc = {
        "id": f"p{i}",
        "version": 1,
        "content_hash": "0123456789abcdef",
        "title": f"Time series model number {i}",
        "abstract": f"We forecast time series with model {i}. It works.",
        "authors": ["Ada Lovelace"],
        "published_at": f"2025-0{i % 9 + 1}-01",
        "year": 2025,
        "topics": ["tp-1"] if i % 2 else [],
        "topic_labels": ["forecasting"] if i % 2 else [],
        "keyphrases": ["time series"],
        "has_code": i % 3 == 0,
        "code_urls": ["https://github.com/x/y"] if i % 3 == 0 else [],
        "code_url": "https://github.com/x/y" if i % 3 == 0 else None,
        "source": "jsonl",
    }
    return {k: v for k, v in {**doc, **over}.items() if v is not None}


@pytest.fixture
async def site() -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    b = make_backends(CommonSettings(backend="embedded", embeddings=False))
    await b.start()
    docs = [_doc(i) for i in range(45)]
    docs.append(
        _doc(
            99,
            title=XSS,
            abstract="<script>alert(2)</script> series of <b>tags</b>.",
            authors=["Eve <script>alert(3)</script>"],
            code_urls=["javascript:alert(4)"],
            code_url="javascript:alert(4)",
            project_urls=["https://example.org/p?a=1&b=<x>"],
        )
    )
    docs.append(_doc(98, id="doi:10.1000/xyz-7", title="A paper known by its DOI"))
    assert await b.index.upsert(docs) == []
    await b.index.refresh()
    topic = TopicRecord(
        id="tp-1",
        label="forecasting <i>things</i>",
        keyphrases=["time series", 'quote"d'],
        members=[f"p{i}" for i in range(1, 45, 2)],
        size=22,
        cohesion=0.5,
        created_at=0.0,
        updated_at=0.0,
    )
    await b.topics.save([topic], {}, 0.0)
    app = create_app(b)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c, b
    await b.stop()


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_has_a_title_a_heading_and_the_security_headers(site: Any, path: str) -> None:
    c, _ = site
    r = await c.get(path)
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"] == "same-origin"
    assert re.search(r"<title>[^<]+ · Paperwire</title>", r.text)
    h1 = re.search(r"<h1>(.*?)</h1>", r.text, re.S)
    assert h1 and h1.group(1).strip()
    assert "<script>" not in r.text and "style=" not in r.text, "inline script or style"
    for src in re.findall(r'(?:src|href)="([^"]+\.(?:css|js))"', r.text):
        asset = await c.get(src)
        assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
    assert not re.search(r'(?:src|href)="https?://[^"]+\.(?:css|js)"', r.text), "an asset from another host"


async def test_a_paper_id_with_slashes_has_a_page(site: Any) -> None:
    c, _ = site
    found = (await c.get("/search", params={"q": "known DOI", "mode": "keyword"})).text
    assert 'href="/papers/doi:10.1000/xyz-7"' in found
    page = await c.get("/papers/doi:10.1000/xyz-7")
    assert page.status_code == 200 and "A paper known by its DOI" in page.text


@pytest.mark.parametrize(
    ("path", "feed"),
    [
        ("/?window=7d", "/v1/feeds/trending.atom?window=7d"),
        ("/latest", "/v1/feeds/latest.atom"),
        ("/topics/tp-1", "/v1/topics/tp-1/feed.atom"),
        ("/search?q=series", "/v1/feeds/search.atom?q=series"),
    ],
)
async def test_pages_link_their_atom_feed(site: Any, path: str, feed: str) -> None:
    c, _ = site
    page = (await c.get(path)).text
    links = re.findall(r'<link rel="alternate" type="application/atom\+xml" title="[^"]+" href="([^"]+)">', page)
    assert [h.replace("&amp;", "&") for h in links] == [feed]
    atom = await c.get(feed)
    assert atom.status_code == 200 and "atom" in atom.headers["content-type"]


async def test_the_json_api_keeps_its_own_headers(site: Any) -> None:
    c, _ = site
    r = await c.get("/v1/feeds/latest")
    assert r.status_code == 200 and "content-security-policy" not in r.headers
    assert (await c.get("/assets/site.0000000000.css")).status_code == 404


async def test_index_values_render_as_text(site: Any) -> None:
    c, _ = site
    page = (await c.get("/papers/p99")).text
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script>alert" not in page and "javascript:" not in page
    assert 'href="https://example.org/p?a=1&amp;b=&lt;x&gt;"' in page
    found = (await c.get("/search", params={"q": "img onerror", "mode": "keyword"})).text
    assert "<mark>img</mark>" in found and "<img" not in found
    topic = (await c.get("/topics")).text
    assert "forecasting &lt;i&gt;things&lt;/i&gt;" in topic and "<i>things" not in topic


async def test_a_search_pages_through_every_result(site: Any) -> None:
    c, _ = site
    seen: list[str] = []
    href: str | None = "/search?q=series&mode=keyword"
    pages = 0
    while href:
        r = await c.get(href.replace("&amp;", "&"))
        assert r.status_code == 200
        seen += re.findall(r'<h2><a href="/papers/([^"]+)">', r.text)
        nxt = re.search(r'<a href="([^"]+)" rel="next">', r.text)
        href = nxt.group(1) if nxt else None
        pages += 1
    assert pages == 3 and len(seen) == len(set(seen)) == 47  # 45, the hostile one and the DOI one
    assert "That is every result." in r.text


async def test_facets_are_filter_links_with_counts(site: Any) -> None:
    c, _ = site
    r = await c.get("/search", params={"q": "series", "mode": "keyword"})
    links = dict(re.findall(r'<li><a href="([^"]+)">([^<]+)</a> <span class="n">\d+</span></li>', r.text))
    by_label = {v: k.replace("&amp;", "&") for k, v in links.items()}
    assert {"with code", "without code", "2025"} <= set(by_label)
    assert "forecasting &lt;i&gt;things&lt;/i&gt;" in by_label, "topic facets are labelled"
    narrowed = await c.get(by_label["with code"])
    assert "Results 1–16 of 16" in narrowed.text
    assert "with code" in narrowed.text and 'aria-current="true"' in narrowed.text


@pytest.mark.parametrize(
    ("query", "status", "words"),
    [
        ({"q": '"unbalanced'}, 400, "quote"),
        ({"q": "x", "mode": "fuzzy"}, 422, "mode must be one of"),
        ({"q": "x", "from": "yesterday"}, 422, "from must be a date"),
        ({"q": "x", "from": "2025-02-01", "to": "2025-01-01"}, 422, "is after to"),
        ({"q": "x", "cursor": "forged.cursor", "page": "2"}, 400, "start again"),
        ({"q": "zzzzqqq", "mode": "keyword"}, 200, "No results"),
        ({"q": "x", "mode": "semantic"}, 503, "Semantic search is not available"),
    ],
)
async def test_search_says_what_is_wrong(site: Any, query: dict[str, str], status: int, words: str) -> None:
    c, _ = site
    r = await c.get("/search", params=query)
    assert r.status_code == status and words in r.text
    assert ("application/atom+xml" in r.text) == (status == 200), "only a query that parsed links its feed"
    assert r.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("path", "status"),
    [("/?window=1y", 422), ("/topics/nope", 404), ("/papers/nope", 404), ("/topics?sort=size&page=x", 422)],
)
async def test_unknown_things_get_an_html_page(site: Any, path: str, status: int) -> None:
    c, _ = site
    r = await c.get(path)
    assert r.status_code == status and "<h1>" in r.text and "content-security-policy" in r.headers


async def test_topic_page_ranks_its_members_and_links_its_searches(site: Any) -> None:
    c, _ = site
    r = await c.get("/topics/tp-1")
    assert len(re.findall(r'<li class="paper">', r.text)) == 22
    assert 'href="/search?q=%22quoted%22"' in r.text, "keyphrases link to a phrase search, quotes dropped"


async def test_subscribe_form_signs_up_through_the_subscription_service(site: Any) -> None:
    c, b = site
    form = {"content-type": "application/x-www-form-urlencoded"}
    page = (await c.get("/subscribe", params={"topic": "tp-1"})).text
    assert 'name="email"' in page and 'value="tp-1" checked' in page
    r = await c.post("/subscribe", content="email=ada%40example.org&topic=tp-1&query=time+series", headers=form)
    assert r.status_code == 303 and r.headers["location"] == "/subscribe/sent"
    (sub,) = await b.subscriptions.list(ANONYMOUS)
    assert (sub.email, sub.status, sub.topics, sub.query) == (
        "ada@example.org",
        "pending_confirmation",
        ["tp-1"],
        "time series",
    )
    assert "Check your inbox" in (await c.get("/subscribe/sent")).text
    again = await c.post("/subscribe", content="email=ada%40example.org", headers=form)
    assert again.status_code == 303 and len(await b.subscriptions.list(ANONYMOUS)) == 1, "the same answer, no new one"

    bad = await c.post("/subscribe", content="email=not-an-address", headers=form)
    assert bad.status_code == 422 and "is not an e-mail address" in bad.text and 'value="not-an-address"' in bad.text
    cross = await c.post("/subscribe", content="email=a%40b.org", headers={**form, "sec-fetch-site": "cross-site"})
    assert cross.status_code == 403
    query = await c.post("/subscribe", content="email=b%40b.org&query=%22open", headers=form)
    assert query.status_code == 422 and "The saved search is not valid" in query.text and "quote" in query.text
    assert len(await b.subscriptions.list(ANONYMOUS)) == 1


async def test_the_emailed_links_open_pages_of_the_site(site: Any) -> None:
    c, b = site
    form = {"content-type": "application/x-www-form-urlencoded"}
    await c.post("/subscribe", content="email=grace%40example.org", headers=form)
    (sub,) = await b.subscriptions.list(ANONYMOUS)
    ok = await c.get(f"/v1/subscriptions/{sub.id}/confirm", params={"token": sub.confirm_token})
    assert ok.status_code == 200 and "<h1>Subscription confirmed</h1>" in ok.text
    assert ok.headers["referrer-policy"] == "no-referrer" and ok.headers["cache-control"] == "no-store"
    assert "unsafe-inline" not in ok.headers["content-security-policy"] and "style=" not in ok.text
    assert 'rel="stylesheet" href="/assets/site.' in ok.text
    ask = await c.get(f"/v1/subscriptions/{sub.id}/unsubscribe", params={"token": sub.unsubscribe_token})
    assert ask.status_code == 200 and 'name="List-Unsubscribe" value="One-Click"' in ask.text
    assert (await b.subscriptions.get(sub.id)).status == "active", "a GET unsubscribes nobody"
    done = await c.post(
        f"/v1/subscriptions/{sub.id}/unsubscribe",
        params={"token": sub.unsubscribe_token},
        content="List-Unsubscribe=One-Click",
        headers=form,
    )
    assert done.status_code == 200 and "<h1>Unsubscribed</h1>" in done.text
    assert (await b.subscriptions.get(sub.id)).status == "unsubscribed"


HOSTILE = [
    "",
    " ",
    "x" * 5000,
    "\x00",
    "%00",
    "<script>alert(1)</script>",
    '"',
    "((((",
    "-1",
    "99999999999",
    "🙂" * 300,
]
PARAMS = {
    "/": ["window", "topic"],
    "/latest": ["size"],
    "/topics": ["sort", "page"],
    "/topics/tp-1": ["window"],
    "/search": ["q", "mode", "topic", "has_code", "source", "from", "to", "cursor", "page"],
    "/subscribe": ["topic"],
}


@pytest.mark.parametrize("path", list(PARAMS))
async def test_hostile_parameters_never_make_a_server_error(site: Any, path: str) -> None:
    c, _ = site
    for name in PARAMS[path]:
        for value in HOSTILE:
            r = await c.get(path, params={name: value, **({"q": "series"} if name != "q" else {})})
            assert r.status_code < 500, (path, name, value[:20], r.status_code)
            assert r.headers["content-type"].startswith("text/html"), (path, name)
            assert "<script>alert" not in r.text


async def test_hostile_paths_and_forms_never_make_a_server_error(site: Any) -> None:
    c, _ = site
    for odd in ("/papers/" + "x" * 3000, "/papers/%00", "/papers/..%2F..%2Fetc", "/topics/" + "y" * 100):
        assert (await c.get(odd)).status_code == 404, odd
    junk = {"content-type": "application/x-www-form-urlencoded"}
    for body in (b"\xff\xfe", b"email=" + b"a" * 100_000, b"&&&==&", b"topic=" + b"&topic=".join([b"t"] * 500)):
        assert (await c.post("/subscribe", content=body, headers=junk)).status_code in (413, 422)
