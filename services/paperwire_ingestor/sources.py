"""URL sources: pick the harvest for a URL (arXiv API paging, OAI-PMH resumption, single documents)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from . import parsers
from .fetch import Checkpoint, RateLimiter, fetch_once, iter_arxiv_api, iter_oai_pmh
from .records import FormatError, ParseResult
from .settings import IngestorSettings


def url_format(url: str, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    u = httpx.URL(url)
    if u.path.rstrip("/").endswith("/api/query"):
        return "arxiv-atom"
    if "oai" in u.path.lower() or u.params.get("verb") == "ListRecords":
        return "oai-pmh"
    return "auto"


def _checkpoint(settings: IngestorSettings, url: str) -> Checkpoint:
    d = Path(settings.checkpoint_dir)
    d.mkdir(parents=True, exist_ok=True)
    return Checkpoint(d / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}.json")


async def _single(url: str, fmt: str, limiter: RateLimiter) -> tuple[str, AsyncIterator[ParseResult]]:
    data = await fetch_once(url, limiter=limiter)
    name = fmt if fmt != "auto" else parsers.detect(data, httpx.URL(url).path)
    if name not in parsers.FORMATS:
        raise FormatError(f"unknown format {name!r}")

    async def gen() -> AsyncIterator[ParseResult]:
        for r in parsers.FORMATS[name](data):
            yield r

    return name, gen()


async def url_records(url: str, fmt: str, settings: IngestorSettings) -> tuple[str, AsyncIterator[ParseResult]]:
    """(format name, records). Paged harvests resume from a checkpoint after an interruption."""
    limiter = RateLimiter(settings.request_interval_s)
    name = url_format(url, fmt)
    if name == "arxiv-atom":
        return name, iter_arxiv_api(url, limiter=limiter, checkpoint=_checkpoint(settings, url))
    if name == "oai-pmh":
        u = httpx.URL(url)
        base = str(u.copy_with(query=None))
        p = u.params
        return name, iter_oai_pmh(
            base,
            p.get("metadataPrefix", "arXiv"),
            p.get("from"),
            p.get("until"),
            p.get("set"),
            limiter=limiter,
            checkpoint=_checkpoint(settings, url),
        )
    return await _single(url, name, limiter)
