"""`make run` keeps what it accepted across a Ctrl-C: `paperwire run all` on a data dir, engagement posted, Ctrl-C,
a second start — the same trending feeds (order and scores), explanations and topics; an upvote after the restart
moves its paper (issue 14: the trend store used to come back empty, and an upvote counted with score 0.0)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from .running import RunAll, assert_decayed_alike, epoch

pytestmark = pytest.mark.slow
WINDOWS = {"24h": 86_400.0, "7d": 604_800.0, "30d": 2_592_000.0}


def engagement(ids: list[str]) -> list[dict[str, Any]]:
    now = time.time()
    out: list[dict[str, Any]] = []
    for k, pid in enumerate(ids):  # k upvotes, views and a star gain of 10·k for the k-th paper
        out += [{"paper_id": pid, "type": "upvote", "actor_id": f"u{a}", "ts": now - a} for a in range(k)]
        out += [{"paper_id": pid, "type": "view", "actor_id": f"v{a}"} for a in range(k)]
        out += [
            {"paper_id": pid, "type": "star", "actor_id": "github", "stars": 100, "ts": now - 60},
            {"paper_id": pid, "type": "star", "actor_id": "github", "stars": 100 + 10 * k, "ts": now - 30},
        ]
    return out


def state(run: RunAll, papers: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {w: run.get("/v1/feeds/trending", window=w, size=100) for w in WINDOWS}
    out["explain"] = {p: run.get(f"/v1/papers/{p}/trending") for p in papers}
    out["topics"] = run.get("/v1/topics", size=100)
    out["topic"] = {t["id"]: run.get(f"/v1/topics/{t['id']}", papers=1000) for t in out["topics"]}
    return out


def assert_same_state(a: dict[str, Any], b: dict[str, Any]) -> None:
    for w, h in WINDOWS.items():
        fa, fb = a[w]["items"], b[w]["items"]
        assert [i["id"] for i in fa] == [i["id"] for i in fb], f"{w}: another order after the restart"
        dt = epoch(b[w]["as_of"]) - epoch(a[w]["as_of"])
        assert_decayed_alike([i["score"] for i in fa], [i["score"] for i in fb], h, dt)
    for p, ea in a["explain"].items():
        eb = b["explain"][p]
        dt = epoch(eb["as_of"]) - epoch(ea["as_of"])
        for w, h in WINDOWS.items():
            ba, bb = ea["windows"][w]["breakdown"], eb["windows"][w]["breakdown"]
            assert {t: x["count"] for t, x in ba.items()} == {t: x["count"] for t, x in bb.items()}, (p, w)
            types = sorted(ba)
            assert_decayed_alike(
                [ea["windows"][w]["score"], *(ba[t]["score"] for t in types)],
                [eb["windows"][w]["score"], *(bb[t]["score"] for t in types)],
                h,
                dt,
            )
    assert a["topics"] == b["topics"] and a["topic"] == b["topic"]


def test_ctrl_c_then_restart_serves_the_same_trending_and_topics(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # The topic job runs right away and every few seconds on the first start, not at all on the second: what the
    # second serves is what the first stored.
    first = RunAll(
        data,
        PAPERWIRE_TRENDING_TOPICS_INITIAL_DELAY_S="0",
        PAPERWIRE_TRENDING_TOPICS_INTERVAL_S="3",
        PAPERWIRE_GATEWAY_MAX_STAR_GAIN_PER_HOUR="1000000",  # the engagement jumps stars 10 at a time
    )
    try:
        first.wait_ready()
        latest = [i["id"] for i in first.get("/v1/feeds/latest", size=12)["items"]]
        papers = latest[2:12]  # ten papers: k upvotes, views and star gains for the k-th
        r = first.post_events(engagement(papers))
        assert r.status_code == 202, r.text
        last = papers[-1]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # scored, and topics found over the whole corpus
            bd = first.get(f"/v1/papers/{last}/trending")["windows"]["24h"]["breakdown"]
            topics = first.get("/v1/topics", size=100)
            if bd.get("upvote", {}).get("count") == 9 and topics and sum(t["size"] for t in topics) > 50:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"engagement or topics never showed:\n{first.tail()}")
        time.sleep(4)  # one more re-clustering pass at most, then the state is still
        before = state(first, [*papers, latest[0], latest[1]])
        assert before["24h"]["items"][0]["id"] == last
        assert first.ctrl_c() == 0, first.tail()
    finally:
        if first.proc.poll() is None:
            first.kill_9()
    assert {"bus.sqlite", "index.sqlite", "registry.sqlite", "trends.sqlite", "topics.sqlite"} <= {
        p.name for p in data.iterdir()
    }

    second = RunAll(data, PAPERWIRE_TRENDING_TOPICS_INITIAL_DELAY_S="3600")
    try:
        took = second.wait_ready()
        assert took < 60, f"the second start took {took:.1f}s"
        after = state(second, [*papers, latest[0], latest[1]])
        assert_same_state(before, after)

        # an upvote after the restart moves its paper (its record is known: no longer a 0.0 contribution)
        feed = [i["id"] for i in after["24h"]["items"]]
        target = feed[-1]  # a paper with only its freshness prior
        was = second.get(f"/v1/papers/{target}/trending")["windows"]["24h"]["breakdown"]
        assert "upvote" not in was
        r = second.post_events([{"paper_id": target, "type": "upvote", "actor_id": "after-restart"}])
        assert r.status_code == 202
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            moved = [i["id"] for i in second.get("/v1/feeds/trending", window="24h", size=100)["items"]]
            if target in moved[: len(feed) - 1]:
                break
            time.sleep(0.3)
        else:
            raise AssertionError("the upvote posted after the restart did not move its paper")
        assert moved.index(target) <= 12, "above every paper that has only its prior"
        up = second.get(f"/v1/papers/{target}/trending")["windows"]["24h"]["breakdown"]["upvote"]
        assert up["count"] == 1 and 4.99 < up["score"] <= 5.0  # its weight, barely decayed
        assert second.ctrl_c() == 0, second.tail()
    finally:
        if second.proc.poll() is None:
            second.kill_9()
