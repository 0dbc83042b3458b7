"""Pure scoring: events -> ScoreUpdates (what the TrendStore applies), plus the naive reference formula.

    score_w(p, t) = Σ_e weight(type_e) · 2^(−(t − ts_e)/H_w)  +  prior_weight · 2^(−(t − ingested_at_p)/H_w)

Per type: view, download, mention, comment add their weight; upvote adds weight_upvote once per (actor, paper)
and unvote removes exactly that upvote's term; a star snapshot adds weight_star × (stars − highest earlier
snapshot) when positive (the first snapshot is the baseline). A view counts once per actor per paper per
`view_bucket_s` bucket (UTC-aligned, the same bucket for every window). The store keeps these sums rebased
(see paperwire_common.trends.port); `naive_score` is the direct formula the tests hold it to.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel

from paperwire_common.envelope import Decoded
from paperwire_common.events import Engagement, PaperEnriched, PaperTopics
from paperwire_common.trends.port import MAX_STARS, MAX_TS, Kind, ScoreUpdate

from .settings import TrendingSettings

# ids end up inside composite Redis fields joined with these separators
_RESERVED = ("\x1e", "\x1f")
_ADDITIVE = {"download", "mention", "comment"}


def decayed(weight: float, ts: float, now: float, half_life: float) -> float:
    """One term of the naive formula: weight · 2^(−(now − ts)/H)."""
    return weight * 2.0 ** (-(now - ts) / half_life)


def naive_score(terms: Iterable[tuple[float, float]], now: float, half_life: float) -> float:
    """Σ weight · 2^(−(now − ts)/H) over (weight, ts) terms — the reference the rebased store must match."""
    return math.fsum(decayed(w, ts, now, half_life) for w, ts in terms)


def view_bucket(ts: float, bucket_s: float) -> int:
    return math.floor(ts / bucket_s)


def check_time(ts: float, now: float, s: TrendingSettings, what: str) -> str | None:
    if not math.isfinite(ts):
        return f"{what} is not a finite number"
    if not 0 <= ts <= MAX_TS:
        return f"{what} {ts!r} is outside [0, {MAX_TS:.0f}] (epoch seconds)"
    if ts > now + s.max_future_s:
        return f"{what} {ts:.3f} is {ts - now:.0f}s ahead of the clock (max {s.max_future_s:.0f}s)"
    return None


def engagement_update(d: Decoded[BaseModel], e: Engagement, s: TrendingSettings) -> ScoreUpdate | str:
    """The update for one engagement event, or why it is refused (the consumer's per-event hot path)."""
    pid, actor = e.paper_id, e.actor_id
    if "\x1e" in pid or "\x1f" in pid or "\x1e" in actor or "\x1f" in actor:
        return "paper_id or actor_id contains a reserved control character"
    r, t = d.record, e.type
    if t == "view":
        b = view_bucket(e.ts, s.view_bucket_s)
        key = f"{pid}\x1f{actor}\x1f{b}"
        return ScoreUpdate(
            Kind.ONCE,
            "view",
            pid,
            e.ts,
            s.weight_view,
            r.topic,
            r.partition,
            r.offset,
            e.id,
            key,
            (b + 1) * s.view_bucket_s,
        )
    if t == "upvote":
        return ScoreUpdate(Kind.VOTE, "upvote", pid, e.ts, s.weight_upvote, r.topic, r.partition, r.offset, e.id, actor)
    if t == "unvote":  # withdraws the standing upvote's own term: no weight of its own
        return ScoreUpdate(Kind.UNVOTE, "upvote", pid, e.ts, 0.0, r.topic, r.partition, r.offset, e.id, actor)
    if t == "star":
        if e.stars is None:
            return "star event without a stars snapshot"
        if e.stars > MAX_STARS:  # the schema only says >= 0; 10**309 would not even convert to a float
            return f"star snapshot of {len(str(e.stars))} digits is above the maximum {MAX_STARS}"
        return ScoreUpdate(
            Kind.STAR, "star", pid, e.ts, s.weight_star, r.topic, r.partition, r.offset, e.id, stars=e.stars
        )
    assert t in _ADDITIVE, t
    return ScoreUpdate(Kind.ADD, t, pid, e.ts, s.weight(t), r.topic, r.partition, r.offset, e.id)


def paper_update(d: Decoded[BaseModel], e: PaperEnriched, s: TrendingSettings) -> ScoreUpdate | str:
    p = e.paper
    if "\x1e" in p.paper_id or "\x1f" in p.paper_id:
        return "paper_id contains a reserved control character"
    # Sorted and distinct, so the store compares topic sets as strings; ids with separators can't be stored.
    topics = tuple(sorted({t for t in e.topics if t and not any(c in t for c in _RESERVED)}))
    r = d.record
    return ScoreUpdate(
        Kind.PAPER,
        "prior",
        p.paper_id,
        p.ingested_at,
        s.prior_weight,
        r.topic,
        r.partition,
        r.offset,
        d.event_id,
        topics=topics,
        version=p.version,
    )


def topics_update(d: Decoded[BaseModel], e: PaperTopics) -> ScoreUpdate | str:
    """A topic assignment: the paper's topics in the per-topic rankings from now on (the latest version wins)."""
    if "\x1e" in e.paper_id or "\x1f" in e.paper_id:
        return "paper_id contains a reserved control character"
    topics = tuple(sorted({t for t in e.topics if t and not any(c in t for c in _RESERVED)}))
    r = d.record
    return ScoreUpdate(
        Kind.TOPICS,
        "prior",
        e.paper_id,
        e.assigned_at,
        0.0,
        r.topic,
        r.partition,
        r.offset,
        d.event_id,
        topics=topics,
        version=e.version,
    )


@dataclass
class Plan:
    updates: list[ScoreUpdate] = field(default_factory=list)
    sources: list[Decoded[BaseModel]] = field(default_factory=list)  # sources[i] produced updates[i]
    failures: list[tuple[Decoded[BaseModel], str]] = field(default_factory=list)


def plan_batch(batch: Iterable[Decoded[BaseModel]], s: TrendingSettings, now: float) -> Plan:
    """Updates for a batch in record order; refused events (future, non-finite or out-of-range time, a star count
    above the maximum, ...) as failures."""
    plan = Plan()
    for d in batch:
        ev = d.event
        if isinstance(ev, Engagement):
            why = check_time(ev.ts, now, s, "ts")
            out: ScoreUpdate | str = why if why else engagement_update(d, ev, s)
        elif isinstance(ev, PaperEnriched):
            why = check_time(ev.paper.ingested_at, now, s, "paper.ingested_at")
            out = why if why else paper_update(d, ev, s)
        elif isinstance(ev, PaperTopics):
            why = check_time(ev.assigned_at, now, s, "assigned_at")
            out = why if why else topics_update(d, ev)
        else:  # the loop only subscribes to the three streams above
            out = f"unexpected event {type(ev).__name__}"
        if isinstance(out, str):
            plan.failures.append((d, out))
        else:
            plan.updates.append(out)
            plan.sources.append(d)
    return plan
