"""Process facts for the long benchmarks: resident memory now and at its peak, of the services and the servers."""

from __future__ import annotations

import os
import resource
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INFRA_HOME = Path(os.environ.get("PAPERWIRE_INFRA_HOME") or ROOT / ".infra")
SERVER_PIDFILES = {
    "kafka": "kafka/kafka.pid",
    "elasticsearch": "elasticsearch/elasticsearch.pid",
    "redis": "redis/redis.pid",
    "prometheus": "prometheus/prometheus.pid",
}


def _status_kb(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_mb(pid: int) -> float | None:
    kb = _status_kb(pid, "VmRSS")
    return kb / 1024 if kb is not None else None


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM: the process's resident high-water mark since it started (a server's includes its earlier life)."""
    kb = _status_kb(pid, "VmHWM")
    return kb / 1024 if kb is not None else None


def server_pids() -> dict[str, int]:
    """The servers of `make infra-up` found by their pidfiles (those that run)."""
    out = {}
    for name, rel in SERVER_PIDFILES.items():
        try:
            pid = int((INFRA_HOME / rel).read_text().strip())
        except (OSError, ValueError):
            continue
        if Path(f"/proc/{pid}").exists():
            out[name] = pid
    return out


def own_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
