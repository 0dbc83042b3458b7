"""Static checks of the deploy files: docker-compose.yml, Dockerfile, .dockerignore, deploy/prometheus, deploy/grafana.

No Docker needed. The files are checked against the code they configure: settings classes (env vars), metrics.py
(metric and label names), the registry of workers (paperwire_common/workers.py) and GatewaySettings (ports),
deploy/local/versions.env (server versions). promtool checks need promtool (`make tools`; required with
PAPERWIRE_REQUIRE_SERVERS=1).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import cache
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from paperwire_cli import runner
from paperwire_cli.runner import health_port
from paperwire_common import metrics
from paperwire_common.settings import CommonSettings
from paperwire_common.workers import WORKERS, health_ports
from paperwire_gateway.settings import GatewaySettings
from tests.tools import need_tool

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PROM_DIR = ROOT / "deploy" / "prometheus"
PROMETHEUS = PROM_DIR / "prometheus.yml"
PROMETHEUS_LOCAL = PROM_DIR / "prometheus.local.yml"
PROMETHEUS_TEST = PROM_DIR / "prometheus.test.yml"
PROMETHEUS_SH = ROOT / "deploy" / "local" / "prometheus.sh"
ALERTS = PROM_DIR / "alerts.yml"
ALERTS_TEST = PROM_DIR / "alerts_test.yml"
GRAFANA = ROOT / "deploy" / "grafana"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "paperwire.yml"
DASHBOARD = GRAFANA / "dashboards" / "paperwire.json"
VERSIONS = ROOT / "deploy" / "local" / "versions.env"

SERVERS = ("kafka", "elasticsearch", "redis", "prometheus", "grafana")
# The servers every long-running paperwire service waits for (healthy), and the one-shot that must finish first.
BACKING_SERVERS = ("kafka", "elasticsearch", "redis")
STREAMS_ONE_SHOT = "streams"
# Labels Prometheus attaches to every scraped series (job, instance) and the target label of deploy/prometheus.
TARGET_LABELS = {"job", "instance", "component"}


# ------------------------------------------------------------------------------------------------ helpers
def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@cache
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE)


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def paperwire_services() -> dict[str, dict[str, Any]]:
    """The services built from the Dockerfile (everything else is a server image)."""
    return {n: s for n, s in services().items() if "build" in s}


def service_arg(svc: dict[str, Any]) -> str:
    return str(svc["build"]["args"]["SERVICE"])


def is_one_shot(svc: dict[str, Any]) -> bool:
    """A one-shot overrides the image command (`paperwire streams create`, `paperwire ingest ...`)."""
    return "command" in svc


def long_running() -> dict[str, dict[str, Any]]:
    """Compose name -> service for the paperwire services that run `paperwire run <SERVICE>` (the image CMD)."""
    return {n: s for n, s in paperwire_services().items() if not is_one_shot(s)}


def environment(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def depends_on(svc: dict[str, Any]) -> dict[str, str]:
    """Dependency -> condition (the short list form means service_started)."""
    deps = svc.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def resolve_default(value: str) -> str:
    """`${VAR:-default}` / `${VAR-default}` -> default, as compose resolves it when VAR is unset."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}", r"\1", value)


def versions_env() -> dict[str, str]:
    out = {}
    for line in VERSIONS.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip().strip("\"'")
    return out


def settings_classes(service: str) -> list[type[BaseSettings]]:
    """CommonSettings plus the settings classes defined in paperwire_<service>/settings.py (if any)."""
    classes: list[type[BaseSettings]] = [CommonSettings]
    module_name = f"paperwire_{service}.settings"
    if importlib.util.find_spec(f"paperwire_{service}") is None or importlib.util.find_spec(module_name) is None:
        return classes
    module = importlib.import_module(module_name)
    for obj in vars(module).values():
        if isinstance(obj, type) and issubclass(obj, BaseSettings) and obj.__module__ == module_name:
            classes.append(obj)
    return classes


def setting_env_names(service: str) -> set[str]:
    names = set()
    for cls in settings_classes(service):
        prefix = str(cls.model_config.get("env_prefix", ""))
        for field_name, field in cls.model_fields.items():
            names.add(f"{prefix}{field_name}".upper())
            if isinstance(field.validation_alias, str):
                names.add(field.validation_alias.upper())
            if isinstance(field.alias, str):
                names.add(field.alias.upper())
    return names


def runnable_services() -> set[str]:
    """gateway + every registered worker (`paperwire run <name>` can build it)."""
    return {"gateway", *WORKERS}


def expected_port(service: str, env: dict[str, str] | None = None) -> int:
    """The port of /metrics and /healthz of one service as it runs in compose (env overrides the default)."""
    env = env or {}
    if service == "gateway":
        return int(env.get("PAPERWIRE_GATEWAY_PORT") or GatewaySettings.model_fields["port"].default)
    return int(env.get(f"PAPERWIRE_{service.upper()}_HEALTH_PORT") or 0) or WORKERS[service].health_port


# metrics.py: sample names as Prometheus exposes them, and the labels of each.
@cache
def metric_samples() -> dict[str, set[str]]:
    from prometheus_client.metrics import MetricWrapperBase

    out: dict[str, set[str]] = {}
    for obj in vars(metrics).values():
        if not isinstance(obj, MetricWrapperBase):
            continue
        name, labels = obj._name, set(obj._labelnames)
        kind = obj._type
        if kind == "counter":
            out[f"{name}_total"] = labels
        elif kind == "gauge":
            out[name] = labels
        elif kind == "histogram":
            out[f"{name}_bucket"] = labels | {"le"}
            out[f"{name}_sum"] = labels
            out[f"{name}_count"] = labels
        else:  # pragma: no cover - a new metric type needs a rule here
            raise AssertionError(f"metric type {kind} of {name} not handled by this test")
    return out


METRIC_REF = re.compile(r"\b(paperwire_[a-z_]+)\b(\{[^}]*\})?")
SELECTOR_LABEL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


def check_promql(expr: str, where: str) -> list[str]:
    """Problems of one PromQL expression: unknown metric names, labels a metric does not have."""
    known = metric_samples()
    problems, used_labels = [], set(TARGET_LABELS)
    refs = METRIC_REF.findall(expr)
    for name, selector in refs:
        if name not in known:
            problems.append(f"{where}: {name} is not exposed by paperwire_common/metrics.py (known: {sorted(known)})")
            continue
        allowed = known[name] | TARGET_LABELS
        used_labels |= allowed
        for label in SELECTOR_LABEL.findall(selector or ""):
            if label not in allowed:
                problems.append(f"{where}: {name} has no label {label!r} (labels: {sorted(known[name])})")
    if refs:
        for group in GROUPING.findall(expr):
            for label in (x.strip() for x in group.split(",")):
                if label and label not in used_labels:
                    problems.append(f"{where}: grouping label {label!r} is on none of the metrics of {expr!r}")
    return problems


def alert_rules() -> list[dict[str, Any]]:
    return [r for g in load_yaml(ALERTS)["groups"] for r in g["rules"]]


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def dashboard_panels() -> Iterator[dict[str, Any]]:
    for p in dashboard()["panels"]:
        yield p
        yield from p.get("panels", [])


def dashboard_exprs() -> list[tuple[str, str]]:
    """(where, expr) of every panel target and query variable."""
    out = []
    for p in dashboard_panels():
        for t in p.get("targets", []):
            out.append((f"panel {p['title']!r} {t.get('refId')}", t["expr"]))
    for var in dashboard().get("templating", {}).get("list", []):
        q = var.get("query")
        if var.get("type") == "query":
            out.append((f"variable {var['name']!r}", q["query"] if isinstance(q, dict) else q))
    return out


def scrape_targets(config: Path) -> list[tuple[str, str, dict[str, str]]]:
    """(job, host:port, labels) of every static target."""
    out = []
    for job in load_yaml(config)["scrape_configs"]:
        for sc in job.get("static_configs", []):
            for target in sc["targets"]:
                out.append((job["job_name"], target, sc.get("labels", {})))
    return out


# ------------------------------------------------------------------------------------------------ compose
def test_compose_parses_and_has_every_server() -> None:
    assert isinstance(compose(), dict)
    missing = [s for s in SERVERS if s not in services()]
    assert not missing, f"docker-compose.yml lacks the servers {missing}"
    assert STREAMS_ONE_SHOT in paperwire_services()


def test_depends_on_names_existing_services_with_valid_conditions() -> None:
    problems = []
    for name, svc in services().items():
        for dep, condition in depends_on(svc).items():
            if dep not in services():
                problems.append(f"{name} depends on unknown service {dep}")
                continue
            target = services()[dep]
            if condition == "service_healthy":
                hc = target.get("healthcheck") or {}
                if not hc.get("test") or hc.get("disable"):
                    problems.append(f"{name} waits for {dep} to be healthy but {dep} has no healthcheck")
            elif condition == "service_completed_successfully":
                if not is_one_shot(target) or str(target.get("restart", "no")) != "no":
                    problems.append(f"{name} waits for {dep} to complete but {dep} is not a one-shot")
            else:
                problems.append(
                    f"{name} -> {dep}: condition {condition!r} (use service_healthy or service_completed_successfully)"
                )
    assert not problems, "\n".join(problems)


def test_build_contexts_and_dockerfiles_exist() -> None:
    known = {"streams", "ingestor", *WORKERS, "gateway"}
    for name, svc in paperwire_services().items():
        build = svc["build"]
        context = ROOT / build.get("context", ".")
        assert context.is_dir(), f"{name}: build context {context} does not exist"
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"
        assert dockerfile.resolve() == DOCKERFILE, f"{name}: every service is built from the one Dockerfile"
        assert service_arg(svc) in known, f"{name}: build arg SERVICE={service_arg(svc)} is no paperwire service"


def test_bind_mounts_exist_and_named_volumes_are_declared() -> None:
    declared = set((compose().get("volumes") or {}).keys())
    problems = []
    for name, svc in services().items():
        for vol in svc.get("volumes", []):
            if isinstance(vol, dict):
                source, kind = str(vol.get("source", "")), vol.get("type", "volume")
            else:
                source = vol.split(":", 1)[0]
                kind = "bind" if source.startswith((".", "/", "~")) else "volume"
            if kind == "bind":
                host = (ROOT / source).resolve()
                if not host.exists():
                    problems.append(f"{name}: bind-mounted {source} does not exist in the repository")
                elif ROOT.resolve() not in (host, *host.parents):
                    problems.append(f"{name}: bind-mounted {source} is outside the repository")
            elif source and source not in declared:
                problems.append(f"{name}: named volume {source} is not declared under top-level volumes")
    assert not problems, "\n".join(problems)


def test_paperwire_env_vars_are_real_settings() -> None:
    problems = []
    for name, svc in paperwire_services().items():
        allowed = setting_env_names(service_arg(svc))
        for key in environment(svc):
            if key.startswith("PAPERWIRE_") and key not in allowed:
                problems.append(
                    f"{name}: {key} is not a setting of CommonSettings or paperwire_{service_arg(svc)}.settings"
                )
    assert not problems, "\n".join(problems)


def test_paperwire_env_points_at_the_compose_servers() -> None:
    for name, svc in paperwire_services().items():
        env = environment(svc)
        assert env.get("PAPERWIRE_BACKEND") == "kafka", name
        assert env.get("PAPERWIRE_KAFKA_BOOTSTRAP") == "kafka:9092", name
        assert env.get("PAPERWIRE_ELASTICSEARCH_URL") == "http://elasticsearch:9200", name
        assert re.fullmatch(r"redis://redis:6379/\d+", env.get("PAPERWIRE_REDIS_URL", "")), name
    for name, svc in long_running().items():
        env = environment(svc)
        # Workers bind their health port, the gateway its HTTP/gRPC ports: loopback would be unreachable.
        assert env.get("PAPERWIRE_HEALTH_HOST") == "0.0.0.0", name
        if service_arg(svc) == "gateway":
            assert env.get("PAPERWIRE_GATEWAY_HOST") == "0.0.0.0", name


def test_every_paperwire_service_has_healthcheck_and_waits_for_its_dependencies() -> None:
    problems = []
    for name, svc in paperwire_services().items():
        deps = depends_on(svc)
        if not deps:
            problems.append(f"{name}: no depends_on")
        if is_one_shot(svc):
            # Its health is its exit code; the services depending on it wait for service_completed_successfully.
            if deps.get("kafka") != "service_healthy":
                problems.append(f"{name}: a one-shot must wait for kafka: service_healthy")
            if str(svc.get("restart", "no")) != "no":
                problems.append(f"{name}: a one-shot must not restart")
            continue
        hc = svc.get("healthcheck") or {}
        if not hc.get("test") or hc.get("disable"):
            problems.append(f"{name}: no healthcheck")
        for server in BACKING_SERVERS:
            if deps.get(server) != "service_healthy":
                problems.append(f"{name}: must depend on {server} with condition service_healthy")
        if deps.get(STREAMS_ONE_SHOT) != "service_completed_successfully":
            problems.append(f"{name}: must depend on {STREAMS_ONE_SHOT} with condition service_completed_successfully")
    for server in SERVERS:
        hc = services()[server].get("healthcheck") or {}
        if not hc.get("test") or hc.get("disable"):
            problems.append(f"server {server}: no healthcheck")
    assert not problems, "\n".join(problems)


def test_every_runnable_service_is_deployed() -> None:
    deployed = {service_arg(s) for s in long_running().values()}
    assert deployed == runnable_services(), (
        f"docker-compose.yml runs {sorted(deployed)}, the code has {sorted(runnable_services())} "
        "(a worker is runnable once it is in paperwire_common/workers.py)"
    )
    # The compose name is the DNS name deploy/prometheus scrapes.
    for name, svc in long_running().items():
        assert name == service_arg(svc), f"compose service {name} runs {service_arg(svc)}: name them alike"


def test_compose_services_are_accepted_by_paperwire_run() -> None:
    # cmd_run refuses a service that is not in runner.SERVICES (or is the ingestor): such a container would exit 2.
    refused = sorted(
        service_arg(s)
        for s in long_running().values()
        if service_arg(s) not in runner.SERVICES or service_arg(s) == "ingestor"
    )
    assert not refused, f"`paperwire run <service>` refuses {refused}: add them to runner.SERVICES"


def test_server_versions_match_versions_env() -> None:
    versions = versions_env()
    images = {name: resolve_default(str(services()[name]["image"])) for name in ("kafka", "elasticsearch")}
    assert images["kafka"] == f"apache/kafka:{versions['KAFKA_VERSION']}"
    assert images["elasticsearch"] == (
        f"docker.elastic.co/elasticsearch/elasticsearch:{versions['ELASTICSEARCH_VERSION']}"
    )
    assert resolve_default(str(services()["redis"]["image"])).startswith("redis:7")


# ------------------------------------------------------------------------------------------------ Dockerfile
def test_dockerfile_runs_paperwire_per_service() -> None:
    text = DOCKERFILE.read_text()
    instructions = [ln for ln in text.splitlines() if ln and not ln.startswith(("#", " "))]
    cmd = [ln for ln in instructions if ln.startswith(("CMD", "ENTRYPOINT"))]
    assert cmd, "no CMD/ENTRYPOINT"
    assert all("paperwire" in c for c in cmd), cmd
    assert "paperwire run" in cmd[-1] and "PAPERWIRE_SERVICE" in cmd[-1] and "--backend kafka" in cmd[-1]
    assert re.search(r"^ARG SERVICE$", text, re.M)
    assert re.search(r"^ENV PAPERWIRE_SERVICE=\$\{?SERVICE\}?$", text, re.M)
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", text, re.M) or "FROM python:3.11-slim" in text
    assert re.search(r"pip install [^\n]*\buv\b", text)
    # Dependencies before sources (layer caching), then the locked, dev-free project environment.
    assert text.index("COPY pyproject.toml uv.lock") < text.index("COPY services")
    assert "uv sync --frozen --no-dev" in text
    flat = re.sub(r"\\\n\s*", "", text)  # continuation lines joined
    # The gRPC code is generated in the build, as by `make proto`.
    assert "grpc_tools.protoc -Iproto --python_out=services --grpc_python_out=services --pyi_out=services" in flat
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1] not in ("root", "0"), "the service must not run as root"
    assert re.search(r'^HEALTHCHECK .*CMD \["paperwire", "healthcheck"\]$', text, re.M)


def test_dockerfile_env_vars_are_real_settings() -> None:
    allowed = setting_env_names("common") | {"PAPERWIRE_SERVICE"}  # PAPERWIRE_SERVICE: read by CMD/healthcheck
    env_lines = re.findall(r"^ENV ((?:.*\\\n)*.*)$", DOCKERFILE.read_text(), re.M)
    keys = {k for block in env_lines for k in re.findall(r"\b(PAPERWIRE_[A-Z0-9_]+)=", block)}
    assert keys <= allowed, f"not settings: {sorted(keys - allowed)}"


def test_dockerfile_holds_no_copy_of_the_health_ports() -> None:
    """The HEALTHCHECK asks `paperwire healthcheck`, which reads the registry of workers: no port list here."""
    text = DOCKERFILE.read_text()
    ports = [*health_ports().values(), GatewaySettings.model_fields["port"].default]
    assert not [p for p in ports if re.search(rf"\b{p}\b", text)], "a port is written in the Dockerfile"


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


def _healthcheck(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`paperwire healthcheck` as the Docker HEALTHCHECK runs it (the service named by PAPERWIRE_SERVICE)."""
    base = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "paperwire_cli.main", "healthcheck", "--timeout", "5"]
    return subprocess.run(cmd, env={**base, **env}, capture_output=True, text=True, timeout=60, cwd=ROOT)


@pytest.mark.parametrize("status, ok", [(200, True), (503, False)])
def test_healthcheck_command_probes_the_service_port(status: int, ok: bool) -> None:
    handler = type("Health", (_Health,), {"status": status})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = str(server.server_address[1])
        r = _healthcheck({"PAPERWIRE_SERVICE": "indexer", "PAPERWIRE_INDEXER_HEALTH_PORT": port})
        assert (r.returncode == 0) == ok, r.stderr
        r = _healthcheck({"PAPERWIRE_SERVICE": "gateway", "PAPERWIRE_GATEWAY_PORT": port})
        assert (r.returncode == 0) == ok, r.stderr
    finally:
        server.shutdown()
        server.server_close()
    r = _healthcheck({"PAPERWIRE_SERVICE": "streams"})
    assert r.returncode != 0 and "no health endpoint" in r.stderr


def test_healthcheck_ports_come_from_the_registry_and_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in WORKERS:
        monkeypatch.delenv(f"PAPERWIRE_{name.upper()}_HEALTH_PORT", raising=False)
        assert health_port(name) == expected_port(name) == WORKERS[name].health_port
    monkeypatch.setenv("PAPERWIRE_TRENDING_HEALTH_PORT", "9999")
    assert health_port("trending") == 9999
    monkeypatch.delenv("PAPERWIRE_GATEWAY_PORT", raising=False)
    assert health_port("gateway") == GatewaySettings.model_fields["port"].default
    assert health_port("streams") is None


def test_dockerignore_keeps_local_state_out() -> None:
    patterns = {ln.strip().rstrip("/") for ln in DOCKERIGNORE.read_text().splitlines()}
    for p in (".venv", ".infra", ".git", ".pytest_cache", ".mypy_cache", ".ruff_cache", "services/paperwire"):
        assert p in patterns, f".dockerignore lacks {p}"
    for needed in ("pyproject.toml", "uv.lock", "README.md", "proto", "services"):
        assert needed not in patterns, f".dockerignore excludes {needed}, which the build copies"


# ------------------------------------------------------------------------------------------------ Prometheus
def test_alert_and_dashboard_metrics_exist_in_metrics_py() -> None:
    problems = []
    for rule in alert_rules():
        problems += check_promql(rule["expr"], f"alert {rule['alert']}")
    for where, expr in dashboard_exprs():
        problems += check_promql(expr, where)
    assert not problems, "\n".join(problems)
    used = {m for _, e in dashboard_exprs() for m, _ in METRIC_REF.findall(e)}
    used |= {m for r in alert_rules() for m, _ in METRIC_REF.findall(r["expr"])}
    # Every metric family appears somewhere (its _bucket standing for a histogram).
    families = {re.sub(r"_(total|bucket|sum|count)$", "", m) for m in metric_samples()}
    unused = families - {re.sub(r"_(total|bucket|sum|count)$", "", m) for m in used}
    assert not unused, f"metrics on no dashboard panel and in no alert: {sorted(unused)}"


def test_required_alerts_exist() -> None:
    names = {r["alert"]: r for r in alert_rules()}
    for alert in (
        "PaperwireTargetDown",
        "PaperwireConsumerLagHigh",
        "PaperwireEventsDeadLettered",
        "PaperwireConsumerHalted",
        "PaperwireGateway5xxRatioHigh",
        "PaperwireGatewayLatencyP99High",
    ):
        assert alert in names, f"alerts.yml lacks {alert}"
        assert names[alert].get("labels", {}).get("severity") in ("warning", "critical"), alert
    assert names["PaperwireConsumerLagHigh"]["for"] == "5m"
    assert "0.25" in names["PaperwireGatewayLatencyP99High"]["expr"]
    tested = {a["alertname"] for t in load_yaml(ALERTS_TEST)["tests"] for a in t.get("alert_rule_test", [])}
    assert len(tested) >= 2 and tested <= set(names), tested


def test_compose_scrape_targets_match_service_ports() -> None:
    targets = scrape_targets(PROMETHEUS)
    paperwire = [(job, t, labels) for job, t, labels in targets if job.startswith("paperwire-")]
    scraped = {}
    for job, target, labels in paperwire:
        host, _, port = target.rpartition(":")
        assert host in long_running(), f"{job}: {host} is not a long-running compose service"
        svc = long_running()[host]
        assert int(port) == expected_port(service_arg(svc), environment(svc)), f"{job}: {target}"
        assert labels.get("component") == service_arg(svc), f"{target}: component label"
        scraped[host] = target
    assert set(scraped) == set(long_running()), f"scraped {sorted(scraped)}, compose runs {sorted(long_running())}"


def test_local_scrape_targets_match_service_ports() -> None:
    local = [(j, t, lb) for j, t, lb in scrape_targets(PROMETHEUS_LOCAL) if j.startswith("paperwire-")]
    for _, target, labels in local:
        host, _, port = target.rpartition(":")
        assert host == "127.0.0.1", target
        assert int(port) == expected_port(labels["component"]), target
    assert {lb["component"] for _, _, lb in local} == runnable_services()
    # Same jobs and component labels as in compose: alerts and dashboard work on both.
    in_compose = {(j, lb.get("component")) for j, _, lb in scrape_targets(PROMETHEUS) if j.startswith("paperwire-")}
    assert {(j, lb.get("component")) for j, _, lb in local} == in_compose


def test_prometheus_configs_load_the_alerts() -> None:
    for config in (PROMETHEUS, PROMETHEUS_LOCAL, PROMETHEUS_TEST):
        rule_files = load_yaml(config).get("rule_files", [])
        assert [(config.parent / f).resolve() for f in rule_files] == [ALERTS.resolve()], config
    mounts = [v for v in services()["prometheus"]["volumes"] if isinstance(v, str)]
    assert "./deploy/prometheus:/etc/prometheus:ro" in mounts
    assert "--config.file=/etc/prometheus/prometheus.yml" in services()["prometheus"]["command"]


# ------------------------------------------------------------------------------------------------ Grafana
def bind_mounts(service: str) -> dict[str, str]:
    """Container path -> repository path of the bind mounts of one compose service."""
    out = {}
    for vol in services()[service].get("volumes", []):
        parts = vol.split(":")
        if parts[0].startswith("."):
            out[parts[1]] = str((ROOT / parts[0]).resolve())
    return out


def test_grafana_provisioning_is_wired() -> None:
    mounts = bind_mounts("grafana")
    assert mounts.get("/etc/grafana/provisioning/datasources") == str(DATASOURCES.parent)
    assert mounts.get("/etc/grafana/provisioning/dashboards") == str(DASHBOARD_PROVIDERS.parent)
    ds = load_yaml(DATASOURCES)["datasources"]
    prom = next(d for d in ds if d["type"] == "prometheus")
    assert prom["url"] == "http://prometheus:9090" and "prometheus" in services()
    provider = load_yaml(DASHBOARD_PROVIDERS)["providers"][0]
    assert mounts.get(provider["options"]["path"]) == str(DASHBOARD.parent), "provider path is not the mount"
    home = environment(services()["grafana"]).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH", "")
    assert home == f"{provider['options']['path']}/{DASHBOARD.name}"
    # Every datasource reference of the dashboard is the provisioned one.
    uids = set(re.findall(r'"uid":\s*"([^"]+)"', DASHBOARD.read_text())) - {"-- Grafana --", "paperwire-overview"}
    assert uids == {prom["uid"]}, uids


def test_dashboard_is_valid_grafana_json() -> None:
    d = dashboard()
    assert d["uid"] and d["title"] and 36 <= d["schemaVersion"] <= 41
    panels = list(dashboard_panels())
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    for p in panels:
        assert {"h", "w", "x", "y"} <= set(p["gridPos"]) and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24
        if p["type"] != "row":
            assert p.get("targets"), f"panel {p['title']!r} has no query"
            assert all(t.get("refId") and t.get("expr") for t in p["targets"]), p["title"]
    titles = " ".join(p["title"].lower() for p in panels)
    for topic in (
        "processed",
        "dead-lettered",
        "lag",
        "batch latency",
        "index documents",
        "ingest",
        "requests",
        "latency",
        "5xx",
    ):
        assert topic in titles, f"no panel about {topic}"


# ------------------------------------------------------------------------------------------------ promtool
@pytest.fixture
def promtool() -> str:
    return need_tool("promtool")


def _promtool(promtool: str, *args: str) -> None:
    r = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120, cwd=PROM_DIR)
    assert r.returncode == 0, f"promtool {' '.join(args)}:\n{r.stdout}\n{r.stderr}"


def test_promtool_check_config(promtool: str) -> None:
    _promtool(promtool, "check", "config", str(PROMETHEUS))
    _promtool(promtool, "check", "config", str(PROMETHEUS_LOCAL))
    _promtool(promtool, "check", "config", str(PROMETHEUS_TEST))


def profile_rules(tmp_path: Path, profile: str, scale: str = "10") -> str:
    """The alert rules deploy/local/prometheus.sh loads for a profile (what `up` writes to conf/alerts.yml)."""
    env = {
        **os.environ,
        "PAPERWIRE_INFRA_HOME": str(tmp_path / "infra"),
        "PROMETHEUS_PROFILE": profile,
        "PROMETHEUS_TIME_SCALE": scale,
    }
    r = subprocess.run(["bash", str(PROMETHEUS_SH), "rules"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def seconds(duration: str) -> float:
    """A Prometheus duration (5m, 1h30m, 90s) in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    parts = re.findall(r"(\d+)(ms|s|m|h|d)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(int(n) * units[u] for n, u in parts)


def test_test_profile_rules_are_the_alerts_time_scaled(promtool: str, tmp_path: Path) -> None:
    assert profile_rules(tmp_path, "local") == ALERTS.read_text()
    scaled = profile_rules(tmp_path, "test")
    path = tmp_path / "alerts.scaled.yml"
    path.write_text(scaled)
    _promtool(promtool, "check", "rules", str(path))
    fast = {r["alert"]: r for g in yaml.safe_load(scaled)["groups"] for r in g["rules"]}
    for rule in alert_rules():
        got = fast.pop(rule["alert"])
        # Same rule, labels and annotations; only the durations differ, each divided by 10.
        assert {k: v for k, v in got.items() if k not in ("expr", "for")} == {
            k: v for k, v in rule.items() if k not in ("expr", "for")
        }
        window = r"\[(\w+)(?::(\w+))?\]"
        assert re.sub(window, "[]", got["expr"]) == re.sub(window, "[]", rule["expr"])
        windows = zip(re.findall(window, got["expr"]), re.findall(window, rule["expr"]), strict=True)
        for fast_pair, slow_pair in windows:
            for fast_w, slow_w in zip(fast_pair, slow_pair, strict=True):
                if slow_w:
                    assert seconds(fast_w) * 10 == seconds(slow_w), (rule["alert"], fast_w, slow_w)
        if "for" in rule:
            assert seconds(got["for"]) * 10 == seconds(rule["for"]), (rule["alert"], got["for"], rule["for"])
    assert not fast, f"rules that alerts.yml does not have: {sorted(fast)}"


def test_test_profile_scrapes_the_same_jobs_from_file_sd() -> None:
    test_jobs = {j["job_name"]: j for j in load_yaml(PROMETHEUS_TEST)["scrape_configs"]}
    compose_jobs = {j["job_name"] for j in load_yaml(PROMETHEUS)["scrape_configs"]}
    assert set(test_jobs) == compose_jobs
    for name, job in test_jobs.items():
        if name.startswith("paperwire-"):
            # Tests add their services as targets/<job>/*.json: the job (and so alerts and dashboard) match.
            assert job["file_sd_configs"] == [{"files": [f"targets/{name}/*.json"], "refresh_interval": "5s"}], name
            assert "static_configs" not in job, f"{name}: the test profile scrapes only what tests register"
    local_jobs = {j["job_name"]: j for j in load_yaml(PROMETHEUS_LOCAL)["scrape_configs"]}
    for name in ("paperwire-workers", "paperwire-gateway"):
        assert local_jobs[name]["file_sd_configs"] == [{"files": [f"targets/{name}/*.json"]}], name


def test_promtool_check_and_test_rules(promtool: str) -> None:
    _promtool(promtool, "check", "rules", str(ALERTS))
    _promtool(promtool, "test", "rules", str(ALERTS_TEST))


def test_promtool_parses_dashboard_queries(promtool: str, tmp_path: Path) -> None:
    # Grafana's variables replaced by values, then each query as a recording rule: promtool parses it.
    rules = [
        {
            "record": f"paperwire_dashboard:query_{i}",
            "expr": expr.replace("$__rate_interval", "5m").replace("$service", ".*"),
        }
        for i, (_, expr) in enumerate(dashboard_exprs())
        if not expr.startswith("label_values(")
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    _promtool(promtool, "check", "rules", str(path))
