"""Process-level tuning every long-running service applies once it has started."""

from __future__ import annotations

import gc

# Young-generation threshold: CPython's default (700 allocations) runs the collector every few records of a
# batch, and each run rescans every survivor of the batch so far. 10,000 keeps it to a few runs per batch.
GC_GEN0_THRESHOLD = 10_000


def settle_heap() -> None:
    """Call after start-up (imports, model load, clients built): the start-up heap — modules, pydantic schemas,
    the tokenizer — is frozen out of the collector's view, so later full collections scan only what the
    service allocates while it runs. On the trending benchmark this is worth ~10% of events/s."""
    gc.collect()
    gc.freeze()
    _, g1, g2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, g1, g2)
