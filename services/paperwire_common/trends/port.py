"""TrendStore port: time-decayed paper scores, written atomically together with the consumer's offsets.

Scores use the rebasing trick. For a window w with half-life H and a reference time T0 the store keeps, per
paper, S = Σ weight·2^((ts − T0)/H); the score at time t is S·2^(−(t − T0)/H). One window shares one T0, so
ranking by S is ranking by score at any t and reads need no recomputation. Before an exponent (ts − T0)/H
could exceed `max_exponent` the window is *rebased*: T0 moves forward to T0' and every S is multiplied by
2^(−(T0' − T0)/H).

Contract (tests/contract/test_trend_store.py runs it against every adapter):
- `apply` is atomic: contributions, dedupe state and the consumer's offsets are written all or nothing — a call
  that raises leaves no trace (no event id, watermark, star mark or offset of it is stored);
- an update outside the bounds below is refused (`ApplyResult.invalid`, with the reason) and leaves no trace, so
  no input can make a score infinite or NaN, nor make a batch fail;
- an update whose record offset is below the stored next offset of its partition is skipped (replay after a
  crash never double-counts), and the same event id counts once even at another offset;
- both adapters do the same float operations in the same order, so they agree to ~1 ulp (tests: 1e-9 rel).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple, Protocol

# Event types a breakdown reports; "prior" is the freshness prior of a newly seen paper.
ETYPES: tuple[str, ...] = ("view", "upvote", "download", "star", "mention", "comment", "prior")

# Rebase before any exponent exceeds this: S stays below Σ|weight|·2^512, far from float64's 2^1024.
MAX_EXPONENT = 512.0

# Separator inside composite fields/members (paper ids and actor ids never contain it).
SEP = "\x1f"

# Bounds of what the store accepts (`screen`). With them no arithmetic can overflow: a term's stored value is
# |weight|·gain·2^((ts − T0)/H) <= MAX_WEIGHT·MAX_STARS·2^MAX_EXPONENT ≈ 1.3e169 (T0 is rebased before an exponent
# passes MAX_EXPONENT), so a paper's S stays finite for any number of events below 1e139; its score at read time
# is at most Σ |weight|·gain over its events (≤ 1e15 each), decayed.
MAX_STARS = 1_000_000_000  # a star snapshot (the most-starred GitHub repositories have under a million)
MAX_WEIGHT = 1_000_000.0  # |weight| of one update (the trending weights are settings bounded by it)
MAX_TS = 2.0**36  # event times are epoch seconds in [0, MAX_TS] (2^36 s: beyond the year 4000)
MAX_VERSION = 2**53  # a paper revision (exact as a double, as the Redis script reads it)


class Kind(StrEnum):
    """How an update's contribution is deduplicated (all engagement kinds also dedupe by event id)."""

    ADD = "a"  # plain contribution (download, mention, comment)
    ONCE = "o"  # counts once per `key` while the key is retained (views: actor x paper x bucket)
    VOTE = "u"  # an actor's upvote: once per (paper, actor) until withdrawn
    UNVOTE = "x"  # withdraws exactly the contribution of that actor's upvote
    STAR = "s"  # star-count snapshot: weight x stars gained above the highest earlier snapshot
    PAPER = "p"  # a paper seen on papers.enriched: the freshness prior (once) and its topics
    TOPICS = "t"  # a topic assignment (papers.topics.v1): the paper's topics from now on, a later version wins


class ScoreUpdate(NamedTuple):
    """One record's contribution. A NamedTuple: the consumer builds tens of thousands per second."""

    kind: Kind
    etype: str  # one of ETYPES: where the contribution is reported in a breakdown
    paper_id: str
    ts: float  # event time (epoch s); for PAPER the paper's ingested_at
    weight: float
    topic: str  # source record: topic, partition, offset
    partition: int
    offset: int
    event_id: str
    key: str = ""  # ONCE: dedupe key; VOTE/UNVOTE: actor id
    until: float = 0.0  # ONCE: keep the dedupe key while until >= watermark − horizon
    stars: int = 0  # STAR: the snapshot
    topics: tuple[str, ...] = ()  # PAPER, TOPICS: sorted, distinct topic ids
    # PAPER: revision (an older one never overrides a newer one's topics); TOPICS: the assignment's version
    version: int = 0

    @property
    def tp(self) -> str:
        return f"{self.topic}:{self.partition}"


@dataclass(frozen=True)
class ApplyResult:
    applied: int  # updates that changed something (see TrendStore.apply)
    late: tuple[int, ...] = ()  # indexes of updates refused: older than the dedupe horizon of their partition
    invalid: tuple[tuple[int, str], ...] = ()  # (index, why) of updates refused: outside the store's bounds


def check_update(u: ScoreUpdate) -> str | None:
    """Why the store refuses `u` (a value outside its bounds), or None."""
    if not (isinstance(u.ts, int | float) and 0.0 <= u.ts <= MAX_TS):  # NaN fails every comparison
        return f"event time {u.ts!r} outside [0, {MAX_TS:.0f}]"
    if not (isinstance(u.weight, int | float) and -MAX_WEIGHT <= u.weight <= MAX_WEIGHT):
        return f"weight {u.weight!r} outside [-{MAX_WEIGHT:.0f}, {MAX_WEIGHT:.0f}]"
    if u.kind is Kind.ONCE and not (isinstance(u.until, int | float) and 0.0 <= u.until <= 2 * MAX_TS):
        return f"dedupe time {u.until!r} outside [0, {2 * MAX_TS:.0f}]"
    if u.kind is Kind.STAR and not (isinstance(u.stars, int) and 0 <= u.stars <= MAX_STARS):
        return f"star count {u.stars!r} outside [0, {MAX_STARS}]"
    if u.kind in (Kind.PAPER, Kind.TOPICS) and not (isinstance(u.version, int) and 0 <= u.version <= MAX_VERSION):
        what = "paper" if u.kind is Kind.PAPER else "assignment"
        return f"{what} version {u.version!r} outside [0, {MAX_VERSION}]"
    return None


def screen(updates: Sequence[ScoreUpdate]) -> tuple[Sequence[ScoreUpdate], list[int], list[tuple[int, str]]]:
    """(the updates within bounds, their indexes in `updates`, (index, why) of the others) — before a store
    looks at any of them, so an invalid update can't even move T0 or a watermark."""
    bad = [(i, why) for i, u in enumerate(updates) if (why := check_update(u)) is not None]
    if not bad:
        return updates, list(range(len(updates))), []
    refused = {i for i, _ in bad}
    keep = [i for i in range(len(updates)) if i not in refused]
    return [updates[i] for i in keep], keep, bad


@dataclass(frozen=True)
class TypeBreakdown:
    count: int  # events counted (upvotes net of unvotes; for stars: stars gained)
    score: float  # decayed contribution at `now`


class HalfLifeChanged(RuntimeError):
    """The stored scores were built with other half-lives: the store needs a rebuild (reset + replay)."""


class TrendStore(Protocol):
    @property
    def half_lives(self) -> Mapping[str, float]:
        """Window name -> half-life in seconds."""
        ...

    async def apply(
        self,
        consumer: str,
        partition_offsets: Mapping[tuple[str, int], int],
        updates: Sequence[ScoreUpdate],
    ) -> ApplyResult:
        """Atomically apply `updates` (in order) and store `partition_offsets` (next offset to read per
        (topic, partition), kept as a maximum) for `consumer`.

        Skipped, not counted: an offset below the stored next offset; an engagement event id already seen
        in its partition; a repeated view key, upvote, unvote without upvote, star snapshot without gain,
        a re-announced paper without topic change, a topic assignment no newer than the paper's last one.
        Refused and reported in `late`: an engagement event older than its partition's event-time watermark
        minus the dedupe horizon (it could not be deduped). Engagement for a paper not yet seen on
        papers.enriched is held: it accrues but is ranked only once the paper is announced. A paper's topics
        are those of its latest assignment once it has one (papers.topics.v1 is the word of the topic job; an
        assignment for a paper not announced yet waits for it), else its announced ones.
        """
        ...

    async def top(self, window: str, topic: str | None, size: int, now: float) -> list[tuple[str, float]]:
        """(paper_id, score at now), best first; ties by paper id descending (Redis ZREVRANGE order)."""
        ...

    async def scores(self, paper_id: str, now: float) -> dict[str, float]:
        """Score at now per window; {} for a paper not (yet) ranked."""
        ...

    async def breakdown(self, paper_id: str, now: float) -> dict[str, dict[str, TypeBreakdown]]:
        """Per window, per event type: count and decayed contribution (pending papers included)."""
        ...

    async def offsets(self, consumer: str) -> dict[tuple[str, int], int]: ...

    async def reset(self) -> None:
        """Forget everything (before a rebuild from the topics' beginnings)."""
        ...

    async def close(self) -> None:
        """Write what must outlive the process (the embedded store's snapshot); the store is not used after."""
        ...


def decay_factor(now: float, t0: float, half_life: float) -> float:
    """2^(−(now − T0)/H): turns a stored S into the score at `now` (shared by both adapters' reads)."""
    return 2.0 ** (-(now - t0) / half_life)


def split_tp(tp: str) -> tuple[str, int]:
    topic, _, part = tp.rpartition(":")
    return topic, int(part)
