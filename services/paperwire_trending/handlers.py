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

from paperwire_common.envelope import Decoded
from paperwire_common.events import Engagement, PaperEnriched
from paperwire_common.trends.port import Kind, ScoreUpdate
from pydantic import BaseModel

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
    if ts > now + s.max_future_s:
        return f"{what} {ts:.3f} is {ts - now:.0f}s ahead of the clock (max {s.max_future_s:.0f}s)"
    return None


def _update(
    kind: Kind,
    etype: str,
    weight: float,
    d: Decoded[BaseModel],
    e: Engagement,
    *,
    key: str = "",
    until: float = 0.0,
    stars: int = 0,
) -> ScoreUpdate:
    r = d.record
    return ScoreUpdate(
        kind,
        etype,
        e.paper_id,
        e.ts,
        weight,
        r.topic,
        r.partition,
        r.offset,
        e.id,
        key=key,
        until=until,
        stars=stars,
    )


def engagement_update(d: Decoded[BaseModel], e: Engagement, s: TrendingSettings) -> ScoreUpdate | str:
    """The update for one engagement event, or why it is refused."""
    if any(c in e.paper_id or c in e.actor_id for c in _RESERVED):
        return "paper_id or actor_id contains a reserved control character"
    if e.type == "view":
        b = view_bucket(e.ts, s.view_bucket_s)
        return _update(
            Kind.ONCE,
            "view",
            s.weight_view,
            d,
            e,
            key=f"{e.paper_id}\x1f{e.actor_id}\x1f{b}",
            until=(b + 1) * s.view_bucket_s,
        )
    if e.type == "upvote":
        return _update(Kind.VOTE, "upvote", s.weight_upvote, d, e, key=e.actor_id)
    if e.type == "unvote":  # withdraws the standing upvote's own term: no weight of its own
        return _update(Kind.UNVOTE, "upvote", 0.0, d, e, key=e.actor_id)
    if e.type == "star":
        if e.stars is None:
            return "star event without a stars snapshot"
        return _update(Kind.STAR, "star", s.weight_star, d, e, stars=e.stars)
    assert e.type in _ADDITIVE, e.type
    return _update(Kind.ADD, e.type, s.weight(e.type), d, e)


def paper_update(d: Decoded[BaseModel], e: PaperEnriched, s: TrendingSettings) -> ScoreUpdate | str:
    p = e.paper
    if any(c in p.paper_id for c in _RESERVED):
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


@dataclass
class Plan:
    updates: list[ScoreUpdate] = field(default_factory=list)
    sources: list[Decoded[BaseModel]] = field(default_factory=list)  # sources[i] produced updates[i]
    failures: list[tuple[Decoded[BaseModel], str]] = field(default_factory=list)


def plan_batch(batch: Iterable[Decoded[BaseModel]], s: TrendingSettings, now: float) -> Plan:
    """Updates for a batch in record order; refused events (future or non-finite time, ...) as failures."""
    plan = Plan()
    for d in batch:
        ev = d.event
        if isinstance(ev, Engagement):
            why = check_time(ev.ts, now, s, "ts")
            out: ScoreUpdate | str = why if why else engagement_update(d, ev, s)
        elif isinstance(ev, PaperEnriched):
            why = check_time(ev.paper.ingested_at, now, s, "paper.ingested_at")
            out = why if why else paper_update(d, ev, s)
        else:  # the loop only subscribes to the two topics above
            out = f"unexpected event {type(ev).__name__}"
        if isinstance(out, str):
            plan.failures.append((d, out))
        else:
            plan.updates.append(out)
            plan.sources.append(d)
    return plan
