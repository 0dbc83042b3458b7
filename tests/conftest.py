"""Shared fixtures. Real-server fixtures FAIL (never skip) when PAPERWIRE_REQUIRE_SERVERS=1, as in CI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "seed_papers.jsonl"
SEED_PAGE = ROOT / "data" / "sample" / "seed_page.txt"
_NAMESPACES: set[str] = set()  # created in this session: only these are cleaned up (others may be running)
REQUIRE = os.environ.get("PAPERWIRE_REQUIRE_SERVERS") == "1"
# The master key of gateways built in tests (create_app(..., master_key=TEST_MASTER_KEY)): every scope, no quota.
TEST_MASTER_KEY = "test-master-key-0123456789abcdef"
MASTER_AUTH = {"Authorization": f"Bearer {TEST_MASTER_KEY}"}


async def mint_key(c: httpx.AsyncClient, *scopes: str, name: str = "test") -> dict[str, str]:
    """A new API key with these scopes from a gateway whose master key is TEST_MASTER_KEY (POST /v1/keys): the
    Authorization header that sends it."""
    r = await c.post("/v1/keys", json={"name": name, "scopes": list(scopes)}, headers=MASTER_AUTH)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['key']}"}


KAFKA = os.environ.get("PAPERWIRE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
ES = os.environ.get("PAPERWIRE_ELASTICSEARCH_URL", "http://127.0.0.1:9200")
REDIS = os.environ.get("PAPERWIRE_REDIS_URL", "redis://127.0.0.1:6379/0")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A port nothing listens on now (for a service a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_service(name: str, namespace: str, *, batch_size: int, health_port: int = 0) -> subprocess.Popen[bytes]:
    """`paperwire run <name>` as its own process on the real backends, in a test namespace (crash tests)."""
    prefix = f"PAPERWIRE_{name.upper()}_"
    env = {
        **os.environ,
        "PAPERWIRE_BACKEND": "kafka",
        "PAPERWIRE_NAMESPACE": namespace,
        "PAPERWIRE_EMBEDDINGS": "false",
        f"{prefix}BATCH_SIZE": str(batch_size),
        f"{prefix}HEALTH_PORT": str(health_port or free_port()),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "paperwire_cli.main", "run", name],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def need_server(name: str, hostport: str) -> None:
    """Fail (CI, make test) or skip (a developer's quick run) when a real server is not reachable."""
    host, _, port = hostport.rpartition(":")
    if _reachable(host or "127.0.0.1", int(port)):
        return
    msg = f"{name} is not reachable at {hostport}: start it with `make infra-up`"
    if REQUIRE:
        pytest.fail(msg + " (PAPERWIRE_REQUIRE_SERVERS=1: real-server tests never skip here)", pytrace=False)
    pytest.skip(msg)


@pytest.fixture
def kafka_bootstrap() -> str:
    need_server("Kafka", KAFKA)
    return KAFKA


@pytest.fixture
def es_url() -> str:
    u = urlsplit(ES)
    need_server("Elasticsearch", f"{u.hostname}:{u.port or 9200}")
    return ES


@pytest.fixture
def redis_url() -> str:
    u = urlsplit(REDIS)
    need_server("Redis", f"{u.hostname}:{u.port or 6379}")
    return REDIS


@pytest.fixture
def namespace() -> str:
    """A fresh prefix for topics, groups, index alias and Redis keys: tests never see each other's data."""
    ns = f"t{uuid.uuid4().hex[:10]}-"
    _NAMESPACES.add(ns)
    return ns


@pytest.fixture(scope="session", autouse=True)
def _drop_test_namespaces() -> Iterator[None]:
    """After the session, delete what tests created under their random namespaces (indices, topics), so
    servers that outlive a run (make infra-up) do not accumulate test data."""
    yield
    if not _NAMESPACES:
        return
    import asyncio

    async def clean() -> None:
        u = urlsplit(ES)
        if _reachable(u.hostname or "127.0.0.1", u.port or 9200):
            from elasticsearch import AsyncElasticsearch

            es = AsyncElasticsearch(ES)
            try:
                names = (await es.options(ignore_status=404).indices.get(index="t*-*", expand_wildcards="all")).body
                test_indices = [n for n in names if n[:12] in _NAMESPACES]
                for i in range(0, len(test_indices), 50):
                    await es.indices.delete(index=",".join(test_indices[i : i + 50]))
            finally:
                await es.close()
        host, _, port = KAFKA.rpartition(":")
        if _reachable(host, int(port)):
            from aiokafka.admin import AIOKafkaAdminClient

            admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
            await admin.start()
            try:
                topics = [t for t in await admin.list_topics() if t[:12] in _NAMESPACES]
                if topics:
                    await admin.delete_topics(topics)
            finally:
                await admin.close()

    try:
        asyncio.run(clean())
    except Exception as e:  # cleanup must never turn a green run red
        print(f"test namespace cleanup failed: {e!r}")
