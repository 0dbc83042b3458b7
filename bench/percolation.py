"""Saved-search matching: N stored queries against M new papers, by percolation (paperwire_common.percolator:
pre-filter by terms, then verify the candidates batch-wise over bitsets) beside the naive approach (run every query
against an index of the new papers: the embedded index's keyword search, the same semantics), with the ratio.
Queries and papers come from the seed's vocabulary (bench/synthetic.py); both sides' answers are compared, so the
speed-up is for the same result.

Two workloads: `realistic` (the default) is shaped like saved searches people keep -- selective: title phrases,
two topical words that must co-occur, a rare word, a field and a word -- matching a fraction of a percent of
papers; `broad` is the earlier generator (common words, OR-groups, exclusions), matching 4-6% of papers.

    python bench/percolation.py --queries 10000 --papers 1000 [--workload broad]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.synthetic import generate
from paperwire_common.percolator import KnownWords, Percolator
from paperwire_common.search.embedded import EmbeddedIndex
from paperwire_common.search.port import SearchRequest
from paperwire_common.search.query import parse
from tests.unit.notifier.test_percolator import TOPICS, corpus, typo


def saved_searches(docs: list[dict[str, object]], n: int, max_df: float = 0.05) -> list[str]:
    """Queries shaped like saved searches: topical words (in 0.5-5% of the seed papers, 5+ letters), phrases from
    titles, fields, boolean operators and a few typos -- the query language's whole surface."""
    import re
    from collections import Counter

    rng = random.Random(11)
    df: Counter[str] = Counter()
    for d in docs:
        df.update({w.lower() for w in re.findall(r"[A-Za-z]{5,}", f"{d['title']} {d['abstract']}")})
    words = sorted(w for w, c in df.items() if 0.005 * len(docs) <= c <= max_df * len(docs))
    titles = [re.findall(r"[A-Za-z]{4,}", str(d["title"])) for d in docs]
    out = []
    for _ in range(n):
        a, b, c = rng.choice(words), rng.choice(words), rng.choice(words)
        kind = rng.randrange(8)
        if kind == 0:
            out.append(a)
        elif kind == 1:
            out.append(f"{a} AND {b}")
        elif kind == 2:
            tw = rng.choice(titles) or [a, b]
            j = rng.randrange(max(len(tw) - 1, 1))
            out.append(f'"{" ".join(tw[j : j + 2])}"')
        elif kind == 3:
            out.append(f"{a} {b} -{c}")
        elif kind == 4:
            out.append(f"title:{a} OR title:{b}")
        elif kind == 5:
            out.append(f"({a} OR {b}) AND NOT {c}")
        elif kind == 6:
            out.append(f"{a} topic:{rng.choice(TOPICS)} code:yes")
        else:
            out.append(typo(a, rng))
    return out


def realistic_searches(docs: list[dict[str, object]], n: int) -> list[str]:
    """Selective saved searches: a reader subscribes to a subject, not to a common word, and writes AND (two
    words side by side mean OR in the query language, as in /v1/search)."""
    import re
    from collections import Counter

    rng = random.Random(13)
    df: Counter[str] = Counter()
    for d in docs:
        df.update({w.lower() for w in re.findall(r"[A-Za-z]{5,}", f"{d['title']} {d['abstract']}")})
    topical = sorted(w for w, c in df.items() if 2 <= c <= 0.05 * len(docs))
    rare = sorted(w for w, c in df.items() if c <= 0.01 * len(docs))
    bigrams: set[str] = set()
    trigrams: set[str] = set()
    for d in docs:
        ws = re.findall(r"[A-Za-z]+", str(d["title"]))
        bigrams |= {f"{a} {b}" for a, b in itertools.pairwise(ws) if min(len(a), len(b)) >= 4}
        trigrams |= {" ".join(ws[i : i + 3]) for i in range(len(ws) - 2) if min(map(len, ws[i : i + 3])) >= 3}
    phrases2, phrases3 = sorted(bigrams), sorted(trigrams)
    out = []
    for _ in range(n):
        a, b, c, r = rng.choice(topical), rng.choice(topical), rng.choice(topical), rng.choice(rare)
        kind = rng.randrange(20)
        if kind < 5:
            out.append(f'"{rng.choice(phrases3)}"')
        elif kind < 9:
            out.append(f'"{rng.choice(phrases2)}" AND code:yes')
        elif kind < 13:
            out.append(f"{a} AND {b}")
        elif kind < 16:
            out.append(f"{r} AND {a}")
        elif kind < 18:
            out.append(f"title:{a} AND {b}")
        else:
            out.append(f"({a} OR {r}) AND {b} AND NOT {c}")
    return out


def papers(n: int) -> list[dict[str, object]]:
    rng = random.Random(3)
    out = []
    for i, p in enumerate(generate(n, seed=5)):
        out.append(
            {
                "id": f"new{i:05d}",
                "version": 1,
                "content_hash": f"{i:08x}",
                "title": p["title"],
                "abstract": p["abstract"],
                "authors": ["A. Author"],
                "source": "jsonl",
                "has_code": rng.random() < 0.4,
                "topics": [],
                "topic_labels": [],
                "methods": [],
                "datasets": [],
            }
        )
    return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--papers", type=int, default=1000)
    ap.add_argument("--workload", choices=["realistic", "broad"], default="realistic")
    ap.add_argument("--max-df", type=float, default=0.05, help="broad: query words in at most this share of papers")
    ap.add_argument("--naive-sample", type=int, default=1000, help="queries timed for the naive side (scaled up)")
    args = ap.parse_args()
    seed_docs = corpus()
    vocab_index = EmbeddedIndex()  # the live index the new papers join: its vocabulary decides typo tolerance
    await vocab_index.upsert(seed_docs)
    if args.workload == "realistic":
        qs = realistic_searches(seed_docs, args.queries)
    else:
        qs = saved_searches(seed_docs, args.queries, args.max_df)
    new = papers(args.papers)

    t0 = time.perf_counter()
    perc = Percolator(KnownWords(vocab_index))
    await perc.sync({f"q{i}": q for i, q in enumerate(qs)})
    t_register = time.perf_counter() - t0
    t0 = time.perf_counter()
    hits = await perc.match(new)
    t_match = time.perf_counter() - t0
    pairs = sum(len(v) for v in hits.values())

    # Naive: every query as a search over the live index once the new papers are in (what /v1/search would run:
    # the same index decides which words get typo tolerance), counting the new papers it finds.
    await vocab_index.upsert(new)
    new_ids = {str(p["id"]) for p in new}
    size = len(seed_docs) + len(new)
    sample = qs[: args.naive_sample]
    t0 = time.perf_counter()
    naive: set[tuple[str, str]] = set()
    for i, q in enumerate(sample):
        res = await vocab_index.search(SearchRequest(parse(q), size=size, highlight=False, fields=("id",)))
        naive |= {(f"q{i}", h.id) for h in res.hits if h.id in new_ids}
    t_naive = (time.perf_counter() - t0) * len(qs) / len(sample)
    got = {(q, pid) for pid, qids in hits.items() for q in qids if int(q[1:]) < len(sample)}
    print(f"{args.workload}: queries {len(qs)}, papers {len(new)}, match rate {pairs / (len(qs) * len(new)):.3%}")
    print(f"percolation: register {t_register:.2f} s (once), match {t_match:.2f} s, {pairs} (paper, query) matches")
    print(f"naive (every query searched; {len(sample)} timed, scaled): {t_naive:.2f} s")
    print(
        f"speed-up: {t_naive / t_match:.1f}x; same (query, paper) matches on the timed queries: {got == naive} "
        f"({len(got)} vs {len(naive)})"
    )


if __name__ == "__main__":
    asyncio.run(main())
