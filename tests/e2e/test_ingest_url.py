"""Ingesting from a URL (a local HTTP server on loopback: tests never touch the network)."""

from __future__ import annotations

import asyncio
import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from paperwire_ingestor.service import Ingestor
from paperwire_ingestor.settings import IngestorSettings
from tests.conftest import ROOT

from .pipeline import pipeline

FIXTURES = ROOT / "tests" / "fixtures" / "sources"


@pytest.fixture
def server() -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(FIXTURES))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def a_fixture(suffix: str) -> Path:
    return sorted(p for p in FIXTURES.iterdir() if p.name.endswith(suffix) and "broken" not in p.name)[0]


async def test_ingest_daily_papers_json_from_url(server: str, tmp_path: Path) -> None:
    f = a_fixture(".json")
    async with pipeline("embedded") as p:
        settings = IngestorSettings(progress=False, request_interval_s=0, checkpoint_dir=str(tmp_path))
        s = await Ingestor(p.backends, settings).ingest_path(f"{server}/{f.name}")
        local = await Ingestor(p.backends, settings).ingest_path(str(f))
        assert s.read > 0 and s.new + s.updated == s.read - s.rejected
        assert local.unchanged == s.new + s.updated, "the same document read locally is the same papers"
        await p.settle()
        assert await p.backends.index.count() == s.new


async def test_missing_url_is_a_clear_error(server: str, tmp_path: Path) -> None:
    import httpx

    async with pipeline("embedded") as p:
        settings = IngestorSettings(progress=False, request_interval_s=0, checkpoint_dir=str(tmp_path))
        with pytest.raises(httpx.HTTPStatusError, match="404"):
            await asyncio.wait_for(Ingestor(p.backends, settings).ingest_path(f"{server}/nope.json"), 30)
