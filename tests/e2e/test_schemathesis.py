"""Schemathesis fuzzes the OpenAPI document of a running `paperwire run all` (embedded, the sample corpus): every
check, a bounded number of examples per operation, with a key holding every scope (the master key for /v1/keys).
A second run seeds the path parameters with real ids — a paper, a topic, a webhook subscription (another one for
DELETE), an e-mail subscription with its confirm and unsubscribe tokens — so it reaches past the 404s (keys it
deletes by following POST /v1/keys). Both must find 0 failures: no server error, no response off its schema, no
undocumented status or header, nothing valid refused or invalid accepted. The statuses seen are printed
(pytest -s) for the record.

Schema-valid requests the domain refuses are allowed by `positive_data_acceptance`: an unknown paper or topic
(404, or 422 inside a body), a cursor this server did not sign or a query that does not parse (400), a body that
is no paper source (422) — the document cannot say which ids exist.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.slow
EXAMPLES = int(os.environ.get("PAPERWIRE_SCHEMATHESIS_EXAMPLES", "25"))
DOMAIN_REFUSALS = ["2xx", "400", "401", "403", "404", "409", "422", "429"]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    data = tmp_path_factory.mktemp("st") / "data"
    port = free_port()
    env = {
        **os.environ,
        "PAPERWIRE_BACKEND": "embedded",
        "PAPERWIRE_EMBEDDED_DATA_DIR": str(data),
        "PAPERWIRE_GATEWAY_PORT": str(port),
        "PAPERWIRE_GATEWAY_GRPC_PORT": "0",
        "PAPERWIRE_TRENDING_TOPICS_INITIAL_DELAY_S": "5",
        # The first re-clustering may come before the sample is in; later ones may retire a topic id (the runs post
        # papers), so the seeded run takes a fresh one and at most one re-clustering falls within it.
        "PAPERWIRE_TRENDING_TOPICS_INTERVAL_S": "60",
        "PAPERWIRE_GATEWAY_RATE_LIMIT_KEY": "1000000/minute",
        # The seeded webhooks point at a closed loopback port: their deliveries fail, nothing leaves the machine.
        "PAPERWIRE_NOTIFIER_ALLOW_HTTP": "true",
        "PAPERWIRE_NOTIFIER_ALLOW_NETWORKS": "127.0.0.0/8",
        "PAPERWIRE_LOG_LEVEL": "WARNING",
    }
    env.pop("PAPERWIRE_MASTER_KEY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperwire_cli.main", "run", "all"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        topics: list[dict[str, str]] = []
        while time.monotonic() < deadline and proc.poll() is None and not topics:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    topics = httpx.get(f"{base}/v1/topics", params={"size": 1}).json()
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert topics, "run all never became ready with topics"
        master = (data / "master.key").read_text().strip()
        made = httpx.post(
            f"{base}/v1/keys",
            json={"name": "schemathesis", "scopes": ["events:write", "papers:write", "subscriptions:write", "admin"]},
            headers=master_auth(master),
        )
        assert made.status_code == 201, made.text
        paper = httpx.get(f"{base}/v1/search", params={"q": "language models", "mode": "keyword"}).json()["items"][0]
        yield {
            "base": base,
            "data": str(data),
            "master": master,
            "key": made.json()["key"],
            "paper_id": paper["id"],
            "topic_id": topics[0]["id"],
        }
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        assert b"gateway.unhandled" not in err, err.decode()[-3000:]


def master_auth(master: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {master}"}


def seed(g: dict[str, str]) -> dict[str, str]:
    """The largest topic now, two webhooks (one for DELETE) and an e-mail subscription with its tokens, made now:
    the run before may have deleted earlier ones (its stateful phase follows GET /v1/subscriptions to DELETE)."""
    base, key = g["base"], {"Authorization": f"Bearer {g['key']}"}
    (topic,) = httpx.get(f"{base}/v1/topics", params={"size": 1, "sort": "size"}).json()
    hook = {"channel": "webhook", "url": f"http://127.0.0.1:{free_port()}/hook", "events": ["topic.created"]}
    webhooks = [httpx.post(f"{base}/v1/subscriptions", json=hook, headers=key) for _ in range(2)]
    assert all(r.status_code == 201 for r in webhooks), [r.text for r in webhooks]
    address = f"st-{time.time_ns()}@example.org"
    mail = httpx.post(f"{base}/v1/subscriptions", json={"channel": "email", "email": address}, headers=key)
    assert mail.status_code == 201, mail.text
    with sqlite3.connect(f"file:{Path(g['data']) / 'notify.sqlite'}?mode=ro", uri=True) as db:
        (record,) = db.execute("SELECT record FROM subscriptions WHERE id = ?", (mail.json()["id"],)).fetchone()
    tokens = json.loads(record)
    return {
        "topic_id": topic["id"],
        "webhook": webhooks[0].json()["id"],
        "doomed_webhook": webhooks[1].json()["id"],
        "email": mail.json()["id"],
        "confirm_token": tokens["confirm_token"],
        "unsubscribe_token": tokens["unsubscribe_token"],
    }


def seeded_operation(path: str, method: str, **parameters: Any) -> list[str]:
    """Parameters of one operation. By its name ("METHOD /path"): schemathesis ORs the include filters of one
    [[operations]] entry, so include-path with include-method would also pick the path's other methods."""
    values = ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in parameters.items())
    return ["", "[[operations]]", f"include-name = {json.dumps(f'{method} {path}')}", f"parameters = {{ {values} }}"]


def config(g: dict[str, str], seeded: bool) -> str:
    lines = [
        f'headers = {{ Authorization = "Bearer {g["key"]}" }}',
        "",
        "[checks.positive_data_acceptance]",
        f"expected-statuses = {json.dumps(DOMAIN_REFUSALS)}",
        "",
        "[[operations]]",
        'include-path-regex = "^/v1/keys"',
        f'headers = {{ Authorization = "Bearer {g["master"]}" }}',
    ]
    if seeded:
        sub = "/v1/subscriptions/{subscription_id}"
        email = {"subscription_id": g["email"]}
        lines += seeded_operation(sub, "DELETE", subscription_id=g["doomed_webhook"])
        # Ids inside bodies: a known paper to recommend from and to send engagement for.
        lines += seeded_operation("/v1/recommendations", "POST", **{"body.positivePaperIds": [g["paper_id"]]})
        lines += seeded_operation("/v1/events", "POST", **{"body.paper_id": g["paper_id"]})
        lines += seeded_operation(sub + "/confirm", "GET", **email, token=g["confirm_token"])
        for method in ("GET", "POST"):
            lines += seeded_operation(sub + "/unsubscribe", method, **email, token=g["unsubscribe_token"])
        lines += [
            "",
            "[parameters]",
            f"paper_id = {json.dumps(g['paper_id'])}",
            f"topic_id = {json.dumps(g['topic_id'])}",
            f"subscription_id = {json.dumps(g['webhook'])}",
        ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seeded", [False, True], ids=["generated-ids", "seeded-ids"])
def test_schemathesis_finds_nothing(gateway: dict[str, str], tmp_path: Path, seeded: bool) -> None:
    if seeded:
        gateway = {**gateway, **seed(gateway)}
    cfg = tmp_path / "schemathesis.toml"
    cfg.write_text(config(gateway, seeded))
    report, har = tmp_path / "report.json", tmp_path / "run.har"
    cmd = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(cfg),
        "run",
        f"{gateway['base']}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES),
        "--workers",
        "1",
        "--seed",
        "20261201",
        "--no-color",
        "--report",
        "json,har",
        "--report-json-path",
        str(report),
        "--report-har-path",
        str(har),
    ]
    t0 = time.monotonic()
    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    took = time.monotonic() - t0
    result = json.loads(report.read_text())
    statuses: collections.Counter[int] = collections.Counter()
    per_op: dict[str, set[int]] = collections.defaultdict(set)
    for entry in json.loads(har.read_text())["log"]["entries"]:
        status = entry["response"]["status"]
        statuses[status] += 1
        path = entry["request"]["url"].split("?")[0].split("/", 3)[-1]
        per_op[f"{entry['request']['method']} /{path}"].add(status)
    print(
        f"\nschemathesis ({'seeded' if seeded else 'generated'} ids): {result['operations']['tested']} operations, "
        f"{result['test_cases']['generated']} test cases, {sum(statuses.values())} requests in {took:.0f} s; "
        f"statuses {dict(sorted(statuses.items()))}; warnings "
        f"{ {k: v for k, v in result['warnings'].items() if v} }"
    )
    assert out.returncode == 0 and result["exit_code"] == 0, out.stdout[-8000:]
    assert result["failures"] == [] and result["errors"] == [], out.stdout[-8000:]
    assert result["operations"]["tested"] >= 18 and not result["operations"]["errored"]
    assert not any(500 <= s < 600 and s != 503 for s in statuses), "a server error"
    if seeded:
        reached = {op for op, seen in per_op.items() if "{" not in op and seen & {200, 202}}
        assert any(op.startswith("GET /v1/papers/") and op.endswith("/similar") for op in reached), sorted(per_op)
        assert any(op.startswith("GET /v1/topics/tp-") for op in reached), "past the 404s"
        hook, mail = gateway["webhook"], gateway["email"]
        for op, status in [
            (f"GET /v1/subscriptions/{hook}", 200),
            (f"POST /v1/subscriptions/{hook}/test", 202),
            (f"POST /v1/subscriptions/{hook}/rotate-secret", 200),
            (f"GET /v1/subscriptions/{hook}/deliveries", 200),
            (f"DELETE /v1/subscriptions/{gateway['doomed_webhook']}", 204),
            (f"GET /v1/subscriptions/{mail}/confirm", 200),
            (f"GET /v1/subscriptions/{mail}/unsubscribe", 200),
        ]:
            assert status in per_op.get(op, set()), (op, per_op.get(op))
        assert any(op.startswith("DELETE /v1/keys/k_") and 204 in seen for op, seen in per_op.items())
        assert 200 in per_op["POST /v1/recommendations"], "a known paper in the body"
