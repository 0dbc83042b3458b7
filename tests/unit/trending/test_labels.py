"""Topic labels (paperwire_trending.labels): distinctive, readable, never repeated."""

from __future__ import annotations

from paperwire_trending.clustering import Paper, cluster_papers

from .corpus import corpus, themes_of


def test_labels_are_the_distinctive_readable_phrases() -> None:
    ps = corpus({"ts": 12, "proteins": 10, "robots": 8})
    by_theme = {next(iter(themes_of(c.members))): c for c in cluster_papers(ps)}
    ts = by_theme["ts"]
    assert ts.label.split(", ")[0] in {"time series forecasting", "time series"}
    assert "time series" in ts.label
    assert "protein" in by_theme["proteins"].label
    assert "robot" in by_theme["robots"].label
    for c in by_theme.values():
        assert 1 <= len(c.label.split(", ")) <= 3
        # Shared by every theme: never distinctive enough to label one.
        assert not any(s in c.label for s in ("deep learning", "neural networks", "benchmarks"))
        # No term repeats another ("time series" next to "time series forecasting").
        words = [w for term in c.label.split(", ") for w in term.split()]
        assert len(words) == len(set(words)), c.label
        assert len(c.keyphrases) >= 3


def test_labels_fall_back_to_titles_without_keyphrases() -> None:
    ps = [
        Paper(p.id, p.vector, (), f"Graph neural networks for traffic number {i}", p.ingested_at)
        for i, p in enumerate(corpus({"ts": 6}))
    ]
    (c,) = cluster_papers(ps)
    assert "graph neural" in c.label or "traffic" in c.label
