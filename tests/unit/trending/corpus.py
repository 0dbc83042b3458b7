"""Synthetic papers for the topic tests: themes around random directions, noise, and arrival times."""

from __future__ import annotations

import random

import numpy as np

from paperwire_trending.clustering import Paper

DIM = 384
THEMES: dict[str, list[str]] = {
    "ts": ["time series forecasting", "time series", "forecasting horizon", "temporal patterns", "foundation model"],
    "proteins": ["protein structure prediction", "protein folding", "amino acid sequences", "structural biology"],
    "robots": ["robot manipulation", "grasping policies", "robot learning", "dexterous hands"],
}
SHARED = ["deep learning", "neural networks", "benchmarks", "large language models"]


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def corpus(sizes: dict[str, int], seed: int = 7, t0: float = 1_000.0, noise: float = 0.03) -> list[Paper]:
    """Papers around one random direction per theme (pairwise cosine ~0.75 inside, ~0 across), keyphrases
    from the theme plus generic ones, ids t:<theme>:<n>."""
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    out = []
    for theme in sorted(THEMES):
        center = unit(rng.normal(size=DIM))
        for n in range(sizes.get(theme, 0)):
            v = unit(center + rng.normal(scale=noise, size=DIM))
            kps = tuple(pick.sample(THEMES[theme], 3) + pick.sample(SHARED, 2))
            out.append(Paper(f"t:{theme}:{n:03d}", v, kps, f"{theme} paper {n}", t0 + n))
    return out


def noise_papers(n: int, seed: int = 11) -> list[Paper]:
    rng = np.random.default_rng(seed)
    return [Paper(f"n:{i:03d}", unit(rng.normal(size=DIM)), ("misc",), f"noise {i}", 500.0) for i in range(n)]


def themes_of(members: tuple[str, ...] | list[str]) -> set[str]:
    return {m.split(":")[1] for m in members}


W = 100.0
NOW = 10_000.0  # window index 100


def arrivals(per_window: list[int], recent: int, offset: float = 0.0) -> list[float]:
    """per_window[j] arrivals in baseline window j (oldest first, len 7), `recent` in (NOW − W, NOW]."""
    out = []
    k = len(per_window)
    for j, c in enumerate(per_window):
        start = NOW - (k + 1 - j) * W
        out += [start + 1 + i + offset for i in range(c)]
    out += [NOW - W + 1 + i + offset for i in range(recent)]
    return out


def timed(papers: list[Paper], times: list[float]) -> list[Paper]:
    return [Paper(p.id, p.vector, p.keyphrases, p.title, t) for p, t in zip(papers, times, strict=True)]
