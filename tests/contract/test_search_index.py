"""One contract, every SearchIndex adapter (embedded SQLite FTS5 + numpy, Elasticsearch 9)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import pytest

from paperwire_common.search.embedded import EmbeddedIndex
from paperwire_common.search.port import FACET_FIELDS, Filters, SearchIndex, SearchRequest, Suggestion, TopicAssignment
from paperwire_common.search.query import QuerySyntaxError, parse


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
    await ix.es.options(ignore_status=404).indices.delete(index=f"{ix.alias}-v1,{ix.assignments.name}")
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
    res = await index.search(SearchRequest(parse("running")))
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
    res = await index.search(SearchRequest(parse("transformers")))
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
    assert {h.id for h in (await index.search(SearchRequest(parse('"time series"')))).hits} == {"a", "c"}
    assert {h.id for h in (await index.search(SearchRequest(parse('"time series" -language')))).hits} == {"a"}
    assert {h.id for h in (await index.search(SearchRequest(parse("title:language")))).hits} == {"c"}
    assert await ids(index, "series", filters=Filters(has_code=True)) == {"a"}
    assert {h.id for h in (await index.search(SearchRequest(parse("series code:yes")))).hits} == {"a"}


async def test_size_and_total(index: SearchIndex) -> None:
    await load(index, [doc(f"p{i}", f"Neural paper {i}", "neural networks") for i in range(15)])
    res = await index.search(SearchRequest(parse("neural"), size=5))
    assert res.total == 15 and len(res.hits) == 5
    assert await index.count() == 15


async def test_uncounted_search_returns_the_same_page(index: SearchIndex) -> None:
    # count=False lets an adapter skip counting every match (hybrid mode's highlight request): the page and its
    # order must not change, and the total may only fall short of the real one, never exceed it.
    await load(index, [doc(f"p{i:02d}", f"Neural paper {i}", "neural networks " * (i % 4 + 1)) for i in range(30)])
    counted = await index.search(SearchRequest(parse("neural networks"), size=7))
    uncounted = await index.search(SearchRequest(parse("neural networks"), size=7, count=False))
    assert [h.id for h in uncounted.hits] == [h.id for h in counted.hits]
    assert [h.highlights for h in uncounted.hits] == [h.highlights for h in counted.hits]
    assert counted.total == 30 and 7 <= uncounted.total <= 30
    faceted = await index.search(SearchRequest(parse("neural"), size=7, count=False, facets=FACET_FIELDS))
    assert faceted.total == 30  # facets visit every match: the total is exact anyway


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
            await index.search(SearchRequest(parse(q)))


async def ids(ix: SearchIndex, q: str, **kw: Any) -> set[str]:
    return {h.id for h in (await ix.search(SearchRequest(parse(q), size=100, **kw))).hits}


async def test_boolean_operators_and_parentheses(index: SearchIndex) -> None:
    await load(
        index,
        [
            doc("a", "Graph neural networks", "Message passing on graphs."),
            doc("b", "Vision transformers", "Attention for images."),
            doc("c", "Graph transformers", "Attention on graphs."),
            doc("d", "Protein folding", "Diffusion models for proteins."),
        ],
    )
    assert await ids(index, "graph AND transformers") == {"c"}
    assert await ids(index, "graph OR protein") == {"a", "c", "d"}
    assert await ids(index, "graph NOT transformers") == {"a"}
    assert await ids(index, "(vision OR protein) AND NOT diffusion") == {"b"}
    assert await ids(index, "transformers -vision") == {"c"}
    assert await ids(index, "NOT graph") == {"b", "d"}
    assert await ids(index, "graph OR -attention") == {"a", "c", "d"}
    assert await ids(index, "+attention (graph OR protein)") == {"b", "c"}
    # bare words: a ranked OR, more matching words rank higher
    res = await index.search(SearchRequest(parse("graph transformers")))
    assert {h.id for h in res.hits} == {"a", "b", "c"} and res.hits[0].id == "c"


async def test_typo_tolerance_on_free_words_only(index: SearchIndex) -> None:
    await load(
        index,
        [
            doc("t1", "Transformer networks for translation", "Sequence to sequence."),
            doc("t2", "Recurrent networks", "Sequence models with memory."),
            doc("m1", "A model of language", "Words."),
            doc("m2", "A modal logic", "Worlds."),
        ],
    )
    assert "t1" in await ids(index, "trasformer")
    assert "t1" in await ids(index, "transfromer networks")  # a transposition
    assert await ids(index, '"trasformer networks"') == set()  # phrases are exact
    assert await ids(index, "title:trasformer") == set()  # so are fielded terms
    res = await index.search(SearchRequest(parse("model")))
    assert res.hits[0].id == "m1"  # an exact match ranks above any typo-distance one
    # a word the index has gets no typo neighbours: "models" stems alike, "modal" is not found
    assert await ids(index, "model") == {"m1", "t2"}
    assert await ids(index, "modl") >= {"m1"}  # while one it lacks does


def dated(pid: str, published: str | None, topics: list[str], source: str, code: bool, **kw: Any) -> dict[str, Any]:
    extra: dict[str, Any] = {"published_at": published, "year": int(published[:4])} if published else {}
    return doc(pid, f"Learning paper {pid}", "Learning.", topics=topics, source=source, has_code=code, **extra, **kw)


async def test_filters_including_an_inclusive_date_range(index: SearchIndex) -> None:
    await load(
        index,
        [
            dated("f1", "2023-12-31", ["t-nlp"], "arxiv", True, topic_labels=["Language"]),
            dated("f2", "2024-01-01", ["t-nlp", "t-cv"], "arxiv", False, topic_labels=["Language", "Vision"]),
            dated("f3", "2024-06-30T12:00:00Z", ["t-cv"], "openreview", True, topic_labels=["Vision"]),
            dated("f4", "2024-07-01", [], "arxiv", False),
            dated("f5", None, [], "arxiv", False),
        ],
    )
    assert await ids(index, "learning", filters=Filters(topic="t-cv")) == {"f2", "f3"}
    assert await ids(index, "learning", filters=Filters(source="openreview")) == {"f3"}
    assert await ids(index, "learning", filters=Filters(has_code=False)) == {"f2", "f4", "f5"}
    assert await ids(index, "learning", filters=Filters(date_from="2024-01-01", date_to="2024-06-30")) == {"f2", "f3"}
    assert await ids(index, "learning", filters=Filters(date_to="2023-12-31")) == {"f1"}
    assert await ids(index, "learning", filters=Filters(date_from="2024-07-01")) == {"f4"}
    assert await ids(index, "", filters=Filters(topic="t-nlp", has_code=True)) == {"f1"}
    # the same narrowing from the query language: fielded terms are required; topic: takes an id or a label
    assert await ids(index, "learning topic:t-cv") == {"f2", "f3"}
    assert await ids(index, 'topic:"vision" -code:yes') == {"f2"}
    assert await ids(index, "source:OpenReview") == {"f3"}
    with pytest.raises(QuerySyntaxError, match="date_from"):
        await index.search(SearchRequest(parse("learning"), filters=Filters(date_from="31/12/2023")))


async def test_facets_count_every_match_not_just_the_page(index: SearchIndex) -> None:
    await load(
        index,
        [
            dated("x1", "2024-01-01", ["a", "b"], "arxiv", True),
            dated("x2", "2024-02-01", ["a"], "arxiv", False),
            dated("x3", "2023-01-01", ["b"], "arxiv", True),
            dated("x4", "2023-02-01", ["a"], "openreview", False),
            dated("x5", "2022-01-01", ["c"], "openreview", False),
        ],
    )
    res = await index.search(SearchRequest(parse("learning"), size=2, facets=FACET_FIELDS))
    assert res.total == 5 and len(res.hits) == 2
    assert res.facets == {
        "topics": [("a", 3), ("b", 2), ("c", 1)],
        "year": [(2023, 2), (2024, 2), (2022, 1)],  # ties: by value
        "has_code": [(False, 3), (True, 2)],
        "source": [("arxiv", 3), ("openreview", 2)],
    }
    assert all(isinstance(v, bool) for v, _ in res.facets["has_code"])
    res = await index.search(SearchRequest(parse(""), size=0, facets=FACET_FIELDS, filters=Filters(has_code=True)))
    assert res.total == 2 and res.hits == []
    assert res.facets["topics"] == [("b", 2), ("a", 1)] and res.facets["has_code"] == [(True, 2)]
    assert (await index.search(SearchRequest(parse("learning")))).facets == {}


async def page_through(ix: SearchIndex, q: str, size: int) -> list[list[str]]:
    pages: list[list[str]] = []
    after = None
    while True:
        res = await ix.search(SearchRequest(parse(q), size=size, search_after=after, highlight=False))
        assert res.total == 25
        if not res.hits:
            return pages
        pages.append([h.id for h in res.hits])
        after = res.hits[-1].sort


@pytest.mark.parametrize("q", ["graphs", ""])
async def test_search_after_pages_every_match_once_in_order(index: SearchIndex, q: str) -> None:
    # Few distinct scores and dates, so most of the order is decided by the id tie-break.
    docs = [
        doc(f"g{i:02d}", f"Graph study {i}", "graphs " * (i % 3 + 1), published_at=f"2024-01-0{i % 4 + 1}")
        for i in range(25)
    ]
    await load(index, docs)
    whole = [h.id for h in (await index.search(SearchRequest(parse(q), size=25))).hits]
    assert len(whole) == 25
    pages = await page_through(index, q, 10)
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [pid for p in pages for pid in p] == whole
    if q == "":  # browsing: newest first, then by id
        assert whole[:6] == ["g03", "g07", "g11", "g15", "g19", "g23"]


@pytest.mark.parametrize("q", ["graphs", ""])
async def test_arrival_order_and_window_with_and_without_a_query(index: SearchIndex, q: str) -> None:
    # Arrival (ingested_at) is unrelated to publication: the order must come from ingested_at alone.
    docs = [
        doc(f"a{i:02d}", f"Graph study {i}", "graphs", published_at=f"2024-01-{i + 1:02d}", ingested_at=1000.0 - i % 5)
        for i in range(12)
    ]
    await load(index, [*docs, doc("nots", "Graphs without an arrival time", "graphs")])
    got = await index.search(SearchRequest(parse(q), size=20, order="arrival", highlight=False))
    ids = [h.id for h in got.hits]
    assert ids[:3] == ["a00", "a05", "a10"] and ids[-1] == "nots", "newest arrival first, id tie-break, none last"
    after, paged = None, []
    while True:
        page = await index.search(SearchRequest(parse(q), size=5, order="arrival", search_after=after, highlight=False))
        if not page.hits:
            break
        paged += [h.id for h in page.hits]
        after = page.hits[-1].sort
    assert paged == ids
    window = Filters(arrived_from=997.0, arrived_before=999.0)  # 997 <= ingested_at < 999
    got = await index.search(SearchRequest(parse(q), size=20, filters=window, order="arrival"))
    assert [h.id for h in got.hits] == ["a02", "a07", "a03", "a08"] and got.total == 4


def unit(angle_degrees: float) -> list[float]:
    """A unit vector at `angle_degrees` from the first axis, in the plane of the first two."""
    v = [0.0] * 384
    v[0], v[1] = math.cos(math.radians(angle_degrees)), math.sin(math.radians(angle_degrees))
    return v


async def test_fields_projection_and_the_embedding_never_leaks(index: SearchIndex) -> None:
    await load(index, [doc("p1", "Graph networks", "About graphs.", embedding=unit(0)), doc("p2", "Graphs", "Graphs.")])
    for h in (await index.search(SearchRequest(parse("graph")))).hits:
        assert "embedding" not in h.doc and "suggest" not in h.doc and h.doc["id"] == h.id
    got = await index.get("p1")
    assert got is not None and "embedding" not in got and "suggest" not in got
    res = await index.search(SearchRequest(parse("graph"), fields=("title",)))
    assert {tuple(sorted(h.doc)) for h in res.hits} == {("id", "title")}
    res = await index.search(SearchRequest(parse("graph"), fields=("title", "embedding")))
    by_id = {h.id: h.doc for h in res.hits}
    assert len(by_id["p1"]["embedding"]) == 384 and "embedding" not in by_id["p2"]
    knn = await index.knn(unit(0), 5)
    assert [h.id for h in knn] == ["p1"] and "embedding" not in knn[0].doc
    assert (await index.knn(unit(0), 5, fields=("embedding",)))[0].doc["embedding"][0] == pytest.approx(1.0)
    embs = await index.get_embeddings(["p1", "p2", "nope"])
    assert list(embs) == ["p1"] and embs["p1"] == pytest.approx(unit(0))


async def test_get_many_returns_what_search_would_and_ids_alone_when_asked(index: SearchIndex) -> None:
    await load(index, [doc("p1", "Graph networks", "About graphs.", embedding=unit(0)), doc("p2", "Graphs", "Graphs.")])
    searched = {h.id: h.doc for h in (await index.search(SearchRequest(parse("graph")))).hits}
    got = await index.get_many(["p2", "nope", "p1"])
    assert got == searched  # the same default fields, no embedding, missing ids left out
    assert await index.get_many(["p1"], ("title",)) == {"p1": {"id": "p1", "title": "Graph networks"}}
    assert await index.get_many([]) == {}
    # Ids alone (hybrid's candidates): every read path gives the id and nothing else.
    assert [h.doc for h in (await index.search(SearchRequest(parse("graph"), fields=("id",)))).hits] == [
        {"id": h} for h in searched
    ]
    assert [h.doc for h in await index.knn(unit(0), 5, fields=("id",))] == [{"id": "p1"}]
    assert await index.get_many(["p1"], ("id",)) == {"p1": {"id": "p1"}}


async def test_knn_orders_by_cosine_with_filters_and_exclusions(index: SearchIndex) -> None:
    await load(
        index,
        [
            doc("k0", "Zero degrees", embedding=unit(0), has_code=True),
            doc("k30", "Thirty degrees", embedding=unit(30)),
            doc("k60", "Sixty degrees", embedding=unit(60), has_code=True),
            doc("k90", "Right angle", embedding=unit(90), source="other"),
            doc("k180", "Opposite", embedding=unit(180)),
            doc("none", "No vector"),
        ],
    )
    hits = await index.knn([2 * x for x in unit(0)], 3)  # the query's length does not matter
    assert [h.id for h in hits] == ["k0", "k30", "k60"]
    assert [h.score for h in hits] == pytest.approx([1.0, math.sqrt(3) / 2, 0.5], abs=1e-3)
    everything = await index.knn(unit(0), 10)
    assert [h.id for h in everything] == ["k0", "k30", "k60", "k90", "k180"]
    assert everything[-1].score == pytest.approx(-1.0, abs=1e-3)
    assert [h.id for h in await index.knn(unit(0), 3, Filters(has_code=True))] == ["k0", "k60"]
    assert [h.id for h in await index.knn(unit(0), 2, Filters(source="other"))] == ["k90"]
    assert [h.id for h in await index.knn(unit(0), 2, exclude_ids=["k0"])] == ["k30", "k60"]
    assert await index.knn([0.0] * 384, 3) == []


async def test_more_like_this_finds_the_near_duplicate(index: SearchIndex) -> None:
    await load(
        index,
        [
            doc(
                "m1",
                "Graph neural networks for molecule property prediction",
                "We predict molecular properties with message passing graph neural networks on molecule graphs.",
            ),
            doc(
                "m2",
                "Message passing graph neural networks predict molecule properties",
                "Graph neural networks with message passing predict properties of molecules.",
                source="other",
            ),
            doc("m3", "Protein structure prediction with diffusion", "Diffusion models generate protein structures."),
            doc("m4", "Image classification with convolutional networks", "Convolutional networks classify images."),
            doc("m5", "Speech recognition with transformers", "Transformers transcribe speech."),
        ],
    )
    hits = await index.more_like_this("m1", 3)
    assert hits and hits[0].id == "m2" and "m1" not in {h.id for h in hits}
    assert "embedding" not in hits[0].doc
    assert [h.id for h in await index.more_like_this("m1", 3, Filters(source="other"))] == ["m2"]
    assert await index.more_like_this("nope", 3) == []


async def test_suggest_titles_topics_and_methods(index: SearchIndex) -> None:
    await load(
        index,
        [
            doc(
                "s1",
                "Time series forecasting with transformers",
                topic_labels=["Time series"],
                methods=["Temporal Fusion Transformer", "TFT"],
            ),
            doc(
                "s2", "Timely detection of anomalies", topic_labels=["Anomaly detection"], methods=["Isolation forest"]
            ),
            doc("s3", "Forecasting time series at scale", topic_labels=["Time series", "Forecasting"]),
            doc("s4", "Time"),
        ],
    )
    # Ranked by word position of the match, then titles before topics before methods, then shortest first.
    assert await index.suggest("tim", 10) == [
        Suggestion("Time", "title", "s4"),
        Suggestion("Timely detection of anomalies", "title", "s2"),
        Suggestion("Time series forecasting with transformers", "title", "s1"),
        Suggestion("Time series", "topic"),  # once, though two papers have it
        Suggestion("Forecasting time series at scale", "title", "s3"),  # "time" is its second word
    ]
    assert [s.text for s in await index.suggest("tim", 2)] == ["Time", "Timely detection of anomalies"]
    assert await index.suggest("TIME SER", 10) == [
        Suggestion("Time series forecasting with transformers", "title", "s1"),
        Suggestion("Time series", "topic"),
        Suggestion("Forecasting time series at scale", "title", "s3"),
    ]
    assert await index.suggest("anomal", 10) == [
        Suggestion("Anomaly detection", "topic"),
        Suggestion("Timely detection of anomalies", "title", "s2"),
    ]
    assert await index.suggest("fusion", 10) == [Suggestion("Temporal Fusion Transformer", "method")]
    assert await index.suggest("tft", 10) == [Suggestion("TFT", "method")]
    assert await index.suggest("zzz", 10) == [] and await index.suggest("  ", 10) == []
    # suggestions follow updates: s3 no longer has the Forecasting topic, s4 is renamed
    await load(index, [doc("s3", "Forecasting time series at scale", version=2, topic_labels=["Time series"])])
    await load(index, [doc("s4", "Tiny models", version=2)])
    assert await index.suggest("forec", 10) == [
        Suggestion("Forecasting time series at scale", "title", "s3"),
        Suggestion("Time series forecasting with transformers", "title", "s1"),
    ]
    assert [s.text for s in await index.suggest("tim", 1)] == ["Timely detection of anomalies"]


def assign(pid: str, version: int, *topics: tuple[str, str]) -> TopicAssignment:
    return TopicAssignment(pid, tuple(t for t, _ in topics), tuple(lb for _, lb in topics), version)


async def topics_of(ix: SearchIndex, pid: str) -> tuple[list[str], list[str]]:
    d = await ix.get(pid) or {}
    return d.get("topics", []), d.get("topic_labels", [])


async def test_topic_assignments_reach_papers_in_any_order(index: SearchIndex) -> None:
    # One assignment arrives before its paper is indexed, the other after: both papers end up with their topics.
    await index.set_topics([assign("a", 10, ("tp-1", "in-context learning"))])
    await load(index, [doc("a", "Transformers learn in context"), doc("b", "Graph networks")])
    await index.set_topics([assign("b", 10, ("tp-2", "graph learning"))])
    await index.refresh()
    assert await topics_of(index, "a") == (["tp-1"], ["in-context learning"])
    assert await topics_of(index, "b") == (["tp-2"], ["graph learning"])
    # the topic filter, topic: (id or label), the facet and the suggestions see them
    assert await ids(index, "", filters=Filters(topic="tp-1")) == {"a"}
    assert await ids(index, 'topic:"graph learning"') == {"b"}
    res = await index.search(SearchRequest(parse(""), facets=("topics",)))
    assert res.facets["topics"] == [("tp-1", 1), ("tp-2", 1)]
    assert Suggestion("in-context learning", "topic") in await index.suggest("in-context lea", 5)
    # an older assignment, or the same one replayed, changes nothing; a newer one wins (a rename and a merge)
    await index.set_topics([assign("a", 5, ("tp-old", "old")), assign("b", 10, ("tp-2", "graph learning"))])
    await index.set_topics([assign("a", 20, ("tp-2", "graph representation learning"))])
    await index.set_topics([assign("b", 20, ("tp-2", "graph representation learning"))])
    await index.refresh()
    assert await topics_of(index, "a") == (["tp-2"], ["graph representation learning"])
    assert await ids(index, "", filters=Filters(topic="tp-2")) == {"a", "b"}
    assert [s for s in await index.suggest("in-con", 5) if s.kind == "topic"] == []  # the old label is gone
    # a new version of the paper keeps its topics; an empty assignment takes them away
    await load(index, [doc("a", "Transformers learn in context, revised", version=2)])
    assert await topics_of(index, "a") == (["tp-2"], ["graph representation learning"])
    await index.set_topics([assign("b", 30)])
    await index.refresh()
    assert await topics_of(index, "b") == ([], [])
    assert await ids(index, "", filters=Filters(topic="tp-2")) == {"a"}


async def test_nothing_to_write_is_a_no_op(index: SearchIndex) -> None:
    assert await index.upsert([]) == []  # a batch of topic assignments alone has no document
    await index.set_topics([])
    assert await index.count() == 0
