"""Named methods and datasets defined in the text: "Siamese Calibrated Reconstruction Network (SCRN)".

Definitions are found with the Schwartz & Hearst (2003) abbreviation algorithm: the short form's letters
must appear, in order, in the preceding words, the first letter starting a word. A definition whose head
noun names data (dataset, benchmark, corpus, ...) is a dataset; one naming a model/method is a method;
generic terms everyone defines ("Large Language Models (LLMs)") are kept out by a small list.
"""

from __future__ import annotations

import re

from paperwire_common.events import NamedEntity

_PAREN = re.compile(r"\(([A-Za-z][A-Za-z0-9\-]{1,14})\)")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-']*")
DATASET_HEADS = {"dataset", "datasets", "benchmark", "benchmarks", "corpus", "corpora", "suite", "collection"}
METHOD_HEADS = {
    "network",
    "networks",
    "model",
    "models",
    "method",
    "framework",
    "algorithm",
    "approach",
    "transformer",
    "architecture",
    "module",
    "mechanism",
    "learning",
    "optimization",
    "optimizer",
    "estimator",
    "encoder",
    "decoder",
    "attention",
    "policy",
    "agent",
    "detector",
    "classifier",
    "system",
    "pipeline",
    "technique",
    "strategy",
    "procedure",
    "regression",
    "search",
    "sampling",
    "distillation",
    "prompting",
    "tuning",
    "aggregation",
}
# Field-wide abbreviations are not a paper's named method.
GENERIC = {
    "AI",
    "ML",
    "NLP",
    "LLM",
    "LLMS",
    "LM",
    "LMS",
    "CNN",
    "CNNS",
    "RNN",
    "GAN",
    "GANS",
    "DNN",
    "XAI",
    "RL",
    "CV",
    "GP",
    "GPS",
    "HMM",
    "EHR",
    "EHRS",
    "VLM",
    "VLMS",
    "MLLM",
    "MLLMS",
    "LSTM",
    "MLP",
    "SVM",
    "KG",
}


def _short_form_ok(sf: str) -> bool:
    return any(c.isalpha() for c in sf) and sf[0].isalnum() and (sum(c.isupper() for c in sf) >= 2 or sf.isupper())


def _best_long_form(sf: str, words: list[str]) -> list[str] | None:
    """Schwartz-Hearst: match sf's characters right-to-left inside the preceding words."""
    max_words = min(len(sf) + 5, len(sf) * 2)
    cand = words[-max_words:]
    text = " ".join(cand).lower()
    s = [c for c in sf.lower() if c.isalnum()]
    si, li = len(s) - 1, len(text) - 1
    while si >= 0:
        c = s[si]
        while li >= 0 and (text[li] != c or (si == 0 and li > 0 and text[li - 1].isalnum())):
            li -= 1
        if li < 0:
            return None
        si -= 1
        li -= 1
    start = text.rfind(" ", 0, li + 1) + 1
    long_form = text[start:]
    n = len(long_form.split())
    return cand[-n:] if 0 < n <= max_words else None


def extract_entities(text: str) -> tuple[list[NamedEntity], list[NamedEntity]]:
    methods: dict[str, NamedEntity] = {}
    datasets: dict[str, NamedEntity] = {}
    for m in _PAREN.finditer(text or ""):
        sf = m.group(1)
        if not _short_form_ok(sf) or sf.upper().rstrip("S") in GENERIC or sf.upper() in GENERIC:
            continue
        sentence = re.split(r"[.;:!?]\s", text[: m.start()])[-1]
        words = _WORD.findall(sentence)
        lf = _best_long_form(sf, words)
        if not lf or len(lf) < 2:
            continue
        name = " ".join(lf)
        head = lf[-1].lower()
        after = _WORD.findall(text[m.end() : m.end() + 40])[:1]
        # "... Event Prediction (VLEP) dataset": the noun after the parenthesis can name the kind too.
        if head in DATASET_HEADS or (after and after[0].lower() in DATASET_HEADS):
            datasets.setdefault(sf, NamedEntity(name=name, acronym=sf, kind="dataset"))
        elif head in METHOD_HEADS or any(w[:1].isupper() for w in lf[1:]):
            # Title-cased multi-word definitions are almost always a paper's own named contribution.
            methods.setdefault(sf, NamedEntity(name=name, acronym=sf, kind="method"))
    return list(methods.values()), list(datasets.values())
