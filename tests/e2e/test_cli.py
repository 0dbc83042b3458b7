"""The `paperwire` command as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE


def paperwire(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paperwire_cli.main", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PAPERWIRE_LOG_LEVEL": "WARNING", **env},
    )


def test_streams_lists_the_registry() -> None:
    r = paperwire("streams")
    assert r.returncode == 0
    assert "papers.raw.v1" in r.stdout and "papers.enriched.v1.dlq" in r.stdout


def test_settings_prints_every_env_var() -> None:
    r = paperwire("settings")
    assert r.returncode == 0 and "`PAPERWIRE_GATEWAY_PORT`" in r.stdout


def test_embedded_ingest_explains_itself() -> None:
    r = paperwire("ingest", str(SAMPLE), "--backend", "embedded")
    assert r.returncode == 2 and "run all --ingest" in r.stderr


@pytest.mark.kafka
@pytest.mark.elasticsearch
@pytest.mark.redis
def test_ingest_cli_summary_and_bad_files(
    kafka_bootstrap: str, es_url: str, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    env = {"PAPERWIRE_NAMESPACE": namespace, "PAPERWIRE_INGESTOR_PROGRESS": "false"}
    ok = paperwire("ingest", str(SAMPLE), "--backend", "kafka", **env)
    assert ok.returncode == 0, ok.stderr
    assert "read 247, new 247, updated 0, unchanged 0, rejected 0" in ok.stdout

    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    bad = paperwire("ingest", str(junk), "--backend", "kafka", **env)
    assert bad.returncode == 1 and "paperwire:" in bad.stderr

    missing = paperwire("ingest", str(tmp_path / "nope.jsonl"), "--backend", "kafka", **env)
    assert missing.returncode == 1 and "no such file" in missing.stderr

    again = paperwire("ingest", str(SAMPLE), "--backend", "kafka", **env)
    assert "read 247, new 0, updated 0, unchanged 247, rejected 0" in again.stdout


def test_a_second_run_all_on_the_same_data_dir_exits_with_a_message(tmp_path: Path) -> None:
    import asyncio

    from paperwire_common.bus.embedded import EmbeddedBus

    held = EmbeddedBus(path=str(tmp_path / "bus.sqlite"))  # as a running `make run` holds it
    try:
        r = paperwire("run", "all", "--no-sample", PAPERWIRE_EMBEDDED_DATA_DIR=str(tmp_path))
    finally:
        asyncio.run(held.stop())
    assert r.returncode == 1 and "in use by another paperwire process" in r.stderr, r.stderr[-2000:]
