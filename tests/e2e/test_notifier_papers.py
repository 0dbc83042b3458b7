"""search.match (percolated saved searches) and paper.recommended (library similarity) for newly enriched papers,
on both backends; a paper re-announced (a replay, a new version) is not notified twice."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import pytest

from paperwire_common.envelope import encode
from paperwire_common.events import PaperEnriched, PaperRaw
from paperwire_common.search.document import to_document
from paperwire_common.streams import PAPERS_ENRICHED
from tests.notify_kit import Receivers, eventually

from .notify_rig import backend_settings, notify_rig

BACKENDS = ["embedded", pytest.param("kafka", marks=[pytest.mark.kafka, pytest.mark.elasticsearch, pytest.mark.redis])]


@pytest.fixture(params=BACKENDS)
def common(request: pytest.FixtureRequest) -> dict[str, Any]:
    return backend_settings(request.param, request)


def unit(seed: int, near: np.ndarray | None = None, noise: float = 0.1) -> list[float]:
    v = np.random.default_rng(seed).normal(size=384)
    if near is not None:
        v = near + noise * v / np.linalg.norm(v)
    return [float(x) for x in v / np.linalg.norm(v)]


def paper(i: int, title: str, abstract: str, emb: list[float] | None = None, version: int = 1) -> PaperEnriched:
    raw = PaperRaw(
        paper_id=f"arxiv:2501.{i:05d}",
        version=version,
        content_hash=f"{i:08x}{version:04x}",
        title=title,
        abstract=abstract,
        source="jsonl",
        ingested_at=time.time(),
    )
    return PaperEnriched(paper=raw, embedding=emb, enriched_at=time.time() + 0.5, summary=abstract.split(".")[0] + ".")


async def test_saved_search_and_recommendations(common: dict[str, Any], receivers: Receivers) -> None:
    search_hook, rec_hook = receivers.add(), receivers.add()
    async with notify_rig(common) as rig:
        b = rig.backends
        lib_vec = np.asarray(unit(1))
        library = [paper(1, "Library paper", "A paper the reader liked.", [float(x) for x in lib_vec])]
        assert await b.index.upsert([to_document(e) for e in library]) == []
        await b.index.refresh()
        _, search_hook.secret = await rig.webhook(
            search_hook.url, events=("search.match",), query='"state space" AND title:mamba'
        )
        _, rec_hook.secret = await rig.webhook(
            rec_hook.url, events=("paper.recommended",), positive_paper_ids=("arxiv:2501.00001",)
        )
        new = [
            paper(2, "Mamba for vision", "State space models scale. We apply them to images.", unit(2, lib_vec, 0.3)),
            paper(3, "Mamba snakes", "Field notes on snakes.", unit(3)),  # title matches, the phrase does not
            paper(4, "Transformers again", "A state space detour.", unit(4)),
        ]
        msgs = [
            encode(
                PAPERS_ENRICHED,
                e,
                key=e.paper.paper_id,
                event_id=f"e{e.paper.paper_id}",
                source="test",
                time=time.time(),
            )
            for e in new
        ]
        await b.bus.publish(msgs)
        (hit,) = await eventually(lambda: search_hook.ok())
        assert hit.payload["type"] == "search.match"
        assert hit.payload["data"]["paper_id"] == "arxiv:2501.00002"
        assert hit.payload["data"]["summary"] == "State space models scale."
        (rec,) = await eventually(lambda: rec_hook.ok())
        assert rec.payload["type"] == "paper.recommended" and rec.payload["data"]["paper_id"] == "arxiv:2501.00002"
        assert rec.payload["data"]["similarity"] >= 0.6
        assert rec.payload["data"]["nearest_library_paper_id"] == "arxiv:2501.00001"
        # Version 2 of the same paper, and a replay: nothing new.
        v2 = paper(2, "Mamba for vision", "State space models scale further.", unit(2, lib_vec, 0.3), version=2)
        await b.bus.publish(
            [encode(PAPERS_ENRICHED, v2, key=v2.paper.paper_id, event_id="v2", source="test", time=time.time()), *msgs]
        )
        await asyncio.sleep(1.5)
        assert len(search_hook.requests) == 1 and len(rec_hook.requests) == 1
