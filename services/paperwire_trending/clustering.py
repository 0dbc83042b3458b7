"""Clustering: research topics as groups of similar papers (pure logic, no I/O; deterministic for the same
input in any order). Labels come from labels.py; ids, bursts and events from detection.py and bursts.py.

Average-linkage agglomerative clustering on cosine distance, cut at `distance_threshold`:
two groups merge while the mean cosine similarity over all their cross pairs is >= 1 − threshold. For unit
vectors that mean is exact from the groups' vector sums, avg(a·b) = (ΣA · ΣB) / (|A| |B|), so the algorithm
keeps one Gram matrix of sums (a merge adds two rows) and runs the nearest-neighbour chain: O(k²) time and
8·k² bytes for k starting groups, the same dendrogram as the textbook O(k³) algorithm (average linkage is
reducible). Up to `max_exact` papers every paper starts alone (exact). Beyond that, spherical k-means
(k = `max_exact`, deterministic start, `kmeans_iters` rounds) first folds the corpus into micro-clusters that
then merge exactly as above (an approximation: a micro-cluster is never split). Memory stays ~8·max_exact²
bytes (72 MB at 3000); time grows as papers × max_exact (~6 s at 10k papers, ~20 s at 30k on 2 cores).
Clusters with >= `min_size` papers are topics; the rest is unclustered. Papers are sorted by id first and ties
break on the lower index, so a set of papers always gives the same topics. The default cut, 0.42, was tuned on
the seed corpus (all-MiniLM-L6-v2): 15 topics of 4–12 papers over 108 of 247 papers; any cut in 0.37–0.44
finds the same 7-paper "time series forecasting" topic; from 0.45 it merges into a generic foundation-model one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .labels import Vocabulary

Vector = npt.NDArray[np.floating] | Sequence[float]


@dataclass(frozen=True)
class Paper:
    """What clustering needs of a paper: its unit embedding, keyphrases, title and arrival time."""

    id: str
    vector: Vector
    keyphrases: tuple[str, ...] = ()
    title: str = ""
    ingested_at: float | None = None


@dataclass(frozen=True)
class ClusterParams:
    distance_threshold: float = 0.42  # average-linkage cut on cosine distance (1 − similarity)
    min_size: int = 4
    max_exact: int = 3000  # beyond: k-means micro-clusters first (see the module doc)
    kmeans_iters: int = 5
    n_keyphrases: int = 8  # keyphrases kept per topic
    label_terms: int = 2  # at most, in a label

    def __post_init__(self) -> None:
        if not 0.0 < self.distance_threshold < 2.0:
            raise ValueError("distance_threshold must be in (0, 2)")
        if self.min_size < 2:
            raise ValueError("min_size must be >= 2")
        if self.max_exact < 2 or self.kmeans_iters < 0:
            raise ValueError("max_exact must be >= 2 and kmeans_iters >= 0")
        if self.n_keyphrases < 1 or self.label_terms < 1:
            raise ValueError("n_keyphrases and label_terms must be >= 1")


@dataclass(frozen=True)
class Cluster:
    members: tuple[str, ...]  # sorted paper ids
    label: str
    keyphrases: tuple[str, ...]
    cohesion: float  # mean cosine similarity over member pairs


def cluster_papers(papers: Iterable[Paper], params: ClusterParams = ClusterParams()) -> list[Cluster]:
    """Topics of these papers, biggest first (ties by first member id). Later duplicates of an id are ignored."""
    by_id: dict[str, Paper] = {}
    for p in papers:
        by_id.setdefault(p.id, p)
    ps = [by_id[i] for i in sorted(by_id)]
    if len(ps) < params.min_size:
        return []
    x = np.asarray([np.asarray(p.vector, dtype=np.float64) for p in ps], dtype=np.float64)
    if x.ndim != 2:
        raise ValueError("every paper needs a vector of the same length")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.maximum(norms, 1e-12)  # the port promises unit vectors; renormalise what float32 rounding left
    if len(ps) > params.max_exact:
        groups = _micro_clusters(x, params.max_exact, params.kmeans_iters)
    else:
        groups = [[i] for i in range(len(ps))]
    sums = np.asarray([x[g].sum(axis=0) for g in groups])
    sizes = np.asarray([len(g) for g in groups], dtype=np.float64)
    merged = average_linkage(sums, sizes, 1.0 - params.distance_threshold)
    vocab = Vocabulary(ps)
    out: list[Cluster] = []
    for g in merged:
        idx = sorted(i for gi in g for i in groups[gi])
        if len(idx) < params.min_size:
            continue
        s = x[idx].sum(axis=0)
        n = len(idx)
        cohesion = float((s @ s - n) / (n * (n - 1)))
        scored = vocab.top_terms(idx, params.n_keyphrases)
        terms = [t for t, _ in scored]
        label = vocab.label(scored, params.label_terms)
        out.append(
            Cluster(
                members=tuple(ps[i].id for i in idx),
                label=label or ps[idx[0]].title[:80],
                keyphrases=tuple(terms),
                cohesion=round(cohesion, 6),
            )
        )
    out.sort(key=lambda c: (-len(c.members), c.members[0]))
    return out


def average_linkage(sums: npt.NDArray[np.float64], sizes: npt.NDArray[np.float64], min_sim: float) -> list[list[int]]:
    """Groups of row indices after average-linkage merging while mean cross-pair similarity >= min_sim.

    Row i is a group of sizes[i] unit vectors summing to sums[i]. Nearest-neighbour chain, O(k²); ties go to
    the lower index (and to the chain's previous element), so the result depends on the row order only.
    """
    k = len(sums)
    if k == 0:
        return []
    g = sums @ sums.T
    size = sizes.astype(np.float64).copy()
    members: list[list[int]] = [[i] for i in range(k)]
    open_ = np.ones(k, dtype=bool)  # may still merge
    done: list[int] = []
    chain: list[int] = []
    nxt = 0
    while True:
        if not chain:
            while nxt < k and not open_[nxt]:
                nxt += 1
            if nxt >= k:
                break
            chain.append(nxt)
        a = chain[-1]
        sims = g[a] / (size[a] * size)
        sims[~open_] = -np.inf
        sims[a] = -np.inf
        b = int(np.argmax(sims))
        if len(chain) > 1 and sims[chain[-2]] >= sims[b]:
            b = chain[-2]
        if not sims[b] >= min_sim:  # also when nothing else is open (-inf)
            open_[a] = False  # its best partner is below the cut; merges only lower similarities to it
            done.append(a)
            chain.pop()
            continue
        if len(chain) > 1 and b == chain[-2]:
            chain.pop()
            chain.pop()
            keep, gone = min(a, b), max(a, b)
            g[keep, :] += g[gone, :]
            g[:, keep] += g[:, gone]
            size[keep] += size[gone]
            members[keep].extend(members[gone])
            open_[gone] = False
            members[gone] = []
        else:
            chain.append(b)
    return [sorted(members[i]) for i in sorted(done) if members[i]]


def _micro_clusters(x: npt.NDArray[np.float64], k: int, iters: int) -> list[list[int]]:
    """Spherical k-means into at most k groups: centroids start at k rows evenly spaced in id order (no
    randomness), then `iters` Lloyd rounds (assign each row to its most similar centroid, ties to the lower
    centroid; re-centre on the normalised sum). Chunked, so memory stays ~chunk·k floats."""
    n = len(x)
    xf = x.astype(np.float32)  # float32 for the big products: twice as fast, ample for an assignment
    c = xf[np.linspace(0, n - 1, k).round().astype(np.int64)].copy()
    assign = np.zeros(n, dtype=np.int64)
    for it in range(iters + 1):
        for lo in range(0, n, 2048):
            assign[lo : lo + 2048] = np.argmax(xf[lo : lo + 2048] @ c.T, axis=1)
        if it == iters:
            break
        sums = np.zeros_like(c)
        np.add.at(sums, assign, xf)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        live = norms[:, 0] > 0
        c = np.where(live[:, None], sums / np.maximum(norms, 1e-12), c)
    groups: dict[int, list[int]] = {}
    for i, a in enumerate(assign.tolist()):
        groups.setdefault(a, []).append(i)
    return [groups[a] for a in sorted(groups)]
