"""Keyphrases are noun phrases, one per stem: no clause fragments ending in a verb or a function word."""

from __future__ import annotations

import pytest

from paperwire_enricher.keyphrases import YakeExtractor, noun_phrase, select, stem_key


@pytest.mark.parametrize(
    "phrase",
    [
        "series forecasting holds",  # a verb
        "family of highly",  # ends with an adverb
        "improve human forecasting",  # starts with a verb
        "geometries exploiting quantum",  # a gerund
        "transfer in light",  # a preposition inside
        "system or model",  # a conjunction
        "based on gemma",
        "model to predict",
        "rate of generative",  # ends with an adjective
        "predictable are large",
        "automatically interpreting language",
        "pre-trained large language",  # cut short of "large language models"
        "explainable",
        "the model",
        "study energy transfer",  # "we study ...": the verb
        "studies language acquisition",
        "model performance varies",
    ],
)
def test_fragments_are_not_keyphrases(phrase: str) -> None:
    assert not noun_phrase(phrase)


@pytest.mark.parametrize(
    "phrase",
    [
        "time series forecasting",
        "mixture of experts",
        "in-context learning",
        "large language models",
        "reasoning",
        "model merging",
        "theory of mind",
        "planning tasks",
        "transfer learning",
        "variables",
        "case study",
        "study of energy transfer",
    ],
)
def test_noun_phrases_are(phrase: str) -> None:
    assert noun_phrase(phrase)


def test_one_phrase_per_stem_and_none_inside_a_better_one() -> None:
    got = select(
        ["language models", "language model", "qwen technical report", "technical", "Time Series", "models"], 8
    )
    assert got == ["language models", "qwen technical report", "time series"]
    assert stem_key("Language Models") == stem_key("language model") == ("language", "model")


def test_yake_keyphrases_of_an_abstract_are_noun_phrases() -> None:
    text = (
        "Time-LLM: Time Series Forecasting by Reprogramming Large Language Models. Time series forecasting holds "
        "significant importance in many real-world dynamic systems. We reprogram the input time series with text "
        "prototypes before feeding it into the frozen LLM to align the two modalities."
    )
    got = YakeExtractor().extract(text, 8)
    assert got and all(noun_phrase(p) for p in got)
    assert "time series forecasting" in got and not any(p.endswith("holds") for p in got)
    assert len({stem_key(p) for p in got}) == len(got)
