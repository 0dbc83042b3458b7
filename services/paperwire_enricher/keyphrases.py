"""Keyphrases with YAKE (unsupervised, per document, no model) via its maintained Rust port, kept to noun phrases.

YAKE scores n-grams by position, frequency and spread; many of them are clause fragments ("series forecasting
holds", "family of highly", "improve human forecasting"). Without a tagger (a model per language, and a second
pass over every abstract) the fragments are recognised by their words, a small grammar of English noun phrases
in academic prose:
- no function word at either end, none inside but one `of` or `for` between nouns ("mixture of experts");
- no verb: the common verbs of abstracts in any inflection ("improve", "yields", "based", "leveraging"), no
  noun opening a phrase that only a verb would ("study energy transfer"), and no word ending a phrase that only
  modifies (an adverb in -ly, an adjective in -able, or one such as "large");
- then one phrase per stem: "language model" and "language models" are the same keyphrase, and a phrase
  inside a better-ranked one ("technical" after "qwen technical report") is dropped.
"""

from __future__ import annotations

import re
from typing import Protocol

_FUNCTION = frozenset(
    """a about across after against along among an and are around as at be been before being between beyond but by
    can could despite did do does due during for from had has have how if in inside into is it its like may might
    must no nor not of on or our over per should since so such than that the their then there these they this
    those through to toward towards under until upon versus via vs was we were what when where whether which while
    who whom whose why will with within without would yet you your""".split()
)
_JOINERS = frozenset({"of", "for"})  # inside a noun phrase: "mixture of experts", "models for code"
# Verbs of abstracts, unambiguous in any of their forms (a noun such as "model", "study" or "use" is not here).
_VERBS = frozenset(
    """achieve adapt address allow apply approach assess assign assist automate base believe boost bridge build
    call capture cause combine compare comply compute conduct consider construct contain create decouple delegate
    demonstrate derive describe detect develop discover drive elucidate employ empower enable enhance ensure
    establish estimate evaluate examine exceed exhibit exist expand explain exploit explore extend extract face find
    fine-tune fit
    fix focus generalize generate give grow guide happen help highlight hold identify illustrate improve include
    incorporate increase indicate integrate introduce investigate involve leverage lie make meet mitigate motivate
    need obtain offer outperform perform play predict prepare present produce propose prove provide reach recycle
    reduce remain rely reprogram require reveal scale seek serve show simplify solve suggest surpass tackle take
    tend train transform uncover understand unify use utilize validate vary verify violate yield""".split()
)
# Words that only modify: a phrase does not end with one ("rate of generative", "predictable are large").
_MODIFIERS = frozenset(
    """accurate advanced artificial best better big causal clinical complex computational current deep difficult
    diverse easy effective efficient existing first formal general generative global good great hard high human
    important key large larger latest low main masked multimodal multi-modal multiple natural neural new novel
    numerical open possible powerful pre-trained pretrained real recent remote robust several significant simple
    small spatial specific statistical strong such temporal true correct various visual wide""".split()
)
# Nouns that open a phrase only as verbs ("study energy transfer"; the noun: "study of", "case study").
_VERB_FIRST = frozenset({"study", "studies"})
_NOT_ADVERBS = frozenset({"family", "anomaly", "assembly", "supply", "reply", "italy", "monopoly", "ally", "rally"})
# Nouns among the words in -able/-ible/-ive, which otherwise modify ("explainable", "progressive").
_SUFFIX_NOUNS = frozenset(
    """variable table cable timetable deliverable syllable objective alternative perspective derivative initiative
    directive incentive motive archive detective executive representative""".split()
)
_WORD = re.compile(r"[\w'-]+")


class KeyphraseExtractor(Protocol):
    def extract(self, text: str, n: int) -> list[str]: ...


def _is_verb(word: str) -> bool:
    w = word.lower()
    if w in _VERBS:
        return True
    forms = (("ies", ("y",)), ("ied", ("y",)), ("ing", ("", "e")), ("ed", ("", "e")), ("d", ("",)), ("es", ("",)))
    for suffix, stems in (*forms, ("s", ("",))):
        if w.endswith(suffix) and len(w) > len(suffix) + 1:
            base = w[: -len(suffix)]
            if any(base + s in _VERBS for s in stems) or (base[-1:] == base[-2:-1] and base[:-1] in _VERBS):
                return True
    return False


def _modifies(word: str) -> bool:
    w = word.lower()
    if w in _MODIFIERS or (w.endswith("ly") and len(w) > 4 and w not in _NOT_ADVERBS):
        return True
    return w.endswith(("able", "ible", "ive", "ives")) and stem(w) not in _SUFFIX_NOUNS


def noun_phrase(phrase: str) -> bool:
    """Whether a candidate reads as a noun phrase (see the module doc)."""
    words = _WORD.findall(phrase.lower())
    if not words or words[0] in _FUNCTION or words[-1] in _FUNCTION:
        return False
    inner = [w for w in words[1:-1] if w in _FUNCTION]
    if len(inner) > 1 or any(w not in _JOINERS for w in inner):
        return False
    if any(_is_verb(w) for w in words) or _modifies(words[-1]):
        return False
    if len(words) > 1 and words[0].endswith("ly") and words[0] not in _NOT_ADVERBS:  # "automatically interpreting"
        return False
    if len(words) > 1 and words[0] in _VERB_FIRST and words[1] not in _JOINERS:  # "we study energy transfer"
        return False
    if words[-2:] == ["large", "language"]:  # cut short of "large language model(s)" by the n-gram limit
        return False
    return not (len(words) == 1 and _modifies(words[0]))


def stem(word: str) -> str:
    """A light English stem for matching keyphrases (plurals and -ing/-ed forms fold together)."""
    w = word.lower()
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("xes", "x"), ("ches", "ch"), ("shes", "sh")):
        if w.endswith(suffix) and len(w) > len(suffix) + 1:
            return w[: -len(suffix)] + repl
    if w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 3:
        return w[:-1]
    return w


def stem_key(phrase: str) -> tuple[str, ...]:
    return tuple(stem(w) for w in _WORD.findall(phrase.lower()))


def select(candidates: list[str], n: int) -> list[str]:
    """The first n noun phrases of ranked candidates, one per stem key, none inside a better-ranked one."""
    out: list[str] = []
    keys: list[tuple[str, ...]] = []
    for phrase in candidates:
        text = " ".join(phrase.lower().split())
        key = stem_key(text)
        if not key or not noun_phrase(text):
            continue
        # Drop a phrase whose stems sit inside a better one's ("technical" after "qwen technical report").
        if any(_within(key, k) for k in keys):
            continue
        keys.append(key)
        out.append(text)
        if len(out) == n:
            break
    return out


def _within(small: tuple[str, ...], big: tuple[str, ...]) -> bool:
    m = len(small)
    return any(big[i : i + m] == small for i in range(len(big) - m + 1))


class YakeExtractor:
    def __init__(self, max_ngram: int = 3) -> None:
        import yake_rust

        self._yake = yake_rust.Yake(language="en", ngrams=max_ngram, remove_duplicates=True)

    def extract(self, text: str, n: int) -> list[str]:
        # Twice as many candidates as wanted, for the fragments the filter drops.
        return select([phrase for phrase, _score in self._yake.get_n_best(text, n=n * 3)], n)


class NoKeyphrases:
    def extract(self, text: str, n: int) -> list[str]:
        return []
