"""The judgments file is well formed, names real seed papers, and the metrics compute what they claim."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from .evaluate import KINDS, dcg, load_queries, ndcg_at_k, paper_id, qrels, reciprocal_rank, seed_titles


def test_judgments_name_seed_papers_exactly_with_grades_1_to_3() -> None:
    queries = load_queries()
    titles = set(seed_titles())
    assert len(queries) >= 60
    assert len({q.id for q in queries}) == len(queries), "query ids are unique"
    kinds = Counter(q.kind for q in queries)
    assert set(kinds) == set(KINDS) and kinds["keyword"] >= 10 and kinds["paraphrase"] >= 25 and kinds["syntax"] >= 6
    assert kinds["title"] >= 12
    for q in queries:
        assert q.q.strip(), q.id
        assert 3 <= len(q.judgments) <= 20, f"{q.id}: {len(q.judgments)} judged papers"
        unknown = [t for t in q.judgments if t not in titles]
        assert not unknown, f"{q.id}: not seed titles: {unknown}"
        assert set(q.judgments.values()) <= {1, 2, 3}, q.id
        assert 3 in q.judgments.values(), f"{q.id}: no perfect result"
        if q.kind == "title":  # a paper's own title: that paper is the one perfect result
            assert [t for t, g in q.judgments.items() if g == 3] == [q.q], q.id


def test_seed_titles_map_to_distinct_canonical_ids() -> None:
    titles = seed_titles()
    assert len({paper_id(t) for t in titles}) == len(titles) == 247
    assert all(paper_id(t).startswith("title:") for t in titles)


def test_ndcg_uses_exponential_gains_and_the_judged_ideal() -> None:
    rels = {"a": 3, "b": 2, "c": 1}
    assert ndcg_at_k(["a", "b", "c"], rels) == pytest.approx(1.0)
    # b, x(unjudged), a: (3/log2(2) + 0 + 7/log2(4)) / (7/log2(2) + 3/log2(3) + 1/log2(4))
    want = (3 / 1 + 0 + 7 / 2) / (7 / 1 + 3 / math.log2(3) + 1 / 2)
    assert ndcg_at_k(["b", "x", "a"], rels) == pytest.approx(want)
    assert dcg([3, 2]) == pytest.approx(7 + 3 / math.log2(3))
    assert ndcg_at_k([], rels) == 0.0
    # Only the top k counts; the ideal is cut at k too.
    assert ndcg_at_k(["x", "a"], {"a": 3}, k=1) == 0.0
    assert ndcg_at_k(["a"], {"a": 1, "b": 3}, k=1) == pytest.approx(1 / 7)


def test_reciprocal_rank_of_the_first_judged_result() -> None:
    rels = {"a": 1, "b": 3}
    assert reciprocal_rank(["x", "y", "a", "b"], rels) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x"] * 10 + ["a"], rels) == 0.0


def test_qrels_are_keyed_by_canonical_id() -> None:
    q = load_queries()[0]
    assert set(qrels(q).values()) == set(q.judgments.values())
    assert all(pid.startswith("title:") for pid in qrels(q))
