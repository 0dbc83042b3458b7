"""Topic labels and keyphrases from the members' keyphrases (pure logic, no I/O).

c-TF-IDF over keyphrase n-grams: each paper contributes the set of 1–3-grams of its keyphrases
(its title when it has none; n-grams with a function word at an edge, and generic single words such as
"model", are dropped; plurals fold together); a term scores coverage × idf = (members with it / cluster size) ·
log(1 + N / papers with it in the corpus), × 1.15 per extra word. Terms sharing a word with a better one are
dropped, except that a longer term replaces a shorter one it contains when it covers at least half as many
papers ("time series forecasting" over "time series"). The label joins the top 1–3 terms scoring at least half
the best one, in the commonest surface form; the topic's keyphrases are the top `n_keyphrases` terms.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .clustering import Paper

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
class Vocabulary:
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
