"""Ingestor entrypoint: read a file, stdin or URL, publish new and updated papers to papers.raw.v1."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path

from tqdm import tqdm

from paperwire_common.backends import Backends
from paperwire_common.bus.port import Message
from paperwire_common.clock import Clock, SystemClock
from paperwire_common.envelope import encode
from paperwire_common.ids import event_id
from paperwire_common.logging import get_logger
from paperwire_common.metrics import INGESTED
from paperwire_common.streams import PAPERS_RAW

from .handlers import Summary, paper_key, to_raw
from .records import FormatError, ParseResult, Rejected, SourceRecord
from .settings import IngestorSettings

log = get_logger(__name__)
SOURCE = "paperwire/ingestor"


class Ingestor:
    def __init__(self, backends: Backends, settings: IngestorSettings | None = None, clock: Clock | None = None):
        self.b = backends
        self.settings = settings or IngestorSettings()
        self.clock = clock or SystemClock()
        # One ingest at a time per process: concurrent ones would race on the registry (versions).
        self._lock = asyncio.Lock()

    async def _flush(self, chunk: list[SourceRecord], source: str, summary: Summary) -> None:
        keys = [paper_key(r) for r in chunk]
        known = await self.b.registry.lookup(list(dict.fromkeys(keys)))
        messages: list[Message] = []
        seen: dict[str, tuple[int, str]] = {}
        for rec, key in zip(chunk, keys, strict=True):
            outcome, result = to_raw(
                rec, existing=seen.get(key, known.get(key)), source=source, now=self.clock.now(), key=key
            )
            if outcome == "rejected":
                reason = str(result).removeprefix(f"{rec.position}: ") if rec.position else str(result)
                summary.add("rejected", reason, rec.position)
                INGESTED.labels("rejected").inc()
                continue
            summary.add(outcome)
            INGESTED.labels(outcome).inc()
            if outcome == "unchanged" or result is None or isinstance(result, str):
                continue
            seen[key] = (result.version, result.content_hash)
            eid = event_id(result.paper_id, str(result.version), result.content_hash)
            messages.append(
                encode(
                    PAPERS_RAW,
                    result,
                    key=result.paper_id,
                    event_id=eid,
                    source=SOURCE,
                    time=self.clock.now(),
                )
            )
        if messages:
            await self.b.bus.publish(messages)
            # Recorded only after the bus acknowledged: a crash in between re-publishes the same versions,
            # which every consumer treats as a no-op.
            await self.b.registry.record(seen)

    async def ingest(
        self,
        records: Iterable[ParseResult] | AsyncIterator[ParseResult],
        source: str,
        *,
        progress: bool | None = None,
    ) -> Summary:
        summary = Summary(format=source)
        show = self.settings.progress if progress is None else progress
        bar = tqdm(desc=f"ingest {source}", unit=" papers", disable=not show, file=sys.stderr)
        chunk: list[SourceRecord] = []

        async def consume(item: ParseResult) -> None:
            summary.read += 1
            bar.update(1)
            if isinstance(item, Rejected):
                summary.add("rejected", item.reason, item.position)
                INGESTED.labels("rejected").inc()
                return
            chunk.append(item)
            if len(chunk) >= self.settings.batch_size:
                await self._flush(chunk, source, summary)
                chunk.clear()

        if hasattr(records, "__aiter__"):
            async for item in records:
                await consume(item)
        else:
            for item in records:
                await consume(item)
        if chunk:
            await self._flush(chunk, source, summary)
        bar.close()
        log.info(
            "ingest.done",
            source=source,
            read=summary.read,
            new=summary.new,
            updated=summary.updated,
            unchanged=summary.unchanged,
            rejected=summary.rejected,
        )
        return summary

    async def ingest_bytes(self, data: bytes, fmt: str = "auto") -> Summary:
        """A document in memory (the gateway's POST /v1/papers). Detection and parsing run in a worker thread,
        so a large body never stalls the event loop; FormatError for input unreadable as a whole."""
        from . import parsers

        def parse() -> tuple[str, list[ParseResult]]:
            name = fmt if fmt != "auto" else parsers.detect(data)
            if name not in parsers.FORMATS:
                raise FormatError(f"unknown format {name!r}; known: auto, {', '.join(parsers.FORMATS)}")
            return name, list(parsers.FORMATS[name](data))

        name, records = await asyncio.to_thread(parse)
        async with self._lock:
            return await self.ingest(records, name, progress=False)

    async def ingest_path(self, target: str, fmt: str = "auto") -> Summary:
        """A file path, '-' for stdin, or an http(s) URL."""
        from . import parsers

        if target.startswith(("http://", "https://")):
            from .sources import url_records

            name, records = await url_records(target, fmt, self.settings)
            return await self.ingest(records, name)
        data = sys.stdin.buffer.read() if target == "-" else _read_file(target)
        name = fmt if fmt != "auto" else parsers.detect(data, None if target == "-" else target)
        if name not in parsers.FORMATS:
            raise FormatError(f"unknown format {name!r}; known: auto, {', '.join(parsers.FORMATS)}")
        return await self.ingest(_iter(parsers.FORMATS[name](data)), name)


def _read_file(path: str) -> bytes:
    p = Path(path)
    if not p.exists():
        raise FormatError(f"{path}: no such file")
    if p.is_dir():
        raise FormatError(f"{path}: is a directory")
    return p.read_bytes()


def _iter(it: Iterable[ParseResult]) -> Iterator[ParseResult]:
    yield from it
