"""Percolation (Elasticsearch's percolator, Lucene's Monitor/Luwak): the saved searches are indexed by their
pre-filter keys, a new document looks up the queries its terms can satisfy, and only those are verified.

    p = Percolator(KnownWords(index))
    await p.sync({"sub_1": "diffusion AND title:video", ...})   # compiles new/changed queries, drops removed
    hits = await p.match(docs)                                  # doc id -> ids of the queries it matches

Typo tolerance needs to know which free words the index lacks (those alone get it, as in /v1/search):
KnownWords asks the index once per word (a quoted single-word search is an exact match) and remembers known words;
a word found in the batch's own titles and abstracts is known from then on (the indexer is writing that paper).
For the unknown words of a batch, the typo neighbours among the batch's terms are those with the same first letter
and a length within k that are within k edits (optimal string alignment, as Elasticsearch's fuzzy queries).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..search.embedded.vocabulary import within_edits
from ..search.port import SearchIndex, SearchRequest
from ..search.query import parse
from .analysis import AnalyzedDoc, Analyzer
from .batch import Evaluator, build, evaluator, ones, referenced
from .compiled import Compiled, Leaf, compile_query, keys, matches, max_edits, typo_words

RECHECK_UNKNOWN_S = 300.0
PROBE_CONCURRENCY = 8


class KnownWords:
    """Words with an exact match in some title or abstract of the index (no typo tolerance for those)."""

    def __init__(self, index: SearchIndex | None = None, recheck_s: float = RECHECK_UNKNOWN_S) -> None:
        self.index, self.recheck_s = index, recheck_s
        self.known: set[str] = set()
        self._checked: dict[str, float] = {}  # unknown word -> when the index last said so

    async def refresh(self, words: Iterable[str]) -> None:
        if self.index is None:
            return
        now = time.monotonic()
        todo = [w for w in set(words) if w not in self.known and now - self._checked.get(w, -1e18) > self.recheck_s]
        sem = asyncio.Semaphore(PROBE_CONCURRENCY)

        async def probe(w: str) -> None:
            async with sem:
                assert self.index is not None
                res = await self.index.search(
                    SearchRequest(parse(f'"{w}"'), size=1, fields=("id",), highlight=False, count=False)
                )
            if res.hits:
                self.known.add(w)
            else:
                self._checked[w] = now

        await asyncio.gather(*(probe(w) for w in todo))

    def learn(self, words: Iterable[str]) -> None:
        self.known.update(words)


class Percolator:
    def __init__(self, known: KnownWords | None = None, analyzer: Analyzer | None = None) -> None:
        self.known = known or KnownWords()
        self.analyzer = analyzer or Analyzer()
        self.queries: dict[str, tuple[str, Compiled]] = {}  # id -> (text, compiled)
        self._evaluators: dict[str, Evaluator] = {}
        self._wanted: Counter[str] = Counter()  # key -> how many indexed queries read it
        self._refs: dict[str, set[str]] = {}  # query id -> the keys it reads
        self._postings: dict[str, set[str]] = {}
        # Queries that are one exact term (no typo tolerance): a document holding the key *is* a match.
        self._exact: dict[str, set[str]] = {}
        self._always: set[str] = set()
        self._keys: dict[str, set[str] | None] = {}
        self._typo: dict[str, set[str]] = {}  # typo word -> query ids using it

    def __len__(self) -> int:
        return len(self.queries)

    def _stem(self, word: str) -> str | None:
        t = self.analyzer.terms(word)
        return t[0] if len(t) == 1 else None

    def _typo_key(self, words: Iterable[str]) -> dict[str, str]:
        return {w: f"y:{w}" for w in words if w not in self.known.known}

    def _unindex(self, qid: str) -> None:
        compiled = self.queries[qid][1]
        for k in self._refs.pop(qid, ()):
            self._wanted[k] -= 1
            if self._wanted[k] <= 0:
                del self._wanted[k]
        ks = self._keys.pop(qid, None)
        if ks is None:
            self._always.discard(qid)
        else:
            for k in ks:
                self._postings.get(k, set()).discard(qid)
                self._exact.get(k, set()).discard(qid)
        for w in typo_words(compiled):
            self._typo.get(w, set()).discard(qid)

    def _index(self, qid: str, compiled: Compiled) -> None:
        words = typo_words(compiled)
        ks: set[str] | None
        if (
            isinstance(compiled, Leaf)
            and not (words - self.known.known)
            and (key := compiled.key()) is not None
            and (compiled.kind == "keyword" or len(compiled.terms) == 1)
        ):
            ks = {key}
            self._exact.setdefault(key, set()).add(qid)
        else:
            ks = keys(compiled, self._typo_key(words))
            if ks is None:
                self._always.add(qid)
            else:
                for k in ks:
                    self._postings.setdefault(k, set()).add(qid)
            for w in words:
                self._typo.setdefault(w, set()).add(qid)
        self._keys[qid] = ks
        # A batch builds the bitsets of these keys only: what the query's evaluator reads, and its pre-filter keys.
        self._refs[qid] = referenced(compiled) | (ks or set())
        self._wanted.update(self._refs[qid])

    async def sync(self, queries: Mapping[str, str]) -> None:
        """Make the indexed queries exactly `queries` (id -> query text). Raises QuerySyntaxError on a bad one."""
        for qid in [q for q in self.queries if q not in queries]:
            self._unindex(qid)
            del self.queries[qid]
            del self._evaluators[qid]
        changed = {qid: text for qid, text in queries.items() if self.queries.get(qid, ("",))[0] != text}
        compiled = {qid: compile_query(text, self.analyzer) for qid, text in changed.items()}
        await self.known.refresh(w for c in compiled.values() for w in typo_words(c))
        for qid, c in compiled.items():
            if qid in self.queries:
                self._unindex(qid)
            self.queries[qid] = (changed[qid], c)
            self._evaluators[qid] = evaluator(c)
            self._index(qid, c)

    def _fuzzy_docs(self, docs: Sequence[AnalyzedDoc]) -> dict[str, set[int]]:
        """Typo word -> indexes of the documents with a typo neighbour of its stem in title or abstract."""
        words = {w: s for w in self._typo if self._typo[w] and w not in self.known.known if (s := self._stem(w))}
        words = {w: s for w, s in words.items() if max_edits(s) > 0}
        if not words:
            return {}
        where: dict[str, set[int]] = {}
        for d in docs:
            for t in d.text_terms():
                where.setdefault(t, set()).add(d.index)
        # Terms bucketed by (first letter, length): typo tolerance keeps the first letter and moves the length by
        # at most k, so a word is compared with the terms of 2k + 1 buckets only.
        buckets: dict[tuple[str, int], list[str]] = {}
        for t in where:
            buckets.setdefault((t[0], len(t)), []).append(t)
        out: dict[str, set[int]] = {}
        for w, s in words.items():
            k = max_edits(s)
            near = [
                t
                for n in range(len(s) - k, len(s) + k + 1)
                for t in buckets.get((s[0], n), ())
                if t != s and within_edits(s, t, k)
            ]
            # As the embedded index: a neighbour must be a stem that stems to itself.
            near = [t for t in near if self._stem(t) == t]
            hit = set().union(*(where[t] for t in near)) if near else set()
            if hit:
                out[w] = hit
        return out

    def _doc_keys(self, doc: AnalyzedDoc, fuzzy: dict[str, set[int]]) -> list[str]:
        out: list[str] = []
        for col, terms in doc.columns.items():
            free = col in ("title", "abstract")
            for t in terms:
                out.append(f"c:{col}:{t}")
                if free:
                    out.append(f"t:{t}")
        out += [f"k:{field}:{v}" for field, values in doc.keywords.items() for v in values]
        out += [f"y:{w}" for w, hits in fuzzy.items() if doc.index in hits]
        return out

    def candidates(self, doc: AnalyzedDoc, fuzzy: dict[str, set[int]]) -> set[str]:
        """The queries this document alone would make candidates (those that are matches without verification
        excluded); a batch verifies the union over its documents, once each."""
        post = self._postings
        return self._always.union(*(post[k] for k in self._doc_keys(doc, fuzzy) if k in post))

    def exact_hits(self, doc: AnalyzedDoc, fuzzy: dict[str, set[int]]) -> set[str]:
        ex = self._exact
        return set().union(*(ex[k] for k in self._doc_keys(doc, fuzzy) if k in ex))

    async def match(self, docs: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
        """Document id -> the ids of the queries it matches (sorted), for every document with a match. CPU-bound:
        it runs in a worker thread, so the event loop (the dispatcher's attempts) keeps going."""
        if not self.queries or not docs:
            return {}
        return await asyncio.to_thread(self.match_now, docs)

    def match_now(self, docs: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
        if not self.queries or not docs:
            return {}
        analysed = self.analyzer.documents(docs)
        # Words in this batch's titles and abstracts are in the index now (the indexer writes these papers).
        batch_terms = set().union(*(d.text_terms() for d in analysed))
        self.known.learn([w for w in self._typo if w not in self.known.known and self._stem(w) in batch_terms])
        fuzzy = self._fuzzy_docs(analysed)
        batch = build(analysed, fuzzy, self._wanted)
        hits: list[list[str]] = [[] for _ in analysed]
        post, exact, todo = self._postings, self._exact, set(self._always)
        for k, bits in batch.bits.items():
            if k in post:
                todo |= post[k]
            if exact.get(k):  # single-term queries: the key's documents are their matches
                for i in ones(bits):
                    hits[i].extend(exact[k])
        evaluate = self._evaluators
        for qid in todo:
            for i in ones(evaluate[qid](batch)):
                hits[i].append(qid)
        out: dict[str, list[str]] = {}
        for d, hit in zip(analysed, hits, strict=True):
            if hit:
                out[d.id] = sorted(hit)
        return out

    def matches_doc(self, qid: str, doc: dict[str, Any]) -> bool:
        """One query against one document (the digest's filter); typo tolerance as for a batch of one."""
        (d,) = self.analyzer.documents([doc])
        return matches(self.queries[qid][1], d, self._fuzzy_docs([d]))
