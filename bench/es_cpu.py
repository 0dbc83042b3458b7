"""Elasticsearch CPU per search request, side by side on several nodes and vector index options, in one run.

    uv run python bench/es_cpu.py --nodes es8=http://127.0.0.1:9252,es9=http://127.0.0.1:9251
        [--papers 100000] [--vectors int8_hnsw[,hnsw,bbq_hnsw]] [--requests bm25,keyword,knn,hybrid]
        [--rate 20] [--duration 20] [--warmup 5] [--repeats 2] [--num-candidates 200[,100]] [--rescore-oversample 2]
        [--build-only] [--drop]

Answers "what does one request cost the server" for an engine or mapping change (Elasticsearch 8 on Java 17
against 9 on Temurin 25, float against quantized vectors), which bench/search_latency.py, one node at a time,
cannot put in one table.

1. Corpus: bench/synthetic.py's papers made the production way (search_latency's documents: enrich with
   keyphrases off, to_document) with random unit vectors (seed 7, as search_latency --vectors random), indexed
   into `benchcpu-papers<N>-<vectors>` on every node (the production settings and mapping, the embedding's
   `index_options` set to each --vectors type), refreshed and force-merged to one segment. Plain HTTP, so a
   node of any major works whatever the client's; reused while it holds N documents.
2. Requests, per query (search_latency's 200 queries of 1-3 words):
   - bm25: a bare top-10 BM25 request, `multi_match` of the text over title and abstract with the server's
     defaults (total counted up to 10,000, `_source` in full, no highlight, no aggregation);
   - keyword: exactly what Paperwire's adapter sends for the default keyword search (recorded from
     SearchService over ElasticIndex on the first node whose major is the client's);
   - knn: the kNN search alone of the hybrid request (k, num_candidates, rescore as the adapter sends them);
   - hybrid: the adapter's whole hybrid request (its keyword and kNN searches, as one _msearch).
   --num-candidates replaces the knn's num_candidates, --rescore-oversample its rescore_vector (the adapter's own
   values when unset).
3. Each leg: vegeta sends one request kind at --rate/s, open loop, for --warmup + --duration s to one node's
   index; CPU per request is the node's own process CPU (node stats) over the leg, divided by the requests
   sent. Legs alternate between the nodes (A B A B ...) and repeat --repeats times, so drift of the shared box
   shows up as spread instead of as a difference between nodes. p50/p99 are printed too (open loop, from the
   due time) but on a shared 2-core box they say more about the neighbours than about the engine.
4. Recall: for every knn request (per node and vectors type), recall@10 of the returned ids against the exact
   top 10 by cosine over the same random vectors (numpy). Random 384-dim vectors have nearly equal distances,
   the worst case for quantization and HNSW: a lower bound for real embeddings (bench/relevance.py measures
   those, on the seed corpus). --real-vectors embeds the synthetic papers with the production encoder instead
   (~20 ms of CPU a paper: for --papers 10000 or so), which gives recall on vectors with real structure.

Needs vegeta (`make bench-tools`) and the nodes (Elasticsearch-only: no Kafka, no Redis, no gateway).
Last numbers: bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import math
import statistics
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.loadgen import CpuMeter, direct_target, es_body, find_vegeta, run_vegeta
from bench.pipeline import corpus
from bench.search_latency import _docs, record_requests, sample_queries

PREFIX = "benchcpu-"
KINDS = ("bm25", "keyword", "knn", "hybrid")
VECTOR_TYPES = ("hnsw", "int8_hnsw", "int4_hnsw", "bbq_hnsw")


# -- plain HTTP (any server major)
def http(method: str, url: str, body: Any = None, ctype: str = "application/json", timeout: float = 3600) -> Any:
    data = None if body is None else body if isinstance(body, bytes) else orjson.dumps(body)
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return orjson.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"{method} {url}: HTTP {e.code} {e.read()[:300]!r}") from None


REAL = False  # --real-vectors: the corpus carries the encoder's own embeddings instead of random ones


def index_for(papers: int, vectors: str) -> str:
    return f"{PREFIX}papers{papers}-{vectors.replace('_', '')}" + ("-real" if REAL else "")


def model_vectors(papers: int, rows: list[dict[str, str]]) -> np.ndarray:
    """The production encoder's vectors of the synthetic papers, cached in bench/out/."""
    from paperwire_enricher.embeddings import load_default_encoder, paper_text

    path = ROOT / "bench" / "out" / f"benchcpu-vectors-{papers}.npy"
    if not path.exists():
        enc = load_default_encoder()
        vecs = np.concatenate(
            [
                enc.encode([paper_text(p["title"], p["abstract"]) for p in rows[start : start + 1000]])
                for start in range(0, papers, 1000)
            ]
        )
        np.save(path, vecs)
    return np.load(path)


def unit_vectors(papers: int) -> np.ndarray:
    """search_latency's random vectors: drawn per batch of 1,000 from one generator, seed 7."""
    rng = np.random.default_rng(7)
    out = []
    for start in range(0, papers, 1000):
        v = rng.standard_normal((min(1000, papers - start), 384)).astype(np.float32)
        out.append(v / np.linalg.norm(v, axis=1, keepdims=True))
    return np.concatenate(out)


def documents(papers: int, rows: list[dict[str, str]]) -> Path:
    """The stored bodies of the corpus without their vectors, made once (enrich + to_document cost more than the
    bulk itself) and cached in bench/out/."""
    from paperwire_common.search.elastic import stored_body

    path = ROOT / "bench" / "out" / f"benchcpu-docs-{papers}.jsonl"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            for start in range(0, papers, 1000):
                for d in _docs(rows[start : start + 1000], None):
                    f.write(orjson.dumps(stored_body(d)) + b"\n")
        tmp.rename(path)
    return path


def ensure_index(url: str, papers: int, vectors: str, docs: Path, vecs: np.ndarray) -> None:
    from paperwire_common.search.mapping import MAPPINGS, SETTINGS

    name = index_for(papers, vectors)
    try:
        count = http("GET", f"{url}/{name}/_count")["count"]
    except RuntimeError:
        count = None
    if count == papers:
        print(f"  {url} {name}: {count} papers already there", file=sys.stderr)
        return
    if count is not None:
        http("DELETE", f"{url}/{name}")
    mappings = copy.deepcopy(MAPPINGS)
    mappings["properties"]["embedding"]["index_options"] = {"type": vectors}
    http("PUT", f"{url}/{name}", {"settings": {**SETTINGS, "refresh_interval": "-1"}, "mappings": mappings})
    t0 = time.monotonic()
    batch: list[bytes] = []

    def flush() -> None:
        r = http("POST", f"{url}/{name}/_bulk", b"".join(batch), "application/x-ndjson")
        if r["errors"]:
            bad = next(i for i in r["items"] if i["index"].get("error"))
            raise RuntimeError(f"bulk into {name} failed: {bad}")
        batch.clear()

    with docs.open("rb") as f:
        for i, line in enumerate(f):
            d = orjson.loads(line)
            d["embedding"] = vecs[i]
            batch.append(
                orjson.dumps({"index": {"_id": d["id"]}})
                + b"\n"
                + orjson.dumps(d, option=orjson.OPT_SERIALIZE_NUMPY)
                + b"\n"
            )
            if len(batch) == 1000:
                flush()
            if i % 20_000 == 19_999:
                print(f"  {url} {name}: {i + 1}/{papers} ({(i + 1) / (time.monotonic() - t0):.0f}/s)", file=sys.stderr)
    if batch:
        flush()
    http("PUT", f"{url}/{name}/_settings", {"index": {"refresh_interval": "1s"}})
    http("POST", f"{url}/{name}/_refresh")
    t1 = time.monotonic()
    http("POST", f"{url}/{name}/_forcemerge?max_num_segments=1")
    print(
        f"  {url} {name}: {papers} papers in {t1 - t0:.0f}s, merged to one segment in {time.monotonic() - t1:.0f}s",
        file=sys.stderr,
    )


# -- requests
def bare_bm25(query: str, index: str) -> dict[str, Any]:
    return {"index": index, "query": {"multi_match": {"query": query, "fields": ["title", "abstract"]}}, "size": 10}


def requests_by_kind(
    url: str, index: str, queries: list[str], num_candidates: int | None, oversample: float | None
) -> dict[str, list[list[dict]]]:
    """Per kind, per query, the search() calls (the `index` key is replaced per target)."""
    keyword = asyncio.run(record_requests(url, index, queries, "keyword"))
    hybrid = asyncio.run(record_requests(url, index, queries, "hybrid"))
    out: dict[str, list[list[dict]]] = {"bm25": [], "keyword": [], "knn": [], "hybrid": []}
    for q in queries:
        out["bm25"].append([bare_bm25(q, index)])
        out["keyword"].append(keyword[q])
        calls = [dict(c) for c in hybrid[q]]
        for c in calls:
            if "knn" in c and num_candidates:
                c["knn"] = {**c["knn"], "num_candidates": num_candidates}
            if "knn" in c and oversample is not None:
                plain = {k: v for k, v in c["knn"].items() if k != "rescore_vector"}
                c["knn"] = {**plain, "rescore_vector": {"oversample": oversample}} if oversample else plain
        out["hybrid"].append(calls)
        knn = [c for c in calls if "knn" in c]
        if len(knn) != 1:
            raise RuntimeError(f"expected one kNN search in the hybrid request for {q!r}, got {len(knn)}")
        out["knn"].append(knn)
    return out


def retarget(calls: list[dict], index: str) -> list[dict]:
    return [{**c, "index": index} for c in calls]


def recall_at_10(url: str, index: str, knn_calls: list[list[dict]], vecs: np.ndarray, ids: list[str]) -> float:
    """Mean recall@10 of the node's kNN answers against the exact top 10 by cosine."""
    pos = {pid: i for i, pid in enumerate(ids)}
    got = []
    for calls in knn_calls:
        c = calls[0]
        q = np.asarray(c["knn"]["query_vector"], dtype=np.float32)
        q /= np.linalg.norm(q)
        exact = set(np.argpartition(-(vecs @ q), 10)[:10].tolist())
        body = {**es_body(c), "size": 10, "knn": {**c["knn"], "k": 10}, "_source": False}
        hits = http("POST", f"{url}/{index}/_search", body)["hits"]["hits"]
        got.append(len(exact & {pos[h["_id"]] for h in hits}) / 10)
    return float(np.mean(got))


@dataclass
class Row:
    node: str
    vectors: str
    kind: str
    es_ms: list[float]
    p50_ms: list[float]
    p99_ms: list[float]
    errors: int = 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", required=True, help="label=url,label=url (e.g. es8=http://127.0.0.1:9252)")
    ap.add_argument("--papers", type=int, default=100_000)
    ap.add_argument(
        "--vectors", default="int8_hnsw", help=f"comma-separated index_options types: {', '.join(VECTOR_TYPES)}"
    )
    ap.add_argument("--requests", default=",".join(KINDS), help=f"comma-separated: {', '.join(KINDS)}")
    ap.add_argument("--rate", type=float, default=20.0, help="requests per second per leg (open loop)")
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--num-candidates", default="", help="comma-separated kNN num_candidates (default: the adapter's)")
    ap.add_argument(
        "--rescore-oversample", type=float, help="kNN rescore_vector oversample (0: none; default: the adapter's)"
    )
    ap.add_argument("--real-vectors", action="store_true", help="the encoder's embeddings instead of random ones")
    ap.add_argument("--no-recall", action="store_true")
    ap.add_argument("--build-only", action="store_true", help="make the indices, measure nothing")
    ap.add_argument("--drop", action="store_true", help="delete the bench indices at the end")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    nodes = dict(item.split("=", 1) for item in a.nodes.split(",") if item)
    vector_types = [v for v in a.vectors.split(",") if v]
    kinds = [k for k in a.requests.split(",") if k]
    ncs: list[int | None] = [int(x) for x in a.num_candidates.split(",") if x] or [None]
    if not set(vector_types) <= set(VECTOR_TYPES) or not set(kinds) <= set(KINDS):
        ap.error("unknown --vectors or --requests value")
    vegeta = find_vegeta()
    if not vegeta:
        ap.error("vegeta is not installed: run `make bench-tools`")

    from elasticsearch import __versionstr__ as client_version

    from paperwire_common.ids import canonical_id
    from paperwire_common.logging import configure_logging

    configure_logging("WARNING")
    info = {label: http("GET", url) for label, url in nodes.items()}
    jvm = {
        label: http("GET", f"{url}/_nodes/_local/jvm?filter_path=nodes.*.jvm.version") for label, url in nodes.items()
    }
    for label, url in nodes.items():
        java = next(iter(jvm[label]["nodes"].values()))["jvm"]["version"]
        v = info[label]["version"]
        print(
            f"{label}: {url} Elasticsearch {v['number']} (Lucene {v['lucene_version']}) on Java {java}", file=sys.stderr
        )
    recorder = next(
        (lbl for lbl in nodes if info[lbl]["version"]["number"].split(".")[0] == client_version.split(".")[0]), None
    )
    if recorder is None:
        ap.error(f"no node of the client's major ({client_version}) to record the adapter's requests on")

    rows = [json.loads(line) for line in corpus(a.papers).read_text().splitlines() if line.strip()][: a.papers]
    global REAL
    REAL = a.real_vectors
    vecs = model_vectors(a.papers, rows) if REAL else unit_vectors(a.papers)
    ids = [canonical_id(arxiv_id=None, doi=None, title=p["title"]) for p in rows]  # as _docs makes them
    docs = documents(a.papers, rows)
    for vt in vector_types:
        for url in nodes.values():
            ensure_index(url, a.papers, vt, docs, vecs)
    if a.build_only:
        return 0
    queries = sample_queries(a.queries)

    results: list[Row] = []
    recalls: dict[tuple[str, str, int | None], float] = {}
    for nc in ncs:
        first = index_for(a.papers, vector_types[0])
        reqs = requests_by_kind(nodes[recorder], first, queries, nc, a.rescore_oversample)
        for vt in vector_types:
            index = index_for(a.papers, vt)
            if not a.no_recall and "knn" in kinds:
                for label, url in nodes.items():
                    recalls[(label, vt, nc)] = recall_at_10(url, index, reqs["knn"], vecs, ids)
            for kind in kinds:
                by_node = {label: Row(label, vt + (f" nc={nc}" if nc else ""), kind, [], [], []) for label in nodes}
                for rep in range(a.repeats):
                    order = list(nodes.items()) if rep % 2 == 0 else list(reversed(nodes.items()))
                    for label, url in order:
                        targets = [direct_target(url, retarget(calls, index)) for calls in reqs[kind]]
                        meter = CpuMeter(url, None, "vegeta")
                        meter.start()
                        run = run_vegeta(
                            vegeta, targets, a.rate, a.duration, a.warmup, ROOT / "bench" / "out" / "vegeta"
                        )
                        cpu = meter.stop(run.sent)
                        lat = np.sort(np.asarray(run.latencies_s or [math.inf])) * 1000
                        row = by_node[label]
                        row.es_ms.append(cpu.es_ms)
                        row.p50_ms.append(float(np.percentile(lat, 50, method="higher")))
                        row.p99_ms.append(float(np.percentile(lat, 99, method="higher")))
                        row.errors += sum(1 for x in run.latencies_s if not math.isfinite(x))
                        print(
                            f"  {label} {vt} nc={nc} {kind}: ES {cpu.es_ms:.2f} ms/request, "
                            f"box {cpu.box_cores:.2f} cores",
                            file=sys.stderr,
                        )
                results.extend(by_node.values())

    print(
        f"\nElasticsearch CPU per request, {a.papers} synthetic papers, random unit vectors, {len(queries)} queries, "
        f"vegeta at {a.rate:g}/s for {a.duration:g} s (+{a.warmup:g} s warm-up) per leg, {a.repeats} legs per row "
        "alternating between the nodes; ES ms = the node's process CPU over the leg / requests sent"
    )
    for label, url in nodes.items():
        java = next(iter(jvm[label]["nodes"].values()))["jvm"]["version"]
        print(f"  {label}: Elasticsearch {info[label]['version']['number']} on Java {java} ({url})")
    header = f"{'node':<10} {'vectors':<18} {'request':<8} {'ES ms/request (each leg)':<28} {'median':>7}"
    header += f" {'p50 ms':>7} {'p99 ms':>7} {'fail':>5}"
    print(header)
    print("-" * len(header))
    for r in results:
        legs = " ".join(f"{x:.1f}" for x in r.es_ms)
        print(
            f"{r.node:<10} {r.vectors:<18} {r.kind:<8} {legs:<28} {statistics.median(r.es_ms):>7.1f} "
            f"{statistics.median(r.p50_ms):>7.1f} {statistics.median(r.p99_ms):>7.1f} {r.errors:>5}"
        )
    for (label, vt, nc), rec in recalls.items():
        print(f"recall@10 of the kNN search, {label} {vt}" + (f" nc={nc}" if nc else "") + f": {rec:.3f}")
    if a.json:
        out = {"args": {k: str(v) for k, v in vars(a).items()}, "rows": [r.__dict__ for r in results]}
        out["recall_at_10"] = {f"{k[0]} {k[1]} {k[2]}": v for k, v in recalls.items()}
        a.json.write_text(json.dumps(out, indent=2) + "\n")
    if a.drop:
        for url in nodes.values():
            for vt in vector_types:
                http("DELETE", f"{url}/{index_for(a.papers, vt)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
