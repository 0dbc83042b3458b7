"""Topic labels and keyphrases from the members' keyphrases (pure logic, no I/O).

Terms: c-TF-IDF over the 1–4-grams of each paper's keyphrases (its title when it has none). Each paper
contributes the set of its terms; a term scores coverage × idf = (members with it / cluster size) ·
log(1 + N / papers with it in the corpus), × 1.15 per extra word. What a term may be, so that a label reads as
a name:
- words are lower-cased and plurals fold together for matching; a hyphenated word stays one word when a part of
  it is a function word or a bound prefix, or it ends in -ing/-ed ("in-context", "multi-step", "code-generating"),
  else its parts are words ("time-series" is "time series");
- no function word at either end, no generic word alone ("model", "learning");
- a noun phrase's head comes last, so a term must end where the keyphrases it comes from end in at least
  a third of its occurrences in the corpus: "emergent" (of "emergent capabilities") and "large language" are
  no terms, "time series" (of "time series forecasting" and "large time series") is one;
- an acronym of a better term ("llm" beside "large language models") is that term again.
Terms sharing a word with a better one are dropped, except that of two terms one of which contains the other
the longer wins when it covers at least 2/3 as many papers ("in-context learning" over "in-context"), else the
shorter ("foundation models" over "pre-trained foundation models").

A term is shown in its commonest surface form (singular words before the last), completed by the word that the
members' keyphrases and titles go on with in at least half of its members, when that makes a known phrase end
("time series" → "time series forecasting"; YAKE keeps at most three words, and a shorter term may have won). The
label is the best term, with the second one (", ") when that scores at least 0.75 of the best and neither has
more than two words. The topic's keyphrases are the top `n_keyphrases` terms.
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
    challenge challenges benchmark benchmarks size sizes ability abilities feature features family families""".split()
)
# A hyphenated word with one of these in front stays one word: "in-context learning" is not "context learning".
_PREFIXES = frozenset(
    """self multi pre post non co semi meta cross sub inter intra zero few one long open real fine low high
    end""".split()
)
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_NO_S = ("ss", "us", "is", "ies", "ics", "ous")
MAX_N = 4
_HEAD_SHARE = 1 / 3  # of a term's occurrences that must end a keyphrase
_SECOND = 0.75  # a second term joins the label when it scores this much of the best one
_GO_ON = 0.5  # share of a label term's occurrences followed by the same word that extends it


def _fold(token: str) -> str:
    """Plural folding for matching only ("models" ~ "model"); the label shows the commonest surface form."""
    if len(token) > 3 and token.endswith("s") and not token.endswith(_NO_S):
        return token[:-1]
    return token


def words(text: str) -> list[str]:
    """The words of a phrase: hyphenated words split unless a part is a function word or a bound prefix."""
    out: list[str] = []
    for w in _WORD.findall(text.lower()):
        parts = w.split("-")
        joined = parts[0] in _PREFIXES or parts[-1].endswith(("ing", "ed")) or any(p in _STOP for p in parts)
        if len(parts) > 1 and not joined:
            out += [p for p in parts if p]
        else:
            out.append(w)
    return out


def _ngrams(ws: list[str]) -> Iterable[tuple[int, int]]:
    """(start, end) of the 1..MAX_N-grams of a phrase's words that may be terms (no function word at an edge,
    no generic or short word alone, not only digits)."""
    for n in range(1, MAX_N + 1):
        for i in range(len(ws) - n + 1):
            gram = ws[i : i + n]
            if gram[0] in _STOP or gram[-1] in _STOP or all(w.isdigit() for w in gram):
                continue
            if n == 1 and (gram[0] in _GENERIC or len(gram[0]) < 3):
                continue
            yield i, i + n


Key = tuple[str, ...]


@dataclass
class Vocabulary:
    """Per paper the set of its terms; corpus document frequencies, how often each term ends its keyphrase,
    each term's surface forms and the words that follow it."""

    papers: Sequence[Paper]
    terms: list[set[Key]] = field(init=False)
    df: Counter[Key] = field(init=False)
    seen: Counter[Key] = field(init=False)  # occurrences in the corpus's keyphrases
    ends: Counter[Key] = field(init=False)  # ... of which end their keyphrase
    surface: dict[Key, Counter[str]] = field(init=False)
    nexts: list[dict[Key, Counter[str]]] = field(init=False)  # per paper: term -> the words after it (also in
    # the title)

    def __post_init__(self) -> None:
        self.terms, self.df, self.seen, self.ends, self.surface, self.nexts = (
            [],
            Counter(),
            Counter(),
            Counter(),
            {},
            [],
        )
        for p in self.papers:
            own: set[Key] = set()
            after: dict[Key, Counter[str]] = {}
            for ph in list(p.keyphrases) or [p.title]:
                ws = words(ph)
                folded = tuple(_fold(w) for w in ws)
                for i, j in _ngrams(ws):
                    key = folded[i:j]
                    own.add(key)
                    self.seen[key] += 1
                    self.ends[key] += j == len(ws)
                    self.surface.setdefault(key, Counter())[" ".join(ws[i:j])] += 1
                    if j < len(ws):
                        after.setdefault(key, Counter())[ws[j]] += 1
            title = words(p.title)
            folded_title = [_fold(w) for w in title]
            for key in own:
                n = len(key)
                for i in range(len(title) - n):
                    if tuple(folded_title[i : i + n]) == key:
                        after.setdefault(key, Counter())[title[i + n]] += 1
            self.terms.append(own)
            self.nexts.append(after)
            self.df.update(own)

    def headed(self, key: Key) -> bool:
        """The term ends its keyphrases often enough to be a noun phrase's head."""
        return self.ends[key] >= _HEAD_SHARE * self.seen[key]

    def top_terms(self, idx: Sequence[int], n: int) -> list[tuple[str, float]]:
        """The cluster's best (term, score) by c-TF-IDF; of overlapping terms only the better one stays."""
        out: list[tuple[str, float]] = []
        said: set[str] = set()  # word stems already in a term shown (with its completion)
        for key, sc in self._picked(idx, n):
            shown, extra = self._show(key, idx)
            if extra is not None and extra[:7] in said:
                shown = self._surface(key)  # the completion would repeat a better term
            elif {w[:7] for w in key} & said:
                continue  # the same thing as a better term's completion ("forecasting")
            said |= {w[:7] for w in key} | ({extra[:7]} if extra else set())
            out.append((shown, sc))
        return out

    def label(self, scored: Sequence[tuple[str, float]], max_terms: int = 2) -> str:
        """The label of a cluster from its top_terms (see the module doc); '' when it has none."""
        if not scored:
            return ""
        best = scored[0]
        if max_terms > 1 and len(scored) > 1 and scored[1][1] >= _SECOND * best[1]:
            second = scored[1]
            if len(best[0].split()) <= 2 and len(second[0].split()) <= 2:
                return f"{best[0]}, {second[0]}"
        return best[0]

    def _picked(self, idx: Sequence[int], n: int) -> list[tuple[Key, float]]:
        size = len(idx)
        total = len(self.papers)
        tf: Counter[Key] = Counter()
        for i in idx:
            tf.update(self.terms[i])
        min_df = 2 if size > 2 else 1
        scored = []
        for key, c in tf.items():
            if c < min_df or not self.headed(key):
                continue
            score = (c / size) * math.log(1.0 + total / self.df[key]) * (1.0 + 0.15 * (len(key) - 1))
            scored.append((-score, key))
        scored.sort()
        picked: list[tuple[Key, float]] = []
        for neg, key in scored:
            clash = [i for i, (p, _) in enumerate(picked) if _overlap(p, key) or _acronym(key, p) or _acronym(p, key)]
            if not clash:
                if len(picked) < n:
                    picked.append((key, round(-neg, 6)))
                continue
            # Of two terms one of which contains the other, the longer when it covers at least 2/3 as many
            # papers ("in-context learning" over "in-context"), else the shorter ("time series" over "time series
            # foundation"), whichever scored first; anything else overlapping is the same topic again.
            i = clash[0]
            old, old_score = picked[i]
            if len(clash) == 1 and _contains(key, old) and 3 * tf[key] >= 2 * tf[old]:
                picked[i] = (key, old_score)
            elif len(clash) == 1 and _contains(old, key) and 3 * tf[old] < 2 * tf[key]:
                picked[i] = (key, old_score)
        return picked

    def _surface(self, key: Key, inner: bool = False) -> str:
        """The commonest form of a term, preferring singular words before its last ("language model
        capabilities", not "language models capabilities"); `inner`: its last word too (more follow)."""
        forms = self.surface[key]
        end = None if inner else -1
        return min(forms, key=lambda s: (any(_fold(w) != w for w in s.split()[:end]), -forms[s], s))

    def _show(self, key: Key, idx: Sequence[int]) -> tuple[str, str | None]:
        """The term as shown, and the word it was completed with: the one the members' keyphrases and titles
        go on with (when the extractor's n-gram limit, or a shorter term winning, cut the phrase short)."""
        shown = self._surface(key)
        nxt: Counter[str] = Counter()
        for i in idx:
            nxt.update(self.nexts[i].get(key, Counter()))
        if nxt:
            word, c = min(nxt.items(), key=lambda kv: (-kv[1], kv[0]))
            tail = (key[-1], _fold(word))
            if c >= _GO_ON * sum(key in self.terms[i] for i in idx) and self.seen[tail] >= 2 and self.headed(tail):
                return f"{self._surface(key, inner=True)} {word}", _fold(word)
        return shown, None


def _overlap(a: Key, b: Key) -> bool:
    """Terms that share a word (up to its ending) name the same thing twice: "time series" / "series
    forecasting", "forecast" / "forecasting"."""
    return not {w[:7] for w in a}.isdisjoint(w[:7] for w in b)


def _acronym(short: Key, long: Key) -> bool:
    """`short` is one word spelling the initials of `long` ("llm", "large language model")."""
    return len(short) == 1 and len(long) > 1 and short[0] == "".join(w[0] for w in long)


def _contains(big: Key, small: Key) -> bool:
    n = len(small)
    return any(big[i : i + n] == small for i in range(len(big) - n + 1))
