"""Two gateway processes on the kafka backend share keys and quotas through Redis: a key made on one works on
the other, its revocation reaches the other within 5 s, and one anonymous quota spans both; without a master
key a gateway refuses to start."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import MASTER_AUTH, ROOT, TEST_MASTER_KEY, free_port

pytestmark = [pytest.mark.kafka, pytest.mark.elasticsearch, pytest.mark.redis]


def gateway_env(namespace: str, port: int, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PAPERWIRE_BACKEND": "kafka",
        "PAPERWIRE_NAMESPACE": namespace,
        "PAPERWIRE_EMBEDDINGS": "false",
        "PAPERWIRE_MASTER_KEY": TEST_MASTER_KEY,
        "PAPERWIRE_GATEWAY_PORT": str(port),
        "PAPERWIRE_GATEWAY_GRPC_PORT": "0",
        "PAPERWIRE_GATEWAY_RATE_LIMIT_ANONYMOUS": "6/minute",
        **extra,
    }


@pytest.fixture
def replicas(kafka_bootstrap: str, es_url: str, redis_url: str, namespace: str) -> Iterator[list[str]]:
    ports = [free_port(), free_port()]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "paperwire_cli.main", "run", "gateway"],
            cwd=ROOT,
            env=gateway_env(namespace, p),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for p in ports
    ]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        deadline = time.monotonic() + 120
        for base, proc in zip(bases, procs, strict=True):
            while True:
                assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else "exited"
                assert time.monotonic() < deadline, "a gateway never became ready"
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.3)
        yield bases
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        import redis

        r = redis.Redis.from_url(redis_url)
        stale = list(r.scan_iter(match=f"*{namespace}*"))
        if stale:
            r.delete(*stale)
        r.close()


def test_a_revoked_key_stops_working_on_the_other_replica_within_5_s(replicas: list[str]) -> None:
    a, b = replicas
    made = httpx.post(f"{a}/v1/keys", json={"name": "bot", "scopes": ["papers:write"]}, headers=MASTER_AUTH)
    assert made.status_code == 201, made.text
    key, key_id = made.json()["key"], made.json()["id"]
    auth = {"Authorization": f"Bearer {key}"}
    # Known on b: a form body is refused with 415 only after the key and its scope were accepted.
    probe = {"content-type": "application/x-www-form-urlencoded", **auth}
    assert httpx.post(f"{b}/v1/papers", content=b"x", headers=probe).status_code == 415
    assert [k["id"] for k in httpx.get(f"{b}/v1/keys", headers=MASTER_AUTH).json()["keys"]] == [key_id]
    assert httpx.delete(f"{a}/v1/keys/{key_id}", headers=MASTER_AUTH).status_code == 204
    revoked = time.monotonic()
    while True:
        status = httpx.post(f"{b}/v1/papers", content=b"x", headers=probe).status_code
        if status == 401:
            break
        assert time.monotonic() - revoked < 5, "replica b still accepts the revoked key after 5 s"
        time.sleep(0.1)
    took = time.monotonic() - revoked
    assert httpx.post(f"{a}/v1/papers", content=b"x", headers=probe).status_code == 401, "a refuses it at once"
    print(f"revocation reached the other replica in {took:.2f} s")


def test_two_replicas_share_one_quota(replicas: list[str]) -> None:
    a, b = replicas
    statuses = []
    for i in range(6):
        r = httpx.get(f"{(a, b)[i % 2]}/v1/feeds/latest")
        statuses.append(r.status_code)
        assert r.headers["ratelimit-policy"] == '"anonymous";q=6;w=60'
    assert statuses == [200] * 6
    for base in (a, b):
        r = httpx.get(f"{base}/v1/feeds/latest")
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1, "3 + 3 spent the one quota of 6"


def test_a_gateway_without_master_key_refuses_to_start(redis_url: str, namespace: str) -> None:
    env = gateway_env(namespace, free_port())
    env.pop("PAPERWIRE_MASTER_KEY")
    out = subprocess.run(
        [sys.executable, "-m", "paperwire_cli.main", "run", "gateway"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "PAPERWIRE_MASTER_KEY" in out.stderr
