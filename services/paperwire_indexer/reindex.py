"""`paperwire search reindex`: build a new index version from papers.enriched.v1 and switch the alias to it
with no downtime.

1. create papers-v(N+1) with the current mapping, next to the live papers-vN;
2. replay papers.enriched.v1 and papers.topics.v1 from the beginning into it with a fresh consumer group
   (external versions and versioned assignments make the result equal to the live index);
3. switch the alias atomically (one _aliases request: remove + add);
4. drain once more, so events the live indexer wrote to the old index between 2 and 3 are in the new one.
The old index is kept unless --delete-old; searches never see a missing or half-built index.
"""

from __future__ import annotations

import dataclasses
import re
import time
from typing import Any

from paperwire_common.backends import Backends
from paperwire_common.logging import get_logger
from paperwire_common.search.elastic import ElasticIndex
from paperwire_common.search.mapping import MAPPINGS, SETTINGS
from paperwire_common.streams import PAPER_TOPICS, PAPERS_ENRICHED

from .service import Indexer
from .settings import IndexerSettings

log = get_logger(__name__)


async def current_target(es: Any, alias: str) -> tuple[str, int]:
    got = await es.indices.get_alias(name=alias)
    names = sorted(got.keys())
    if len(names) != 1:
        raise RuntimeError(f"alias {alias} points at {names}; expected exactly one index")
    m = re.search(r"-v(\d+)$", names[0])
    return names[0], int(m.group(1)) if m else 0


async def _drain(b: Backends, indexer: Indexer) -> int:
    until = {
        (spec.name, p): end
        for spec in (PAPERS_ENRICHED, PAPER_TOPICS)
        for p, end in (await b.bus.end_offsets(spec.name)).items()
    }
    return await indexer.loop().drain(until)


async def reindex(b: Backends, *, delete_old: bool = False) -> dict[str, Any]:
    if not isinstance(b.index, ElasticIndex):
        raise RuntimeError("reindex needs the Elasticsearch backend (PAPERWIRE_BACKEND=kafka)")
    live = b.index
    old, version = await current_target(live.es, live.alias)
    new = f"{live.alias}-v{version + 1}"
    t0 = time.monotonic()
    await live.es.indices.create(index=new, settings=SETTINGS, mappings=MAPPINGS)
    # Writes go to the concrete index, not the alias; topic assignments stay in the live index's companion.
    target = ElasticIndex(live.url, new, topics_index=live.assignments.name)
    group = f"paperwire-reindex-{new}-{int(time.time())}"
    building = dataclasses.replace(b, index=target)  # the same stores, writing to the new index
    indexer = Indexer(building, IndexerSettings(group=group))
    try:
        replayed = await _drain(b, indexer)
        await live.es.indices.update_aliases(
            actions=[{"remove": {"index": old, "alias": live.alias}}, {"add": {"index": new, "alias": live.alias}}]
        )
        replayed += await _drain(b, indexer)
        await target.refresh()
        count = await target.count()
    finally:
        await target.stop()
    if delete_old:
        await live.es.indices.delete(index=old)
    out = {"old": old, "new": new, "documents": count, "replayed": replayed, "seconds": round(time.monotonic() - t0, 1)}
    log.info("reindex.done", **out)
    return out
