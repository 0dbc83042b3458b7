"""Network faults with Toxiproxy between every service (enricher, indexer, trending, gateway) and Kafka,
Elasticsearch and Redis: added latency, connection resets, and a 30 s blackhole of each server in turn.

One stack for the module: each test feeds a workload of its own while its fault is on, then checks the whole
state — every workload so far — against the oracle. The last test runs every query of the Grafana dashboard
through Prometheus over the module's time span.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import grpc
import httpx
import pytest
from prometheus_client import CollectorRegistry, start_http_server

from paperwire.v1 import papers_pb2, papers_pb2_grpc
from paperwire_common.events import Engagement
from paperwire_common.metrics import INGESTED
from tests.conftest import free_port
from tests.notify_kit import Mailpit

from . import check
from .check import FaultResult
from .conftest import backends_for
from .dashboards import panel_queries
from .drive import Progress, ingest, publish_events, verify, wait_until
from .prom import Prometheus
from .servers import FaultServers, logdir
from .stack import MASTER_AUTH, Service, Stack
from .workload import Workload, make_workload

pytestmark = [pytest.mark.faults, pytest.mark.kafka, pytest.mark.elasticsearch, pytest.mark.redis, pytest.mark.slow]
PAPERS, EVENTS = 4_000, 8_000
SERVERS = ("kafka", "elasticsearch", "redis")


@dataclass
class Net:
    servers: FaultServers
    stack: Stack
    gateway: Service
    namespace: str
    tmp: Path
    start: float
    webhook_url: str
    workloads: list[Workload] = field(default_factory=list)
    progress: Progress = field(default_factory=Progress)

    @property
    def direct(self) -> dict[str, str]:
        return self.servers.endpoints(proxied=False)


class _Receiver(BaseHTTPRequestHandler):
    """A webhook endpoint that accepts everything (the notifier's deliveries in the dashboard test)."""

    received: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.received.append(self.headers.get("webhook-id") or "")
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def net(
    fault_servers: FaultServers,
    prometheus: Prometheus,
    mailpit_server: Mailpit,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Net]:
    ns = f"t{uuid.uuid4().hex[:10]}-"
    tmp = tmp_path_factory.mktemp("network")
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    # The notifier (and the gateway, which checks subscription URLs) may deliver to this machine over http.
    notify = {
        "PAPERWIRE_NOTIFIER_ALLOW_HTTP": "true",
        "PAPERWIRE_NOTIFIER_ALLOW_NETWORKS": "127.0.0.0/8",
        "PAPERWIRE_NOTIFIER_SMTP_URL": mailpit_server.smtp_url,
        "PAPERWIRE_NOTIFIER_DIGEST_CHECK_INTERVAL_S": "5",
        "PAPERWIRE_NOTIFIER_RETRY_SCHEDULE_S": "0,1,1,1",
    }
    stack = Stack(ns, fault_servers.endpoints(proxied=True), logdir(ns), prometheus, test="network", extra_env=notify)
    # The ingestor runs in this process: its counters are scraped from here, as a one-shot job's would be from
    # a pushgateway.
    registry = CollectorRegistry()
    registry.register(INGESTED)
    port = free_port()
    server, _ = start_http_server(port, "127.0.0.1", registry=registry)
    prometheus.register(
        f"{ns}ingestor",
        "paperwire-workers",
        [(f"127.0.0.1:{port}", {"component": "ingestor", "namespace": ns, "test": "network"})],
    )
    try:
        for name in ("enricher", "indexer", "trending", "notifier"):
            stack.add(name)
        gateway = stack.add("gateway", grpc_port=str(free_port()))
        stack.wait_ready(180)
        prometheus.wait_scraped(ns, 6)
        yield Net(fault_servers, stack, gateway, ns, tmp, time.time(), f"http://127.0.0.1:{receiver.server_port}/hook")
    finally:
        for p in fault_servers.proxies.values():
            fault_servers.toxiproxy.clear(p)
        codes = stack.close()
        prometheus.unregister(f"{ns}ingestor")
        server.shutdown()
        receiver.shutdown()
        httpx.delete(f"http://{fault_servers.elasticsearch.direct}/{ns}papers-v1")
        print(f"network stack exit codes: {codes}")


Fault = Callable[[Net, FaultResult], Awaitable[None]]


async def phase(net: Net, r: FaultResult, tag: str, fault: Fault, description: str) -> None:
    """Feed a new workload, apply `fault` while it flows, then converge and check everything so far."""
    w = make_workload(net.tmp, tag, papers=PAPERS, revise_every=10, events=EVENTS, t0=time.time() - 7200)
    net.workloads.append(w)
    r.workload, r.fault = w.describe() + f" (+{len(net.workloads) - 1} earlier workloads)", description
    b = await backends_for(net.direct, net.namespace)
    t0 = time.time()
    try:
        feeding = asyncio.gather(ingest(b, w, net.progress, pace=800), publish_events(b, w, net.progress, pace_s=0.05))
        await asyncio.sleep(2)
        await fault(net, r)
        cleared = time.monotonic()
        await feeding
        direct = net.direct
        await check.wait_converged(
            direct["PAPERWIRE_KAFKA_BOOTSTRAP"],
            direct["PAPERWIRE_ELASTICSEARCH_URL"],
            net.namespace,
            sum(len(x.versions) for x in net.workloads),
            600,
        )
        r.recovery_s = time.monotonic() - cleared
        net.stack.check_alive()
        await verify(
            r,
            bootstrap=direct["PAPERWIRE_KAFKA_BOOTSTRAP"],
            es_url=direct["PAPERWIRE_ELASTICSEARCH_URL"],
            redis_url=direct["PAPERWIRE_REDIS_URL"],
            ns=net.namespace,
            workloads=net.workloads,
            progress=net.progress,
        )
        assert net.stack.prometheus is not None
        r.alerts = net.stack.prometheus.fired_between(t0, time.time(), net.namespace)
    finally:
        await b.stop()


def toxic_on_all(kind: str, seconds: float, **attrs: float) -> Fault:
    async def apply(net: Net, r: FaultResult) -> None:
        tp = net.servers.toxiproxy
        for name in SERVERS:
            for stream in ("upstream", "downstream"):
                tp.add_toxic(net.servers.proxies[name], kind, stream, **attrs)
        await asyncio.sleep(seconds)
        for name in SERVERS:
            tp.clear(net.servers.proxies[name])

    return apply


@pytest.mark.timeout(900)
async def test_latency_on_every_connection(net: Net, fault_result: FaultResult) -> None:
    await phase(
        net,
        fault_result,
        "lat",
        toxic_on_all("latency", 20, latency=250, jitter=100),
        "250±100 ms latency each way on every connection to Kafka, Elasticsearch and Redis for 20 s",
    )


@pytest.mark.timeout(900)
async def test_connection_resets(net: Net, fault_result: FaultResult) -> None:
    await phase(
        net,
        fault_result,
        "rst",
        toxic_on_all("reset_peer", 15, timeout=1000),
        "every connection to Kafka, Elasticsearch and Redis reset (RST) 1 s after it opens, for 15 s",
    )


# What each service reaches (paperwire_common.workers.Worker.needs; the gateway: all three): what its /readyz names.
NEEDS = {
    "enricher": {"kafka"},
    "indexer": {"kafka", "elasticsearch"},
    "trending": {"kafka", "redis"},
    "notifier": {"kafka", "elasticsearch", "redis"},
    "gateway": {"kafka", "elasticsearch", "redis"},
}


async def post_through_gateway(
    net: Net, w: Workload, r: FaultResult, deadline_s: float = 120
) -> tuple[int, float, str]:
    """One engagement event through the gateway, for a paper it knows, retried as a client would (honouring
    Retry-After) until it is accepted: (first status, its seconds, its Retry-After)."""
    paper = next(iter(net.workloads[0].versions))
    ev = Engagement(
        id=f"gw-{uuid.uuid4().hex[:8]}", paper_id=paper, type="view", actor_id="gateway-client", ts=time.time() - 60
    )
    body = ev.model_dump(exclude={"schema_version"}, exclude_none=True)
    first: tuple[int, float, str] | None = None
    t0 = time.monotonic()
    async with httpx.AsyncClient(base_url=net.gateway.url, timeout=60, headers=MASTER_AUTH) as http:
        while time.monotonic() - t0 < deadline_s:
            t1 = time.monotonic()
            try:
                resp = await http.post("/v1/events", json=body)
                status, retry_after = resp.status_code, resp.headers.get("retry-after", "")
            except httpx.HTTPError as e:
                status, retry_after = 0, repr(e)
            first = first or (status, time.monotonic() - t1, retry_after)
            if status == 202:
                # The gateway scopes the event's id and actor by the key that sent it ("<key id>/...").
                scoped = resp.json()["ids"][0]
                key_id = scoped.split("/", 1)[0]
                ev = ev.model_copy(update={"id": scoped, "actor_id": f"{key_id}/{ev.actor_id}"})
                w.via_gateway.append(ev)
                net.progress.events_acked.add(ev.id)
                r.notes.append(
                    f"gateway POST /v1/events first answered {first[0]} in {first[1]:.1f}s (Retry-After "
                    f"{first[2] or '-'}), accepted {time.monotonic() - t0:.0f}s later"
                )
                return first
            await asyncio.sleep(float(retry_after) if retry_after.isdigit() else 1)
    raise AssertionError(f"the gateway never accepted the event (first answer {first})")


async def readiness(net: Net) -> dict[str, tuple[int, set[str]]]:
    """label -> (/readyz status, the parts it names as failing)."""
    out = {}
    for s in net.stack.services:
        status, body = await asyncio.to_thread(s.readyz)
        out[s.label] = (status, set(body.get("failing", {})) if isinstance(body, dict) else {"?"})
    return out


def blackhole(server: str, seconds: float = 30) -> Fault:
    async def apply(net: Net, r: FaultResult) -> None:
        tp, proxy = net.servers.toxiproxy, net.servers.proxies[server]
        for stream in ("upstream", "downstream"):
            tp.add_toxic(proxy, "timeout", stream, timeout=0)
        t0 = time.monotonic()
        await asyncio.sleep(min(8.0, seconds / 3))
        during = await readiness(net)
        r.notes.append(f"/readyz during: {', '.join(f'{k} {v[0]} {sorted(v[1])}' for k, v in during.items())}")
        posting = asyncio.create_task(post_through_gateway(net, net.workloads[-1], r))
        await asyncio.sleep(max(0.0, seconds - (time.monotonic() - t0)))
        tp.clear(proxy)
        cleared = time.monotonic()
        status, took, retry_after = await posting
        for s in net.stack.services:
            got, failing = during[s.label]
            if server in NEEDS[s.name]:
                # Not ready, naming the blackholed part (other parts may fail with it: a consumer's batch).
                assert got == 503 and server in failing, (s.label, got, failing)
            else:
                assert got == 200, (s.label, got, failing)
        if server in ("kafka", "elasticsearch"):  # the write path: the known-paper check, then the publish
            assert status == 503 and retry_after.isdigit() and took < 10, (status, took, retry_after)
        else:
            assert status == 202, (status, took)

        async def all_ready() -> bool:
            return all(v[0] == 200 for v in (await readiness(net)).values())

        await wait_until(all_ready, 120, "every /readyz to recover", every=1)
        back = time.monotonic() - cleared
        r.notes.append(f"every /readyz back to 200 {back:.0f}s after the blackhole ended")

    return apply


@pytest.mark.timeout(900)
@pytest.mark.parametrize("server", SERVERS)
async def test_blackhole_30s(net: Net, fault_result: FaultResult, server: str) -> None:
    await phase(
        net,
        fault_result,
        f"bh{server[:2]}",
        blackhole(server),
        f"{server} blackholed for 30 s (connections stay open, no byte gets through either way)",
    )


@pytest.mark.timeout(300)
async def test_every_dashboard_panel_returns_data(
    net: Net, prometheus: Prometheus, mailpit_server: Mailpit, fault_result: FaultResult
) -> None:
    """Every panel query of deploy/grafana/dashboards/*.json, over the module's span, through Prometheus' API."""
    fault_result.workload, fault_result.fault = "the module's workloads so far", "none (dashboard queries)"
    # The gateway's panels need traffic of their own (searches, over REST and gRPC), the notifier's a webhook
    # delivery (a saved search, and its test ping) and an e-mail (a sign-up's confirmation).
    auth = MASTER_AUTH
    async with httpx.AsyncClient(base_url=net.gateway.url, timeout=30) as http:
        for q in ("graph learning", "language models", "transformer"):
            assert (await http.get("/v1/search", params={"q": q})).status_code == 200
        hook = {"channel": "webhook", "url": net.webhook_url, "events": ["search.match"], "query": "graph"}
        created = await http.post("/v1/subscriptions", json=hook, headers=auth)
        assert created.status_code == 201, created.text
        assert (await http.post(f"/v1/subscriptions/{created.json()['id']}/test", headers=auth)).status_code < 300
        mail = {"channel": "email", "email": f"{net.namespace}dash@example.com", "query": "graph"}
        assert (await http.post("/v1/subscriptions", json=mail, headers=auth)).status_code == 201, "e-mail sign-up"
    b = await backends_for(net.direct, net.namespace)
    try:  # new papers for the saved search to match: stamped after the subscription, or they are not news to it
        w = make_workload(net.tmp, "dash", papers=300, revise_every=1000, events=0, t0=time.time() + 1)
        await ingest(b, w, Progress(), updates=False)
    finally:
        await b.stop()

    async def delivered() -> bool:
        return len(_Receiver.received) >= 2 and bool(await asyncio.to_thread(mailpit_server.messages))

    await wait_until(delivered, 120, "a webhook delivery beyond the ping, and an e-mail")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{net.gateway.env['PAPERWIRE_GATEWAY_GRPC_PORT']}") as channel:
        got = await papers_pb2_grpc.PapersStub(channel).Search(papers_pb2.SearchRequest(q="graph", mode="keyword"))
        assert got.total > 0
    await asyncio.sleep(10)  # a few scrapes: a counter born with its first increment needs two samples for rate()
    empty = []
    end = time.time()
    for where, expr in panel_queries():
        if expr.startswith("label_values("):
            metric, label = expr.removeprefix("label_values(").removesuffix(")").split(", ")
            got = prometheus.get(f"/api/v1/label/{label}/values", **{"match[]": metric, "start": net.start, "end": end})
        else:
            got = prometheus.query_range(expr, net.start, end, step="2s")
        if not got:
            empty.append(f"{where}: {expr}")
    fault_result.notes.append(f"{len(panel_queries())} panel queries, {len(empty)} without data")
    assert not empty, "dashboard queries that returned no data:\n" + "\n".join(empty)
