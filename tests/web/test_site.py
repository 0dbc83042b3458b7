"""The site in a real browser (Debian's Chromium through Playwright) against `paperwire run all`: every page
renders real content at desktop and phone width with no serious or critical axe-core violation and no CSP
violation, links lead from trending to a paper, a similar paper, a topic and a search, every search result is
reachable by paging, a hostile title renders as text, and the pages work without JavaScript."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Dialog, Page, expect

from .conftest import DESKTOP, PHONE, XSS_TITLE, Site

PAGES = [
    "trending",
    "trending-7d",
    "latest",
    "topics",
    "topic",
    "paper",
    "search",
    "subscribe",
    "xss-paper",
    "search-none",
    "search-error",
]


def _path(site: Site, name: str) -> str:
    return {
        "trending": "/",
        "trending-7d": "/?window=7d",
        "latest": "/latest",
        "topics": "/topics",
        "topic": "/topics/" + quote(site.topic["id"], safe=""),
        "paper": "/papers/" + quote(site.hot, safe=""),
        "search": "/search?q=time+series",
        "subscribe": "/subscribe",
        "xss-paper": "/papers/" + quote(site.xss, safe=""),
        "search-none": "/search?q=zzqqxxyy&mode=keyword",
        "search-error": "/search?q=%22open+quote",
    }[name]


@contextmanager
def opened(browser: Browser, url: str, device: dict[str, Any], **ctx: Any) -> Iterator[tuple[Page, Any, list[str]]]:
    """The page at `url` in a fresh context, with the response and every console error, page error, CSP
    violation and dialog (an alert would mean injected script ran)."""
    context = browser.new_context(**device, **ctx)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

    def dialog(d: Dialog) -> None:
        problems.append(f"dialog: {d.message}")
        d.dismiss()

    page.on("dialog", dialog)
    try:
        response = page.goto(url)
        yield page, response, problems
    finally:
        context.close()


def serious(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _content(site: Site, name: str) -> Callable[[Page], None]:
    def trending(page: Page) -> None:
        rows = page.locator("ol.papers > li.paper")
        assert rows.count() >= 10
        expect(rows.first.locator("h2 a")).to_have_text(site.hot_title)
        expect(rows.first.locator(".score small")).to_contain_text("upvotes")
        expect(rows.first.locator(".score small")).to_contain_text("stars")
        expect(page.locator('nav[aria-label="Time window"] a[aria-current="page"]')).to_have_count(1)

    def topics(page: Page) -> None:
        cards = page.locator("li.topic")
        assert cards.count() >= 3
        assert page.locator("li.topic svg.spark rect").count() >= 3

    def topic(page: Page) -> None:
        expect(page.locator("h1")).to_contain_text(site.topic["label"])
        assert page.locator("ol.papers > li.paper").count() >= min(4, site.topic["size"])
        assert page.locator("aside .tags a.chip").count() >= 1

    def paper(page: Page) -> None:
        expect(page.locator("h1")).to_have_text(site.hot_title)
        expect(page.locator("svg.parts")).to_be_visible()
        expect(page.locator("table")).to_contain_text("upvotes")
        assert page.locator("text=Similar papers >> xpath=following::ul[1]/li").count() >= 1

    def search(page: Page) -> None:
        assert page.locator("ol.papers > li.paper").count() >= 10
        assert page.locator("ol.papers mark").count() >= 10
        expect(page.locator("p[role=status]")).to_contain_text("Results 1–20 of")

    checks: dict[str, Callable[[Page], None]] = {
        "trending": trending,
        "trending-7d": lambda p: expect(p.locator('a[aria-current="page"]', has_text="This week")).to_be_visible(),
        "latest": lambda p: assert_at_least(p, "ol.papers > li.paper", 10),
        "topics": topics,
        "topic": topic,
        "paper": paper,
        "search": search,
        "subscribe": lambda p: expect(p.locator("h2#digest")).to_have_text("The daily digest"),
        "xss-paper": lambda p: expect(p.locator("h1")).to_have_text(XSS_TITLE),
        "search-none": lambda p: expect(p.locator(".notice[role=status]")).to_contain_text("No results"),
        "search-error": lambda p: expect(p.locator("[role=alert]")).to_contain_text("quote"),
    }
    return checks[name]


def assert_at_least(page: Page, selector: str, n: int) -> None:
    assert page.locator(selector).count() >= n, selector


STATUS = {"search-none": 200, "search-error": 400}
FEEDS = {"trending": "/v1/feeds/trending.atom", "latest": "/v1/feeds/latest.atom", "topic": "/v1/topics/{"}


@pytest.mark.parametrize("name", PAGES)
def test_page_at_desktop_and_phone_width(browser: Browser, site: Site, screenshots: Path, name: str) -> None:
    for label, device in (("desktop", DESKTOP), ("phone", PHONE)):
        with opened(browser, site.base + _path(site, name), device) as (page, response, problems):
            assert response is not None and response.status == STATUS.get(name, 200), (label, response)
            csp = response.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp
            title = page.title()
            assert title.endswith(" · Paperwire") and len(title) > len(" · Paperwire"), title
            assert page.locator("h1").count() == 1 and page.locator("h1").inner_text().strip()
            _content(site, name)(page)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= device["viewport"]["width"], f"{name} scrolls sideways at {label} width ({width}px)"
            page.screenshot(path=str(screenshots / f"{name}-{label}.png"))
            assert serious(page) == [], f"{name} at {label} width"
            expected_problems = [] if response.status == 200 else [p for p in problems if "status of" in p]
            assert problems == expected_problems, problems
            feeds = page.locator('head link[rel=alternate][type="application/atom+xml"]')
            route = FEEDS.get(name.split("-")[0])
            if route and any(f.startswith(route) for f in site.feeds):
                assert feeds.count() >= 1, f"{name} does not link its Atom feed"
            for href in feeds.evaluate_all("links => links.map(l => l.getAttribute('href'))"):
                r = page.request.get(site.base + href)
                assert r.ok and "atom" in r.headers["content-type"], href


def test_links_lead_from_trending_to_a_paper_a_similar_one_a_topic_and_a_search(browser: Browser, site: Site) -> None:
    with opened(browser, site.base + "/", DESKTOP) as (page, _, problems):
        page.locator("ol.papers > li.paper h2 a").first.click()
        expect(page.locator("h1")).to_have_text(site.hot_title)
        similar = page.locator("text=Similar papers >> xpath=following::ul[1]//h3/a").first
        similar_title = similar.inner_text()
        similar.click()
        expect(page.locator("h1")).to_have_text(similar_title)
        assert "/papers/" in page.url
        chips = page.locator('aside a.chip[href^="/topics/"]')
        if chips.count():  # papers carry their topics once the topic job writes them onto the papers
            chips.first.click()
        else:
            page.get_by_role("link", name="Topics", exact=True).click()
            page.locator("li.topic h2 a").first.click()
        assert re.search(r"/topics/[^/]+$", page.url)
        page.locator("aside .tags a.chip").first.click()
        assert "/search?q=" in page.url
        assert page.locator("ol.papers > li.paper").count() >= 1
        page.locator("ol.papers > li.paper h2 a").first.click()
        assert "/papers/" in page.url and page.locator("h1").inner_text()
        assert problems == []


@pytest.mark.parametrize("mode", ["hybrid", "keyword"])
def test_every_search_result_is_reachable_by_paging(browser: Browser, site: Site, mode: str) -> None:
    with opened(browser, f"{site.base}/search?q=time+series&mode={mode}", DESKTOP) as (page, _, problems):
        status = page.locator("p[role=status]").inner_text()
        total = int(re.search(r"of ([\d,]+)", status).group(1).replace(",", ""))  # type: ignore[union-attr]
        seen: list[str] = []
        pages = 0
        while True:
            pages += 1
            seen += page.locator("ol.papers > li.paper h2 a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
            following = page.locator("a[rel=next]")
            if not following.count():
                break
            following.click()
            expect(page.locator(".pager span").first).to_have_text(f"Page {pages + 1}")
        expect(page.locator(".pager")).to_contain_text("That is every result.")
        assert len(seen) == len(set(seen)) == total and pages == -(-total // 20), (len(seen), total, pages)
        page.locator(".pager a", has_text="First page").click()
        expect(page.locator("p[role=status]")).to_contain_text("Results 1–20 of")
        assert problems == []


def test_a_hostile_title_renders_as_text_everywhere(browser: Browser, site: Site) -> None:
    for path in ("/papers/" + quote(site.xss, safe=""), "/search?q=onerror&mode=keyword", "/latest", "/"):
        with opened(browser, site.base + path, DESKTOP) as (page, _, problems):
            assert page.locator('img[src="x"]').count() == 0, path
            assert page.locator("script:not([src])").count() == 0, path
            assert page.locator('a[href^="javascript:"]').count() == 0, path
            if path.startswith("/papers/"):
                expect(page.locator("h1")).to_have_text(XSS_TITLE)
                expect(page.locator("article")).to_contain_text("Eve <script>alert(4)</script>")
                expect(page.locator(".abstract")).to_contain_text("<script>alert(2)</script>")
            if path.startswith("/search"):
                link = page.locator("ol.papers h2 a").first
                assert link.inner_text() == XSS_TITLE
                assert link.locator("mark").all_inner_texts() == ["onerror"]
            page.wait_for_timeout(200)
            assert problems == [], (path, problems)


def test_the_pages_work_without_javascript(browser: Browser, site: Site) -> None:
    with opened(browser, site.base + "/", DESKTOP, java_script_enabled=False) as (page, _, _problems):
        page.locator('nav[aria-label="Time window"] a', has_text="This week").click()
        assert "window=7d" in page.url and page.locator("ol.papers > li.paper").count() >= 10
        page.locator("#q-top").fill("time series")
        page.locator("#q-top").press("Enter")
        assert page.locator("ol.papers > li.paper").count() == 20
        page.get_by_label("Keyword").check()
        page.locator(".search-form button").click()
        assert "mode=keyword" in page.url
        page.locator("a[rel=next]").click()
        expect(page.locator("p[role=status]")).to_contain_text("Results 21–")
        page.locator(".facets a").first.click()
        assert page.locator('.tags[aria-label="Filters in force"] a').count() == 1


def test_search_boxes_suggest_completions_with_javascript(browser: Browser, site: Site) -> None:
    with opened(browser, site.base + "/latest", DESKTOP) as (page, _, problems):
        page.locator("#q-top").press_sequentially("time ser", delay=20)
        options = page.locator("datalist#pw-suggestions option")
        expect(options.first).to_be_attached(timeout=5000)
        values = options.evaluate_all("os => os.map(o => o.value)")
        assert values and all(re.search(r"time\W+ser", v, re.I) for v in values), values
        assert problems == []
