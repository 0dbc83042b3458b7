"""Start-up time of `make run` on a data dir: the first start, a restart after Ctrl-C, after kill -9, and with the
trend store's snapshot deleted (the trend store rebuilt by replaying the whole log). Each time is from the
process start to /readyz answering 200 (every part caught up), so it includes the imports, the model load (with
embeddings on) and the start-up ingest of the same file, which finds every paper unchanged. Prints a table;
nothing here asserts.

  python bench/restart.py --papers 20000 [--events 50000] [--embeddings on|off] [--keyphrases yake|off]
  python bench/restart.py --sample        # the 247-paper sample corpus, as `make run` ingests it

Before the kill -9, `--tail` more events are posted and scored, after the last snapshot (the interval is set
long), so that restart rolls the trend store forward from its snapshot over them.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx

from bench.pipeline import corpus

SAMPLE = ROOT / "data" / "sample" / "seed_papers.jsonl"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, data: Path, ingest: Path, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        args = [] if ingest == SAMPLE else ["--no-sample", "--ingest", str(ingest)]
        self.t0 = time.monotonic()
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "paperwire_cli.main", "run", "all", *args],
                cwd=ROOT,
                env={
                    **os.environ,
                    **env,
                    "PAPERWIRE_EMBEDDED_DATA_DIR": str(data),
                    "PAPERWIRE_GATEWAY_PORT": str(self.port),
                    "PAPERWIRE_GATEWAY_GRPC_PORT": "0",
                    "PAPERWIRE_LOG_LEVEL": "WARNING",
                    "PAPERWIRE_INGESTOR_PROGRESS": "false",
                },
                stdout=subprocess.DEVNULL,
                stderr=out,
            )
        self.http = httpx.Client(base_url=self.base, timeout=60)

    def ready(self, timeout: float = 3600) -> float:
        while time.monotonic() - self.t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"paperwire run all exited with {self.proc.returncode}")
            try:
                if self.http.get("/readyz", timeout=2).status_code == 200:
                    return time.monotonic() - self.t0
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError("not ready")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self, sig: int) -> None:
        self.http.close()
        self.proc.send_signal(sig)
        self.proc.wait(120)


def post_events(s: Server, ids: list[str], n: int, rng: random.Random, tag: str) -> None:
    """n engagement events over the papers (a few hot ones, a long tail), then waits until all are scored."""
    now = time.time()
    stars: dict[str, int] = {}
    batch: list[dict[str, Any]] = []
    hot = ids[:-1]  # the last paper only gets the marker
    rng.shuffle(hot)
    for i in range(n):
        pid = hot[min(int(rng.paretovariate(1.0)) - 1, len(hot) - 1)]
        t = rng.choice(["view", "view", "view", "upvote", "download", "mention", "comment", "star"])
        ev: dict[str, Any] = {"paper_id": pid, "type": t, "actor_id": f"a{rng.randrange(5000)}", "ts": now - 60}
        if t == "star":
            stars[pid] = stars.get(pid, 0) + rng.randrange(0, 20)
            ev["stars"] = stars[pid]
        batch.append(ev)
        if len(batch) == 1000 or i == n - 1:
            r = s.http.post("/v1/events", json=batch)
            r.raise_for_status()
            batch = []
    marker = {"id": f"marker-{tag}", "paper_id": ids[-1], "type": "mention", "actor_id": "bench"}
    s.http.post("/v1/events", json=marker).raise_for_status()
    while True:  # the marker is the last event: once it counts, everything before it was scored
        bd = s.http.get(f"/v1/papers/{ids[-1]}/trending").json()["windows"]["24h"]["breakdown"]
        if bd.get("mention", {}).get("count", 0) >= {"first": 1, "tail": 2}[tag]:
            return
        time.sleep(0.2)


def paper_ids(path: Path) -> list[str]:
    from paperwire_ingestor.handlers import paper_key
    from paperwire_ingestor.parsers import FORMATS
    from paperwire_ingestor.records import SourceRecord

    return list(dict.fromkeys(paper_key(r) for r in FORMATS["jsonl"](path.read_bytes()) if isinstance(r, SourceRecord)))


def du(path: Path) -> str:
    return ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in sorted(path.iterdir()) if p.is_file())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--papers", type=int, default=20_000)
    ap.add_argument("--sample", action="store_true", help="the sample corpus instead of a synthetic one")
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--tail", type=int, default=5_000)
    ap.add_argument("--embeddings", choices=["on", "off"], default="on")
    ap.add_argument("--keyphrases", choices=["yake", "off"], default="yake")
    a = ap.parse_args()
    path = SAMPLE if a.sample else corpus(a.papers)
    name = "sample" if a.sample else f"{a.papers}"
    data = ROOT / "bench" / "out" / f"restart-{name}"
    shutil.rmtree(data, ignore_errors=True)
    data.parent.mkdir(parents=True, exist_ok=True)
    log = data.parent / f"restart-{name}.log"
    log.unlink(missing_ok=True)
    env = {
        "PAPERWIRE_EMBEDDINGS": "true" if a.embeddings == "on" else "false",
        "PAPERWIRE_ENRICHER_KEYPHRASES": a.keyphrases,
        "PAPERWIRE_TRENDING_SNAPSHOT_INTERVAL_S": "3600",  # so the kill -9 below leaves a tail to replay
        "PAPERWIRE_TRENDING_TOPICS_INITIAL_DELAY_S": "3600",
    }
    rng = random.Random(1)
    rows: list[tuple[str, float, float]] = []

    s = Server(data, path, env, log)
    rows.append(("first start (ingest, enrich, index, score)", s.ready(), s.rss_mb()))
    ids = paper_ids(path)
    post_events(s, ids, a.events, rng, "first")
    s.stop(signal.SIGINT)

    s = Server(data, path, env, log)
    rows.append(("restart after Ctrl-C (snapshot, no tail)", s.ready(), s.rss_mb()))
    post_events(s, ids, a.tail, rng, "tail")
    s.stop(signal.SIGKILL)

    s = Server(data, path, env, log)
    rows.append((f"restart after kill -9 (snapshot + {a.tail + 1} events)", s.ready(), s.rss_mb()))
    s.stop(signal.SIGINT)

    (data / "trends.sqlite").unlink()
    for extra in ("trends.sqlite-wal", "trends.sqlite-shm"):
        (data / extra).unlink(missing_ok=True)
    s = Server(data, path, env, log)
    rows.append(("restart, snapshot deleted (replay of the whole log)", s.ready(), s.rss_mb()))
    s.stop(signal.SIGINT)

    events = a.events + a.tail + 2
    papers = 247 if a.sample else a.papers
    print(
        f"\nstart-up of `paperwire run all`, {papers} papers ({'sample' if a.sample else 'synthetic'}), {events} "
        f"events, embeddings {a.embeddings}, keyphrases {a.keyphrases}, {os.cpu_count()} cores"
    )
    print(f"{'start':56} {'ready s':>8} {'peak RSS MB':>12}")
    for label, secs, rss in rows:
        print(f"{label:56} {secs:8.1f} {rss:12.0f}")
    print(f"data dir: {du(data)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
