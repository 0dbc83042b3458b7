"""Topic labels on the sample corpus's real topics: its papers, their keyphrases as the enricher extracts them
(YAKE, kept to noun phrases), and the 13 topics `paperwire run all` finds on it (members by title)."""

from __future__ import annotations

import json
import re

import pytest

from paperwire_enricher.keyphrases import YakeExtractor
from paperwire_trending.clustering import Paper
from paperwire_trending.labels import Vocabulary, words
from tests.conftest import SAMPLE

# label -> the beginnings of its members' titles. Before labels.py's rewrite they were, in this order:
# "large language models, comprehensive survey, llm", "agents, planning, autonomous", "language model
# capabilities, families", "reasoning, multi step, large language models", "time series foundation", "embers of
# autoregression, thoughts, probability", "weather prediction models, artificial intelligence", "explainability,
# attribution, interpretability", "artificial general intelligence, agi, large language models", "programming,
# code, artificial intelligence", "emergent, self", "pre trained foundation", "context learning, algorithm".
TOPICS: dict[str, list[str]] = {
    "large language models": [
        "A Survey on Memory-Efficient Large-Scale Mod",
        "A Comprehensive Performance Study of Large L",
        "Scaling Language Models: Methods, Analysis &",
        "Do Generative Large Language Models need bil",
        "Preparing Lessons for Progressive Training o",
        "CodeGen2: Lessons for Training LLMs on Progr",
        "Inference Optimization of Foundation Models",
        "52B to 1T: Lessons Learned via Tele-FLM Seri",
        "A Survey on Large Language Models with some",
        "The Llama 3 Herd of Models",
        "Language Model Behavior: A Comprehensive Sur",
        "A Survey of Large Language Models",
        "Advancing Transformer Architecture in Long-C",
    ],
    "agents, planning": [
        "Can LLMs Fix Issues with Reasoning Models? T",
        "MIRAI: Evaluating LLM Agents for Event Forec",
        "Coalitions of Large Language Models Increase",
        "Exploring Autonomous Agents through the Lens",
        "TPTU: Task Planning and Tool Usage of Large",
        "Robots That Ask For Help: Uncertainty Alignm",
        "LLMs Still Can't Plan; Can LRMs? A Prelimina",
        "Can We Rely on LLM Agents to Draft Long-Hori",
        "Evaluating Language-Model Agents on Realisti",
    ],
    "language model capabilities": [
        "How predictable is language model benchmark",
        "Research without Re-search: Maximal Update P",
        "How Predictable Are Large Language Model Cap",
        "Establishing Task Scaling Laws via Compute-E",
        "OLMES: A Standard for Language Model Evaluat",
        "Observational Scaling Laws and the Predictab",
    ],
    "reasoning": [
        "A Data Source for Reasoning Embodied Agents",
        "Towards Understanding How Transformer Perfor",
        "Language Models, Agent Models, and World Mod",
        "Specializing Smaller Language Models towards",
        "General Reasoning Requires Learning to Reaso",
        "Alice in Wonderland: Simple Tasks Showing Co",
    ],
    "time series forecasting": [
        "Time-LLM: Time Series Forecasting by Reprogr",
        "LLM4TS: Two-Stage Fine-Tuning for Time-Serie",
        "Timer: Transformers for Time Series Analysis",
        "Sundial: A Family of Highly Capable Time Ser",
        "A decoder-only foundation model for time-ser",
        "Time-MoE: Billion-Scale Time Series Foundati",
    ],
    "embers of autoregression": [
        "Structured Thoughts Automaton: First Formali",
        "Embers of Autoregression: Understanding Larg",
        "When a language model is optimized for reaso",
        "AutoML-GPT: Automatic Machine Learning with",
        "GPT-NeoX-20B: An Open-Source Autoregressive",
        "Distilling System 2 into System 1",
    ],
    "weather prediction models": [
        "Improving AI weather prediction models using",
        "Prithvi WxC: Foundation Model for Weather an",
        "Towards an end-to-end artificial intelligenc",
        "Community Research Earth Digital Intelligenc",
    ],
    "explainability": [
        "Scene Text Recognition Models Explainability",
        "Explainability as statistical inference",
        "Building Bridges, Not Walls -- Advancing Int",
        "Efficient Explanations from Empirical Explai",
    ],
    "artificial general intelligence": [
        "Large Language Model Prediction Capabilities",
        "AI Predicts AGI: Leveraging AGI Forecasting",
        "Sparks of Artificial General Intelligence: E",
        "An Overview of Large Language Models for Sta",
    ],
    "code generation": [
        "Self-Programming Artificial Intelligence Usi",
        "AIDE: AI-Driven Exploration in the Space of",
        "Is Programming by Example solved by LLMs?",
        "Planning In Natural Language Improves LLM Se",
    ],
    "language models": [
        "Predicting Emergent Capabilities by Finetuni",
        "Long Term Memory: The Foundation of AI Self-",
        "Emergent and Predictable Memorization in Lar",
        "Bridging the Training-Inference Gap in LLMs",
    ],
    "foundation models": [
        "Model Breadcrumbs: Scaling Multi-Task Model",
        "Model Ratatouille: Recycling Diverse Models",
        "On the Opportunities and Risks of Foundation",
        "Foundation Models in Robotics: Applications,",
    ],
    "in-context learning": [
        "What learning algorithm is in-context learni",
        "In-Context Learning through the Bayesian Pri",
        "General-Purpose In-Context Learning by Meta-",
        "Understanding In-Context Learning in Transfo",
    ],
}
FUNCTION_WORDS = {"a", "an", "and", "by", "for", "in", "of", "on", "or", "the", "to", "with"}


@pytest.fixture(scope="module")
def sample() -> tuple[Vocabulary, list[str]]:
    rows = [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]
    yake = YakeExtractor()
    papers = [
        Paper(f"p{i:03d}", [1.0], tuple(yake.extract(f"{r['title']}. {r['abstract']}", 8)), r["title"])
        for i, r in enumerate(rows)
    ]
    return Vocabulary(papers), [r["title"] for r in rows]


def members(titles: list[str], starts: list[str]) -> list[int]:
    idx = [i for i, t in enumerate(titles) if any(t.startswith(s) for s in starts)]
    assert len(idx) == len(starts), starts
    return idx


@pytest.mark.parametrize("expected", list(TOPICS))
def test_each_sample_topic_gets_a_short_readable_label(sample: tuple[Vocabulary, list[str]], expected: str) -> None:
    vocab, titles = sample
    idx = members(titles, TOPICS[expected])
    scored = vocab.top_terms(idx, 8)
    label = vocab.label(scored)
    assert label == expected, [t for t, _ in scored]
    terms = label.split(", ")
    assert len(terms) <= 2 and all(len(t.split()) <= 4 for t in terms)
    for t in (term for term, _ in scored):  # the topic's keyphrases too: no fragments, nothing twice
        ws = t.split()
        assert ws[0] not in FUNCTION_WORDS and ws[-1] not in FUNCTION_WORDS, t
    stems = [w[:7] for t, _ in scored for w in t.split()]
    assert len(stems) == len(set(stems)), [t for t, _ in scored]


def test_hyphenated_words_keep_their_bound_prefixes() -> None:
    assert words("In-context learning") == ["in-context", "learning"]
    assert words("self-supervised multi-step reasoning") == ["self-supervised", "multi-step", "reasoning"]
    assert words("time-series forecasting") == ["time", "series", "forecasting"]
    assert words("code-generating language models") == ["code-generating", "language", "models"]
    assert all(re.fullmatch(r"[a-z0-9-]+", w) for w in words("Time-MoE: Billion-Scale (2024)!"))
