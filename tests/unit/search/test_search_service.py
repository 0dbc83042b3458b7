"""SearchService over the embedded index with a small deterministic encoder: modes, fusion, explain, cursors."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from paperwire_common.search.embedded import EmbeddedIndex
from paperwire_common.search.port import SearchRequest
from paperwire_common.search.service import CursorError, Fusion, Mode, SearchService, SemanticUnavailable

DOCS = [
    ("a", "Time series forecasting with transformers", "We forecast future values of sequences."),
    ("b", "Predicting sequential measurements", "Methods for predicting future values of measured sequences."),
    ("c", "Protein folding", "Diffusion models for protein structures."),
    ("d", "Forecasting elections", "Polls and time series of votes."),
] + [(f"x{i}", f"Graph networks part {i}", "Message passing on graphs.") for i in range(20)]


class BagOfWords:
    """Hashing bag-of-words vectors: enough to make 'semantic' differ from BM25 in a test."""

    model_id = "test-bow"

    def encode(self, texts: Sequence[str]) -> Any:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().replace(".", " ").split():
                out[i, int(hashlib.md5(w[:5].encode()).hexdigest(), 16) % 384] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


@pytest.fixture
async def index() -> EmbeddedIndex:
    ix = EmbeddedIndex()
    enc = BagOfWords()
    vecs = enc.encode([f"{t}. {a}" for _, t, a in DOCS])
    await ix.upsert(
        [
            {"id": i, "version": 1, "content_hash": "h", "title": t, "abstract": a, "embedding": [float(x) for x in v]}
            for (i, t, a), v in zip(DOCS, vecs, strict=True)
        ]
    )
    return ix


def svc(ix: EmbeddedIndex, encoder: Any = BagOfWords()) -> SearchService:  # noqa: B008
    return SearchService(ix, encoder, cursor_secret=b"k", fusion=FUSION)


FUSION = Fusion(keyword_weight=0.5, floor=0.1, candidates=50)


async def test_hybrid_fuses_and_explains(index: EmbeddedIndex) -> None:
    page = await svc(index).search("predicting future values", mode="hybrid", size=3, explain=True)
    assert page.mode == "hybrid" and page.degraded is None
    top = page.items[0]
    assert top["id"] == "b"
    ex = top["explain"]
    assert ex["keyword_rank"] and ex["vector_rank"]
    # A convex combination of the scores normalised by the best one of each list (the floor is the vector's 0).
    best = await svc(index).search("predicting future values", mode="hybrid", size=50, explain=True)
    max_k = max(i["explain"]["keyword_score"] or 0 for i in best.items)
    max_v = max(i["explain"]["vector_score"] or 0 for i in best.items)
    want = 0.5 * ex["keyword_score"] / max_k + 0.5 * (ex["vector_score"] - 0.1) / (max_v - 0.1)
    assert ex["fused_score"] == pytest.approx(want)
    assert any("<em>" in f for f in top["highlights"].get("title", []) + top["highlights"].get("abstract", []))
    assert [i["score"] for i in page.items] == sorted((i["score"] for i in page.items), reverse=True)


async def test_hybrid_counts_matches_once(index: EmbeddedIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    # Hybrid reads the papers whose title the query may name (two at most, uncounted), the keyword ranking with the
    # vector hits joined in (counted, with the facets asked for), the keyword scores of the vector hits, and the
    # page's documents with their highlights: one count, one highlight.
    sent: list[SearchRequest] = []
    real = index.search

    async def spy(req: SearchRequest) -> Any:
        sent.append(req)
        return await real(req)

    monkeypatch.setattr(index, "search", spy)
    page = await svc(index).search("predicting future values", mode="hybrid", size=3, facets=("year",))
    assert page.facets == {"year": []} and page.items
    assert sorted((r.facets, r.count, r.highlight) for r in sent) == [
        ((), False, False),
        ((), False, False),
        ((), False, True),
        (("year",), True, False),
    ]
    sent.clear()
    assert (await svc(index).search("predicting future values", mode="hybrid", size=3)).facets == {}
    assert all(not r.facets for r in sent)  # no facet is counted unless asked for


async def test_cursors_page_without_overlap_and_refuse_forgeries(index: EmbeddedIndex) -> None:
    s = svc(index)
    modes: tuple[Mode, ...] = ("keyword", "hybrid", "semantic")
    for mode in modes:
        seen: list[str] = []
        page = await s.search("graphs", mode=mode, size=7)
        while True:
            seen += [i["id"] for i in page.items]
            if not page.next_cursor:
                break
            page = await s.search("graphs", mode=mode, size=7, cursor=page.next_cursor)
        assert len(seen) == len(set(seen)), mode
        assert {f"x{i}" for i in range(20)} <= set(seen), mode
        assert len(seen) == (await s.search("graphs", mode=mode, size=7)).total, mode  # the total is reachable
    first = await s.search("graphs", mode="keyword", size=5)
    assert first.next_cursor
    for mode in modes:  # a cursor is a bookmark: reused, it gives the same page
        start = await s.search("graphs", mode=mode, size=5)
        assert start.next_cursor
        again = [await s.search("graphs", mode=mode, size=5, cursor=start.next_cursor) for _ in range(2)]
        assert [i["id"] for i in again[0].items] == [i["id"] for i in again[1].items], mode
    with pytest.raises(CursorError, match="another query"):
        await s.search("proteins", mode="keyword", size=5, cursor=first.next_cursor)
    body, _, sig = first.next_cursor.rpartition(".")
    with pytest.raises(CursorError, match="not issued"):
        await s.search("graphs", mode="keyword", size=5, cursor=body + "." + "0" * len(sig))
    with pytest.raises(CursorError):
        await s.search("graphs", mode="keyword", size=5, cursor="garbage")


async def test_without_a_model_semantic_is_unavailable_and_hybrid_degrades(index: EmbeddedIndex) -> None:
    s = svc(index, encoder=None)
    with pytest.raises(SemanticUnavailable):
        await s.search("graphs", mode="semantic")
    page = await s.search("graphs", mode="hybrid")
    assert page.mode == "keyword" and page.degraded and "unavailable" in page.degraded


async def test_similar_and_recommendations(index: EmbeddedIndex) -> None:
    s = svc(index)
    items, method = await s.similar("a", size=3)
    assert method == "vector" and "a" not in [i["id"] for i in items]
    recs = await s.recommend(["a", "b"], ["c"], size=5)
    ids = [i["id"] for i in recs]
    assert not {"a", "b", "c"} & set(ids)
    assert ids[0] == "d", "the other forecasting paper is the closest to the liked ones"


async def test_a_query_naming_a_title_ranks_that_papers_neighbours_next() -> None:
    # "n" shares no word with the query, only its abstract with the named paper "k": the query alone never finds
    # it; naming k's title stands for k, whose neighbour it is.
    docs = [
        ("k", "Sparse mixture routing", "Experts gate tokens."),
        ("n", "Gating tokens among experts", "Experts gate tokens."),
        ("o", "Sparse graphs", "Message passing on graphs."),
    ]
    ix = EmbeddedIndex()
    vecs = BagOfWords().encode([f"{t}. {a}" for _, t, a in docs])
    await ix.upsert(
        [
            {"id": i, "version": 1, "content_hash": "h", "title": t, "abstract": a, "embedding": [float(x) for x in v]}
            for (i, t, a), v in zip(docs, vecs, strict=True)
        ]
    )
    for mode in ("semantic", "hybrid"):
        off = SearchService(ix, BagOfWords(), cursor_secret=b"k", fusion=Fusion(floor=0.1, known_item_weight=0.0))
        alone = [i["id"] for i in (await off.search("Sparse mixture routing", mode=mode)).items]
        assert alone[0] == "k" and "n" not in alone, (mode, alone)
        got = [i["id"] for i in (await svc(ix).search("Sparse mixture routing", mode=mode)).items]
        assert got[:2] == ["k", "n"], (mode, got)
        # Two words of a three-word title name no paper: the query is only about those words.
        part = [i["id"] for i in (await svc(ix).search("sparse mixture", mode=mode)).items]
        assert "n" not in part, (mode, part)
