"""What the search-latency legs share: an open-loop load generator outside Python (vegeta) and CPU accounting.

On a 2-core box the load generator shares the cores with the servers it measures. An asyncio generator spends
1.5-2.5 ms of CPU a request (measured with CpuMeter) on those cores; vegeta (Go, `go install
github.com/tsenart/vegeta/v12@v12.13.0`, see bench/README.md) spends well under that, so more of the box is
left to Elasticsearch and the gateway, as it would be with clients on other machines.

CpuMeter says where a leg's CPU went: Elasticsearch (its own node stats, so a remote node works too), the
gateway process, the load generator, and the whole box (/proc/stat), as milliseconds of CPU per request.
"""

from __future__ import annotations

import base64
import csv
import io
import os
import resource
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

# Installed by `make bench-tools` (deploy/local/tools.sh, version in deploy/local/versions.env).
TOOLS_BIN = Path(os.environ.get("PAPERWIRE_TOOLS_BIN") or Path.home() / ".cache" / "paperwire" / "bin")

# The keyword arguments ElasticIndex passes to AsyncElasticsearch.search() that are request-body fields: a new
# one must be added here on purpose (an unknown one fails the bench instead of being silently dropped).
_BODY_KEYS = {"query", "knn", "size", "from_", "sort", "track_total_hits", "highlight", "aggs", "search_after"}


def find_vegeta() -> str | None:
    if (TOOLS_BIN / "vegeta").exists():
        return str(TOOLS_BIN / "vegeta")
    found = shutil.which("vegeta")
    if found:
        return found
    gopath = Path(os.environ.get("GOPATH") or Path.home() / "go")
    exe = gopath / "bin" / "vegeta"
    return str(exe) if exe.exists() else None


def es_body(kw: dict[str, Any]) -> dict[str, Any]:
    """The request body of one recorded search() call."""
    unknown = set(kw) - _BODY_KEYS - {"index", "source_includes", "source"}
    if unknown:
        raise ValueError(f"recorded search() arguments the bench cannot replay: {sorted(unknown)}")
    body = {("from" if k == "from_" else k): v for k, v in kw.items() if k in _BODY_KEYS}
    if "source_includes" in kw:
        body["_source"] = {"includes": list(kw["source_includes"])}
    if "source" in kw:
        body["_source"] = kw["source"]
    return body


def direct_target(es_url: str, calls: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One query's Elasticsearch requests as one vegeta target: a single _search, or an _msearch when the
    adapter sends several (hybrid: the keyword search and the kNN search, which it also runs concurrently)."""
    if len(calls) == 1:
        url = f"{es_url}/{calls[0]['index']}/_search"
        body, ctype = orjson.dumps(es_body(calls[0])), "application/json"
    else:
        lines = [orjson.dumps({"index": c["index"]}) + b"\n" + orjson.dumps(es_body(c)) + b"\n" for c in calls]
        url, body, ctype = f"{es_url}/_msearch", b"".join(lines), "application/x-ndjson"
    return {"method": "POST", "url": url, "body": base64.b64encode(body).decode(), "header": {"Content-Type": [ctype]}}


def get_target(url: str) -> dict[str, Any]:
    return {"method": "GET", "url": url}


@dataclass
class VegetaRun:
    latencies_s: list[float]  # per recorded request, from its due time; inf when it failed
    sent: int  # every request sent, the warm-up included
    planned: int
    late_s: float  # how far behind schedule the last request went out (vegeta ran out of workers)
    first_error: str | None


def run_vegeta(
    vegeta: str,
    targets: Sequence[dict[str, Any]],
    rate: float,
    duration: float,
    warmup: float,
    workdir: Path,
    timeout: float = 10.0,
    max_workers: int = 300,
) -> VegetaRun:
    """Send `targets` round-robin at `rate`/s for warmup + duration seconds; keep what was due after the warm-up.

    vegeta paces requests on schedule while it has a free worker; a request's latency is taken from its due time
    (first request's send time + seq / rate), so a late start, when all workers are busy, still counts.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    tfile = workdir / "targets.jsonl"
    tfile.write_bytes(b"".join(orjson.dumps(t) + b"\n" for t in targets))
    planned = round((warmup + duration) * rate)
    attack = subprocess.run(
        [
            vegeta,
            "attack",
            "-format=json",
            f"-targets={tfile}",
            f"-rate={rate:g}/1s",
            f"-duration={warmup + duration:g}s",
            f"-timeout={timeout:g}s",
            f"-max-workers={max_workers}",
            "-max-body=0",  # responses are read in full but not kept
        ],
        capture_output=True,
        check=True,
    )
    rows = subprocess.run([vegeta, "encode", "--to", "csv"], input=attack.stdout, capture_output=True, check=True)
    # csv: timestamp ns, status, latency ns, bytes out, bytes in, error, body, attack, seq, method, url, headers
    parsed = [(int(r[0]), int(r[1]), int(r[2]), r[5], int(r[8])) for r in csv.reader(io.StringIO(rows.stdout.decode()))]
    if not parsed:
        return VegetaRun([], 0, planned, 0.0, "vegeta sent nothing")
    t0 = min(p[0] for p in parsed)
    lat: list[float] = []
    late = 0.0
    first_error = None
    for ts, status, latency, error, seq in parsed:
        due = t0 + seq * 1e9 / rate
        late = max(late, (ts - due) / 1e9)
        if due < t0 + warmup * 1e9:
            continue
        if status != 200 or error:
            lat.append(float("inf"))
            first_error = first_error or f"HTTP {status} {error}"[:200]
        else:
            lat.append((ts - due + latency) / 1e9)
    return VegetaRun(lat, len(parsed), planned, late, first_error)


# -- CPU accounting
def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _box_busy_s() -> float:
    # /proc/stat "cpu": user nice system idle iowait irq softirq steal ...; busy = all but idle and iowait
    v = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def _es_cpu_s(es_url: str) -> float:
    with urllib.request.urlopen(f"{es_url}/_nodes/stats/process?filter_path=nodes.*.process.cpu", timeout=10) as r:
        nodes = orjson.loads(r.read())["nodes"]
    return sum(n["process"]["cpu"]["total_in_millis"] for n in nodes.values()) / 1000.0


def _children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _self_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


@dataclass
class CpuUse:
    es_ms: float  # Elasticsearch CPU per request
    gateway_ms: float | None  # the gateway process's CPU per request (gateway legs)
    load_ms: float  # the load generator's CPU per request
    box_cores: float  # cores busy on the whole box, on average over the leg (out of os.cpu_count())


class CpuMeter:
    """CPU used between start() and stop(), split by process, per request sent."""

    def __init__(self, es_url: str, gateway_pid: int | None, load: str) -> None:
        self.es_url, self.gateway_pid, self.load = es_url, gateway_pid, load

    def _snap(self) -> tuple[float, float, float, float, float]:
        gw = _proc_cpu_s(self.gateway_pid) if self.gateway_pid else 0.0
        ld = _children_cpu_s() if self.load == "vegeta" else _self_cpu_s()
        return _es_cpu_s(self.es_url), gw, ld, _box_busy_s(), time.monotonic()

    def start(self) -> None:
        self._t0 = self._snap()

    def stop(self, requests: int) -> CpuUse:
        t1 = self._snap()
        d = [b - a for a, b in zip(self._t0, t1, strict=True)]
        n = max(requests, 1)
        return CpuUse(
            es_ms=d[0] / n * 1000,
            gateway_ms=d[1] / n * 1000 if self.gateway_pid else None,
            load_ms=d[2] / n * 1000,
            box_cores=d[3] / max(d[4], 1e-9),
        )
