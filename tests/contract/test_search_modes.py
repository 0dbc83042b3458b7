"""One query semantics in every mode, on every adapter: SearchService (the code behind /v1/search) over the
embedded index and over Elasticsearch, with a deterministic encoder.

- the query language and the filters restrict semantic and hybrid results exactly as keyword results;
- a query about nothing in the corpus finds nothing in any mode (the relevance floor);
- total, facets and paging agree: every result the total promises is reached by paging, once;
- a paper's own title finds it first in every mode; stop words do not make everything match.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import numpy as np
import pytest

from paperwire_common.search.embedded import EmbeddedIndex
from paperwire_common.search.port import FACET_FIELDS, Filters, SearchIndex
from paperwire_common.search.service import MODES, Fusion, Mode, SearchService

from .test_search_index import drop_index


class RandomWords:
    """Each word (its first five letters) a fixed random direction in 384 dims, a text the normalised sum of its
    words: texts sharing words are close (cosine ~0.3-0.7), unrelated ones near 0 (|cos| < 0.2), as with a real
    encoder and a relevance floor of 0.25."""

    model_id = "test-random-words"

    def encode(self, texts: Sequence[str]) -> Any:
        out = np.zeros((len(texts), 384), dtype=np.float64)
        for i, t in enumerate(texts):
            for w in re.findall(r"[a-z0-9]+", t.lower()):
                seed = int(hashlib.md5(w[:5].encode()).hexdigest()[:8], 16)
                out[i] += np.random.default_rng(seed).standard_normal(384)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


ENCODER = RandomWords()
CORPUS: list[dict[str, Any]] = [
    # id, title, abstract, has_code, topics, source, published_at
    dict(
        id="m1",
        title="Mamba: linear-time sequence modeling",
        abstract="Selective state spaces for long sequences.",
        has_code=True,
        topics=["t-ssm"],
        source="arxiv",
        published_at="2023-12-01",
    ),
    dict(
        id="m2",
        title="A survey of Mamba",
        abstract="State space models after Mamba, for vision and language.",
        has_code=False,
        topics=["t-ssm"],
        source="arxiv",
        published_at="2024-04-20",
    ),
    dict(
        id="m3",
        title="State space models are online learners",
        abstract="Linear recurrences like Mamba learn.",
        has_code=True,
        topics=["t-ssm"],
        source="openreview",
        published_at="2024-07-15",
    ),
    dict(
        id="s1",
        title="Time series forecasting with LLM reprogramming",
        abstract="We reprogram a frozen LLM for time series forecasting.",
        has_code=True,
        topics=["t-ts"],
        source="arxiv",
        published_at="2023-10-03",
    ),
    dict(
        id="s2",
        title="A decoder-only foundation model for time series",
        abstract="Pretraining on a large time series corpus gives zero-shot forecasting.",
        has_code=False,
        topics=["t-ts"],
        source="arxiv",
        published_at="2024-05-10",
    ),
    dict(
        id="s3",
        title="Graph learning for time series forecasting",
        abstract="Graph neural networks model series that depend on each other.",
        has_code=True,
        topics=["t-ts"],
        source="openreview",
        published_at="2022-06-01",
    ),
    dict(
        id="s4",
        title="Time series meet large language models",
        abstract="A survey of language models for time series analysis.",
        has_code=False,
        topics=["t-ts", "t-llm"],
        source="arxiv",
        published_at="2024-02-02",
    ),
    dict(
        id="l1",
        title="Language Models as Agent Models",
        abstract="Language models can model agents and beliefs.",
        has_code=False,
        topics=["t-llm"],
        source="arxiv",
        published_at="2022-12-03",
    ),
    dict(
        id="l2",
        title="Large language models for code generation",
        abstract="Language models that write programs; the code is released.",
        has_code=True,
        topics=["t-llm"],
        source="arxiv",
        published_at="2024-03-03",
    ),
    dict(
        id="l3",
        title="Scaling laws for neural language models",
        abstract="Loss of language models falls as a power law of size.",
        has_code=False,
        topics=["t-llm"],
        source="openreview",
        published_at="2020-01-23",
    ),
    dict(
        id="l4",
        title="Hallucination in large language models",
        abstract="Why language models make things up, and how to detect it.",
        has_code=True,
        topics=["t-llm"],
        source="arxiv",
        published_at="2023-11-09",
    ),
    dict(
        id="e1",
        title="Mixture of experts for efficient transformers",
        abstract="Sparse experts route each token to a few of many experts.",
        has_code=True,
        topics=["t-moe"],
        source="arxiv",
        published_at="2024-01-08",
    ),
    dict(
        id="e2",
        title="Experts in the loop: a study of annotation",
        abstract="Human experts label data of the study.",
        has_code=False,
        topics=[],
        source="other",
        published_at="2021-03-03",
    ),
    dict(
        id="w1",
        title="Weather forecasting with graph networks",
        abstract="Global medium-range weather forecasting of the atmosphere.",
        has_code=True,
        topics=[],
        source="arxiv",
        published_at="2023-07-07",
    ),
    dict(
        id="w2",
        title="Climate emulators of the atmosphere",
        abstract="Neural emulators of the climate for the next decades.",
        has_code=False,
        topics=[],
        source="other",
        published_at=None,
    ),
]


def _doc(d: dict[str, Any]) -> dict[str, Any]:
    out = {"version": 1, "content_hash": "h1", **d}
    if d.get("published_at"):
        out["year"] = int(d["published_at"][:4])
    else:
        out.pop("published_at", None)
    out["embedding"] = [float(x) for x in ENCODER.encode([f"{d['title']}. {d['abstract']}"])[0]]
    return out


BY_ID = {d["id"]: d for d in CORPUS}


def words(pid: str) -> list[str]:
    d = BY_ID[pid]
    return re.findall(r"[a-z0-9]+", f"{d['title']} {d['abstract']}".lower())


def has_phrase(pid: str, phrase: str) -> bool:
    return f" {phrase} " in f" {' '.join(words(pid))} "


@pytest.fixture(params=["embedded", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)])
async def service(request: pytest.FixtureRequest, namespace: str) -> AsyncIterator[SearchService]:
    if request.param == "embedded":
        ix: SearchIndex = EmbeddedIndex()
    else:
        from paperwire_common.search.elastic import ElasticIndex

        ix = ElasticIndex(request.getfixturevalue("es_url"), f"{namespace}papers")
    await ix.start()
    await ix.ensure_index()
    assert await ix.upsert([_doc(d) for d in CORPUS]) == []
    await ix.refresh()
    yield SearchService(ix, ENCODER, cursor_secret=b"modes", fusion=Fusion(floor=0.25, candidates=100, budget_s=5))
    if isinstance(ix, EmbeddedIndex):
        await ix.stop()
    else:
        await drop_index(ix)


async def all_pages(svc: SearchService, q: str, mode: Mode, size: int = 4, **kw: Any) -> tuple[list[str], Any]:
    """Every result id, page by page, and the first page."""
    first = page = await svc.search(q, mode=mode, size=size, **kw)
    got = [i["id"] for i in page.items]
    while page.next_cursor:
        page = await svc.search(q, mode=mode, size=size, cursor=page.next_cursor, **kw)
        got += [i["id"] for i in page.items]
    return got, first


Check = Callable[[str], bool]
RESTRICTIONS: list[tuple[str, dict[str, Any], Check]] = [
    ("title:mamba", {}, lambda p: "mamba" in BY_ID[p]["title"].lower()),
    ('"time series" -llm', {}, lambda p: has_phrase(p, "time series") and "llm" not in words(p)),
    ('"language models" -code:yes', {}, lambda p: has_phrase(p, "language models") and not BY_ID[p]["has_code"]),
    ("language models topic:t-ts", {}, lambda p: "t-ts" in BY_ID[p]["topics"]),
    ("forecasting NOT graph", {}, lambda p: "graph" not in words(p)),
    ("models", {"filters": Filters(topic="t-llm")}, lambda p: "t-llm" in BY_ID[p]["topics"]),
    ("models", {"filters": Filters(has_code=True)}, lambda p: BY_ID[p]["has_code"]),
    ("models", {"filters": Filters(has_code=False)}, lambda p: not BY_ID[p]["has_code"]),
    ("models", {"filters": Filters(source="openreview")}, lambda p: BY_ID[p]["source"] == "openreview"),
    (
        "models",
        {"filters": Filters(date_from="2023-01-01", date_to="2024-03-03")},
        lambda p: "2023-01-01" <= (BY_ID[p]["published_at"] or "") <= "2024-03-03",
    ),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("q", "kw", "check"), RESTRICTIONS, ids=[r[0] + str(r[1]) for r in RESTRICTIONS])
async def test_the_query_language_and_filters_restrict_every_mode(
    service: SearchService, mode: Mode, q: str, kw: dict[str, Any], check: Check
) -> None:
    got, first = await all_pages(service, q, mode, **kw)
    assert got, f"{mode} {q!r}: nothing found, so nothing was checked"
    assert first.mode == mode and first.degraded is None
    assert len(got) == len(set(got)) == first.total, f"{mode} {q!r}: the total disagrees with the pages"
    wrong = [p for p in got if not check(p)]
    assert not wrong, f"{mode} {q!r} {kw}: {wrong} do not satisfy it"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("q", ["xyzzyplugh", "qwrtzp flurbovex", "zebra giraffe saxophone"])
async def test_a_query_about_nothing_in_the_corpus_finds_nothing(service: SearchService, mode: Mode, q: str) -> None:
    page = await service.search(q, mode=mode, facets=FACET_FIELDS)
    assert (page.total, page.items, page.next_cursor, page.total_relation) == (0, [], None, "eq")
    assert all(not counts for counts in page.facets.values())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("q", ["time series forecasting", "language models", "models", "experts"])
async def test_total_facets_and_paging_agree(service: SearchService, mode: Mode, q: str) -> None:
    got, first = await all_pages(service, q, mode, size=3, facets=FACET_FIELDS)
    assert len(got) == len(set(got)) == first.total > 0 and first.total_relation == "eq"
    for name in FACET_FIELDS:
        want: Counter[Any] = Counter()
        for p in got:
            d = BY_ID[p]
            if name == "topics":
                want.update(d["topics"])
            elif name == "year":
                want.update([int(d["published_at"][:4])] if d["published_at"] else [])
            else:
                want.update([d[name]])
        counts = {f["value"]: f["count"] for f in first.facets[name]}
        assert counts == dict(want), f"{mode} {q!r}: facet {name}"
    # A cursor is a bookmark: the same page again when reused.
    if first.next_cursor:
        again = [await service.search(q, mode=mode, size=3, cursor=first.next_cursor) for _ in range(2)]
        assert [i["id"] for i in again[0].items] == [i["id"] for i in again[1].items]


@pytest.mark.parametrize("mode", MODES)
async def test_facets_only_when_asked(service: SearchService, mode: Mode) -> None:
    assert (await service.search("language models", mode=mode)).facets == {}
    page = await service.search("language models", mode=mode, facets=("source",))
    assert set(page.facets) == {"source"}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("pid", ["l1", "l3", "e1", "s2"])
async def test_a_papers_own_title_finds_it_first(service: SearchService, mode: Mode, pid: str) -> None:
    page = await service.search(BY_ID[pid]["title"], mode=mode, explain=True)
    assert page.items and page.items[0]["id"] == pid, [i["title"] for i in page.items[:3]]
    assert page.items[0]["explain"]["title_match"]


async def test_stop_words_do_not_make_everything_match(service: SearchService) -> None:
    got, _ = await all_pages(service, "mixture of experts", "keyword")
    assert set(got) == {"e1", "e2"}  # "of" is in nearly every paper
    assert got[0] == "e1"
