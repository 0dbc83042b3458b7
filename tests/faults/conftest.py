"""Fixtures of the fault suite (marker `faults`; `pytest -m faults` runs it alone).

Real servers only. Faults go to the suite's own servers (servers.py); Prometheus and Toxiproxy are the ones
`make infra-up` starts (PAPERWIRE_PROMETHEUS_URL, PAPERWIRE_TOXIPROXY_URL). Each test's summary line
(check.FaultResult) is printed at the end of the run and written to <infra home>/faults/report.json.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict
from typing import Any

import pytest

from paperwire_common.backends import Backends, make_backends
from paperwire_common.settings import CommonSettings
from tests.conftest import need_server
from tests.notify_kit import mailpit_server  # noqa: F401  (the session's mailpit: the notifier's e-mail)

from .check import FaultResult
from .prom import Prometheus
from .servers import FAULTS_HOME, FaultServers, Toxiproxy, start_fault_servers

PROMETHEUS = os.environ.get("PAPERWIRE_PROMETHEUS_URL", "http://127.0.0.1:9090")
TOXIPROXY = os.environ.get("PAPERWIRE_TOXIPROXY_URL", "http://127.0.0.1:8474")
RESULTS: list[FaultResult] = []


def _hostport(url: str) -> str:
    return url.split("://", 1)[-1].rstrip("/")


@pytest.fixture(scope="session")
def prometheus() -> Iterator[Prometheus]:
    need_server("Prometheus", _hostport(PROMETHEUS))
    p = Prometheus(PROMETHEUS)
    if not p.fast:
        pytest.fail(
            f"Prometheus at {PROMETHEUS} runs with slow rule evaluation: the fault suite needs the test profile "
            "(PROMETHEUS_PROFILE=test bash deploy/local/prometheus.sh up, what `make infra-up` starts)",
            pytrace=False,
        )
    yield p
    p.close()


@pytest.fixture(scope="session")
def toxiproxy() -> Iterator[Toxiproxy]:
    need_server("Toxiproxy", _hostport(TOXIPROXY))
    t = Toxiproxy(TOXIPROXY)
    yield t
    t.close()


@pytest.fixture(scope="session")
def fault_servers(toxiproxy: Toxiproxy) -> Iterator[FaultServers]:
    servers = start_fault_servers(toxiproxy, f"pwf{uuid.uuid4().hex[:6]}")
    try:
        yield servers
    finally:
        servers.stop_all()


@pytest.fixture
def fault_result(request: pytest.FixtureRequest) -> Iterator[FaultResult]:
    result = FaultResult(test=request.node.name, workload="", fault="")
    yield result
    RESULTS.append(result)


async def backends_for(endpoints: dict[str, str], namespace: str, **settings: Any) -> Backends:
    """The test process's own adapters (ingestor, publisher, oracle reads), started: streams and index exist."""
    common = CommonSettings(
        backend="kafka",
        namespace=namespace,
        kafka_bootstrap=endpoints["PAPERWIRE_KAFKA_BOOTSTRAP"],
        elasticsearch_url=endpoints["PAPERWIRE_ELASTICSEARCH_URL"],
        redis_url=endpoints["PAPERWIRE_REDIS_URL"],
        embeddings=False,
        **settings,
    )
    b = make_backends(common, client_id="paperwire-faults")
    await b.start()
    return b


@pytest.fixture
async def direct_backends(fault_servers: FaultServers, namespace: str) -> AsyncIterator[Backends]:
    b = await backends_for(fault_servers.endpoints(proxied=False), namespace)
    try:
        yield b
    finally:
        await b.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RESULTS:
        return
    terminalreporter.section("fault suite")
    for r in RESULTS:
        terminalreporter.write_line(r.line())
    FAULTS_HOME.mkdir(parents=True, exist_ok=True)
    (FAULTS_HOME / "report.json").write_text(json.dumps([asdict(r) for r in RESULTS], indent=2))
    terminalreporter.write_line(f"(also in {FAULTS_HOME / 'report.json'})")
