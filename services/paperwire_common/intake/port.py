"""IntakeStore port. tests/contract/test_intake_store.py runs the same contract against every adapter.

Claims: `claim({key: value}, ttl)` stores each value unless a live one is there and returns the live value of
every key, so concurrent or repeated requests (on any replica) agree on the first one's value.

Star ledger: per paper, the highest star snapshot accepted and its time. A snapshot above it may gain at most
`rate_per_s` × the seconds since that time; the first snapshot of a paper is its baseline (trending counts
no gain for it). `check_stars` is atomic and all or nothing: it records every snapshot, or none when one is
refused, and says which and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple, Protocol


class StarSnapshot(NamedTuple):
    paper_id: str
    stars: int
    ts: float


class StarRefusal(NamedTuple):
    at: int  # index into the snapshots checked
    previous: int  # the highest snapshot before it
    previous_ts: float
    allowed: float  # the gain that was allowed


def star_refusal(
    ledger: dict[str, tuple[int, float]], i: int, s: StarSnapshot, rate_per_s: float
) -> StarRefusal | None:
    """The rule both adapters apply (Redis in Lua, the same arithmetic); updates `ledger` when accepted."""
    prev = ledger.get(s.paper_id)
    if prev is None:
        ledger[s.paper_id] = (s.stars, s.ts)
        return None
    gain = s.stars - prev[0]
    if gain <= 0:
        return None
    allowed = rate_per_s * max(0.0, s.ts - prev[1])
    if gain > allowed:
        return StarRefusal(i, prev[0], prev[1], allowed)
    ledger[s.paper_id] = (s.stars, s.ts)
    return None


class IntakeStore(Protocol):
    async def claim(self, entries: Mapping[str, str], ttl_s: float, now: float) -> dict[str, str]:
        """Set each key to its value unless it holds a live (not expired) one; return every key's live value."""
        ...

    async def check_stars(self, snapshots: Sequence[StarSnapshot], rate_per_s: float) -> list[StarRefusal]:
        """Check the snapshots in order against the ledger; record them all if none is refused."""
        ...
