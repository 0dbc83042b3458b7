"""Prometheus as the fault suite uses it: register the services a test starts (file_sd), read alerts and run
queries through its HTTP API (https://prometheus.io/docs/prometheus/latest/querying/api/)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

JOBS = ("paperwire-workers", "paperwire-gateway")


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=30)
        flags = self.get("/api/v1/status/flags")
        # file_sd paths in the config are relative to the config file: targets/<job>/*.json beside it.
        self.targets_dir = Path(flags["config.file"]).parent / "targets"
        config = self.get("/api/v1/status/config")["yaml"]
        self.fast = "evaluation_interval: 2s" in config
        for job in JOBS:
            if f"targets/{job}/*.json" not in config:
                raise RuntimeError(
                    f"Prometheus at {url} reads no file_sd targets for {job}: start it with deploy/local/prometheus.sh"
                )

    def get(self, path: str, **params: Any) -> Any:
        r = self.http.get(path, params=params)
        r.raise_for_status()
        body = r.json()
        if body.get("status") != "success":
            raise RuntimeError(f"{path}: {body}")
        return body["data"]

    # -- targets ---------------------------------------------------------------------------------------------
    def register(self, name: str, job: str, targets: Iterable[tuple[str, dict[str, str]]]) -> None:
        """Write targets/<job>/<name>.json: [(host:port, labels)]; Prometheus picks it up within seconds."""
        groups = [{"targets": [addr], "labels": labels} for addr, labels in targets]
        path = self.targets_dir / job / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(groups))
        tmp.rename(path)  # atomic: Prometheus never reads half a file

    def unregister(self, name: str) -> None:
        for job in JOBS:
            (self.targets_dir / job / f"{name}.json").unlink(missing_ok=True)

    def scraped(self, namespace: str) -> dict[str, str]:
        """instance -> health of the active targets of one test namespace."""
        active = self.get("/api/v1/targets", state="active")["activeTargets"]
        return {t["labels"]["instance"]: t["health"] for t in active if t["labels"].get("namespace") == namespace}

    def wait_scraped(self, namespace: str, n: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.scraped(namespace)
            if len(got) >= n and all(h == "up" for h in got.values()):
                return
            time.sleep(1)
        raise TimeoutError(f"Prometheus scrapes {self.scraped(namespace)}; expected {n} targets up")

    # -- alerts ----------------------------------------------------------------------------------------------
    def alerts(self) -> list[dict[str, Any]]:
        return list(self.get("/api/v1/alerts")["alerts"])

    def firing(self, name: str, **labels: str) -> bool:
        return any(
            a["state"] == "firing"
            and a["labels"]["alertname"] == name
            and all(a["labels"].get(k) == v for k, v in labels.items())
            for a in self.alerts()
        )

    def active(self, name: str, **labels: str) -> bool:
        """Pending or firing."""
        return any(
            a["labels"]["alertname"] == name and all(a["labels"].get(k) == v for k, v in labels.items())
            for a in self.alerts()
        )

    def wait_alert(self, name: str, *, firing: bool, timeout: float, **labels: str) -> float:
        """Seconds until the alert fires (firing=True) or is gone (resolved); TimeoutError otherwise."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.firing(name, **labels) if firing else not self.active(name, **labels):
                return time.monotonic() - t0
            time.sleep(1)
        state = "fire" if firing else "resolve"
        raise TimeoutError(f"alert {name} {labels} did not {state} within {timeout:.0f}s: {self.alerts()}")

    def fired_between(self, start: float, end: float, namespace: str | None = None) -> list[str]:
        """Alert names that were firing at some point of [start, end] (Prometheus' ALERTS series). Alerts that
        carry a namespace label (target alerts) count only for `namespace`."""
        data = self.get(
            "/api/v1/query_range",
            query='ALERTS{alertstate="firing"}',
            start=start,
            end=max(end, start + 1),
            step="2s",
        )
        names = set()
        for series in data["result"]:
            m = series["metric"]
            if namespace is not None and m.get("namespace") not in (None, namespace):
                continue
            names.add(m["alertname"])
        return sorted(names)

    # -- queries ---------------------------------------------------------------------------------------------
    def query_range(self, expr: str, start: float, end: float, step: str = "5s") -> list[dict[str, Any]]:
        return list(self.get("/api/v1/query_range", query=expr, start=start, end=end, step=step)["result"])

    def query(self, expr: str) -> list[dict[str, Any]]:
        return list(self.get("/api/v1/query", query=expr)["result"])

    def close(self) -> None:
        self.http.close()
