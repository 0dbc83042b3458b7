"""A running `paperwire run all` (what `make run` starts) takes new papers over HTTP: the master key is generated
into the data dir, a key with papers:write is made with `paperwire keys create`, `paperwire ingest --to` sends a
JSONL file with a broken record, and the good papers become searchable; events need their own scope."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT, free_port

PAPERS = [
    {
        "title": "Quokka routing for sparse mixture of experts",
        "abstract": "Quokka routes tokens.",
        "arxiv_id": "2499.00001",
    },
    {"title": "Wombat pretraining of protein language models", "abstract": "Wombat.", "arxiv_id": "2499.00002"},
]


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paperwire_cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_post_papers_to_a_running_run_all(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    env = {
        **os.environ,
        "PAPERWIRE_BACKEND": "embedded",
        "PAPERWIRE_EMBEDDED_DATA_DIR": str(data),
        "PAPERWIRE_EMBEDDINGS": "false",
        "PAPERWIRE_GATEWAY_PORT": str(port),
        "PAPERWIRE_GATEWAY_GRPC_PORT": "0",
        "PAPERWIRE_TRENDING_TOPICS_ENABLED": "false",
    }
    env.pop("PAPERWIRE_MASTER_KEY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperwire_cli.main", "run", "all", "--no-sample"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            raise AssertionError("run all never became ready")
        master = data / "master.key"
        assert stat.S_IMODE(master.stat().st_mode) == 0o600
        made = cli(env, "keys", "create", "--name", "feeder", "--scope", "papers:write")
        assert made.returncode == 0, made.stderr
        key = next(line.split()[1] for line in made.stdout.splitlines() if line.startswith("key "))
        assert key not in made.stderr, "the key is printed once, never logged"
        listed = cli(env, "keys", "list")
        assert "feeder" in listed.stdout and key not in listed.stdout

        source = tmp_path / "new.jsonl"
        source.write_text("\n".join(json.dumps(p) for p in PAPERS) + '\n{"abstract": "no title"}\n')
        sent = cli(env, "ingest", str(source), "--to", base, "--key", key)
        assert sent.returncode == 0, sent.stderr
        assert "read 3, new 2, updated 0, unchanged 0, rejected 1" in sent.stdout and "line 3" in sent.stdout

        found: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(found) < 2:
            r = httpx.get(f"{base}/v1/search", params={"q": "quokka OR wombat", "mode": "keyword"})
            found = [i["id"] for i in r.json()["items"]]
            time.sleep(0.3)
        assert sorted(found) == ["arxiv:2499.00001", "arxiv:2499.00002"], "the papers became searchable"

        # The key may ingest, not post events; a revoked key is refused.
        ev = {"paper_id": "arxiv:2499.00001", "type": "view", "actor_id": "u"}
        assert httpx.post(f"{base}/v1/events", json=ev, headers={"Authorization": f"Bearer {key}"}).status_code == 403
        key_id = next(line.split()[1] for line in made.stdout.splitlines() if line.startswith("id "))
        assert cli(env, "keys", "revoke", key_id).returncode == 0
        deadline = time.monotonic() + 5
        status = 0
        while time.monotonic() < deadline:
            status = httpx.post(
                f"{base}/v1/papers", content=b"x", headers={"Authorization": f"Bearer {key}"}
            ).status_code
            if status == 401:
                break
            time.sleep(0.2)
        assert status == 401, "revoked with the CLI: refused by the running gateway within its cache TTL"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        assert master.read_text().strip() not in err.decode(), "no secret is ever logged"
