"""`paperwire run all` (what `make run` starts): the whole pipeline in one process on the embedded backends,
the sample corpus ingested, the gateway answering REST and gRPC, and a clean stop on Ctrl-C."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import time

import grpc
import httpx
import pytest

from tests.conftest import ROOT, free_port
from tests.tools import need_tool


def test_run_all_serves_the_sample_corpus() -> None:
    port, grpc_port = free_port(), free_port()
    env = {
        **os.environ,
        "PAPERWIRE_BACKEND": "embedded",
        "PAPERWIRE_GATEWAY_PORT": str(port),
        "PAPERWIRE_GATEWAY_GRPC_PORT": str(grpc_port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperwire_cli.main", "run", "all"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        ready = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    ready = True
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert ready, "gateway never became ready"
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        assert "paperwire_events_processed_total" in httpx.get(f"{base}/metrics").text

        body = httpx.get(f"{base}/v1/search", params={"q": "time series", "mode": "keyword"}).json()
        assert body["total"] >= 10
        top = [i["title"].lower() for i in body["items"][:5]]
        assert all("time" in t and "series" in t for t in top), top

        paper = httpx.get(f"{base}/v1/papers/{body['items'][0]['id']}").json()
        assert paper["title"] == body["items"][0]["title"]
        missing = httpx.get(f"{base}/v1/papers/nope")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        bad = httpx.get(f"{base}/v1/search", params={"q": '"unbalanced'})
        assert bad.status_code == 400 and "quote" in bad.json()["detail"]
        home = httpx.get(base).text
        assert "<h1>Trending papers</h1>" in home and home.count('<li class="paper">') >= 10, home[:2000]
        check_topics_on_papers(base)

        from paperwire.v1 import papers_pb2, papers_pb2_grpc

        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as ch:
            stub = papers_pb2_grpc.PapersStub(ch)
            res = stub.Search(papers_pb2.SearchRequest(q="time series", size=3, mode="keyword"), timeout=10)
            assert res.total == body["total"] and len(res.items) == 3 and res.mode == "keyword"
            assert res.total_relation == body["total_relation"] == "eq"
            assert res.items[0].paper.id == body["items"][0]["id"]
            hybrid = stub.Search(papers_pb2.SearchRequest(q="predicting future values of sequences"), timeout=30)
            assert hybrid.mode == "hybrid" and hybrid.next_cursor
            with pytest.raises(grpc.RpcError) as err:
                stub.Search(papers_pb2.SearchRequest(q='"open'), timeout=10)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            from grpc_health.v1 import health_pb2, health_pb2_grpc

            health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert health.status == health_pb2.HealthCheckResponse.SERVING, "ready: SERVING"
        listed = subprocess.run(
            [need_tool("grpcurl"), "-plaintext", f"127.0.0.1:{grpc_port}", "list"], capture_output=True, timeout=30
        )
        assert {"paperwire.v1.Papers", "grpc.health.v1.Health"} <= set(listed.stdout.decode().split())

        today = datetime.datetime.now(datetime.UTC).date().isoformat()
        daily = httpx.get(f"{base}/api/daily_papers", params={"date": today}).json()
        assert len(daily) == 50 and daily[0]["paper"]["submittedOnDailyAt"].startswith(today), "arrived today"
        atom = httpx.get(f"{base}/v1/feeds/latest.atom")
        assert atom.status_code == 200 and atom.headers["content-type"].startswith("application/atom+xml")
        assert f"http://127.0.0.1:{port}/papers/" in atom.text, "links default to the gateway's own address"
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(30)
    assert code == 0, (proc.stderr.read() if proc.stderr else b"").decode()[-3000:]


def check_topics_on_papers(base: str) -> None:
    """The first re-clustering ran before ready: the papers of each topic carry it, and the topic filter,
    facet, trending feed and suggestions know the topics."""
    topics = httpx.get(f"{base}/v1/topics", params={"size": 100}).json()
    assert topics, "no topics after the startup ingest"
    members: dict[str, set[str]] = {}
    for t in topics:
        got = httpx.get(f"{base}/v1/topics/{t['id']}", params={"papers": 1000}).json()
        members[t["id"]] = {p["id"] for p in got["papers"]}
    carried = total = 0
    for tid, ids in members.items():
        for pid in ids:
            total += 1
            carried += tid in httpx.get(f"{base}/v1/papers/{pid}").json().get("topics", [])
    assert total and carried / total >= 0.8, f"{carried} of {total} papers in a topic carry it"
    big = max(topics, key=lambda t: t["size"])
    found = httpx.get(f"{base}/v1/search", params={"topic": big["id"], "size": 100, "facets": "topics"}).json()
    assert {i["id"] for i in found["items"]} == members[big["id"]] and found["total"] == len(members[big["id"]])
    assert {"value": big["id"], "count": len(members[big["id"]])} in found["facets"]["topics"]
    feed = httpx.get(f"{base}/v1/feeds/trending", params={"topic": big["id"], "size": 100}).json()
    assert feed["items"] and {i["id"] for i in feed["items"]} <= members[big["id"]]
    word = big["label"].split()[0][:4]
    kinds = {
        (s["kind"], s["text"]) for s in httpx.get(f"{base}/v1/suggest", params={"prefix": word}).json()["suggestions"]
    }
    assert ("topic", big["label"]) in kinds, (word, kinds)
