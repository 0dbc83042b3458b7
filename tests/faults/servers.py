"""The fault suite's own servers, started with the project's scripts (deploy/local/) on free ports, and Toxiproxy.

Faults are injected into these, never into the shared servers of `make infra-up`: an Elasticsearch that is
stopped, a Redis that is killed, a single Kafka broker whose services reach it only through a proxy, and the
three-node Kafka cluster. State lives under `<infra home>/faults/` (kept between runs so that the
Elasticsearch launcher and the Kafka classpath are built once; the data is wiped at each start).
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ROOT, free_port

LOCAL = ROOT / "deploy" / "local"
FAULTS_HOME = Path(os.environ.get("PAPERWIRE_INFRA_HOME") or ROOT / ".infra") / "faults"


def logdir(namespace: str) -> Path:
    """Where the services of one test write their logs (kept after the run, for a post-mortem)."""
    return FAULTS_HOME / "logs" / namespace.rstrip("-")


def script(name: str, *args: str, env: dict[str, str], log: Path, timeout: float = 300) -> None:
    """Run deploy/local/<name>.sh with the fault suite's state dir; its output goes to `log`."""
    full = {**os.environ, "PAPERWIRE_INFRA_HOME": str(FAULTS_HOME), **env}
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        out.write(f"\n$ {name}.sh {' '.join(args)}\n")
        out.flush()
        r = subprocess.run(
            ["bash", str(LOCAL / f"{name}.sh"), *args], env=full, stdout=out, stderr=subprocess.STDOUT, timeout=timeout
        )
    if r.returncode != 0:
        raise RuntimeError(f"{name}.sh {' '.join(args)} failed (exit {r.returncode}); read {log}")


@dataclass
class Server:
    """One of our servers: its script, the env that fixes its ports, and where clients reach it."""

    name: str  # deploy/local/<name>.sh
    env: dict[str, str]
    direct: str  # host:port the test itself uses
    proxied: str = ""  # host:port the services use (through Toxiproxy), if proxied
    log: Path = field(default_factory=lambda: FAULTS_HOME / "scripts.log")

    def run(self, *args: str, timeout: float = 300) -> None:
        script(self.name, *args, env=self.env, log=self.log, timeout=timeout)

    def up(self) -> float:
        t0 = time.monotonic()
        self.run("up")
        return time.monotonic() - t0

    def down(self) -> None:
        self.run("down")

    def pid(self) -> int:
        pidfile = {
            "elasticsearch": "elasticsearch/elasticsearch.pid",
            "redis": "redis/redis.pid",
            "kafka": "kafka/kafka.pid",
        }[self.name]
        return int((FAULTS_HOME / pidfile).read_text().strip())


class Toxiproxy:
    """Client of toxiproxy-server's HTTP API (https://github.com/Shopify/toxiproxy#http-api)."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=10)

    def create(self, name: str, listen_port: int, upstream: str) -> None:
        self.http.delete(f"/proxies/{name}")
        r = self.http.post(
            "/proxies", json={"name": name, "listen": f"127.0.0.1:{listen_port}", "upstream": upstream, "enabled": True}
        )
        r.raise_for_status()

    def delete(self, name: str) -> None:
        self.http.delete(f"/proxies/{name}")

    def add_toxic(self, proxy: str, kind: str, stream: str = "downstream", toxicity: float = 1.0, **attrs: Any) -> str:
        name = f"{kind}_{stream}"
        r = self.http.post(
            f"/proxies/{proxy}/toxics",
            json={"name": name, "type": kind, "stream": stream, "toxicity": toxicity, "attributes": attrs},
        )
        r.raise_for_status()
        return name

    def clear(self, proxy: str) -> None:
        for t in self.http.get(f"/proxies/{proxy}/toxics").json():
            self.http.delete(f"/proxies/{proxy}/toxics/{t['name']}")

    def close(self) -> None:
        self.http.close()


@dataclass
class FaultServers:
    """Our single-node Kafka, Elasticsearch and Redis, each also reachable through a Toxiproxy proxy."""

    kafka: Server
    elasticsearch: Server
    redis: Server
    toxiproxy: Toxiproxy
    proxies: dict[str, str]  # server name -> proxy name

    def endpoints(self, *, proxied: bool) -> dict[str, str]:
        """The PAPERWIRE_* settings that point a service (proxied) or the test (direct) at these servers."""

        def at(s: Server) -> str:
            return s.proxied if proxied else s.direct

        return {
            "PAPERWIRE_KAFKA_BOOTSTRAP": at(self.kafka),
            "PAPERWIRE_ELASTICSEARCH_URL": f"http://{at(self.elasticsearch)}",
            "PAPERWIRE_REDIS_URL": f"redis://{at(self.redis)}/0",
        }

    def stop_all(self) -> None:
        for s in (self.kafka, self.elasticsearch, self.redis):
            try:
                s.down()
            except Exception as e:  # teardown goes on: the other servers must stop too
                print(f"stopping {s.name} failed: {e}")
        for p in self.proxies.values():
            self.toxiproxy.delete(p)


def start_fault_servers(toxiproxy: Toxiproxy, run_id: str) -> FaultServers:
    """Fresh servers on free ports (leftovers of an interrupted run are stopped first), started in parallel."""
    ports = {k: free_port() for k in ("es", "es_proxy", "redis", "redis_proxy", "kafka", "ctl", "kproxied", "kproxy")}
    es = Server(
        "elasticsearch",
        {"ES_PORT": str(ports["es"]), "ES_HEAP": "-Xms512m -Xmx768m"},
        f"127.0.0.1:{ports['es']}",
        f"127.0.0.1:{ports['es_proxy']}",
    )
    redis = Server(
        "redis", {"REDIS_PORT": str(ports["redis"])}, f"127.0.0.1:{ports['redis']}", f"127.0.0.1:{ports['redis_proxy']}"
    )
    kafka = Server(
        "kafka",
        {
            "KAFKA_PORT": str(ports["kafka"]),
            "KAFKA_CONTROLLER_PORT": str(ports["ctl"]),
            "KAFKA_PROXIED_PORT": str(ports["kproxied"]),
            "KAFKA_PROXIED_ADVERTISE": str(ports["kproxy"]),
            "KAFKA_HEAP": "384m",
        },
        f"127.0.0.1:{ports['kafka']}",
        f"127.0.0.1:{ports['kproxy']}",
    )
    servers = FaultServers(kafka, es, redis, toxiproxy, {})
    for s in (kafka, es, redis):
        s.down()
    for d in ("elasticsearch/data", "kafka/data", "logs"):
        subprocess.run(["rm", "-rf", str(FAULTS_HOME / d)], check=True)
    (FAULTS_HOME / "kafka" / "cluster.id").unlink(missing_ok=True)
    upstream = {"kafka": f"127.0.0.1:{ports['kproxied']}", "elasticsearch": es.direct, "redis": redis.direct}
    listen = {"kafka": ports["kproxy"], "elasticsearch": ports["es_proxy"], "redis": ports["redis_proxy"]}
    for name in ("kafka", "elasticsearch", "redis"):
        servers.proxies[name] = f"{run_id}-{name}"
        toxiproxy.create(servers.proxies[name], listen[name], upstream[name])
    full = {**os.environ, "PAPERWIRE_INFRA_HOME": str(FAULTS_HOME)}
    procs = []
    for s in (kafka, es, redis):
        s.log.parent.mkdir(parents=True, exist_ok=True)
        with s.log.open("a") as out:
            procs.append(
                (
                    s,
                    subprocess.Popen(
                        ["bash", str(LOCAL / f"{s.name}.sh"), "up"], env={**full, **s.env}, stdout=out, stderr=out
                    ),
                )
            )
    failed = [s.name for s, p in procs if p.wait(300) != 0]
    if failed:
        servers.stop_all()
        raise RuntimeError(f"fault servers {failed} did not start; read {FAULTS_HOME / 'scripts.log'}")
    return servers


@dataclass
class KafkaCluster:
    env: dict[str, str]
    bootstrap: str
    log: Path = field(default_factory=lambda: FAULTS_HOME / "kafka-cluster.log")

    def run(self, *args: str) -> None:
        script("kafka-cluster", *args, env=self.env, log=self.log)


def start_kafka_cluster() -> KafkaCluster:
    ports = [free_port() for _ in range(6)]
    env = {
        "KAFKA_CLUSTER_PORTS": ",".join(map(str, ports[:3])),
        "KAFKA_CLUSTER_CONTROLLER_PORTS": ",".join(map(str, ports[3:])),
    }
    cluster = KafkaCluster(env, ",".join(f"127.0.0.1:{p}" for p in ports[:3]))
    cluster.run("down")
    cluster.run("up")
    return cluster
