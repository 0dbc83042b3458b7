"""Percolation gives exactly what /v1/search gives (keyword mode, embedded index) for a few thousand generated
queries over the sample corpus, and its pre-filter skips most queries."""

from __future__ import annotations

import json
import random
import re
from typing import Any

import pytest

from paperwire_common.percolator import KnownWords, Percolator
from paperwire_common.search.embedded import EmbeddedIndex
from paperwire_common.search.port import SearchRequest
from paperwire_common.search.query import parse
from tests.conftest import SAMPLE

TOPICS = ["tp-vision", "tp-language", "tp-robots"]


def corpus() -> list[dict[str, Any]]:
    rng = random.Random(7)
    docs = []
    for i, line in enumerate(SAMPLE.read_text().splitlines()):
        p = json.loads(line)
        docs.append(
            {
                "id": f"p{i:03d}",
                "version": 1,
                "content_hash": f"h{i:08d}",
                "title": p["title"],
                "abstract": p.get("abstract", ""),
                "authors": [a if isinstance(a, str) else a.get("name", "") for a in p.get("authors", [])][:5]
                or ["Ada Lovelace"],
                "source": rng.choice(["jsonl", "arxiv-atom"]),
                "has_code": rng.random() < 0.4,
                "topics": rng.sample(TOPICS, rng.randint(0, 2)),
                "topic_labels": [],
                "methods": ["Low-Rank Adaptation", "LoRA"] if rng.random() < 0.2 else [],
                "datasets": ["ImageNet"] if rng.random() < 0.2 else [],
            }
        )
    return docs


def typo(w: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(w))
    return w[:i] + w[i + 1 :] if rng.random() < 0.5 else w[:i] + "xq"[rng.randrange(2)] + w[i:]


def queries(docs: list[dict[str, Any]], n: int) -> list[str]:
    rng = random.Random(11)
    words = sorted({w.lower() for d in docs for w in re.findall(r"[A-Za-z]{3,}", d["title"] + " " + d["abstract"])})
    title_words = [re.findall(r"[A-Za-z]{3,}", d["title"]) for d in docs]
    out = []
    for _ in range(n):
        kind = rng.randrange(10)
        a, b, c = rng.choice(words), rng.choice(words), rng.choice(words)
        if kind == 0:
            out.append(a)
        elif kind == 1:
            out.append(f"{a} AND {b}")
        elif kind == 2:
            tw = rng.choice(title_words)
            j = rng.randrange(max(len(tw) - 1, 1))
            out.append(f'"{" ".join(tw[j : j + 2])}"')
        elif kind == 3:
            out.append(f"{a} -{b}")
        elif kind == 4:
            out.append(f"title:{a} {b}")
        elif kind == 5:
            out.append(f"({a} OR {b}) AND NOT {c}")
        elif kind == 6:
            out.append(f"{typo(a, rng) if len(a) > 4 else a} topic:{rng.choice(TOPICS)}")
        elif kind == 7:
            out.append(f"+{a} code:{rng.choice(['yes', 'no'])} source:jsonl")
        elif kind == 8:
            out.append(f'method:lora OR dataset:imagenet OR abstract:"{a} {b}"')
        else:
            out.append(typo(a, rng) if len(a) > 3 else f"author:{a}")
    return out


@pytest.mark.timeout(600)
async def test_percolation_equals_search_over_the_sample() -> None:
    docs = corpus()
    index = EmbeddedIndex()
    assert await index.upsert(docs) == []
    qs = queries(docs, 1500)
    perc = Percolator(KnownWords(index))
    await perc.sync({f"q{i}": q for i, q in enumerate(qs)})
    hits = await perc.match(docs)
    by_query: dict[str, set[str]] = {}
    for doc_id, qids in hits.items():
        for q in qids:
            by_query.setdefault(q, set()).add(doc_id)
    mismatches = []
    for i, q in enumerate(qs):
        res = await index.search(SearchRequest(parse(q), size=1000, highlight=False))
        want = {h.id for h in res.hits}
        got = by_query.get(f"q{i}", set())
        if want != got:
            mismatches.append((q, sorted(want - got)[:3], sorted(got - want)[:3]))
    assert not mismatches, f"{len(mismatches)} of {len(qs)} differ, e.g. {mismatches[:8]}"
    assert sum(1 for q in by_query.values() if q) > len(qs) * 0.3  # the queries do match things


async def test_long_phrases_and_multi_token_words_equal_search() -> None:
    """Phrases of three terms and more (verified by positions, not by a bigram) and words that are several
    tokens ("state-of-the-art", "GPT-4"), in free text and in a column."""
    docs = corpus()
    index = EmbeddedIndex()
    await index.upsert(docs)
    rng = random.Random(5)
    qs: list[str] = []
    for d in rng.sample(docs, 120):
        words = re.findall(r"[A-Za-z0-9-]+", d["title"])
        if len(words) >= 3:
            j = rng.randrange(len(words) - 2)
            n = rng.choice([3, 4])
            qs.append(f'"{" ".join(words[j : j + n])}"')
            qs.append(f'title:"{" ".join(words[j : j + 3])}" OR {words[-1]}')
        qs += [w for w in words if "-" in w][:1]
    qs += ['"large language models"', "state-of-the-art", '"in the"', '"of the art"', "GPT-4 AND NOT survey"]
    perc = Percolator(KnownWords(index))
    await perc.sync({f"q{i}": q for i, q in enumerate(qs)})
    hits = await perc.match(docs)
    mismatches = []
    for i, q in enumerate(qs):
        want = {h.id for h in (await index.search(SearchRequest(parse(q), size=1000, highlight=False))).hits}
        got = {pid for pid, qids in hits.items() if f"q{i}" in qids}
        if want != got:
            mismatches.append((q, sorted(want ^ got)[:3]))
    assert not mismatches, mismatches[:8]
    assert sum(1 for qids in hits.values() for _ in qids) >= len(qs)  # they match things


async def test_prefilter_verifies_few_queries_per_document() -> None:
    docs = corpus()[:50]
    perc = Percolator()
    await perc.sync({f"q{i}": q for i, q in enumerate(queries(corpus(), 2000))})
    analysed = perc.analyzer.documents(docs)
    fuzzy = perc._fuzzy_docs(analysed)
    mean = sum(len(perc.candidates(d, fuzzy)) for d in analysed) / len(analysed)
    assert mean < 0.35 * len(perc), mean


async def test_sync_adds_changes_and_drops_queries() -> None:
    doc = corpus()[0]
    p = Percolator()
    await p.sync({"a": '"additive friction"', "b": "quantum"})
    assert await p.match([doc]) == {doc["id"]: ["a"]}
    await p.sync({"b": "friction stir", "c": "-quantum"})
    assert await p.match([doc]) == {doc["id"]: ["b", "c"]}
    await p.sync({})
    assert await p.match([doc]) == {} and len(p) == 0


def fts5_whole_text(analyzer: Any, docs: list[dict[str, Any]]) -> list[dict[str, dict[str, list[int]]]]:
    """FTS5's own analysis of each whole column (what the analyzer's chunk-by-chunk analysis must equal)."""
    from paperwire_common.percolator.analysis import TEXT_COLUMNS, _column_text

    marks = ",".join("?" * len(TEXT_COLUMNS))
    analyzer.db.executemany(
        f"INSERT INTO temp.docs (rowid, {', '.join(TEXT_COLUMNS)}) VALUES (?, {marks})",
        [(i, *(_column_text(d, c) for c in TEXT_COLUMNS)) for i, d in enumerate(docs)],
    )
    out: list[dict[str, dict[str, list[int]]]] = [{c: {} for c in TEXT_COLUMNS} for _ in docs]
    for term, doc, col, off in analyzer.db.execute("SELECT term, doc, col, offset FROM temp.docs_i ORDER BY offset"):
        out[doc][col].setdefault(term, []).append(off)
    analyzer.db.execute("INSERT INTO temp.docs (docs) VALUES ('delete-all')")
    return out


def test_chunked_analysis_is_fts5s_own() -> None:
    from paperwire_common.percolator.analysis import Analyzer

    hostile = [
        "naïve café-au-lait\u00a0co\u2013op e\u0301t\u00e9 ＬＬＭｓ ß straße",
        "tab\tnew\nline\x1cfile\x85sep\u2028para\u3000ideo 東京大学 x_y a.b.c 3.14 don't",
        "emoji🙂inside word, (parens)[brackets]{braces} <html>&amp; -- ~~ \u200bzero\u200dwidth",
    ]
    docs = corpus()[:120] + [
        {"id": f"h{i}", "title": t, "abstract": t[::-1], "authors": [t[:10], "O'Brien"], "methods": [], "datasets": []}
        for i, t in enumerate(hostile)
    ]
    a = Analyzer()
    got = [d.columns for d in a.documents(docs)]
    want = fts5_whole_text(a, docs)
    assert got == want
