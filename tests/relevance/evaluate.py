"""Offline relevance evaluation over the seed corpus: graded judgments, nDCG@k and MRR per search mode.

Shared by bench/relevance.py (prints the table) and tests/e2e/test_relevance.py (asserts floors).

- nDCG@k = DCG@k / IDCG@k with DCG@k = sum over ranks i = 1..k of (2^rel_i - 1) / log2(i + 1), rel_i the
  graded judgment (3 perfect, 2 relevant, 1 marginal, unjudged 0) of the paper at rank i; IDCG@k is the DCG
  of the judged grades sorted best first (the ideal ranking of the judged set), cut at k.
- RR = 1 / rank of the first result with a grade >= 1 within the top k (0 when none); MRR is its mean.
- Means are macro-averages over queries (every query weighs the same), overall and per kind.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import statistics
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from paperwire_common.ids import canonical_id

HERE = Path(__file__).resolve().parent
JUDGMENTS = HERE / "judgments.json"
ROOT = HERE.parents[1]
SEED = ROOT / "data" / "sample" / "seed_papers.jsonl"

Kind = Literal["keyword", "paraphrase", "syntax", "title"]
KINDS: tuple[Kind, ...] = ("keyword", "paraphrase", "syntax", "title")
MODES: tuple[str, ...] = ("keyword", "semantic", "hybrid")
K = 10


@dataclass(frozen=True)
class Query:
    id: str
    q: str
    kind: Kind
    judgments: Mapping[str, int]  # exact seed title -> grade 1..3


def load_queries(path: Path = JUDGMENTS) -> list[Query]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for q in raw["queries"]:
        if q["kind"] not in KINDS:
            raise ValueError(f"{q['id']}: unknown kind {q['kind']!r}")
        out.append(Query(q["id"], q["q"], q["kind"], {str(t): int(g) for t, g in q["judgments"].items()}))
    return out


def off_topic(path: Path = JUDGMENTS) -> dict[str, list[str]]:
    """{"offtopic": [...], "nonsense": [...], "adjacent": [...]}: the queries that calibrate the relevance floor."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {k: [str(q) for q in raw.get(k, [])] for k in ("offtopic", "nonsense", "adjacent")}


def seed_titles(path: Path = SEED) -> list[str]:
    return [json.loads(line)["title"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def paper_id(title: str) -> str:
    """The canonical id the ingestor gives a seed paper (the seed has no arXiv id or DOI)."""
    return canonical_id(arxiv_id=None, doi=None, title=title)


def qrels(query: Query) -> dict[str, int]:
    """paper id -> grade."""
    return {paper_id(t): g for t, g in query.judgments.items()}


def dcg(grades: Sequence[int]) -> float:
    return sum((2**g - 1) / math.log2(rank + 1) for rank, g in enumerate(grades, start=1))


def ndcg_at_k(ranked_ids: Sequence[str], rels: Mapping[str, int], k: int = K) -> float:
    ideal = dcg(sorted(rels.values(), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg([rels.get(pid, 0) for pid in ranked_ids[:k]]) / ideal


def reciprocal_rank(ranked_ids: Sequence[str], rels: Mapping[str, int], k: int = K) -> float:
    for rank, pid in enumerate(ranked_ids[:k], start=1):
        if rels.get(pid, 0) >= 1:
            return 1.0 / rank
    return 0.0


@dataclass
class QueryResult:
    query_id: str
    kind: Kind
    mode: str
    ndcg: float
    rr: float
    ranked: list[str]
    served_mode: str | None = None
    degraded: str | None = None
    error: str | None = None


@dataclass
class Summary:
    ndcg: float
    mrr: float
    n: int
    errors: int = 0
    degraded: int = 0


@dataclass
class Report:
    label: str
    results: list[QueryResult] = field(default_factory=list)

    def select(self, mode: str, kind: str | None = None) -> list[QueryResult]:
        return [r for r in self.results if r.mode == mode and (kind is None or r.kind == kind)]

    def summary(self, mode: str, kind: str | None = None) -> Summary:
        rs = self.select(mode, kind)
        if not rs:
            return Summary(float("nan"), float("nan"), 0)
        return Summary(
            statistics.fmean(r.ndcg for r in rs),
            statistics.fmean(r.rr for r in rs),
            len(rs),
            sum(r.error is not None for r in rs),
            sum(r.degraded is not None for r in rs),
        )

    def modes(self) -> list[str]:
        return list(dict.fromkeys(r.mode for r in self.results))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "k": K, "summary": {}, "queries": []}
        for mode in self.modes():
            per: dict[str, Any] = {"all": asdict(self.summary(mode))}
            per.update({kind: asdict(self.summary(mode, kind)) for kind in KINDS})
            out["summary"][mode] = per
        out["queries"] = [asdict(r) for r in self.results]
        return out


async def evaluate(
    service: Any,
    queries: Sequence[Query],
    *,
    label: str,
    modes: Sequence[str] = MODES,
    k: int = K,
    strict: bool = True,
) -> Report:
    """Run every query in every mode through a SearchService and score the top k.

    strict=False records a failing query (error, nDCG 0) instead of raising: the benchmark still prints a table
    while an adapter is half migrated.
    """
    report = Report(label)
    for mode in modes:
        for q in queries:
            rels = qrels(q)
            try:
                page = await service.search(q.q, mode=mode, size=k)
            except Exception as e:
                if strict:
                    raise AssertionError(f"{label}: {mode} search for {q.id} ({q.q!r}) failed: {e!r}") from e
                report.results.append(QueryResult(q.id, q.kind, mode, 0.0, 0.0, [], error=repr(e)[:300]))
                continue
            ranked = [str(it["id"]) for it in page.items]
            report.results.append(
                QueryResult(
                    q.id,
                    q.kind,
                    mode,
                    ndcg_at_k(ranked, rels, k),
                    reciprocal_rank(ranked, rels, k),
                    ranked,
                    served_mode=page.mode,
                    degraded=page.degraded,
                )
            )
    return report


def table(reports: Sequence[Report]) -> str:
    """A compact text table: one row per backend x mode."""
    header = (
        f"{'backend':<14} {'mode':<9} {'nDCG@10':>7} {'keyword':>8} {'paraphr':>8} {'syntax':>7} {'title':>7} "
        f"{'MRR':>6}  notes"
    )
    lines = [header, "-" * len(header)]
    for rep in reports:
        for mode in rep.modes():
            s = rep.summary(mode)
            kinds = [rep.summary(mode, kind).ndcg for kind in KINDS]
            notes = []
            if s.errors:
                notes.append(f"{s.errors} errors")
            if s.degraded:
                notes.append(f"{s.degraded} degraded")
            lines.append(
                f"{rep.label:<14} {mode:<9} {s.ndcg:>7.3f} {kinds[0]:>8.3f} {kinds[1]:>8.3f} {kinds[2]:>7.3f} "
                f"{kinds[3]:>7.3f} {s.mrr:>6.3f}  {', '.join(notes)}"
            )
    return "\n".join(lines)


def per_query_table(report: Report, queries: Sequence[Query]) -> str:
    modes = report.modes()
    by = {(r.query_id, r.mode): r for r in report.results}
    lines = [f"{report.label}: nDCG@10 per query", f"{'query':<28} {'kind':<10} " + " ".join(f"{m:>8}" for m in modes)]
    for q in queries:
        cells = []
        for m in modes:
            r = by.get((q.id, m))
            cells.append(f"{'ERR' if r is None or r.error else f'{r.ndcg:.3f}':>8}")
        lines.append(f"{q.id:<28} {q.kind:<10} " + " ".join(cells))
    return "\n".join(lines)


@dataclass
class Calibration:
    """What a relevance floor keeps and lets through: the best cosine of each off-topic query, and the cosine of
    every paper judged relevant (grade >= 2) to its query."""

    top_cosine: dict[str, dict[str, float]]  # group (offtopic, nonsense, adjacent) -> query -> best cosine
    relevant: list[float]

    def floor(self, margin: float = 0.02) -> float:
        """The rule: above the best cosine any unrelated (off-topic or nonsense) query reaches, by `margin`,
        rounded up to the next 0.01."""
        worst = max(c for g in ("offtopic", "nonsense") for c in self.top_cosine[g].values())
        return math.ceil(round((worst + margin) * 100, 6)) / 100

    def kept(self, floor: float) -> float:
        return sum(c >= floor for c in self.relevant) / max(len(self.relevant), 1)

    def report(self, floors: Sequence[float]) -> str:
        lines = []
        for group, cos in self.top_cosine.items():
            top = sorted(cos.items(), key=lambda x: -x[1])[:3]
            lines.append(
                f"{group:<9} best cosine of {len(cos)} queries: max {max(cos.values()):.3f}; "
                + ", ".join(f"{q!r} {c:.3f}" for q, c in top)
            )
        lines.append(f"rule: max over offtopic and nonsense + 0.02, rounded up: floor {self.floor():.2f}")
        for f in floors:
            passing = {g: sum(c >= f for c in cos.values()) for g, cos in self.top_cosine.items()}
            lines.append(
                f"floor {f:.2f}: keeps {self.kept(f):.1%} of {len(self.relevant)} relevant papers; "
                "queries with a result: " + ", ".join(f"{g} {n}" for g, n in passing.items())
            )
        return "\n".join(lines)


async def calibrate(service: Any, queries: Sequence[Query]) -> Calibration:
    """Cosines of the raw query vectors (as the floor sees them), through the service's encoder and index."""
    import numpy as np

    top: dict[str, dict[str, float]] = {}
    for group, qs in off_topic().items():
        top[group] = {}
        for text in qs:
            hits = await service.index.knn(await service.embed_query(text), 1, fields=("id",))
            top[group][text] = hits[0].score if hits else -1.0
    relevant: list[float] = []
    for query in queries:
        vec = np.asarray(await service.embed_query(query.q), dtype=np.float64)
        vec /= np.linalg.norm(vec) or 1.0
        good = [pid for pid, g in qrels(query).items() if g >= 2]
        for emb in (await service.index.get_embeddings(good)).values():
            e = np.asarray(emb, dtype=np.float64)
            relevant.append(float(vec @ e / (np.linalg.norm(e) or 1.0)))
    return Calibration(top, relevant)


async def check_indexed(index: Any, queries: Sequence[Query], *, embeddings: bool = True) -> None:
    """Every judged paper must be in the index under its canonical id (with its embedding, for the vector
    modes), or the scores would be meaningless."""
    titles = sorted({t for q in queries for t in q.judgments})
    missing = [t for t in titles if await index.get(paper_id(t)) is None]
    if missing:
        raise AssertionError(f"{len(missing)} judged papers are not in the index, e.g. {missing[:3]}")
    if embeddings:
        have = await index.get_embeddings([paper_id(t) for t in titles])
        if len(have) != len(titles):
            raise AssertionError(f"{len(titles) - len(have)} of {len(titles)} judged papers have no embedding")


@asynccontextmanager
async def seeded_search(backend: str, namespace: str, encoder: Any, **settings: Any) -> AsyncIterator[Any]:
    """The seed corpus through the real pipeline (ingestor -> enricher with embeddings -> indexer) on one
    backend, then a SearchService over the result that embeds queries with `encoder`.

    The enricher embeds a whole batch synchronously on the event loop; at its default 64 papers that can take
    longer than Kafka's session timeout on two busy cores (the group then rebalances mid-run), so unless set
    otherwise the pipeline runs with PAPERWIRE_ENRICHER_BATCH_SIZE=16. Batching does not change the vectors.
    """
    from paperwire_common.search.service import SearchService
    from tests.e2e.pipeline import pipeline

    key = "PAPERWIRE_ENRICHER_BATCH_SIZE"
    saved = os.environ.get(key)
    os.environ[key] = saved or "16"
    try:
        async with pipeline(backend, namespace, embeddings=True, **settings) as p:
            summary = await p.ingest(str(SEED))
            if summary.rejected:
                raise AssertionError(f"the seed corpus was not ingested cleanly: {summary.line()}")
            await p.settle(timeout_s=900)
            count = await wait_count(p.backends.index, summary.read)
            if count != summary.read:
                raise AssertionError(f"{count} papers indexed, {summary.read} ingested")
            yield SearchService(p.backends.index, encoder, cursor_secret=b"relevance-evaluation")
    finally:
        if saved is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = saved


async def wait_count(index: Any, n: int, timeout_s: float = 120) -> int:
    """The index count once it reaches n, or what it holds after timeout_s."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        await index.refresh()
        count = int(await index.count())
        if count >= n or asyncio.get_running_loop().time() > deadline:
            return count
        await asyncio.sleep(0.5)
