"""grpcurl, a third-party client that knows nothing of our .proto files, drives the gRPC API through server
reflection: it lists the services, checks health, calls Search, and follows WatchTopicEvents, resuming from a
position (embedded backends, the server in this process; grpcurl from deploy/local/tools.sh)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from paperwire_gateway.app import create_app
from tests.conftest import SAMPLE
from tests.tools import need_tool

from .pipeline import pipeline
from .test_grpc import grpc_server, publish_event

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served() -> AsyncIterator[tuple[str, Any]]:
    async with pipeline("embedded", workers=("enricher", "indexer")) as p:
        await p.ingest(str(SAMPLE))
        await p.settle()
        async with grpc_server(create_app(p.backends).state.ctx) as target:
            yield target, p.backends.bus


async def grpcurl(*args: str, timeout_s: float = 30) -> tuple[int, str, str]:
    # A subprocess the event loop waits on: the server under test runs in this very loop.
    proc = await asyncio.create_subprocess_exec(
        need_tool("grpcurl"), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    return proc.returncode or 0, out.decode(), err.decode()


def json_objects(text: str) -> list[dict[str, Any]]:
    """The complete JSON messages grpcurl printed so far, one after another (each spans lines)."""
    dec, out, i = json.JSONDecoder(), [], 0
    while (i := text.find("{", i)) != -1:
        try:
            obj, end = dec.raw_decode(text, i)
        except json.JSONDecodeError:  # the next message is still arriving
            break
        out.append(obj)
        i = end
    return out


async def test_reflection_lists_and_describes_the_services(served: tuple[str, Any]) -> None:
    target, _ = served
    code, out, err = await grpcurl("-plaintext", target, "list")
    assert code == 0, err
    assert {"paperwire.v1.Papers", "grpc.health.v1.Health"} <= set(out.split())
    code, out, _ = await grpcurl("-plaintext", target, "list", "paperwire.v1.Papers")
    methods = {m.rsplit(".", 1)[1] for m in out.split()}
    assert methods == {
        "Search",
        "GetPaper",
        "Similar",
        "Trending",
        "Latest",
        "ListTopics",
        "GetTopic",
        "WatchTopicEvents",
    }
    code, out, _ = await grpcurl("-plaintext", target, "describe", "paperwire.v1.TopicEvent")
    assert code == 0 and "int64 position = 1;" in out


async def test_health_search_and_errors(served: tuple[str, Any]) -> None:
    target, _ = served
    code, out, err = await grpcurl("-plaintext", target, "grpc.health.v1.Health/Check")
    assert code == 0 and json.loads(out) == {"status": "SERVING"}, err
    body = json.dumps({"q": "language models", "mode": "keyword", "size": 2})
    code, out, err = await grpcurl("-plaintext", "-d", body, target, "paperwire.v1.Papers/Search")
    page = json.loads(out)
    assert code == 0 and len(page["items"]) == 2 and page["mode"] == "keyword" and int(page["total"]) >= 2, err
    code, out, err = await grpcurl("-plaintext", "-d", '{"id": "nope"}', target, "paperwire.v1.Papers/GetPaper")
    assert code != 0 and "Code: NotFound" in err and "no paper with id 'nope'" in err
    code, _, err = await grpcurl(
        "-plaintext", "-d", '{"q": "x", "mode": "fuzzy"}', target, "paperwire.v1.Papers/Search"
    )
    assert "Code: InvalidArgument" in err and "Traceback" not in err and "class" not in err


async def test_watch_delivers_a_topic_created_raised_while_open_and_resumes(served: tuple[str, Any]) -> None:
    target, bus = served
    proc = await asyncio.create_subprocess_exec(
        need_tool("grpcurl"),
        "-plaintext",
        "-v",
        "-emit-defaults",  # position 0 is proto3's default: without it, left out
        "-d",
        "{}",
        target,
        "paperwire.v1.Papers/WatchTopicEvents",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    seen = ""
    try:
        async with asyncio.timeout(30):
            while "paperwire-position" not in seen:  # the stream is open (its response headers arrived)
                seen += (await proc.stdout.readline()).decode()
            start = int(re.search(r"paperwire-position: (-?\d+)", seen).group(1))  # type: ignore[union-attr]
            ev = await publish_event(bus, "topic.created", "tp-grpcurl")
            while not json_objects(seen[seen.find("Response contents") :] if "Response contents" in seen else ""):
                seen += (await proc.stdout.readline()).decode()
    finally:
        proc.terminate()
        await proc.wait()
    got = json_objects(seen[seen.find("Response contents") :])[0]
    assert got["kind"] == "topic.created" and got["topic_id"] == "tp-grpcurl" and got["id"] == ev.id, got
    assert int(got["position"]) == start + 1

    later = await publish_event(bus, "topic.trending", "tp-grpcurl")
    body = json.dumps({"afterPosition": start + 1})
    _, out, _ = await grpcurl(
        "-plaintext",
        "-emit-defaults",
        "-max-time",
        "3",
        "-d",
        body,
        target,
        "paperwire.v1.Papers/WatchTopicEvents",
        timeout_s=20,
    )
    resumed = json_objects(out)
    assert [m["id"] for m in resumed] == [later.id] and resumed[0]["score"] == 4.5
