"""kill -9 of `make run` (the embedded default) mid-ingest, then a restart: every paper of the corpus is searchable
exactly once, no event accepted with 202 is lost, and the trend store equals a replay of the log without the
crash (issue 14: "Events accepted with 202 are never lost")."""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path

import pytest

from bench.synthetic import generate
from paperwire_common.backends import make_backends
from paperwire_common.bus.embedded import EmbeddedBus
from paperwire_common.clock import SystemClock
from paperwire_common.search.embedded import EmbeddedIndex
from paperwire_common.settings import CommonSettings
from paperwire_common.streams import ENGAGEMENT, PAPERS_RAW
from paperwire_common.trends import EmbeddedTrendStore
from paperwire_common.trends.snapshot import SnapshotTrendStore
from paperwire_ingestor.handlers import paper_key
from paperwire_ingestor.parsers import FORMATS
from paperwire_trending.rebuild import compare, replay
from paperwire_trending.settings import TrendingSettings
from tests.e2e.running import RunAll

pytestmark = [pytest.mark.faults, pytest.mark.slow]
PAPERS = 3000
# Small ingest batches: the ingest then interleaves with enrichment for ~10 s, so the kill lands in the middle of it.
ENV = {
    "PAPERWIRE_EMBEDDINGS": "false",
    "PAPERWIRE_TRENDING_TOPICS_ENABLED": "false",
    "PAPERWIRE_INGESTOR_BATCH_SIZE": "10",
    "PAPERWIRE_INGESTOR_PROGRESS": "false",
}


def corpus(tmp: Path) -> tuple[Path, list[str]]:
    path = tmp / "corpus.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in generate(PAPERS, seed=14)))
    ids = [paper_key(r) for r in FORMATS["jsonl"](path.read_bytes())]  # type: ignore[arg-type]
    assert len(set(ids)) == PAPERS
    return path, ids


def test_kill_9_mid_ingest_then_restart_loses_nothing(tmp_path: Path) -> None:
    path, ids = corpus(tmp_path)
    data = tmp_path / "data"
    args = ("--no-sample", "--ingest", str(path))
    first = RunAll(data, *args, **ENV)
    accepted: dict[str, list[str]] = {}  # paper -> ids of its mentions answered 202
    upvoted: dict[str, int] = {}
    rng = random.Random(3)
    try:
        deadline = time.monotonic() + 120
        i = 0
        while len(accepted) < 60 and time.monotonic() < deadline:  # engagement while papers arrive
            assert first.proc.poll() is None, first.tail()
            pid = ids[i]
            batch = [
                {"id": f"m-{pid}-{k}", "paper_id": pid, "type": "mention", "actor_id": f"a{k}"} for k in range(3)
            ] + [{"paper_id": pid, "type": "upvote", "actor_id": f"u{k}"} for k in range(rng.randrange(1, 4))]
            try:
                r = first.post_events(batch)
            except Exception:  # the gateway is not listening yet
                time.sleep(0.1)
                continue
            if r.status_code == 202:
                accepted[pid] = [e["id"] for e in batch[:3]]
                upvoted[pid] = len(batch) - 3
                i += 3
            else:
                assert r.status_code == 422 and "not a known paper" in r.text, r.text
                time.sleep(0.02)
        assert len(accepted) == 60, f"only {len(accepted)} papers became known:\n{first.tail()}"
    finally:
        first.kill_9()

    bus = EmbeddedBus(path=str(data / "bus.sqlite"))
    raw_at_kill = sum(bus.end((PAPERS_RAW.name, p)) for p in range(bus.partitions(PAPERS_RAW.name)))
    # The gateway scopes a client's event id by the key that sent it: "<key id>/<id>".
    logged = {str(r.header("ce_id")).partition("/")[2] for r in bus.records(ENGAGEMENT.name)}
    asyncio.run(bus.stop())
    assert raw_at_kill < PAPERS, "the kill must land mid-ingest for this test to mean anything"
    assert {m for ms in accepted.values() for m in ms} <= logged, "a 202 was answered before the event was on disk"

    second = RunAll(data, *args, **ENV)  # `make run` again: the same ingest, resumed
    try:
        second.wait_ready(timeout=180)
        for pid, mentions in accepted.items():
            bd = second.get(f"/v1/papers/{pid}/trending")["windows"]["24h"]["breakdown"]
            assert bd["mention"]["count"] == len(mentions), (pid, bd)
            assert bd["upvote"]["count"] == upvoted[pid], (pid, bd)
            assert bd["prior"]["count"] == 1, (pid, bd)
        probe = ids[-1]  # one of the papers the first run never got to
        title = second.get(f"/v1/papers/{probe}")["title"]
        hits = second.get("/v1/search", q=f'title:"{title}"', mode="keyword", size=5)["items"]
        assert [h["id"] for h in hits][:1] == [probe]
        assert second.ctrl_c() == 0, second.tail()  # writes the trend store's snapshot
    finally:
        if second.proc.poll() is None:
            second.kill_9()

    index = EmbeddedIndex(str(data / "index.sqlite"))
    docs = asyncio.run(index.snapshot())
    assert sorted(docs) == sorted(ids), "every paper of the corpus, each once"
    assert set(docs.values()) == {1}, "a paper re-published after the crash is the same version, not a new one"
    asyncio.run(index.stop())
    asyncio.run(_same_scores_as_a_clean_replay(data))


async def _same_scores_as_a_clean_replay(data: Path) -> None:
    settings = TrendingSettings()
    b = make_backends(CommonSettings(backend="embedded", embedded_data_dir=str(data), embeddings=False))
    live = b.trends  # the data dir's trend store: its snapshot, written at the Ctrl-C
    assert isinstance(live, SnapshotTrendStore) and live.loaded_from is not None
    await b.start()
    try:
        clean = EmbeddedTrendStore(settings.half_lives(), horizon_s=settings.dedupe_horizon_s)
        await replay(b, clean, settings, SystemClock())
        cmp = await compare(live, clean, time.time())
        assert cmp.equal, cmp.windows
        assert all(w["papers"] == PAPERS for w in cmp.windows.values())
        assert await live.offsets("paperwire-trending") == await clean.offsets("paperwire-trending")
    finally:
        await b.stop()
