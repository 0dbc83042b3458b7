"""Real Elasticsearch 9 (the local node assembled from Maven Central, or any 9.x) with the production mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import elasticsearch
import httpx
import pytest
from elasticsearch import AsyncElasticsearch

from paperwire_common.search.elastic import stored_body
from paperwire_common.search.mapping import EMBEDDING_DIMS, MAPPINGS, SETTINGS

pytestmark = pytest.mark.elasticsearch


@pytest.fixture
async def es(es_url: str, namespace: str) -> AsyncIterator[tuple[AsyncElasticsearch, str]]:
    client = AsyncElasticsearch(es_url)
    name = f"{namespace}papers-v1"
    await client.indices.create(index=name, settings=SETTINGS, mappings=MAPPINGS)
    yield client, name
    await client.options(ignore_status=404).indices.delete(index=name)
    await client.close()


async def test_server_is_elasticsearch_9_as_the_client(es_url: str) -> None:
    r = httpx.get(es_url)
    assert r.headers.get("X-elastic-product") == "Elasticsearch"
    assert r.json()["version"]["number"].startswith("9.")
    # The client sends compatible-with=<its major>; a server of another major answers 400 media_type_header_exception.
    assert elasticsearch.__versionstr__.split(".")[0] == r.json()["version"]["number"].split(".")[0]
    client = AsyncElasticsearch(es_url)
    try:
        assert (await client.info())["version"]["number"] == r.json()["version"]["number"]
    finally:
        await client.close()


async def test_production_mapping_bulk_search_stemming(es: tuple[AsyncElasticsearch, str]) -> None:
    client, name = es
    docs = [
        {
            "id": "p1",
            "version": 1,
            "title": "Fast inference",
            "abstract": "The model runs fast.",
            "has_code": True,
        },
        {
            "id": "p2",
            "version": 1,
            "title": "Café networks",
            "abstract": "Graphs of coffee shops.",
            "has_code": False,
        },
        {"id": "p3", "version": 1, "title": "Protein folding", "abstract": "Diffusion for proteins."},
    ]
    ops: list[dict[str, Any]] = []
    for d in docs:
        ops += [{"index": {"_index": name, "_id": d["id"]}}, stored_body(d)]
    r = await client.bulk(operations=ops, refresh=True)
    assert not r["errors"]
    hits = (await client.search(index=name, query={"match": {"abstract": "running"}}))["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["p1"], "the english analyzer stems running -> run"
    hits = (await client.search(index=name, query={"match": {"title": "cafe"}}))["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["p2"], "asciifolding: cafe finds Café"
    aggs = (await client.search(index=name, size=0, aggs={"c": {"terms": {"field": "has_code"}}}))["aggregations"]
    assert {b["key_as_string"]: b["doc_count"] for b in aggs["c"]["buckets"]} == {"true": 1, "false": 1}
    prefix = (await client.search(index=name, query={"prefix": {"title_suffixes": "fold"}}))["hits"]["hits"]
    assert [h["_id"] for h in prefix] == ["p3"], "keyword prefixes serve title suggestions mid-title"


async def test_dense_vector_knn(es: tuple[AsyncElasticsearch, str]) -> None:
    client, name = es

    def vec(i: int) -> list[float]:
        v = [0.0] * EMBEDDING_DIMS
        v[i] = 1.0
        return v

    ops: list[dict[str, Any]] = []
    for i in range(5):
        ops += [
            {"index": {"_index": name, "_id": f"v{i}"}},
            {"id": f"v{i}", "title": f"t{i}", "embedding": vec(i)},
        ]
    await client.bulk(operations=ops, refresh=True)
    r = await client.search(
        index=name, knn={"field": "embedding", "query_vector": vec(3), "k": 2, "num_candidates": 10}
    )
    assert r["hits"]["hits"][0]["_id"] == "v3"
    # int8 HNSW on every server: 9.x would otherwise pick 1-bit bbq_hnsw for 384 dims.
    got = await client.indices.get_field_mapping(index=name, fields="embedding")
    assert got[name]["mappings"]["embedding"]["mapping"]["embedding"]["index_options"]["type"] == "int8_hnsw"


async def test_an_index_from_an_older_release_gets_the_new_fields(es_url: str, namespace: str) -> None:
    """ensure_index on an existing alias adds the fields added since, so today's documents are accepted."""
    from paperwire_common.search.elastic import ElasticIndex
    from paperwire_common.search.mapping import SUGGEST_FIELDS

    alias = f"{namespace}oldpapers"
    old = {**MAPPINGS, "properties": {k: v for k, v in MAPPINGS["properties"].items() if k not in SUGGEST_FIELDS}}
    ix = ElasticIndex(es_url, alias)
    try:
        await ix.es.indices.create(index=f"{alias}-v1", settings=SETTINGS, mappings=old, aliases={alias: {}})
        assert await ix.upsert([{"id": "p1", "version": 1, "title": "Protein folding"}]) != []  # strict: refused
        await ix.ensure_index()
        assert await ix.upsert([{"id": "p1", "version": 1, "title": "Protein folding"}]) == []
        await ix.refresh()
        assert [s.text for s in await ix.suggest("fold", 5)] == ["Protein folding"]
    finally:
        await ix.es.options(ignore_status=404).indices.delete(index=f"{alias}-v1")
        await ix.stop()
