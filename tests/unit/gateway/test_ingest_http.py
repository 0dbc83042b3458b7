"""POST /v1/papers: a body in any ingest format -> 202 with the summary; good records published, bad ones listed;
the scope, media types, size limit and format errors as problem+json; parsing off the event loop."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from paperwire_common.backends import Backends, make_backends
from paperwire_common.bus.embedded import EmbeddedBus
from paperwire_common.settings import CommonSettings
from paperwire_common.streams import PAPERS_RAW
from paperwire_gateway.app import create_app
from paperwire_gateway.settings import GatewaySettings
from paperwire_ingestor import parsers
from paperwire_ingestor.service import Ingestor
from tests.conftest import MASTER_AUTH, ROOT, TEST_MASTER_KEY

GOOD = [
    {
        "title": "Sparse attention for long documents",
        "abstract": "We study sparse attention.",
        "arxiv_id": "2401.00001",
    },
    {"title": "Graph networks at scale", "abstract": "Graphs.", "arxiv_id": "2401.00002"},
]
JSONL = "\n".join(json.dumps(r) for r in GOOD).encode()


@pytest.fixture
async def env() -> AsyncIterator[tuple[httpx.AsyncClient, Backends]]:
    b = make_backends(CommonSettings(backend="embedded"))
    await b.start()
    app = create_app(
        b, GatewaySettings(max_ingest_bytes=300_000), master_key=TEST_MASTER_KEY, ingest=Ingestor(b).ingest_bytes
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", headers=MASTER_AUTH) as c:
        yield c, b
    await b.stop()


def published(b: Backends) -> list[dict[str, Any]]:
    assert isinstance(b.bus, EmbeddedBus)
    return [json.loads(r.value) for r in b.bus.records(PAPERS_RAW.name)]


async def test_jsonl_with_broken_records(env: tuple[httpx.AsyncClient, Backends]) -> None:
    c, b = env
    body = JSONL + b'\n{"title": ""}\nnot json at all\n'
    r = await c.post("/v1/papers", content=body, headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 202, r.text
    s = r.json()
    assert (s["format"], s["read"], s["new"], s["rejected"]) == ("jsonl", 4, 2, 2)
    assert [x["position"] for x in s["rejections"]] == ["line 3", "line 4"] and all(
        x["reason"] for x in s["rejections"]
    )
    assert sorted(p["paper_id"] for p in published(b)) == ["arxiv:2401.00001", "arxiv:2401.00002"]
    again = (await c.post("/v1/papers", content=JSONL, headers={"content-type": "application/x-ndjson"})).json()
    assert (again["unchanged"], again["new"]) == (2, 0), "a re-sent body changes nothing"


@pytest.mark.parametrize(
    ("fixture", "ctype", "fmt"),
    [
        ("arxiv_atom.xml", "application/atom+xml", "arxiv-atom"),
        ("oai_arxiv.xml", "application/xml", "oai-pmh"),
        ("daily_papers.json", "application/json", "daily-papers"),
    ],
)
async def test_every_format_from_its_media_type(
    env: tuple[httpx.AsyncClient, Backends], fixture: str, ctype: str, fmt: str
) -> None:
    c, _ = env
    path = ROOT / "tests" / "fixtures" / "sources" / fixture
    if not path.exists():
        pytest.fail(f"fixture {fixture} is missing")
    r = await c.post("/v1/papers", content=path.read_bytes(), headers={"content-type": ctype})
    assert r.status_code == 202, r.text
    assert r.json()["format"] == fmt and r.json()["new"] >= 1


async def test_plain_text_and_format_parameter(env: tuple[httpx.AsyncClient, Backends]) -> None:
    c, _ = env
    text = b"Sparse attention for long documents\nWe study sparse attention in transformers for long inputs.\n"
    r = await c.post("/v1/papers", content=text, headers={"content-type": "text/plain"})
    assert r.status_code == 202 and r.json()["format"] == "text" and r.json()["new"] == 1
    r = await c.post("/v1/papers", params={"format": "jsonl"}, content=JSONL, headers={"content-type": "text/plain"})
    assert r.json()["format"] == "jsonl", "?format= wins over the Content-Type"


@pytest.mark.parametrize(
    ("content", "headers", "status", "detail"),
    [
        (JSONL, {"content-type": "application/x-www-form-urlencoded"}, 415, "no paper source"),
        (JSONL, {"content-type": "multipart/form-data; boundary=x"}, 415, "no paper source"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, {"content-type": "application/octet-stream"}, 422, "PNG"),
        (b"<html><body>hi</body></html>", {"content-type": "text/xml"}, 422, "HTML"),
        (b"", {"content-type": "application/x-ndjson"}, 422, "empty"),
        (b"x" * 300_001, {"content-type": "text/plain"}, 413, "over 300000 bytes"),
        (JSONL, {"content-type": "application/x-ndjson", "Authorization": ""}, 401, "papers:write"),
    ],
)
async def test_bad_bodies(
    env: tuple[httpx.AsyncClient, Backends], content: bytes, headers: dict[str, str], status: int, detail: str
) -> None:
    c, b = env
    r = await c.post("/v1/papers", content=content, headers=headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json") and detail in r.json()["detail"]
    assert published(b) == []


async def test_the_scope_and_a_gateway_without_ingest(env: tuple[httpx.AsyncClient, Backends]) -> None:
    c, b = env
    key = (await c.post("/v1/keys", json={"name": "events", "scopes": ["events:write"]})).json()["key"]
    r = await c.post("/v1/papers", content=JSONL, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 403
    app = create_app(b, master_key=TEST_MASTER_KEY)  # no ingestor passed in
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t", headers=MASTER_AUTH
    ) as c2:
        r = await c2.post("/v1/papers", content=JSONL)
    assert r.status_code == 503 and "no papers" in r.json()["detail"]


async def test_parsing_runs_off_the_event_loop(
    env: tuple[httpx.AsyncClient, Backends], monkeypatch: pytest.MonkeyPatch
) -> None:
    c, _ = env
    seen: list[str] = []
    real = parsers.FORMATS["jsonl"]

    def spy(data: bytes | str) -> Any:
        seen.append(threading.current_thread().name)
        return real(data)

    monkeypatch.setitem(parsers.FORMATS, "jsonl", spy)
    r = await c.post("/v1/papers", content=JSONL, headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 202 and seen and seen[0] != threading.main_thread().name
