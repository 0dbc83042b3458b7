"""The services under test, each `paperwire run <service>` in its own process (as deployed), registered with
Prometheus while they are part of the test (killed ones included: their being down is what alerts see)."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ROOT, free_port

from .prom import Prometheus

# The master key of every stack (the kafka backend's gateway refuses to start without one): every scope, no quota.
MASTER_KEY = "faults-master-key-0123456789abcdef"
MASTER_AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}

_SEQ = itertools.count(1)


@dataclass
class Service:
    name: str  # enricher, indexer, trending, notifier or gateway
    port: int  # health port (the gateway: its HTTP port)
    env: dict[str, str]
    log: Path
    label: str  # instance label: indexer-1, indexer-2, ...
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Service:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "paperwire_cli.main", "run", self.name],
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """kill -9: no drain, no commit, no goodbye to the consumer group."""
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 60, *, signalled: bool = False) -> int:
        """SIGTERM (unless already sent): the batch in flight is finished and committed; returns the exit code."""
        assert self.proc is not None
        if self.alive:
            if not signalled:  # a second SIGTERM during the shutdown would kill it outright
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError(
                    f"{self.label} did not stop within {timeout}s of SIGTERM; read {self.log}"
                ) from None
        return int(self.proc.returncode)

    def readyz(self) -> tuple[int, Any]:
        try:
            r = httpx.get(f"{self.url}/readyz", timeout=5)
            return r.status_code, r.json()
        except (httpx.HTTPError, ValueError) as e:
            return 0, repr(e)

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


@dataclass
class Stack:
    """A set of services on the real backends, in one namespace."""

    namespace: str
    endpoints: dict[str, str]  # PAPERWIRE_KAFKA_BOOTSTRAP, ..._ELASTICSEARCH_URL, ..._REDIS_URL
    logdir: Path
    prometheus: Prometheus | None = None
    test: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    services: list[Service] = field(default_factory=list)

    def env(self, name: str, port: int, **extra: str) -> dict[str, str]:
        env = {
            **os.environ,
            **self.endpoints,
            "PAPERWIRE_BACKEND": "kafka",
            "PAPERWIRE_NAMESPACE": self.namespace,
            "PAPERWIRE_EMBEDDINGS": "false",
            "PAPERWIRE_ENRICHER_KEYPHRASES": "off",
            "PAPERWIRE_TRENDING_TOPICS_ENABLED": "false",
            "PAPERWIRE_LOG_LEVEL": "INFO",
            "PAPERWIRE_MASTER_KEY": MASTER_KEY,
            **self.extra_env,
            **{k: v for k, v in extra.items() if k.startswith("PAPERWIRE_")},
        }
        if name == "gateway":
            env |= {"PAPERWIRE_GATEWAY_PORT": str(port), "PAPERWIRE_GATEWAY_GRPC_PORT": extra.get("grpc_port", "0")}
        else:
            env[f"PAPERWIRE_{name.upper()}_HEALTH_PORT"] = str(port)
        return env

    def add(self, name: str, *, port: int = 0, **extra: str) -> Service:
        port = port or free_port()
        label = f"{name}-{next(_SEQ)}"
        self.logdir.mkdir(parents=True, exist_ok=True)
        svc = Service(name, port, self.env(name, port, **extra), self.logdir / f"{label}.log", label)
        self.services.append(svc.start())
        self.register()
        return svc

    def remove(self, svc: Service) -> None:
        svc.kill()
        self.services.remove(svc)
        self.register()

    def register(self) -> None:
        if self.prometheus is None:
            return
        for job, names in (
            ("paperwire-workers", ("enricher", "indexer", "trending", "notifier")),
            ("paperwire-gateway", ("gateway",)),
        ):
            targets = [
                (f"127.0.0.1:{s.port}", {"component": s.name, "namespace": self.namespace, "test": self.test})
                for s in self.services
                if s.name in names
            ]
            if targets:
                self.prometheus.register(f"{self.namespace}{job}", job, targets)
            else:
                (self.prometheus.targets_dir / job / f"{self.namespace}{job}.json").unlink(missing_ok=True)

    def wait_ready(self, timeout: float = 120, services: list[Service] | None = None) -> float:
        t0 = time.monotonic()
        pending = list(services or self.services)
        while pending:
            for s in list(pending):
                if not s.alive:
                    raise AssertionError(f"{s.label} exited during start:\n{s.tail()}")
                if s.readyz()[0] == 200:
                    pending.remove(s)
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"not ready after {timeout}s: {[(s.label, s.readyz()) for s in pending]}")
            time.sleep(0.5)
        return time.monotonic() - t0

    def by_name(self, name: str) -> list[Service]:
        return [s for s in self.services if s.name == name]

    def check_alive(self) -> None:
        dead = [s for s in self.services if not s.alive]
        assert not dead, "\n".join(f"{s.label} exited with {s.proc and s.proc.returncode}:\n{s.tail()}" for s in dead)

    def close(self) -> dict[str, int]:
        """Stop every service (SIGTERM, concurrently); returns their exit codes."""
        for s in self.services:
            if s.alive and s.proc is not None:
                s.proc.send_signal(signal.SIGTERM)
        codes = {}
        for s in self.services:
            try:
                codes[s.label] = s.stop(60, signalled=True)
            except AssertionError:
                codes[s.label] = -9
        if self.prometheus is not None:
            for job in ("paperwire-workers", "paperwire-gateway"):
                (self.prometheus.targets_dir / job / f"{self.namespace}{job}.json").unlink(missing_ok=True)
        return codes
