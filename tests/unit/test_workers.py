"""The registry of workers (paperwire_common/workers.py): what it names exists, and the runner builds from it."""

from __future__ import annotations

import asyncio

import pytest

from paperwire_cli import runner
from paperwire_cli.settings_doc import settings_classes
from paperwire_common.backends import make_backends
from paperwire_common.consumer import ConsumerLoop
from paperwire_common.settings import CommonSettings, ConsumerSettings
from paperwire_common.workers import WORKERS, health_ports


@pytest.mark.parametrize("name", sorted(WORKERS))
def test_each_worker_names_its_service_settings_and_port(name: str) -> None:
    spec = WORKERS[name]
    settings = spec.settings_class()
    assert issubclass(settings, ConsumerSettings)
    assert settings.model_config.get("env_prefix") == f"PAPERWIRE_{name.upper()}_"
    assert callable(getattr(spec.service_class(), "loop", None))
    for method in [m for _, m in spec.tasks] + ([spec.ready] if spec.ready else []):
        assert asyncio.iscoroutinefunction(getattr(spec.service_class(), method))
    assert f"{name} {spec.health_port}" in ConsumerSettings.model_fields["health_port"].description  # type: ignore[operator]


def test_ports_are_distinct_and_every_worker_is_documented_and_runnable() -> None:
    assert len(set(health_ports().values())) == len(WORKERS)
    assert [t for t, _ in settings_classes()] == ["all services", "ingestor", *WORKERS, "gateway"]
    assert set(runner.SERVICES) == {"ingestor", *WORKERS, "gateway"}
    assert runner.WORKERS == tuple(n for n, w in WORKERS.items() if w.run_all)


async def test_build_worker_builds_every_registered_worker() -> None:
    common = CommonSettings(backend="embedded", embeddings=False)
    b = make_backends(common)
    for name in WORKERS:
        svc, loop = runner.build_worker(name, b, common)
        assert isinstance(svc, WORKERS[name].service_class()) and isinstance(loop, ConsumerLoop)
        assert loop.service == name
    enricher, _ = runner.build_worker("enricher", b, common)
    assert enricher.encoder is None  # embeddings off: the encoder the runner passed in
    with pytest.raises(ValueError, match="unknown worker"):
        runner.build_worker("mailer", b, common)
