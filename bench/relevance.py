"""Search relevance on the seed corpus: nDCG@10 and MRR per search mode x backend, from graded judgments.

    uv run python bench/relevance.py [--backend embedded|elasticsearch|both] [--modes keyword,semantic,hybrid]
                                     [--json out.json] [--per-query] [--calibrate]

The 247 seed papers go through the real pipeline (ingestor -> enricher with embeddings -> indexer) on the
embedded backend (in-process bus, SQLite FTS5 + numpy) and, with --backend elasticsearch|both, on Kafka +
Elasticsearch + Redis (needs `make infra-up`; a fresh namespace, its index deleted afterwards). Every query of
tests/relevance/judgments.json then runs in every mode through SearchService, the code behind /v1/search.

Scores (tests/relevance/evaluate.py): nDCG@10 with gains (2^rel - 1) / log2(rank + 1), the ideal DCG from the
judged grades; MRR = mean of 1 / rank of the first judged (grade >= 1) result in the top 10. Means are over
queries, overall and per kind (keyword / paraphrase / syntax / title). A query that errors scores 0 and is
counted in the notes column, so the table still prints while an adapter is mid-migration.

--calibrate also prints what sets the semantic relevance floor (PAPERWIRE_GATEWAY_SEMANTIC_FLOOR): the best
cosine each off-topic, nonsense and adjacent query of judgments.json reaches, the cosines of the papers judged
relevant (grade >= 2), and for a few candidate floors what each keeps and lets through.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CALIBRATE = False
sys.path.insert(0, str(ROOT))

from tests.relevance.evaluate import (
    MODES,
    Calibration,
    Query,
    Report,
    calibrate,
    check_indexed,
    evaluate,
    load_queries,
    per_query_table,
    seeded_search,
    table,
)

CALIBRATIONS: dict[str, Calibration] = {}


async def run_backend(
    label: str, backend: str, encoder: Any, queries: list[Query], modes: list[str], **settings: Any
) -> Report:
    namespace = f"relbench{uuid.uuid4().hex[:6]}-" if backend == "kafka" else ""
    try:
        return await _run(label, backend, namespace, encoder, queries, modes, **settings)
    finally:
        if namespace:  # the pipeline deletes its index; its topics are ours to delete
            await drop_topics(settings["kafka_bootstrap"], namespace)


async def drop_topics(bootstrap: str, namespace: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="relbench-admin")
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if t.startswith(namespace)]
        if topics:
            await admin.delete_topics(topics)
    finally:
        await admin.close()


async def _run(
    label: str, backend: str, namespace: str, encoder: Any, queries: list[Query], modes: list[str], **settings: Any
) -> Report:
    t0 = time.monotonic()
    async with seeded_search(backend, namespace, encoder, **settings) as svc:
        took = time.monotonic() - t0
        print(f"{label}: seed corpus indexed with embeddings in {took:.1f}s", file=sys.stderr)
        try:
            await check_indexed(svc.index, queries)
        except Exception as e:  # report, but still score: a missing vector shows up as low semantic nDCG
            print(f"{label}: WARNING: {e}", file=sys.stderr)
        t1 = time.monotonic()
        report = await evaluate(svc, queries, label=label, modes=modes, strict=False)
        print(f"{label}: {len(queries)} queries x {len(modes)} modes in {time.monotonic() - t1:.1f}s", file=sys.stderr)
        if CALIBRATE:
            CALIBRATIONS[label] = await calibrate(svc, queries)
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["embedded", "elasticsearch", "both"], default="embedded")
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated subset of keyword,semantic,hybrid")
    ap.add_argument("--json", type=Path, help="also write the per-query results and summaries here")
    ap.add_argument("--per-query", action="store_true", help="print nDCG@10 of every query too")
    ap.add_argument("--calibrate", action="store_true", help="print what sets the semantic relevance floor")
    a = ap.parse_args()
    global CALIBRATE
    CALIBRATE = a.calibrate
    modes = [m.strip() for m in a.modes.split(",") if m.strip()]
    if not set(modes) <= set(MODES):
        ap.error(f"--modes must be a subset of {','.join(MODES)}")

    from paperwire_common.logging import configure_logging
    from paperwire_enricher.service import load_encoder
    from paperwire_enricher.settings import EnricherSettings

    configure_logging("WARNING")
    # The enricher inside the pipeline loads its own copy; this one embeds the queries, as the gateway does (both
    # from the PAPERWIRE_ENRICHER_EMBEDDING_* settings, e.g. PAPERWIRE_ENRICHER_EMBEDDING_INT8_FFN=false).
    encoder = load_encoder(EnricherSettings(), True)
    if encoder is None:
        raise SystemExit("the embedding model stack is not installed")
    queries = load_queries()
    reports: list[Report] = []
    if a.backend in ("embedded", "both"):
        reports.append(asyncio.run(run_backend("embedded", "embedded", encoder, queries, modes)))
    if a.backend in ("elasticsearch", "both"):
        es = {
            "kafka_bootstrap": os.environ.get("PAPERWIRE_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
            "elasticsearch_url": os.environ.get("PAPERWIRE_ELASTICSEARCH_URL", "http://127.0.0.1:9200"),
            "redis_url": os.environ.get("PAPERWIRE_REDIS_URL", "redis://127.0.0.1:6379/0"),
        }
        reports.append(asyncio.run(run_backend("elasticsearch", "kafka", encoder, queries, modes, **es)))

    kinds = {k: sum(q.kind == k for q in queries) for k in ("keyword", "paraphrase", "syntax", "title")}
    print(
        f"\nrelevance on the seed corpus (247 papers): {len(queries)} judged queries "
        f"({kinds['keyword']} keyword, {kinds['paraphrase']} paraphrase, {kinds['syntax']} syntax, "
        f"{kinds['title']} title), nDCG@10 macro-averaged, MRR@10 over all queries, model {encoder.model_id}"
    )
    print(table(reports))
    if a.per_query:
        for rep in reports:
            print()
            print(per_query_table(rep, queries))
    for label, cal in CALIBRATIONS.items():
        print(f"\n{label}: the semantic relevance floor")
        print(cal.report([0.22, 0.25, cal.floor(), 0.30]))
    errors = [r for rep in reports for r in rep.results if r.error]
    if errors:
        print(f"\n{len(errors)} failed searches, e.g. {errors[0].mode} {errors[0].query_id}: {errors[0].error}")
    if a.json:
        a.json.write_text(json.dumps({"reports": [rep.to_json() for rep in reports]}, indent=2) + "\n")
        print(f"wrote {a.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
