"""Topic labels (paperwire_trending.labels): distinctive, readable, never repeated."""

from __future__ import annotations

from paperwire_trending.clustering import Paper, cluster_papers

from .corpus import THEMES, corpus, themes_of


def test_labels_are_the_distinctive_readable_phrases() -> None:
    ps = corpus({"ts": 12, "proteins": 10, "robots": 8})
    by_theme = {next(iter(themes_of(c.members))): c for c in cluster_papers(ps)}
    ts = by_theme["ts"]
    assert ts.label.split(", ")[0] in {"time series forecasting", "time series"}
    for theme, c in by_theme.items():
        assert 1 <= len(c.label.split(", ")) <= 2
        # Each term is one of the theme's own phrases, or a part of one that ends where it ends (its head).
        own = THEMES[theme]
        assert all(any(p.endswith(term) for p in own) for term in c.label.split(", ")), (theme, c.label)
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
