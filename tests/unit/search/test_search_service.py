"""SearchService over the embedded index with a small deterministic encoder: modes, RRF, explain, cursors."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from paperwire_common.search.embedded import EmbeddedIndex
from paperwire_common.search.port import SearchRequest
from paperwire_common.search.service import CursorError, SearchService, SemanticUnavailable

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
    return SearchService(ix, encoder, cursor_secret=b"k", candidates=50)


async def test_hybrid_fuses_and_explains(index: EmbeddedIndex) -> None:
    page = await svc(index).search("predicting future values", mode="hybrid", size=3, explain=True)
    assert page.mode == "hybrid" and page.degraded is None
    top = page.items[0]
    assert top["id"] == "b"
    ex = top["explain"]
    assert ex["keyword_rank"] and ex["vector_rank"]
    assert ex["fused_score"] == pytest.approx(1 / (60 + ex["keyword_rank"]) + 1 / (60 + ex["vector_rank"]))
    assert any("<em>" in f for f in top["highlights"].get("title", []) + top["highlights"].get("abstract", []))
    assert [i["score"] for i in page.items] == sorted((i["score"] for i in page.items), reverse=True)


async def test_hybrid_counts_matches_once(index: EmbeddedIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    # Hybrid sends two keyword searches: the candidates (with facets, whose total is the page's) and the
    # highlights of the top. Only the first may pay for counting every match.
    sent: list[SearchRequest] = []
    real = index.search

    async def spy(req: SearchRequest) -> Any:
        sent.append(req)
        return await real(req)

    monkeypatch.setattr(index, "search", spy)
    page = await svc(index).search("predicting future values", mode="hybrid", size=3)
    assert page.facets and page.items
    assert sorted((r.facets, r.count, r.highlight) for r in sent) == [(False, False, True), (True, True, False)]


async def test_cursors_page_without_overlap_and_refuse_forgeries(index: EmbeddedIndex) -> None:
    s = svc(index)
    for mode in ("keyword", "hybrid", "semantic"):
        seen: list[str] = []
        page = await s.search("graphs", mode=mode, size=7)
        while True:
            seen += [i["id"] for i in page.items]
            if not page.next_cursor:
                break
            page = await s.search("graphs", mode=mode, size=7, cursor=page.next_cursor)
        assert len(seen) == len(set(seen)), mode
        assert {f"x{i}" for i in range(20)} <= set(seen), mode
    first = await s.search("graphs", mode="keyword", size=5)
    assert first.next_cursor
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


async def test_hybrid_pages_reach_every_fused_candidate(index: EmbeddedIndex) -> None:
    # Keyword and vector candidates (10 each here) fuse into more than 10: the pages past the 10th reach them too.
    s = SearchService(index, BagOfWords(), cursor_secret=b"k", candidates=10)
    page = await s.search("time series forecasting graphs", mode="hybrid", size=4)
    assert page.total > 10
    seen = [i["id"] for i in page.items]
    while page.next_cursor:
        page = await s.search("time series forecasting graphs", mode="hybrid", size=4, cursor=page.next_cursor)
        assert page.items
        seen += [i["id"] for i in page.items]
    assert len(seen) == len(set(seen)) == (await s.search("time series forecasting graphs", mode="hybrid")).total
