"""Benchmark the paper encoder on the seed corpus: throughput per setting, load time, peak RSS, truncation effect.

    uv run python bench/embeddings.py [--data PATH] [--judgments PATH] [--repeats N] [--grid full|quick|none]
                                      [--procs N]

Each setting runs in a fresh subprocess, so its load time and peak RSS are its own. Throughput is papers/s over
whole-corpus encode() calls after one warm-up call (median and best of --repeats). The first row feeds the encoder
one batch at a time with ORT's default thread spinning, as the untuned encoder of /work/shared/notes/embeddings.md
(~13 papers/s) padded and ran. Wall-clock rates are only as good as the machine is idle: "cpu ms/p" (process CPU
time per paper, all threads) and "loadavg" are printed so that a run on a shared box can still be read; at one
thread, 1000 / cpu ms/p is about the rate an idle core would give. "ffn8" rows run the model's feed-forward layers
in int8 (the default, quantize.py; one paper per run), the others the packaged float graph. The --procs row runs N
encoders of one thread each at the same time, as N enricher processes would: its rate is their sum.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from paperwire_enricher.embeddings import Encoder, OnnxMiniLMEncoder, paper_text

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO / "data" / "sample" / "seed_papers.jsonl"
SHARED_DATA = Path("/work/shared/data/seed_papers.jsonl")
JUDGMENTS = REPO / "tests" / "relevance" / "judgments.json"


def load_texts(path: Path) -> list[str]:
    texts = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                paper = json.loads(line)
                texts.append(paper_text(paper.get("title", ""), paper.get("abstract", "")))
    return texts


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # ru_maxrss is KiB on Linux


def run_one(
    data: Path, max_tokens: int, batch_size: int, threads: int, sorted_: bool, spin: bool, repeats: int, ffn: bool
) -> dict[str, Any]:
    texts = load_texts(data)
    t0 = time.perf_counter()
    enc = OnnxMiniLMEncoder(
        max_tokens=max_tokens, batch_size=batch_size, intra_op_num_threads=threads, allow_spinning=spin, int8_ffn=ffn
    )
    load_s = time.perf_counter() - t0

    def encode_all() -> None:
        if sorted_:
            enc.encode(texts)
        else:
            for i in range(0, len(texts), batch_size):
                enc.encode(texts[i : i + batch_size])

    enc.encode(texts[:batch_size])  # warm-up: first run allocates ORT's arena and plans
    rates, cpu_ms = [], []
    load_before = os.getloadavg()[0]
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        encode_all()
        rates.append(len(texts) / (time.perf_counter() - wall))
        cpu_ms.append(1000 * (time.process_time() - cpu) / len(texts))
    pieces = [len(e.ids) for e in enc._tokenizer.encode_batch(texts)]
    return {
        "max_tokens": max_tokens,
        "batch": batch_size,
        "threads": threads,
        "sorted": sorted_,
        "spin": spin,
        "ffn": ffn,
        "median": statistics.median(rates),
        "cpu_ms": statistics.median(cpu_ms),
        "loadavg": (load_before + os.getloadavg()[0]) / 2,
        "best": max(rates),
        "load_s": load_s,
        "rss_mib": peak_rss_mib(),
        "mean_pieces": sum(pieces) / len(pieces),
        "n": len(texts),
    }


def semantic_ndcg(data: Path, judgments: Path, vectors: np.ndarray, encoder: Encoder) -> float:
    """Mean nDCG@10 of pure cosine ranking over the judged queries (gains 2^grade - 1, judged by exact title)."""
    titles = [json.loads(line)["title"] for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]
    queries = json.loads(judgments.read_text(encoding="utf-8"))["queries"]
    qvecs = encoder.encode([q["q"] for q in queries])

    def dcg(grades: Sequence[int]) -> float:
        return sum((2**g - 1) / math.log2(rank + 1) for rank, g in enumerate(grades, start=1))

    scores = []
    for q, qv in zip(queries, qvecs, strict=True):
        rels = {str(t): int(g) for t, g in q["judgments"].items()}
        top = np.argsort(-(vectors @ qv), kind="stable")[:10]
        ideal = dcg(sorted(rels.values(), reverse=True)[:10])
        scores.append(dcg([rels.get(titles[i], 0) for i in top]) / ideal if ideal else 0.0)
    return float(np.mean(scores))


def truncation_proxy(data: Path, judgments: Path) -> dict[str, float]:
    """How much truncating at 128 instead of 256 pieces moves each paper's vector, its neighbours and nDCG@10."""
    texts = load_texts(data)
    e256, e128 = OnnxMiniLMEncoder(max_tokens=256), OnnxMiniLMEncoder(max_tokens=128)
    v256, v128 = e256.encode(texts), e128.encode(texts)
    cos = (v256 * v128).sum(axis=1)

    def top10(v: np.ndarray) -> np.ndarray:
        sims = v @ v.T
        np.fill_diagonal(sims, -np.inf)
        return np.argsort(-sims, axis=1)[:, :10]

    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top10(v256), top10(v128), strict=True)])
    over = np.mean([len(e.ids) > 128 for e in e256._tokenizer.encode_batch(texts)])
    out = {"mean_cos": float(cos.mean()), "min_cos": float(cos.min()), "top10": float(overlap), "over": float(over)}
    if judgments.exists():
        # Queries are short: the same vectors whatever max_tokens, so only the papers' truncation differs.
        out["ndcg256"] = semantic_ndcg(data, judgments, v256, e256)
        out["ndcg128"] = semantic_ndcg(data, judgments, v128, e256)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.exists() else SHARED_DATA)
    ap.add_argument("--judgments", type=Path, default=JUDGMENTS, help="graded queries for the nDCG@10 line")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--grid",
        choices=("full", "quick", "compare", "none"),
        default="full",
        help="full: max_tokens 256/128 x threads 1/2 x batch 8-64; quick: 2 threads, batch 8/32; compare: float "
        "against int8 feed-forward at 128 tokens, no quality lines; none: quality only",
    )
    ap.add_argument("--procs", type=int, default=2, help="encoders of one thread run at once in the last row (0: none)")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # "max_tokens,batch,threads,sorted,spin,ffn": child mode
    args = ap.parse_args(argv)

    if args.one:
        mt, bs, th, so, sp, ffn = (int(x) for x in args.one.split(","))
        print(json.dumps(run_one(args.data, mt, bs, th, bool(so), bool(sp), args.repeats, bool(ffn))))
        return

    # The notes' untuned setting (no cross-batch sort, ORT's default spinning), then spinning alone, then the grid
    # of the float graph, then the int8 feed-forward one (one paper per run, so no batch sizes).
    grid: list[tuple[int, int, int, int, int, int]] = [(256, 32, 2, 0, 1, 0), (256, 32, 2, 1, 1, 0)]
    for mt in (256, 128):
        for th in (1, 2) if args.grid == "full" else (2,):
            grid += [(mt, bs, th, 1, 0, 0) for bs in ((8, 16, 32, 64) if args.grid == "full" else (8, 32))]
    grid += [(mt, 1, th, 1, 0, 1) for mt in (256, 128) for th in (1, 2)]
    if args.grid == "compare":
        grid = [(128, 8, 2, 1, 0, 0), (128, 8, 1, 1, 0, 0), (128, 1, 2, 1, 0, 1), (128, 1, 1, 1, 0, 1)]
    if args.grid == "none":
        grid = []
    print(f"data: {args.data}  repeats: {args.repeats}", flush=True)
    cols = [("max_tok", 7), ("batch", 5), ("thr", 3), ("sort", 4), ("spin", 4), ("ffn8", 4), ("p/s med", 8)]
    cols += [("p/s best", 8), ("cpu ms/p", 8), ("load s", 6), ("RSS MiB", 7), ("loadavg", 7)]
    header = " ".join(f"{name:>{width}}" for name, width in cols)
    if grid:
        print(header)
        print("-" * len(header), flush=True)
    cmd = [sys.executable, __file__, "--data", str(args.data), "--repeats", str(args.repeats)]

    def show(mt: int, bs: int, th: str | int, so: int, sp: int, ffn: int, r: dict[str, Any]) -> None:
        yes = {0: "no", 1: "yes"}
        print(
            f"{mt:>7} {bs:>5} {th:>3} {yes[so]:>4} {yes[sp]:>4} {yes[ffn]:>4} {r['median']:>8.1f} {r['best']:>8.1f} "
            f"{r['cpu_ms']:>8.0f} {r['load_s']:>6.2f} {r['rss_mib']:>7.0f} {r['loadavg']:>7.1f}",
            flush=True,
        )

    results = []
    for mt, bs, th, so, sp, ffn in grid:
        out = subprocess.run(
            [*cmd, "--one", f"{mt},{bs},{th},{so},{sp},{ffn}"], check=True, capture_output=True, text=True
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(r)
        show(mt, bs, th, so, sp, ffn, r)
    for mt in sorted({r["max_tokens"] for r in results if not r["spin"]}, reverse=True):
        best = max((r for r in results if r["max_tokens"] == mt and not r["spin"]), key=lambda r: r["median"])
        print(
            f"best at {mt} tokens: batch {best['batch']}, {best['threads']} threads, ffn8 {best['ffn']}: "
            f"{best['median']:.1f} papers/s (mean {best['mean_pieces']:.0f} word pieces/paper, {best['n']} papers)"
        )
    if grid and args.procs > 0:
        # N one-thread encoders at once (the default settings at 128 tokens): the rate of N enricher processes.
        procs = [
            subprocess.Popen([*cmd, "--one", "128,1,1,1,0,1"], stdout=subprocess.PIPE, text=True)
            for _ in range(args.procs)
        ]
        rs = [json.loads(pr.communicate()[0].strip().splitlines()[-1]) for pr in procs]
        total = {k: sum(r[k] for r in rs) for k in ("median", "best")}
        total |= {k: statistics.mean(r[k] for r in rs) for k in ("cpu_ms", "load_s", "rss_mib", "loadavg")}
        show(128, 1, f"{args.procs}x1", 1, 0, 1, total)
        print(
            f"{args.procs} processes of one thread each at once (128 tokens, ffn8): "
            f"{total['median']:.1f} papers/s in all"
        )
    if args.grid == "compare":
        return
    t = truncation_proxy(args.data, args.judgments)
    print(
        f"truncation 128 vs 256: cosine between a paper's two vectors mean {t['mean_cos']:.4f}, "
        f"min {t['min_cos']:.4f}; top-10 neighbour overlap {t['top10']:.3f}; "
        f"{t['over']:.0%} of papers exceed 128 pieces"
    )
    if "ndcg256" in t:
        print(
            f"semantic-only nDCG@10 on {args.judgments.relative_to(REPO)}: "
            f"256 pieces {t['ndcg256']:.3f}, 128 pieces {t['ndcg128']:.3f}"
        )
    print(f"peak RSS of this parent (2 encoders for the truncation check): {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
