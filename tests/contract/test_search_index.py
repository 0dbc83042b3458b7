"""One contract, every SearchIndex adapter (embedded SQLite FTS5 + numpy, Elasticsearch 8)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from paperwire_common.search.embedded import EmbeddedIndex
from paperwire_common.search.port import SearchIndex, SearchRequest
from paperwire_common.search.query import QuerySyntaxError


@pytest.fixture(params=["embedded", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)])
async def index(request: pytest.FixtureRequest, namespace: str) -> AsyncIterator[SearchIndex]:
    if request.param == "embedded":
        ix: SearchIndex = EmbeddedIndex()
    else:
        from paperwire_common.search.elastic import ElasticIndex

        ix = ElasticIndex(request.getfixturevalue("es_url"), f"{namespace}papers")
    await ix.start()
    await ix.ensure_index()
    yield ix
    if isinstance(ix, EmbeddedIndex):
        await ix.stop()
    else:
        await drop_index(ix)


async def drop_index(ix: Any) -> None:
    await ix.es.options(ignore_status=404).indices.delete(index=f"{ix.alias}-v1")
    await ix.stop()


def doc(pid: str, title: str, abstract: str = "", version: int = 1, **kw: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "version": version,
        "content_hash": f"h{version}",
        "title": title,
        "abstract": abstract,
        "source": "test",
        "has_code": False,
        **kw,
    }


async def load(ix: SearchIndex, docs: list[dict[str, Any]]) -> None:
    assert await ix.upsert(docs) == []
    await ix.refresh()


async def test_english_stemming_running_finds_runs(index: SearchIndex) -> None:
    await load(
        index,
        [
            doc("p1", "A fast model", "The model runs fast on a laptop."),
            doc("p2", "Unrelated", "Protein folding with diffusion."),
        ],
    )
    res = await index.search(SearchRequest(q="running"))
    assert [h.id for h in res.hits] == ["p1"]
    assert res.total == 1


async def test_external_versions_make_replays_no_ops(index: SearchIndex) -> None:
    await load(index, [doc("p1", "Second version", version=2)])
    assert await index.upsert([doc("p1", "First version", version=1)]) == []  # older: ignored, not an error
    assert await index.upsert([doc("p1", "Second version again", version=2)]) == []  # same: ignored
    await index.refresh()
    got = await index.get("p1")
    assert got is not None and got["title"] == "Second version"
    assert await index.snapshot() == {"p1": 2}
    assert await index.get_versions(["p1", "nope"]) == {"p1": (2, "h2")}
    await load(index, [doc("p1", "Third version", version=3)])
    assert (await index.get("p1") or {})["title"] == "Third version"


async def test_title_ranks_above_abstract_and_highlights(index: SearchIndex) -> None:
    await load(
        index,
        [
            doc("a", "Graph networks", "We study transformers for forecasting."),
            doc("b", "Transformers for forecasting", "We study graph networks."),
        ],
    )
    res = await index.search(SearchRequest(q="transformers"))
    assert [h.id for h in res.hits] == ["b", "a"]
    assert any("<em>" in f for f in res.hits[0].highlights.get("title", []))


async def test_phrases_exclusions_fields_and_filters(index: SearchIndex) -> None:
    await load(
        index,
        [
            doc("a", "Time series forecasting", "Forecasting with time series models.", has_code=True),
            doc("b", "Series of time trials", "Athletes and time; a series of races."),
            doc("c", "Language models", "Large language models for time series."),
        ],
    )
    assert {h.id for h in (await index.search(SearchRequest(q='"time series"'))).hits} == {"a", "c"}
    assert {h.id for h in (await index.search(SearchRequest(q='"time series" -language'))).hits} == {"a"}
    assert {h.id for h in (await index.search(SearchRequest(q="title:language"))).hits} == {"c"}
    assert {h.id for h in (await index.search(SearchRequest(q="series", has_code=True))).hits} == {"a"}
    assert {h.id for h in (await index.search(SearchRequest(q="series code:yes"))).hits} == {"a"}


async def test_size_and_total(index: SearchIndex) -> None:
    await load(index, [doc(f"p{i}", f"Neural paper {i}", "neural networks") for i in range(15)])
    res = await index.search(SearchRequest(q="neural", size=5))
    assert res.total == 15 and len(res.hits) == 5
    assert await index.count() == 15


async def test_permanent_failure_is_returned_not_raised(index: SearchIndex) -> None:
    bad = doc("bad", "Wrong vector", embedding=[0.1, 0.2, 0.3])
    good = doc("good", "Fine paper", embedding=[0.0] * 383 + [1.0])
    failures = await index.upsert([bad, good])
    assert [f.paper_id for f in failures] == ["bad"]
    assert failures[0].reason
    await index.refresh()
    assert await index.get("good") is not None and await index.get("bad") is None


async def test_bad_query_is_a_syntax_error(index: SearchIndex) -> None:
    for q in ['"unbalanced', "nosuchfield:x", "x" * 1001]:
        with pytest.raises(QuerySyntaxError):
            await index.search(SearchRequest(q=q))
