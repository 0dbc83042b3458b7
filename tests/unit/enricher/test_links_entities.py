from __future__ import annotations

import json

from paperwire_common.events import PaperRaw
from paperwire_enricher.entities import extract_entities
from paperwire_enricher.handlers import enrich
from paperwire_enricher.keyphrases import YakeExtractor
from paperwire_enricher.links import extract_links
from tests.conftest import SAMPLE


def test_code_and_project_links_with_prose_punctuation() -> None:
    code, project = extract_links(
        "Code is at https://github.com/SakanaAI/AI-Scientist. See https://vchitect.github.io/SEINE-project/ "
        "and https://github.com/cofe-ai/Mu-scaling. Also https://gitlab.com/a/b, and https://github.com/ alone."
    )
    assert code == [
        "https://github.com/SakanaAI/AI-Scientist",
        "https://github.com/cofe-ai/Mu-scaling",
        "https://gitlab.com/a/b",
    ]
    assert project == ["https://vchitect.github.io/SEINE-project/", "https://github.com/"]


def test_named_method_from_its_definition() -> None:
    methods, datasets = extract_entities(
        "We propose a Siamese Calibrated Reconstruction Network (SCRN) and evaluate it on the "
        "Video-and-Language Event Prediction (VLEP) dataset. Large language models (LLMs) are popular."
    )
    assert [(m.name, m.acronym) for m in methods] == [("Siamese Calibrated Reconstruction Network", "SCRN")]
    assert [(d.name, d.acronym) for d in datasets] == [("Video-and-Language Event Prediction", "VLEP")]
    assert "LLMs" not in {m.acronym for m in methods}, "field-wide terms are not a paper's method"


def test_dataset_head_noun_makes_a_dataset() -> None:
    _, datasets = extract_entities("We release the Multi-Domain Reasoning Benchmark (MDRB) for evaluation.")
    assert [(d.name, d.acronym, d.kind) for d in datasets] == [("Multi-Domain Reasoning Benchmark", "MDRB", "dataset")]


def test_seed_corpus_links_found() -> None:
    papers = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    with_code = [p for p in papers if extract_links(p["abstract"])[0]]
    assert len(with_code) >= 15


def test_enrich_is_deterministic() -> None:
    raw = PaperRaw(
        paper_id="title:1",
        version=1,
        content_hash="abcdefgh",
        title="Time-LLM: Time Series Forecasting",
        abstract="We reprogram large language models for time series forecasting. "
        "Code: https://github.com/KimMeen/Time-LLM.",
        source="t",
        ingested_at=5.0,
    )
    kw = YakeExtractor()
    a = enrich(raw, keyphrases=kw, n_keyphrases=5, embedding=None, embedding_model=None, now=raw.ingested_at)
    b = enrich(raw, keyphrases=kw, n_keyphrases=5, embedding=None, embedding_model=None, now=raw.ingested_at)
    assert a == b
    assert a.code_urls == ["https://github.com/KimMeen/Time-LLM"]
    assert any("time series" in k for k in a.keyphrases)
    assert a.embedding is None and a.embedding_model is None
