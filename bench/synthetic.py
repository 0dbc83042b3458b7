"""A synthetic corpus from the seed's vocabulary: a word-bigram chain trained on the 247 seed papers
generates titles and abstracts with the seed's word statistics. Deterministic for a given --seed."""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

SEED = Path(__file__).resolve().parents[1] / "data" / "sample" / "seed_papers.jsonl"


class Chain:
    def __init__(self, texts: list[str]) -> None:
        self.next: dict[str, list[str]] = defaultdict(list)
        self.starts: list[str] = []
        for t in texts:
            words = t.split()
            if not words:
                continue
            self.starts.append(words[0])
            for a, b in itertools.pairwise(words):
                self.next[a].append(b)

    def sentence(self, rng: random.Random, min_words: int, max_words: int) -> str:
        w = rng.choice(self.starts)
        out = [w]
        target = rng.randint(min_words, max_words)
        while len(out) < target:
            nxt = self.next.get(w)
            w = rng.choice(nxt) if nxt else rng.choice(self.starts)
            out.append(w)
        return " ".join(out)


def generate(n: int, seed: int = 7) -> list[dict[str, str]]:
    papers = [json.loads(line) for line in SEED.read_text().splitlines()]
    titles = Chain([p["title"] for p in papers])
    abstracts = Chain([p["abstract"] for p in papers])
    rng = random.Random(seed)
    out = []
    for i in range(n):
        # The index keeps the number unique: canonical ids come from normalised titles.
        title = f"{titles.sentence(rng, 5, 14).rstrip('.')} ({i})"
        out.append({"title": title, "abstract": abstracts.sentence(rng, 120, 220)})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--papers", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    with a.out.open("w") as f:
        for p in generate(a.papers, a.seed):
            f.write(json.dumps(p) + "\n")
    print(f"wrote {a.papers} papers to {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
