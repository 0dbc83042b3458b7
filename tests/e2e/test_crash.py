"""kill -9 the indexer (a separate process) mid-stream on real Kafka + Elasticsearch, restart it: the final
index equals the one a run without the crash builds (same ids, same count, same versions)."""

from __future__ import annotations

import asyncio
import signal
import subprocess

import httpx
import pytest

from paperwire_common.backends import make_backends
from paperwire_common.envelope import encode
from paperwire_common.events import PaperEnriched, PaperRaw
from paperwire_common.ids import event_id
from paperwire_common.search.elastic import ElasticIndex
from paperwire_common.settings import CommonSettings
from paperwire_common.streams import PAPERS_ENRICHED
from paperwire_indexer.service import Indexer
from paperwire_indexer.settings import IndexerSettings
from tests.conftest import free_port, start_service

pytestmark = [pytest.mark.kafka, pytest.mark.elasticsearch, pytest.mark.redis, pytest.mark.slow]
PAPERS, UPDATED = 12_000, 3_000


def enriched(i: int, version: int) -> PaperEnriched:
    raw = PaperRaw(
        paper_id=f"title:{i:08x}",
        version=version,
        content_hash=f"{i:08x}{version:08x}",
        title=f"Synthetic paper {i} on graph learning",
        abstract=f"Version {version} of paper {i}.",
        source="test",
        ingested_at=1.7e9 + i,
    )
    return PaperEnriched(paper=raw, keyphrases=["graph learning"], enriched_at=1.7e9 + i)


def start_indexer(namespace: str, health_port: int = 0) -> subprocess.Popen[bytes]:
    return start_service("indexer", namespace, batch_size=300, health_port=health_port)


async def wait_for(pred: object, timeout: float, what: str) -> None:
    async with asyncio.timeout(timeout):
        while not await pred():  # type: ignore[operator]
            await asyncio.sleep(0.2)


async def test_kill_9_mid_stream_then_restart_equals_clean_run(
    kafka_bootstrap: str, es_url: str, redis_url: str, namespace: str
) -> None:
    common = CommonSettings(backend="kafka", namespace=namespace, embeddings=False)
    b = make_backends(common)
    await b.start()
    ref_index = ElasticIndex(es_url, f"{namespace}reference")
    try:
        # The stream: every paper at version 1, then a quarter of them updated to version 2.
        events = [enriched(i, 1) for i in range(PAPERS)] + [enriched(i, 2) for i in range(0, PAPERS, 4)]
        assert len(events) == PAPERS + UPDATED
        msgs = [
            encode(
                PAPERS_ENRICHED,
                e,
                key=e.paper.paper_id,
                event_id=event_id(e.paper.paper_id, str(e.paper.version)),
                source="test",
                time=1.7e9,
            )
            for e in events
        ]
        for i in range(0, len(msgs), 2000):
            await b.bus.publish(msgs[i : i + 2000])

        # A run without a crash, in this process, into its own index and group.
        await ref_index.ensure_index()
        b.index = ref_index
        ref = Indexer(b, IndexerSettings(group="reference"))
        ends = await b.bus.end_offsets(PAPERS_ENRICHED.name)
        await ref.loop().drain({(PAPERS_ENRICHED.name, p): end for p, end in ends.items()})
        await ref_index.refresh()
        expected = await ref_index.snapshot()
        assert len(expected) == PAPERS and sum(v == 2 for v in expected.values()) == UPDATED

        # The crash run: a separate indexer process, killed with SIGKILL part-way through.
        live = ElasticIndex(es_url, f"{namespace}papers")
        proc = start_indexer(namespace)

        async def some_indexed() -> bool:
            try:
                await live.refresh()
                return 1000 <= await live.count()
            except Exception:
                return False

        await wait_for(some_indexed, 120, "first documents")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        await live.refresh()
        at_kill = await live.count()
        assert at_kill < PAPERS, "the kill must land mid-stream for this test to mean anything"

        port = free_port()
        proc = start_indexer(namespace, port)

        async def complete() -> bool:
            await live.refresh()
            snap = await live.snapshot()
            return snap == expected

        try:
            await wait_for(complete, 180, "restarted indexer to catch up")
            # The lone service's operations endpoints.
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                assert (await http.get("/healthz")).json()["status"] == "ok"
                assert (await http.get("/readyz")).status_code == 200
                text = (await http.get("/metrics")).text
                assert 'paperwire_events_processed_total{service="indexer",topic="papers.enriched.v1"}' in text
                assert "paperwire_consumer_lag" in text
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(30)
        assert code == 0, (proc.stderr.read() if proc.stderr else b"").decode()[-2000:]
        assert await live.snapshot() == expected
        await live.es.options(ignore_status=404).indices.delete(index=f"{namespace}papers-v1")
        await live.stop()
    finally:
        await ref_index.es.options(ignore_status=404).indices.delete(index=f"{namespace}reference-v1")
        await ref_index.stop()
        await b.stop()
