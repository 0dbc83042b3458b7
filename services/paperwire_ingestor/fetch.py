"""Fetching source documents over HTTP: polite pacing, retries, paging, resumable harvests.

* ``RateLimiter`` spaces request *starts* by ``min_interval`` (arXiv asks for one request per 3 s) and
  can be pushed back by a server's ``Retry-After``; share one per host.
* Every GET retries 429/5xx and network errors with exponential backoff (tenacity); a ``Retry-After``
  header replaces the backoff for that attempt. Other 4xx raise ``httpx.HTTPStatusError`` at once.
* ``iter_arxiv_api`` / ``iter_oai_pmh`` yield parsed results page by page. A page is fetched and parsed
  completely before any of it is yielded; the checkpoint moves past a page only once its results have
  all been consumed, so after a crash the in-flight page is fetched again: delivery is at-least-once
  and consumers dedupe by canonical id. A finished harvest clears its checkpoint.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from paperwire_ingestor.parsers import arxiv_atom, oai_pmh
from paperwire_ingestor.records import ParseResult

ARXIV_API_URL = "https://export.arxiv.org/api/query"
# arXiv's classic OAI endpoint; it redirects if arXiv moves it (clients follow redirects).
ARXIV_OAI_URL = "https://export.arxiv.org/oai2"
DEFAULT_MIN_INTERVAL = 3.0
USER_AGENT = "paperwire-ingestor/0.1 (research-paper harvester)"

Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")

# Transient by nature; UnsupportedProtocol, InvalidURL and friends are not retried.
_RETRYABLE_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class RetryableResponse(Exception):
    """A 429/5xx (or a page the server got transiently wrong); raised after the last attempt."""

    def __init__(self, response: httpx.Response, retry_after: float | None, reason: str = "") -> None:
        request = response.request
        super().__init__(f"{request.method} {request.url}: {reason or response.status_code}")
        self.response = response
        self.retry_after = retry_after


class CheckpointMismatch(ValueError):
    """The checkpoint file belongs to a different harvest (other URL, prefix, dates or set)."""


class RateLimiter:
    """Minimum spacing between request starts; async-safe, with injectable clock and sleep for tests."""

    def __init__(
        self,
        min_interval: float = DEFAULT_MIN_INTERVAL,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.min_interval = min_interval
        self._clock = clock
        self._sleep = sleep
        self._next_at: float | None = None
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        """Return when the next request may start, and book the slot after it."""
        async with self._lock:
            now = self._clock()
            if self._next_at is not None and now < self._next_at:
                await self._sleep(self._next_at - now)
                now = max(self._clock(), self._next_at)
            self._next_at = now + self.min_interval

    def defer(self, seconds: float) -> None:
        """Hold every user of this limiter back for ``seconds`` (a server's Retry-After)."""
        until = self._clock() + seconds
        self._next_at = until if self._next_at is None else max(self._next_at, until)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    backoff_initial: float = 2.0
    backoff_max: float = 120.0
    max_retry_after: float = 600.0  # a longer Retry-After is capped rather than obeyed blindly
    sleep: Sleep = asyncio.sleep


def retry_after_seconds(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value or not value.strip():
        return None
    raw = value.strip()
    if raw.isdigit():
        return float(raw)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now())


def make_client(**kwargs: Any) -> httpx.AsyncClient:
    """A client with a descriptive User-Agent, redirects followed and patient read timeouts."""
    kwargs.setdefault("timeout", httpx.Timeout(60.0, connect=10.0))
    kwargs.setdefault("follow_redirects", True)
    kwargs.setdefault("headers", {"User-Agent": USER_AGENT})
    return httpx.AsyncClient(**kwargs)


async def _get(
    client: httpx.AsyncClient,
    url: str,
    params: Mapping[str, str] | None,
    limiter: RateLimiter,
    retry: RetryPolicy,
    read: Callable[[httpx.Response], T],
) -> T:
    """GET with pacing and retries; ``read`` turns the body into a page inside the retried block, so it
    may itself raise RetryableResponse for a page the server got transiently wrong."""

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableResponse) and exc.retry_after is not None:
            return 0.0  # the limiter was deferred by Retry-After and does the waiting
        # Exponential with jitter, so workers that failed together do not retry in lockstep.
        base = retry.backoff_initial * 2 ** (state.attempt_number - 1)
        return min(retry.backoff_max, base + random.uniform(0, retry.backoff_initial))

    async for attempt in AsyncRetrying(
        stop=stop_after_attempt(retry.attempts),
        wait=wait,
        retry=retry_if_exception_type((RetryableResponse, *_RETRYABLE_ERRORS)),
        sleep=retry.sleep,
        reraise=True,
    ):
        with attempt:
            await limiter.wait()
            response = await client.get(url, params=params)
            if response.status_code == 429 or response.status_code >= 500:
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                if retry_after is not None:
                    retry_after = min(retry_after, retry.max_retry_after)
                    limiter.defer(retry_after)
                raise RetryableResponse(response, retry_after)
            response.raise_for_status()
            return read(response)
    raise AssertionError("unreachable: tenacity re-raises the last error")


class Checkpoint:
    """Where a harvest stopped (start offset or resumption token), in a small JSON file.

    The file also records which harvest it belongs to; resuming a different one raises
    CheckpointMismatch instead of silently skipping records.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        data = json.loads(self.path.read_text(encoding="utf-8"))
        if data.get("key") != dict(key):
            raise CheckpointMismatch(
                f"{self.path} is the checkpoint of another harvest ({data.get('key')}); "
                "delete it to start this one from the beginning"
            )
        state: dict[str, Any] = data["state"]
        return state

    def save(self, key: Mapping[str, Any], state: Mapping[str, Any]) -> None:
        # Write-then-rename: a crash mid-write must not leave a corrupt checkpoint behind.
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"key": dict(key), "state": dict(state)}, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


async def fetch_once(
    url: str,
    client: httpx.AsyncClient | None = None,
    limiter: RateLimiter | None = None,
    *,
    params: Mapping[str, str] | None = None,
    retry: RetryPolicy | None = None,
) -> bytes:
    """One document (daily-papers JSON, a JSONL dump...) with the same pacing and retries."""
    if client is None:
        async with make_client() as own:
            return await fetch_once(url, own, limiter, params=params, retry=retry)
    limiter = limiter or RateLimiter()
    return await _get(client, url, params, limiter, retry or RetryPolicy(), lambda r: r.content)


def _arxiv_page(start: int) -> Callable[[httpx.Response], tuple[int, list[ParseResult]]]:
    def read(response: httpx.Response) -> tuple[int, list[ParseResult]]:
        total, _, _ = arxiv_atom.feed_info(response.content)
        results = list(arxiv_atom.parse(response.content))
        # The arXiv API sometimes answers a valid query with an empty page; asking again usually works.
        if not results and start < total:
            raise RetryableResponse(response, None, f"empty page at start={start} of {total}")
        return total, results

    return read


async def iter_arxiv_api(
    url: str,
    client: httpx.AsyncClient | None = None,
    limiter: RateLimiter | None = None,
    checkpoint: Checkpoint | None = None,
    *,
    page_size: int = 100,
    retry: RetryPolicy | None = None,
) -> AsyncGenerator[ParseResult, None]:
    """Every entry of an arXiv API query (``url`` with search_query/id_list...), paging with
    start/max_results (any such params in ``url`` are overridden) until totalResults."""
    limiter = limiter or RateLimiter()
    retry = retry or RetryPolicy()
    if client is None:
        async with make_client() as own:
            harvest = iter_arxiv_api(url, own, limiter, checkpoint, page_size=page_size, retry=retry)
            async for result in harvest:
                yield result
        return
    key = {"source": "arxiv-api", "url": url}
    state = checkpoint.load(key) if checkpoint else None
    start = int(state["start"]) if state else 0
    while True:
        params = {"start": str(start), "max_results": str(page_size)}
        page_url = str(httpx.URL(url).copy_merge_params(params))
        total, results = await _get(client, page_url, None, limiter, retry, _arxiv_page(start))
        for result in results:
            yield result
        start += len(results)
        if not results or start >= total:
            if checkpoint:
                checkpoint.clear()
            return
        if checkpoint:
            checkpoint.save(key, {"start": start, "total": total})


def _oai_page(response: httpx.Response) -> tuple[str | None, list[ParseResult]]:
    # The token is read first: it checks the whole document (OAI errors, truncation) before any record.
    token = oai_pmh.resumption_token(response.content)
    return token, list(oai_pmh.parse(response.content))


async def iter_oai_pmh(
    base_url: str = ARXIV_OAI_URL,
    metadata_prefix: str = "arXiv",
    from_: str | None = None,
    until: str | None = None,
    set_: str | None = None,
    client: httpx.AsyncClient | None = None,
    limiter: RateLimiter | None = None,
    checkpoint: Checkpoint | None = None,
    *,
    retry: RetryPolicy | None = None,
) -> AsyncGenerator[ParseResult, None]:
    """Every record of an OAI-PMH ListRecords harvest, following resumption tokens.

    ``from_``/``until`` are OAI datestamps (YYYY-MM-DD); deleted records are skipped by the parser.
    An expired token (badResumptionToken) raises FormatError: delete the checkpoint and start over.
    """
    limiter = limiter or RateLimiter()
    retry = retry or RetryPolicy()
    if client is None:
        async with make_client() as own:
            harvest = iter_oai_pmh(base_url, metadata_prefix, from_, until, set_, own, limiter, checkpoint, retry=retry)
            async for result in harvest:
                yield result
        return
    key = {
        "source": "oai-pmh",
        "base_url": base_url,
        "metadata_prefix": metadata_prefix,
        "from": from_,
        "until": until,
        "set": set_,
    }
    state = checkpoint.load(key) if checkpoint else None
    token: str | None = state["resumption_token"] if state else None
    while True:
        if token:
            # resumptionToken is an exclusive argument in OAI-PMH: nothing else may accompany it.
            params = {"verb": "ListRecords", "resumptionToken": token}
        else:
            params = {"verb": "ListRecords", "metadataPrefix": metadata_prefix}
            params.update({k: v for k, v in (("from", from_), ("until", until), ("set", set_)) if v})
        token, results = await _get(client, base_url, params, limiter, retry, _oai_page)
        for result in results:
            yield result
        if token is None:
            if checkpoint:
                checkpoint.clear()
            return
        if checkpoint:
            checkpoint.save(key, {"resumption_token": token})
