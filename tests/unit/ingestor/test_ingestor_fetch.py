"""HTTP fetching: pacing, retries, paging, checkpoints. httpx.MockTransport only, never the network."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from paperwire_ingestor.fetch import (
    Checkpoint,
    CheckpointMismatch,
    RateLimiter,
    RetryableResponse,
    RetryPolicy,
    fetch_once,
    iter_arxiv_api,
    iter_oai_pmh,
    retry_after_seconds,
)
from paperwire_ingestor.records import FormatError, ParseResult, SourceRecord

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "sources"
API = "https://export.arxiv.org/api/query?search_query=cat:cs.CL&sortBy=submittedDate"
OAI = "https://export.arxiv.org/oai2"


class FakeClock:
    """Monotonic clock whose sleeps only advance time (and are recorded)."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limiter(clock: FakeClock) -> RateLimiter:
    return RateLimiter(3.0, clock=clock, sleep=clock.sleep)


@pytest.fixture
def retry(clock: FakeClock) -> RetryPolicy:
    return RetryPolicy(attempts=3, backoff_initial=1.0, backoff_max=4.0, sleep=clock.sleep)


def client_for(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def atom_page(total: int, start: int, ids: list[str]) -> str:
    entries = "".join(
        f"<entry><id>http://arxiv.org/abs/{i}v1</id><title>Paper {i}</title><summary>Abstract of {i}.</summary></entry>"
        for i in ids
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
        f"<opensearch:totalResults>{total}</opensearch:totalResults>"
        f"<opensearch:startIndex>{start}</opensearch:startIndex>"
        f"<opensearch:itemsPerPage>{len(ids)}</opensearch:itemsPerPage>{entries}</feed>"
    )


def oai_page(ids: list[str], token: str | None) -> str:
    records = "".join(
        f"<record><header><identifier>oai:arXiv.org:{i}</identifier></header><metadata>"
        f'<arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>{i}</id><title>Paper {i}</title></arXiv>'
        "</metadata></record>"
        for i in ids
    )
    tok = f"<resumptionToken>{token}</resumptionToken>" if token else "<resumptionToken/>"
    return f'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords>{records}{tok}</ListRecords></OAI-PMH>'


ARXIV_IDS = ["2401.00001", "2401.00002", "2401.00003", "2401.00004", "2401.00005"]


def arxiv_handler(seen: list[httpx.URL]) -> Callable[[httpx.Request], httpx.Response]:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        start = int(request.url.params["start"])
        size = int(request.url.params["max_results"])
        return httpx.Response(200, text=atom_page(len(ARXIV_IDS), start, ARXIV_IDS[start : start + size]))

    return handle


def ids_of(results: list[ParseResult]) -> list[str | None]:
    return [r.arxiv_id for r in results if isinstance(r, SourceRecord)]


# --- RateLimiter -------------------------------------------------------------------------------------


async def test_limiter_spaces_requests(clock: FakeClock, limiter: RateLimiter) -> None:
    await limiter.wait()  # first request: no wait
    await limiter.wait()
    await limiter.wait()
    assert clock.sleeps == [3.0, 3.0]
    clock.now += 10.0  # a long pause: no wait needed
    await limiter.wait()
    clock.now += 1.0
    await limiter.wait()
    assert clock.sleeps == [3.0, 3.0, 2.0]


async def test_limiter_serialises_concurrent_callers(clock: FakeClock) -> None:
    starts: list[float] = []

    async def yielding_sleep(seconds: float) -> None:
        await asyncio.sleep(0)  # let the other tasks run while this one "sleeps"
        await clock.sleep(seconds)

    limiter = RateLimiter(3.0, clock=clock, sleep=yielding_sleep)

    async def request() -> None:
        await limiter.wait()
        starts.append(clock.now)

    await asyncio.gather(*(request() for _ in range(4)))
    assert [b - a for a, b in itertools.pairwise(starts)] == [3.0, 3.0, 3.0]


async def test_limiter_defer_holds_everyone_back(clock: FakeClock, limiter: RateLimiter) -> None:
    await limiter.wait()
    limiter.defer(30.0)
    await limiter.wait()
    assert clock.sleeps == [30.0]
    limiter.defer(1.0)  # shorter than the booked interval: no effect
    await limiter.wait()
    assert clock.sleeps == [30.0, 3.0]


# --- retries -----------------------------------------------------------------------------------------


async def test_503_with_retry_after_then_success(clock: FakeClock, limiter: RateLimiter, retry: RetryPolicy) -> None:
    calls: list[float] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(clock.now)
        if len(calls) == 1:
            return httpx.Response(503, headers={"Retry-After": "7"}, text="flow control")
        return httpx.Response(200, content=b"[]")

    async with client_for(handle) as client:
        body = await fetch_once("https://huggingface.co/api/daily_papers", client, limiter, retry=retry)
    assert body == b"[]"
    assert calls[1] - calls[0] == 7.0  # exactly the server's Retry-After, not backoff on top
    assert sum(clock.sleeps) == 7.0


async def test_429_without_retry_after_backs_off(clock: FakeClock, limiter: RateLimiter, retry: RetryPolicy) -> None:
    statuses = iter([429, 502, 200])

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(statuses), content=b"ok")

    async with client_for(handle) as client:
        assert await fetch_once("https://example.org/x", client, limiter, retry=retry) == b"ok"
    assert len(clock.sleeps) >= 2 and all(0 < s <= 4.0 for s in clock.sleeps)


async def test_connection_errors_are_retried(limiter: RateLimiter, retry: RetryPolicy) -> None:
    calls = 0

    def handle(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, content=b"ok")

    async with client_for(handle) as client:
        assert await fetch_once("https://example.org/x", client, limiter, retry=retry) == b"ok"
    assert calls == 2


async def test_gives_up_after_the_last_attempt(limiter: RateLimiter, retry: RetryPolicy) -> None:
    calls = 0

    def handle(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(500)

    async with client_for(handle) as client:
        with pytest.raises(RetryableResponse):
            await fetch_once("https://example.org/x", client, limiter, retry=retry)
    assert calls == retry.attempts


async def test_other_client_errors_are_not_retried(limiter: RateLimiter, retry: RetryPolicy) -> None:
    calls = 0

    def handle(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(404)

    async with client_for(handle) as client:
        with pytest.raises(httpx.HTTPStatusError):
            await fetch_once("https://example.org/x", client, limiter, retry=retry)
    assert calls == 1


def test_retry_after_header_forms() -> None:
    now = datetime(2024, 3, 12, 10, 0, 0, tzinfo=UTC)
    later = format_datetime(datetime(2024, 3, 12, 10, 2, 0, tzinfo=UTC), usegmt=True)
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds(later, now=now.timestamp) == 120.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


# --- arXiv API paging --------------------------------------------------------------------------------


async def test_arxiv_api_pages_until_total(clock: FakeClock, limiter: RateLimiter, retry: RetryPolicy) -> None:
    seen: list[httpx.URL] = []
    async with client_for(arxiv_handler(seen)) as client:
        results = [r async for r in iter_arxiv_api(API, client, limiter, page_size=2, retry=retry)]
    assert ids_of(results) == ARXIV_IDS
    assert [u.params["start"] for u in seen] == ["0", "2", "4"]
    assert all(u.params["search_query"] == "cat:cs.CL" and u.params["max_results"] == "2" for u in seen)
    assert clock.sleeps == [3.0, 3.0]  # paced by the limiter


async def test_arxiv_api_retries_a_transiently_empty_page(limiter: RateLimiter, retry: RetryPolicy) -> None:
    calls = 0

    def handle(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        ids = [] if calls == 1 else ARXIV_IDS[:2]
        return httpx.Response(200, text=atom_page(2, 0, ids))

    async with client_for(handle) as client:
        results = [r async for r in iter_arxiv_api(API, client, limiter, page_size=2, retry=retry)]
    assert ids_of(results) == ARXIV_IDS[:2] and calls == 2


async def test_arxiv_api_error_feed_raises(limiter: RateLimiter, retry: RetryPolicy) -> None:
    error = (FIXTURES / "arxiv_atom_error.xml").read_bytes()
    async with client_for(lambda request: httpx.Response(200, content=error)) as client:
        with pytest.raises(FormatError, match="incorrect id format"):
            [r async for r in iter_arxiv_api(API, client, limiter, retry=retry)]


async def test_arxiv_api_resumes_from_checkpoint(tmp_path: Path, limiter: RateLimiter, retry: RetryPolicy) -> None:
    checkpoint = Checkpoint(tmp_path / "arxiv.json")
    seen: list[httpx.URL] = []
    async with client_for(arxiv_handler(seen)) as client:
        harvest = iter_arxiv_api(API, client, limiter, checkpoint, page_size=2, retry=retry)
        first = [await anext(harvest) for _ in range(3)]  # page 1, then one record of page 2
        await harvest.aclose()  # the process dies here
        assert ids_of(first) == ARXIV_IDS[:3]
        assert json.loads(checkpoint.path.read_text())["state"]["start"] == 2

        seen.clear()
        rest = [r async for r in iter_arxiv_api(API, client, limiter, checkpoint, page_size=2, retry=retry)]
    assert [u.params["start"] for u in seen] == ["2", "4"]
    assert ids_of(rest) == ARXIV_IDS[2:]  # the in-flight page comes again: at-least-once
    assert not checkpoint.path.exists()  # a finished harvest clears its checkpoint


# --- OAI-PMH paging ----------------------------------------------------------------------------------


def oai_pages() -> dict[str | None, str]:
    """First page (fixture, token 6960524|1001) -> built page (token 6960524|2002) -> last page (fixture)."""
    return {
        None: (FIXTURES / "oai_arxiv.xml").read_text(encoding="utf-8"),
        "6960524|1001": oai_page(["2402.00001", "2402.00002"], "6960524|2002"),
        "6960524|2002": (FIXTURES / "oai_arxivraw.xml").read_text(encoding="utf-8"),
    }


ALL_OAI_IDS = [
    "2212.06817",
    "hep-th/9901001",
    "2305.02309",
    "2402.00001",
    "2402.00002",
    "2412.19638",
    "2202.00622",
]


def oai_handler(
    seen: list[dict[str, str]], broken: set[str] | None = None
) -> Callable[[httpx.Request], httpx.Response]:
    pages = oai_pages()

    def handle(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        seen.append(params)
        token = params.get("resumptionToken")
        if broken and token in broken:
            return httpx.Response(500)
        return httpx.Response(200, text=pages[token], headers={"Content-Type": "text/xml"})

    return handle


async def test_oai_follows_resumption_tokens(clock: FakeClock, limiter: RateLimiter, retry: RetryPolicy) -> None:
    seen: list[dict[str, str]] = []
    async with client_for(oai_handler(seen)) as client:
        harvest = iter_oai_pmh(OAI, "arXiv", "2023-08-01", None, "cs", client, limiter, retry=retry)
        results = [r async for r in harvest]
    assert ids_of(results) == ALL_OAI_IDS  # the deleted record is skipped
    assert seen == [
        {"verb": "ListRecords", "metadataPrefix": "arXiv", "from": "2023-08-01", "set": "cs"},
        {"verb": "ListRecords", "resumptionToken": "6960524|1001"},
        {"verb": "ListRecords", "resumptionToken": "6960524|2002"},
    ]
    assert clock.sleeps == [3.0, 3.0]


async def test_oai_resumes_after_an_interruption(tmp_path: Path, limiter: RateLimiter, retry: RetryPolicy) -> None:
    checkpoint = Checkpoint(tmp_path / "oai.json")
    seen: list[dict[str, str]] = []
    got: list[ParseResult] = []
    async with client_for(oai_handler(seen, broken={"6960524|1001"})) as client:
        with pytest.raises(RetryableResponse):  # page 2 keeps failing: the harvest dies
            async for r in iter_oai_pmh(
                OAI, "arXiv", "2023-08-01", None, "cs", client, limiter, checkpoint, retry=retry
            ):
                got.append(r)
    assert ids_of(got) == ALL_OAI_IDS[:3]
    assert json.loads(checkpoint.path.read_text())["state"] == {"resumption_token": "6960524|1001"}

    seen.clear()
    async with client_for(oai_handler(seen)) as client:
        harvest = iter_oai_pmh(OAI, "arXiv", "2023-08-01", None, "cs", client, limiter, checkpoint, retry=retry)
        rest = [r async for r in harvest]
    assert seen[0] == {"verb": "ListRecords", "resumptionToken": "6960524|1001"}
    assert ids_of(rest) == ALL_OAI_IDS[3:]
    assert not checkpoint.path.exists()


async def test_checkpoint_of_another_harvest_is_refused(tmp_path: Path, limiter: RateLimiter) -> None:
    checkpoint = Checkpoint(tmp_path / "oai.json")
    key = {
        "source": "oai-pmh",
        "base_url": OAI,
        "metadata_prefix": "arXiv",
        "from": "2023-08-01",
        "until": None,
        "set": "cs",
    }
    checkpoint.save(key, {"resumption_token": "6960524|1001"})
    async with client_for(oai_handler([])) as client:
        harvest = iter_oai_pmh(OAI, "arXiv", "2024-01-01", None, "cs", client, limiter, checkpoint)
        with pytest.raises(CheckpointMismatch, match="another harvest"):
            await anext(harvest)


async def test_oai_no_records_match_is_an_empty_harvest(tmp_path: Path, limiter: RateLimiter) -> None:
    body = (FIXTURES / "oai_no_records.xml").read_bytes()
    checkpoint = Checkpoint(tmp_path / "oai.json")
    async with client_for(lambda request: httpx.Response(200, content=body)) as client:
        harvest = iter_oai_pmh(OAI, "arXiv", "2030-01-01", client=client, limiter=limiter, checkpoint=checkpoint)
        results = [r async for r in harvest]
    assert results == [] and not checkpoint.path.exists()


async def test_oai_bad_resumption_token_raises(limiter: RateLimiter) -> None:
    body = (FIXTURES / "oai_bad_token.xml").read_bytes()
    async with client_for(lambda request: httpx.Response(200, content=body)) as client:
        with pytest.raises(FormatError, match="badResumptionToken"):
            [r async for r in iter_oai_pmh(OAI, client=client, limiter=limiter)]


async def test_oai_503_retry_after_mid_harvest(clock: FakeClock, limiter: RateLimiter, retry: RetryPolicy) -> None:
    """arXiv's OAI flow control: 503 + Retry-After between pages."""
    pages = oai_pages()
    throttled = {"done": False}

    def handle(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("resumptionToken")
        if token == "6960524|1001" and not throttled["done"]:
            throttled["done"] = True
            return httpx.Response(503, headers={"Retry-After": "20"})
        return httpx.Response(200, text=pages[token])

    async with client_for(handle) as client:
        results = [r async for r in iter_oai_pmh(OAI, client=client, limiter=limiter, retry=retry)]
    assert ids_of(results) == ALL_OAI_IDS
    assert 20.0 in clock.sleeps
