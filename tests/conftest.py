"""Shared fixtures. Real-server fixtures FAIL (never skip) when PAPERWIRE_REQUIRE_SERVERS=1, as in CI."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "seed_papers.jsonl"
SEED_PAGE = ROOT / "data" / "sample" / "seed_page.txt"
REQUIRE = os.environ.get("PAPERWIRE_REQUIRE_SERVERS") == "1"

KAFKA = os.environ.get("PAPERWIRE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
ES = os.environ.get("PAPERWIRE_ELASTICSEARCH_URL", "http://127.0.0.1:9200")
REDIS = os.environ.get("PAPERWIRE_REDIS_URL", "redis://127.0.0.1:6379/0")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


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
    return f"t{uuid.uuid4().hex[:10]}-"
