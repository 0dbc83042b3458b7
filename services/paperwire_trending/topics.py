"""Topics and emerging-topic detection: pure logic (no I/O), deterministic for the same input in any order.

Clustering — average-linkage agglomerative clustering on cosine distance, cut at `distance_threshold`:
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

Labels — c-TF-IDF over keyphrase n-grams: each paper contributes the set of 1–3-grams of its keyphrases
(its title when it has none; n-grams with a function word at an edge, and generic single words such as
"model", are dropped; plurals fold together); a term scores coverage × idf = (members with it / cluster size) ·
log(1 + N / papers with it in the corpus), × 1.15 per extra word. Terms sharing a word with a better one are
dropped, except that a longer term replaces a shorter one it contains when it covers at least half as many
papers ("time series forecasting" over "time series"). The label joins the top 1–3 terms scoring at least half
the best one, in the commonest surface form; the topic's keyphrases are the top `n_keyphrases` terms.

Stable ids — a new cluster inherits the id of the previous topic it overlaps most (Jaccard on members
>= `min_jaccard`, one-to-one, best pairs first); otherwise its id is a short hash of its sorted founding members.

Emerging — `topic.created` when a topic id is not in the previous state. `topic.trending` when a topic that
existed before bursts: arrivals (members by `ingested_at`) in the trailing window (now − W, now] against the
`baseline_windows` windows before it, counting only windows the topic was alive in (its first arrival at or
before the window's end; at least `min_history_windows` of them):

    z    = (recent − mean) / max(std, √mean, 1)        (√mean: Poisson noise floor; 1: no division by ~0)
    lift = (recent / corpus recent) / (topic baseline / corpus baseline)

and it trends when recent >= `min_recent`, z >= `z_threshold` and lift >= `min_lift` — the lift keeps a
corpus-wide surge (a backfill, a catch-up after downtime) from making every topic "trend". A burst is reported
once per (topic, W-aligned window), and not again in the window right after one it was reported in. Arrival
time is `ingested_at`: a bulk backfill lands in one window, so it gives topics no history rather than bursts.

Event ids are hashes of (kind, topic id, window) — at most one of each, whatever is re-run or re-published.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from paperwire_common import ids
from paperwire_common.events import TopicEvent

EventKind = Literal["topic.created", "topic.trending"]
CREATED: Final = "topic.created"
TRENDING: Final = "topic.trending"

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
    label_terms: int = 3

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


# ------------------------------------------------------------------------------------------------ clustering


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
    vocab = _Vocabulary(ps)
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
        # The label: the best 1..label_terms terms, those scoring at least half the best one.
        label = [t for t, sc in scored[: params.label_terms] if sc >= 0.5 * scored[0][1]]
        out.append(
            Cluster(
                members=tuple(ps[i].id for i in idx),
                label=", ".join(label) if label else ps[idx[0]].title[:80],
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


# ------------------------------------------------------------------------------------------------ labels

_STOP = frozenset(
    """a an and are as at be been being but by can do does for from has have how in into is it its of on or our
    over such than that the their them these this those through to towards toward under up upon via was we were
    what when where which while who why will with within without using based use used new novel vs versus
    not no more most less very also both each other only own same so then there thus""".split()
)
# Too generic to be a topic label on their own (still fine inside longer terms: "language model").
_GENERIC = frozenset(
    """model models method methods approach approaches paper papers result results task tasks data dataset
    datasets performance study studies framework frameworks system systems analysis problem problems work
    propose proposed show shows learning network networks training evaluation state art large general
    efficient effective improve improving improved first existing recent different significant range wide
    ai artificial intelligence deep machine prediction predictions predict predicting predictive produce
    introduce introduces present presents develop developing developed demonstrate achieve trained train solve
    standard future goal set capabilities capability learn world key high low multi pre able current output
    outputs input inputs information process processing application applications technique techniques
    challenge challenges benchmark benchmarks""".split()
)
_WORD = re.compile(r"[a-z0-9]+")
_NO_S = ("ss", "us", "is", "ies", "ics", "ous")


def _fold(token: str) -> str:
    """Plural folding for matching only ("models" ~ "model"); the label shows the commonest surface form."""
    if len(token) > 3 and token.endswith("s") and not token.endswith(_NO_S):
        return token[:-1]
    return token


def _ngrams(text: str, max_n: int = 3) -> Iterable[tuple[tuple[str, ...], str]]:
    """(folded key, surface) of the 1..max_n-grams of a phrase, none starting or ending with a function word."""
    words = _WORD.findall(text.lower().replace("-", " "))
    for n in range(1, max_n + 1):
        for i in range(len(words) - n + 1):
            gram = words[i : i + n]
            if gram[0] in _STOP or gram[-1] in _STOP or all(w.isdigit() for w in gram):
                continue
            if n == 1 and (gram[0] in _GENERIC or len(gram[0]) < 3):
                continue
            yield tuple(_fold(w) for w in gram), " ".join(gram)


@dataclass
class _Vocabulary:
    """Per paper the set of its label terms, corpus document frequencies and each term's surface forms."""

    papers: Sequence[Paper]
    terms: list[set[tuple[str, ...]]] = field(init=False)
    df: Counter[tuple[str, ...]] = field(init=False)
    surface: dict[tuple[str, ...], Counter[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.terms, self.df, self.surface = [], Counter(), {}
        for p in self.papers:
            phrases = list(p.keyphrases) or [p.title]
            own: set[tuple[str, ...]] = set()
            for ph in phrases:
                for key, surf in _ngrams(ph):
                    own.add(key)
                    self.surface.setdefault(key, Counter())[surf] += 1
            self.terms.append(own)
            self.df.update(own)

    def top_terms(self, idx: Sequence[int], n: int) -> list[tuple[str, float]]:
        """The cluster's best (term, score) by c-TF-IDF; of overlapping terms only the better one stays."""
        size = len(idx)
        total = len(self.papers)
        tf: Counter[tuple[str, ...]] = Counter()
        for i in idx:
            tf.update(self.terms[i])
        min_df = 2 if size > 2 else 1
        scored = []
        for key, c in tf.items():
            if c < min_df:
                continue
            score = (c / size) * math.log(1.0 + total / self.df[key]) * (1.0 + 0.15 * (len(key) - 1))
            scored.append((-score, key))
        scored.sort()
        picked: list[tuple[tuple[str, ...], float]] = []
        for neg, key in scored:
            clash = [i for i, (p, _) in enumerate(picked) if _overlap(p, key)]
            if not clash:
                if len(picked) < n:
                    picked.append((key, -neg))
                continue
            # A longer term that contains a picked one replaces it when it covers at least half as many papers
            # ("time series forecasting" over "time series"); anything else overlapping is the same topic again.
            i = clash[0]
            old, old_score = picked[i]
            if len(clash) == 1 and _contains(key, old) and 2 * tf[key] >= tf[old]:
                picked[i] = (key, old_score)
        return [(self._show(k), round(sc, 6)) for k, sc in picked]

    def _show(self, key: tuple[str, ...]) -> str:
        forms = self.surface[key]
        return min(forms, key=lambda s: (-forms[s], s))


def _overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Terms that share a word (up to its ending) name the same thing twice: "time series" / "series
    forecasting", "forecast" / "forecasting"."""
    return not {w[:7] for w in a}.isdisjoint(w[:7] for w in b)


def _contains(big: tuple[str, ...], small: tuple[str, ...]) -> bool:
    n = len(small)
    return any(big[i : i + n] == small for i in range(len(big) - n + 1))


# ------------------------------------------------------------------------------------------------ stable ids


def fresh_topic_id(members: Iterable[str]) -> str:
    """A new topic's id: a short hash of its sorted founding members."""
    h = hashlib.sha256("\n".join(sorted(members)).encode()).hexdigest()
    return f"tp-{h[:12]}"


def jaccard(a: Collection[str], b: Collection[str]) -> float:
    sa, sb = set(a), set(b)
    union = len(sa | sb)
    return len(sa & sb) / union if union else 0.0


def assign_ids(
    clusters: Sequence[Cluster], previous: Mapping[str, Collection[str]], min_jaccard: float = 0.3
) -> list[tuple[str, Cluster]]:
    """(topic id, cluster) in the clusters' order: best-overlapping previous topic (Jaccard >= min_jaccard,
    one-to-one, highest overlap first) or a fresh id."""
    prev_sets = {tid: set(m) for tid, m in previous.items()}
    owner: dict[str, list[str]] = {}
    for tid, ms in prev_sets.items():
        for m in ms:
            owner.setdefault(m, []).append(tid)
    pairs: list[tuple[float, str, int]] = []
    for ci, c in enumerate(clusters):
        cands = {t for m in c.members for t in owner.get(m, ())}
        mine = set(c.members)
        for tid in cands:
            j = len(mine & prev_sets[tid]) / len(mine | prev_sets[tid])
            if j >= min_jaccard:
                pairs.append((-j, tid, ci))
    pairs.sort()
    got: dict[int, str] = {}
    taken: set[str] = set()
    for _, tid, ci in pairs:
        if ci in got or tid in taken:
            continue
        got[ci] = tid
        taken.add(tid)
    out = []
    for ci, c in enumerate(clusters):
        tid = got.get(ci) or fresh_topic_id(c.members)
        if tid in taken and ci not in got:  # identical members to a topic that another cluster inherited
            tid = fresh_topic_id([*c.members, f"#{ci}"])
        taken.add(tid)
        out.append((tid, c))
    return out


# ------------------------------------------------------------------------------------------------ bursts


@dataclass(frozen=True)
class TrendParams:
    window_s: float = 86_400.0
    baseline_windows: int = 7
    min_history_windows: int = 3
    min_recent: int = 3
    z_threshold: float = 3.0
    min_lift: float = 1.5

    def __post_init__(self) -> None:
        if not (self.window_s > 0 and math.isfinite(self.window_s)):
            raise ValueError("window_s must be positive and finite")
        if self.baseline_windows < 1 or not 1 <= self.min_history_windows <= self.baseline_windows:
            raise ValueError("need 1 <= min_history_windows <= baseline_windows")


class Trend(BaseModel):
    """A topic's arrival burst statistics at `as_of` (see the module doc)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    window: int  # W-aligned index of as_of: floor(as_of / W), the dedupe key of a trending event
    recent: int  # members that arrived in (as_of − W, as_of]
    baseline: float  # mean arrivals per window over the observed baseline windows
    std: float
    z: float
    lift: float | None  # None when the topic had no baseline arrivals
    history: int  # observed baseline windows
    arrivals: list[int]  # baseline windows oldest first, then the recent window
    bursting: bool


def _counts(times: npt.NDArray[np.float64], edges: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Counts in the half-open windows (edges[i], edges[i+1]] of sorted times."""
    pos = np.searchsorted(times, edges, side="right")
    return np.diff(pos).astype(np.int64)


def _edges(now: float, params: TrendParams) -> npt.NDArray[np.float64]:
    """k+2 window edges, oldest first: k baseline windows, then the recent one ending at now."""
    return now - params.window_s * np.arange(params.baseline_windows + 1, -1, -1, dtype=np.float64)


def _sorted_times(times: Iterable[float]) -> npt.NDArray[np.float64]:
    return np.sort(np.asarray([x for x in times if math.isfinite(x)], dtype=np.float64))


def burst(
    member_times: Iterable[float], corpus_times: Iterable[float], now: float, params: TrendParams = TrendParams()
) -> Trend:
    """Trend statistics of one topic (its members' arrival times) against the whole corpus's arrivals."""
    edges = _edges(now, params)
    return _burst(_sorted_times(member_times), _counts(_sorted_times(corpus_times), edges), now, params)


def _burst(t: npt.NDArray[np.float64], corpus: npt.NDArray[np.int64], now: float, params: TrendParams) -> Trend:
    """burst() on sorted member times and the corpus's per-window counts (computed once per run)."""
    edges = _edges(now, params)
    counts = _counts(t, edges)
    recent = int(counts[-1])
    first = float(t[0]) if len(t) else math.inf
    ends = edges[1:-1]  # end of each baseline window, oldest first
    observed = first <= ends
    history = int(observed.sum())
    base = counts[:-1][observed].astype(np.float64)
    mean = float(base.mean()) if history else 0.0
    std = float(base.std()) if history else 0.0
    z = (recent - mean) / max(std, math.sqrt(mean), 1.0)
    base_sum, corpus_base = float(base.sum()), float(corpus[:-1][observed].sum())
    lift: float | None = None
    if base_sum > 0 and corpus_base > 0 and corpus[-1] > 0:
        lift = (recent / float(corpus[-1])) / (base_sum / corpus_base)
    bursting = (
        history >= params.min_history_windows
        and recent >= params.min_recent
        and z >= params.z_threshold
        and (lift is None or lift >= params.min_lift)
    )
    return Trend(
        window=math.floor(now / params.window_s),
        recent=recent,
        baseline=round(mean, 6),
        std=round(std, 6),
        z=round(z, 6),
        lift=None if lift is None else round(lift, 6),
        history=history,
        arrivals=[int(c) for c in counts],
        bursting=bursting,
    )


# ------------------------------------------------------------------------------------------------ state + events


class TopicRecord(BaseModel):
    """A topic as stored (one JSON value per topic) and served."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    label: str
    keyphrases: list[str]
    members: list[str]  # sorted paper ids
    size: int
    cohesion: float
    created_at: float
    updated_at: float
    trend: Trend | None = None


def event_id(kind: str, topic_id: str, window: int | None = None) -> str:
    """Deterministic event id: hash of (kind, topic id, window); topic.created has no window."""
    return ids.event_id(kind, topic_id, "" if window is None else str(window))


@dataclass(frozen=True)
class Detection:
    topics: list[TopicRecord]  # the new state, biggest first
    events: list[TopicEvent]  # to publish, in order: created first, then trending


def detect(
    papers: Iterable[Paper],
    previous: Mapping[str, TopicRecord],
    emitted: Collection[str],
    now: float,
    cluster: ClusterParams = ClusterParams(),
    trend: TrendParams = TrendParams(),
    *,
    min_jaccard: float = 0.3,
    max_event_papers: int = 50,
) -> Detection:
    """Re-cluster, carry ids over from `previous`, and the events not yet in `emitted` (ids already sent)."""
    by_id: dict[str, Paper] = {}
    for p in papers:
        by_id.setdefault(p.id, p)  # as in cluster_papers: of duplicate ids the first wins
    ps = [by_id[i] for i in sorted(by_id)]
    arrival = {p.id: p.ingested_at for p in ps if p.ingested_at is not None and math.isfinite(p.ingested_at)}
    corpus_counts = _counts(_sorted_times(arrival.values()), _edges(now, trend))
    clusters = cluster_papers(ps, cluster)
    named = assign_ids(clusters, {tid: r.members for tid, r in previous.items()}, min_jaccard)
    records: list[TopicRecord] = []
    created: list[TopicEvent] = []
    trending: list[TopicEvent] = []

    def newest_first(ids: Iterable[str]) -> list[str]:
        return sorted(ids, key=lambda i: (-arrival.get(i, -math.inf), i))[:max_event_papers]

    for tid, c in named:
        tr = _burst(_sorted_times(arrival[m] for m in c.members if m in arrival), corpus_counts, now, trend)
        prev = previous.get(tid)
        rec = TopicRecord(
            id=tid,
            label=c.label,
            keyphrases=list(c.keyphrases),
            members=list(c.members),
            size=len(c.members),
            cohesion=c.cohesion,
            created_at=prev.created_at if prev else now,
            updated_at=now,
            trend=tr,
        )
        records.append(rec)
        if prev is None:
            eid = event_id(CREATED, tid)
            if eid not in emitted:
                created.append(_event(eid, CREATED, rec, newest_first(c.members), c.cohesion, now))
        elif tr.bursting:
            eid = event_id(TRENDING, tid, tr.window)
            if eid not in emitted and event_id(TRENDING, tid, tr.window - 1) not in emitted:
                lo = now - trend.window_s
                recent = [m for m in c.members if lo < arrival.get(m, -math.inf) <= now]
                trending.append(_event(eid, TRENDING, rec, newest_first(recent), tr.z, now))
    return Detection(records, created + trending)


def _event(eid: str, kind: EventKind, rec: TopicRecord, paper_ids: list[str], score: float, now: float) -> TopicEvent:
    return TopicEvent(
        id=eid,
        kind=kind,
        topic_id=rec.id,
        label=rec.label,
        keyphrases=rec.keyphrases,
        paper_ids=paper_ids,
        score=score,
        detected_at=now,
    )
