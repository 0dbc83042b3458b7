"""The Grafana dashboards' queries, as Prometheus runs them (Grafana's variables replaced by their values)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import ROOT

DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
# $__rate_interval is Grafana's: at least four scrape intervals (2 s in the test profile); $service: "All".
VALUES = {"$__rate_interval": "30s", "$service": ".*"}


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for p in panels:
        out.append(p)
        out += _panels(p.get("panels", []))
    return out


def panel_queries(paths: list[Path] | None = None) -> list[tuple[str, str]]:
    """(where, expr) of every panel target and query variable of every dashboard."""
    out = []
    for path in paths or sorted(DASHBOARDS.glob("*.json")):
        d = json.loads(path.read_text())
        for p in _panels(d["panels"]):
            for t in p.get("targets", []):
                expr = t["expr"]
                for k, v in VALUES.items():
                    expr = expr.replace(k, v)
                out.append((f"{path.name} panel {p['title']!r} {t.get('refId')}", expr))
        for var in d.get("templating", {}).get("list", []):
            if var.get("type") == "query":
                q = var["query"]
                out.append((f"{path.name} variable {var['name']!r}", q["query"] if isinstance(q, dict) else q))
    return out
