"""`paperwire run all` as a child process on a data dir (what `make run` starts), for restart and crash tests."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import MASTER_AUTH, ROOT, TEST_MASTER_KEY, free_port


class RunAll:
    def __init__(self, data_dir: Path, *args: str, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = data_dir.parent / f"run-all-{self.port}.log"
        full = {
            **os.environ,
            "PAPERWIRE_BACKEND": "embedded",
            "PAPERWIRE_EMBEDDED_DATA_DIR": str(data_dir),
            "PAPERWIRE_GATEWAY_PORT": str(self.port),
            "PAPERWIRE_GATEWAY_GRPC_PORT": "0",
            "PAPERWIRE_LOG_FORMAT": "console",
            "PAPERWIRE_MASTER_KEY": TEST_MASTER_KEY,  # writes (POST /v1/events) need a key
            **env,
        }
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "paperwire_cli.main", "run", "all", *args],
                cwd=ROOT,
                env=full,
                stdout=subprocess.DEVNULL,
                stderr=out,
            )
        self.http = httpx.Client(base_url=self.base, timeout=30)

    def tail(self, n: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n:]

    def wait_ready(self, timeout: float = 240) -> float:
        """Seconds until /readyz answered 200; fails with the log's tail if the process died or never got there."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            assert self.proc.poll() is None, f"run all exited with {self.proc.returncode}:\n{self.tail()}"
            try:
                r = self.http.get("/readyz", timeout=2)
                if r.status_code == 200:
                    return time.monotonic() - t0
                body = r.json()
                assert r.status_code == 503 and body["status"] == "not ready", r.text
                assert not all(body["checks"].values()), "503 must name a part that is not ready"
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"not ready after {timeout}s:\n{self.tail()}")

    def ctrl_c(self, timeout: float = 60) -> int:
        self.http.close()
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout)

    def kill_9(self) -> None:
        self.http.close()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def get(self, path: str, **params: Any) -> Any:
        r = self.http.get(path, params=params)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    def post_events(self, events: list[dict[str, Any]]) -> httpx.Response:
        return self.http.post("/v1/events", json=events, headers=MASTER_AUTH)


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def assert_decayed_alike(before: list[float], after: list[float], half_life: float, dt: float) -> None:
    """Scores read at two instants dt apart are the same stored scores when every ratio is the same decay
    2^(−dt/H): equal to each other to 1e-9, and to the decay the two as_of stamps give (to their clock skew)."""
    assert len(before) == len(after) and before
    ratios = [a / b for a, b in zip(after, before, strict=True)]
    for r in ratios:
        assert math.isclose(r, ratios[0], rel_tol=1e-9), (r, ratios[0])
    assert math.isclose(ratios[0], 2.0 ** (-dt / half_life), rel_tol=1e-6), (ratios[0], dt)
