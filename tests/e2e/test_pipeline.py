"""The pipeline end to end on both backends: seed corpus in, searchable papers out, replays are no-ops."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperwire_common.search.port import SearchRequest
from paperwire_common.search.query import parse
from tests.conftest import SAMPLE, SEED_PAGE

from .pipeline import pipeline

BACKENDS = [
    "embedded",
    pytest.param("kafka", marks=[pytest.mark.kafka, pytest.mark.elasticsearch, pytest.mark.redis]),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "kafka":
        for f in ("kafka_bootstrap", "es_url", "redis_url"):
            request.getfixturevalue(f)
    return str(request.param)


async def test_seed_in_searchable_out_and_reingest_is_a_no_op(backend: str, namespace: str) -> None:
    async with pipeline(backend, namespace) as p:
        first = await p.ingest(str(SAMPLE))
        assert (first.read, first.new, first.rejected) == (247, 247, 0)
        await p.settle()
        assert await p.backends.index.count() == 247
        snap = await p.backends.index.snapshot()
        assert set(snap.values()) == {1}

        again = await p.ingest(str(SAMPLE))
        assert (again.new, again.updated, again.unchanged) == (0, 0, 247)
        # The same papers from another format are the same papers (canonical ids from normalised titles).
        page = await p.ingest(str(SEED_PAGE))
        assert (page.read, page.new, page.updated) == (247, 0, 0)
        await p.settle()
        assert await p.backends.index.snapshot() == snap, "nothing re-versioned"

        res = await p.backends.index.search(SearchRequest(parse("time series"), size=10))
        titles = [h.doc["title"].lower() for h in res.hits]
        assert len(titles) == 10 and all("time" in t or "series" in t for t in titles[:5])


async def test_broken_records_are_rejected_and_the_rest_indexed(backend: str, namespace: str, tmp_path: Path) -> None:
    lines = SAMPLE.read_text().splitlines()[:20]
    broken = [*lines[:7], '{"title": "no closing brace"', '{"abstract": "no title"}', '{"title": 42}', *lines[7:]]
    f = tmp_path / "broken.jsonl"
    f.write_text("\n".join(broken) + "\n")
    async with pipeline(backend, namespace) as p:
        s = await p.ingest(str(f))
        assert (s.read, s.new, s.rejected) == (23, 20, 3)
        assert all(r.startswith("line ") for r in s.reasons), s.reasons
        await p.settle()
        assert await p.backends.index.count() == 20


async def test_updated_paper_gets_next_version(backend: str, namespace: str, tmp_path: Path) -> None:
    f = tmp_path / "p.jsonl"
    f.write_text('{"title": "A Paper About Graphs", "abstract": "First abstract."}\n')
    async with pipeline(backend, namespace) as p:
        await p.ingest(str(f))
        f.write_text('{"title": "A paper about graphs", "abstract": "Second, corrected abstract."}\n')
        s = await p.ingest(str(f))
        assert (s.new, s.updated) == (0, 1)
        await p.settle()
        snap = await p.backends.index.snapshot()
        assert list(snap.values()) == [2]
        doc = await p.backends.index.get(next(iter(snap)))
        assert doc is not None and doc["abstract"] == "Second, corrected abstract."
