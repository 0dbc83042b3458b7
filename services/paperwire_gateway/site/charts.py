"""Small charts drawn on the server as inline SVG: a topic's arrivals per window and a paper's score parts per
window. Colours come from classes in the stylesheet (the CSP allows no inline style); every text is escaped and
each chart says what it shows in its accessible name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape

from .markup import count_words, score

ETYPE_ORDER = ("upvote", "star", "view", "download", "mention", "comment", "prior")


def arrivals(counts: Sequence[int], *, width: int = 120, height: int = 32, label: str = "") -> Markup:
    """Bars of arrivals per window, oldest first; the last (the recent window) stands out."""
    n = len(counts)
    if n == 0:
        return Markup("")
    top = max(max(counts), 1)
    gap = 2
    bar = max((width - gap * (n - 1)) / n, 1.0)
    shapes = []
    for i, c in enumerate(counts):
        h = max(round(c / top * (height - 2), 1), 1.0 if c else 0.5)
        x = round(i * (bar + gap), 1)
        cls = "bar recent" if i == n - 1 else "bar"
        shapes.append(f'<rect class="{cls}" x="{x}" y="{round(height - h, 1)}" width="{round(bar, 1)}" height="{h}"/>')
    name = f"{label}arrivals per window, oldest first: {', '.join(str(c) for c in counts)} (the last is the latest)"
    return Markup(
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(name)}"><title>{escape(name)}</title>{"".join(shapes)}</svg>'
    )


def score_parts(windows: Mapping[str, Mapping[str, Any]], *, width: int = 560) -> Markup:
    """One stacked bar per window (24h, 7d, 30d), each part an event type's share of the score, the bars scaled
    to the largest window's score so that windows compare."""
    rows = [(w, v) for w, v in windows.items()]
    if not rows:
        return Markup("")
    label_w, row_h, bar_h = 52, 26, 16
    top = max((float(v.get("score") or 0.0) for _, v in rows), default=0.0) or 1.0
    avail = width - label_w - 70
    shapes, said = [], []
    for r, (w, v) in enumerate(rows):
        y = r * row_h + 4
        shapes.append(f'<text class="lbl" x="0" y="{y + bar_h - 3}">{escape(w)}</text>')
        x = float(label_w)
        parts = v.get("breakdown") or {}
        words = []
        for etype in sorted(parts, key=lambda t: ETYPE_ORDER.index(t) if t in ETYPE_ORDER else 99):
            s = float(parts[etype].get("score") or 0.0)
            if s <= 0:
                continue
            seg = s / top * avail
            shapes.append(
                f'<rect class="part {escape(etype)}" x="{round(x, 1)}" y="{y}" width="{max(round(seg, 1), 0.5)}" '
                f'height="{bar_h}"/>'
            )
            x += seg
            words.append(f"{count_words(etype, int(parts[etype].get('count') or 0))} {score(s)}")
        shapes.append(f'<text class="val" x="{round(x + 6, 1)}" y="{y + bar_h - 3}">{score(v.get("score"))}</text>')
        said.append(f"{w}: score {score(v.get('score'))}" + (f" ({'; '.join(words)})" if words else ""))
    height = len(rows) * row_h + 4
    name = "Trending score per window, by what it is made of. " + ". ".join(said)
    return Markup(
        f'<svg class="parts" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(name)}">'
        f"<title>{escape(name)}</title>{''.join(shapes)}</svg>"
    )
