"""Pure enrichment: PaperRaw (+ its embedding, computed by the caller in a batch) -> PaperEnriched."""

from __future__ import annotations

from collections.abc import Sequence

from paperwire_common.events import PaperEnriched, PaperRaw

from .entities import extract_entities
from .keyphrases import KeyphraseExtractor
from .links import extract_links
from .summary import summarize


def enrich(
    raw: PaperRaw,
    *,
    keyphrases: KeyphraseExtractor,
    n_keyphrases: int,
    embedding: Sequence[float] | None,
    embedding_model: str | None,
    now: float,
) -> PaperEnriched:
    text = f"{raw.title}. {raw.abstract}"
    code, project = extract_links(raw.abstract, " ".join(raw.links))
    methods, datasets = extract_entities(text)
    return PaperEnriched(
        paper=raw,
        keyphrases=keyphrases.extract(text, n_keyphrases) if n_keyphrases else [],
        code_urls=code,
        project_urls=project,
        methods=methods,
        datasets=datasets,
        embedding=[round(float(x), 6) for x in embedding] if embedding is not None else None,
        embedding_model=embedding_model if embedding is not None else None,
        enriched_at=now,
        summary=summarize(raw.abstract),
    )
