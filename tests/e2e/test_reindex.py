"""`paperwire search reindex` on real Kafka + Elasticsearch: a new index version from the topic, the alias
switched, the same documents and versions, searches answered throughout."""

from __future__ import annotations

import pytest

from paperwire_common.search.port import SearchRequest
from paperwire_common.search.query import parse
from paperwire_indexer.reindex import current_target, reindex
from tests.conftest import SAMPLE

from .pipeline import pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.elasticsearch, pytest.mark.redis]


async def test_reindex_switches_alias_to_an_equal_index(
    kafka_bootstrap: str, es_url: str, redis_url: str, namespace: str
) -> None:
    async with pipeline("kafka", namespace) as p:
        await p.ingest(str(SAMPLE))
        await p.settle()
        ix = p.backends.index
        before = await ix.snapshot()
        es = ix.es  # type: ignore[attr-defined]
        assert (await current_target(es, ix.alias))[0] == f"{namespace}papers-v1"  # type: ignore[attr-defined]

        out = await reindex(p.backends, delete_old=False)

        assert out["old"] == f"{namespace}papers-v1" and out["new"] == f"{namespace}papers-v2"
        assert (await current_target(es, ix.alias))[0] == f"{namespace}papers-v2"  # type: ignore[attr-defined]
        await ix.refresh()
        assert await ix.snapshot() == before
        assert (await ix.search(SearchRequest(parse("time series")))).total > 0
        await es.options(ignore_status=404).indices.delete(index=f"{namespace}papers-v2")
