"""A known workload and the state it must produce (the oracle), computed from the input alone.

Papers: a synthetic corpus (bench/synthetic.py; embeddings and YAKE off in the services), then a second file that
revises every k-th paper (version 2). Engagement: views, upvotes, downloads, mentions, comments and star
snapshots over those papers, each with its own id, stamped in the past. The mix is order-independent (distinct
actors per view and upvote; one paper's star snapshots go out in one publish, so they stay in order), so a
fault that delays or redelivers records cannot legitimately change the result.

The oracle: the {paper id: version} the index must hold, and the trending scores of a fault-free replay: the
very papers.enriched events the enricher derives (same parser, same enrichment, the ingestor's fixed clock) and
the engagement events, planned by the trending handlers and applied to the embedded trend store.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.synthetic import generate
from paperwire_common.bus.port import Message, Record
from paperwire_common.envelope import Decoded, encode
from paperwire_common.events import Engagement, PaperEnriched
from paperwire_common.streams import ENGAGEMENT, PAPERS_ENRICHED
from paperwire_common.trends import EmbeddedTrendStore
from paperwire_enricher.handlers import enrich
from paperwire_enricher.keyphrases import NoKeyphrases
from paperwire_ingestor.handlers import paper_key, to_raw
from paperwire_ingestor.parsers import FORMATS
from paperwire_ingestor.records import Rejected, SourceRecord
from paperwire_trending.handlers import plan_batch
from paperwire_trending.settings import TrendingSettings

from .servers import FAULTS_HOME

GROUP = "paperwire-trending"


@dataclass
class Workload:
    tag: str
    papers: Path  # JSONL, every paper at version 1
    updates: Path  # JSONL, the revised papers (version 2)
    versions: dict[str, int]  # the oracle of the index: paper id -> version
    events: list[Engagement]
    batches: list[list[int]]  # indexes into events, one publish each (a paper's star snapshots share one)
    t_ingest: float  # the ingestor's fixed clock: every paper's ingested_at
    now: float  # when scores are compared
    # Events sent through the gateway's POST /v1/events (outside `batches`), in the oracle once acknowledged.
    via_gateway: list[Engagement] = field(default_factory=list)
    records: list[SourceRecord] = field(default_factory=list, repr=False)
    revised: list[SourceRecord] = field(default_factory=list, repr=False)

    def describe(self) -> str:
        return f"{len(self.versions)} papers ({len(self.revised)} revised), {len(self.events)} engagement events"

    def messages(self, batch: Sequence[int]) -> list[Message]:
        out = []
        for i in batch:
            e = self.events[i]
            out.append(encode(ENGAGEMENT, e, key=e.paper_id, event_id=e.id, source="faults", time=e.ts))
        return out


def corpus(n: int, seed: int) -> list[dict[str, str]]:
    """bench/synthetic.py's corpus, cached under the fault suite's home (100k papers take a while to generate)."""
    path = FAULTS_HOME / "corpus" / f"synthetic-{n}-{seed}.jsonl"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(p) + "\n" for p in generate(n, seed)))
        tmp.rename(path)
    return [json.loads(line) for line in path.read_text().splitlines()]


def _parse(path: Path) -> list[SourceRecord]:
    out = []
    for rec in FORMATS["jsonl"](path.read_bytes()):
        assert not isinstance(rec, Rejected), rec
        out.append(rec)
    return out


def make_workload(
    tmp: Path, tag: str, *, papers: int, revise_every: int, events: int, t0: float, seed: int = 7
) -> Workload:
    """`tag` keeps the titles (and so the ids) of one workload apart from another's in the same namespace."""
    rng = random.Random(f"{tag}-{seed}")
    papers_in = corpus(papers, seed)
    v1, v2 = tmp / f"{tag}-papers.jsonl", tmp / f"{tag}-updates.jsonl"
    with v1.open("w") as f1, v2.open("w") as f2:
        for i, p in enumerate(papers_in):
            p = {**p, "title": f"{p['title']} [{tag}]"}
            f1.write(json.dumps(p) + "\n")
            if i % revise_every == 0:
                f2.write(json.dumps({**p, "abstract": p["abstract"] + " Revised with new results."}) + "\n")
    records, revised = _parse(v1), _parse(v2)
    versions = {paper_key(r): 1 for r in records}
    assert len(versions) == papers, "synthetic titles must give distinct ids"
    versions.update({paper_key(r): 2 for r in revised})
    ids = list(versions)

    evs: list[Engagement] = []
    batches: list[list[int]] = []
    plain: list[int] = []
    stars_for = set(rng.sample(ids, max(1, len(ids) // 50)))
    for j in range(events):
        pid = ids[min(int(rng.paretovariate(1.2)) - 1, len(ids) - 1)] if rng.random() < 0.5 else rng.choice(ids)
        kind = rng.choices(["view", "upvote", "download", "mention", "comment"], [50, 20, 15, 8, 7])[0]
        ts = t0 + rng.uniform(0, 3000)
        evs.append(Engagement(id=f"{tag}-e{j}", paper_id=pid, type=kind, actor_id=f"{tag}-a{j}", ts=ts))
        plain.append(j)
    for n, pid in enumerate(sorted(stars_for)):
        batch, count = [], rng.randint(0, 50)
        for k in range(rng.randint(2, 5)):
            count += rng.randint(0, 40)
            ts = t0 + 600 * (k + 1)
            evs.append(Engagement(id=f"{tag}-s{n}-{k}", paper_id=pid, type="star", actor_id="gh", ts=ts, stars=count))
            batch.append(len(evs) - 1)
        batches.append(batch)
    rng.shuffle(plain)
    batches += [plain[i : i + 500] for i in range(0, len(plain), 500)]
    rng.shuffle(batches)
    return Workload(tag, v1, v2, versions, evs, batches, t0, t0 + 7200, records=records, revised=revised)


def enriched_events(w: Workload) -> list[PaperEnriched]:
    """What the enricher publishes for this workload (version 1 of every paper, then the revisions)."""
    out = []
    known: dict[str, tuple[int, str]] = {}
    for rec in [*w.records, *w.revised]:
        key = paper_key(rec)
        outcome, raw = to_raw(rec, existing=known.get(key), source="jsonl", now=w.t_ingest, key=key)
        assert outcome in ("new", "updated") and raw is not None and not isinstance(raw, str), (outcome, raw)
        known[key] = (raw.version, raw.content_hash)
        out.append(
            enrich(raw, keyphrases=NoKeyphrases(), n_keyphrases=8, embedding=None, embedding_model=None, now=w.t_ingest)
        )
    return out


async def expected_scores(workloads: Sequence[Workload], settings: TrendingSettings) -> EmbeddedTrendStore:
    """The fault-free replay: every workload's papers and events through the trending planner into the embedded
    store (one partition per stream, offsets in input order)."""
    store = EmbeddedTrendStore(settings.half_lives(), horizon_s=settings.dedupe_horizon_s)
    now = max(w.now for w in workloads)
    decoded: list[Decoded[PaperEnriched] | Decoded[Engagement]] = []
    for w in workloads:
        for i, pe in enumerate(enriched_events(w)):
            rec = Record(PAPERS_ENRICHED.name, pe.paper.paper_id, b"", (), 0, len(decoded))
            decoded.append(Decoded(rec, pe, f"{w.tag}-p{i}"))
    n = len(decoded)
    for w in workloads:
        ordered = [w.events[i] for batch in w.batches for i in batch] + w.via_gateway
        for ev in ordered:
            decoded.append(Decoded(Record(ENGAGEMENT.name, ev.paper_id, b"", (), 0, len(decoded) - n), ev, ev.id))
    for i in range(0, len(decoded), 2000):
        chunk = decoded[i : i + 2000]
        plan = plan_batch(chunk, settings, now)  # type: ignore[arg-type]
        assert not plan.failures, plan.failures[:3]
        offsets: dict[tuple[str, int], int] = {}
        for d in chunk:
            tp = (d.record.topic, d.record.partition)
            offsets[tp] = max(offsets.get(tp, 0), d.record.offset + 1)
        res = await store.apply(GROUP, offsets, plan.updates)
        assert not res.late
    return store
