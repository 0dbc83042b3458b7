"""The embedded bus's durable log: one SQLite file (WAL) holding every record and every group's commits.

Layout:
  partitions (id, topic, part)          one row per topic partition
  records    (id, ts, key, headers, codec, value)
             id = partition id << 40 | offset, so one partition is one contiguous rowid range: a poll is a range
             scan of the table's own B-tree, and the end offset is its MAX(id). Values of 4 KiB or more are
             zlib-compressed (codec 1) when that saves a tenth: the enriched papers carry 384-float embeddings
             as JSON, which compress to less than half.
  commits    (grp, partition, off)      a consumer group's next offset to read

`synchronous=FULL`: a publish returns once its transaction is in the WAL on disk, so it survives kill -9 and a
power cut. Appends are one transaction per publish call (a batch of the ingestor or of the enricher is one).
Records are never deleted (no retention yet): the log is what a restart replays.

Two connections: the bus calls `create`, `append` and `commit` on its writer thread and `read` on its reader
thread (WAL readers never wait for the writer); `records()` of the bus (tests, tools) reads under a lock.
One process at a time: the writer caches the next offset of every partition, so a second process appending to
the same file would collide. An exclusive lock on `<path>.lock` (released by the kernel even on kill -9) makes a
second `paperwire run all` on the same data dir fail at once with a message.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import zlib
from collections.abc import Iterator, Mapping, Sequence

import orjson

from .log import TP, LogState
from .port import Message, Record

SHIFT = 40  # offsets per partition < 2^40
COMPRESS_MIN = 4096
_SCHEMA = """
CREATE TABLE IF NOT EXISTS partitions (
    id INTEGER PRIMARY KEY, topic TEXT NOT NULL, part INTEGER NOT NULL, UNIQUE (topic, part));
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY, ts REAL NOT NULL, key TEXT NOT NULL, headers BLOB NOT NULL, codec INTEGER NOT NULL,
    value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS commits (
    grp TEXT NOT NULL, partition INTEGER NOT NULL, off INTEGER NOT NULL, PRIMARY KEY (grp, partition)) WITHOUT ROWID;
"""


def _connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("PRAGMA busy_timeout = 10000")
    return db


@contextlib.contextmanager
def _tx(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _headers(h: Sequence[tuple[str, bytes]]) -> bytes:
    # latin-1 maps every byte to one code point and back: any header bytes round-trip exactly
    return orjson.dumps([[k, v.decode("latin-1")] for k, v in h])


def _unheaders(raw: bytes) -> tuple[tuple[str, bytes], ...]:
    return tuple((k, v.encode("latin-1")) for k, v in orjson.loads(raw))


def _pack(value: bytes) -> tuple[int, bytes]:
    if len(value) >= COMPRESS_MIN:
        z = zlib.compress(value, 1)
        if len(z) < 0.9 * len(value):
            return 1, z
    return 0, value


class LogInUse(RuntimeError):
    """Another process has this log open."""


class SqliteLog:
    threaded = True

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock)
            raise LogInUse(
                f"{path} is in use by another paperwire process (one `paperwire run all` per data dir)"
            ) from None
        self.w = _connect(path)
        self.w.executescript(_SCHEMA)
        self.r = _connect(path)
        self._rlock = threading.Lock()
        self._pids: dict[TP, int] = {}
        self._next: dict[TP, int] = {}  # next offset per partition: only the writer thread touches it

    def load(self) -> LogState:
        st = LogState()
        for pid, topic, part in self.w.execute("SELECT id, topic, part FROM partitions ORDER BY id"):
            self._pids[(topic, part)] = pid
            st.partitions[topic] = max(st.partitions.get(topic, 0), part + 1)
            (top,) = self.w.execute(
                "SELECT MAX(id) FROM records WHERE id >= ? AND id < ?", (pid << SHIFT, (pid + 1) << SHIFT)
            ).fetchone()
            end = 0 if top is None else (top & ((1 << SHIFT) - 1)) + 1
            self._next[(topic, part)] = end
            st.ends[(topic, part)] = end
        by_id = {pid: tp for tp, pid in self._pids.items()}
        for grp, pid, off in self.w.execute("SELECT grp, partition, off FROM commits"):
            st.committed.setdefault(grp, {})[by_id[pid]] = off
        return st

    def create(self, topics: Mapping[str, int]) -> None:
        with _tx(self.w):
            for name, n in topics.items():
                for p in range(n):
                    self.w.execute("INSERT OR IGNORE INTO partitions (topic, part) VALUES (?, ?)", (name, p))
        for name, n in topics.items():
            for p in range(n):
                if (name, p) not in self._pids:
                    (pid,) = self.w.execute(
                        "SELECT id FROM partitions WHERE topic = ? AND part = ?", (name, p)
                    ).fetchone()
                    self._pids[(name, p)] = pid
                    self._next.setdefault((name, p), 0)

    def append(self, rows: Sequence[tuple[int, Message]], ts: float) -> dict[TP, int]:
        nxt: dict[TP, int] = {}
        out = []
        for p, m in rows:
            tp = (m.topic, p)
            off = nxt.get(tp)
            if off is None:
                off = self._next[tp]
            nxt[tp] = off + 1
            codec, value = _pack(m.value)
            out.append(((self._pids[tp] << SHIFT) | off, ts, m.key, _headers(m.headers), codec, value))
        with _tx(self.w):  # one transaction: all of the publish or none of it
            self.w.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)", out)
        self._next.update(nxt)  # only once committed: a failed append reuses its offsets
        return nxt

    def read(self, wants: Sequence[tuple[str, int, int, int]]) -> list[Record]:
        out: list[Record] = []
        add = out.append
        mask = (1 << SHIFT) - 1
        with self._rlock:
            for topic, part, start, n in wants:
                pid = self._pids[(topic, part)]
                rows = self.r.execute(
                    "SELECT id, ts, key, headers, codec, value FROM records WHERE id >= ? AND id < ? ORDER BY id "
                    "LIMIT ?",
                    ((pid << SHIFT) | start, (pid + 1) << SHIFT, n),
                )
                for rid, ts, key, headers, codec, value in rows:
                    v = zlib.decompress(value) if codec == 1 else value
                    add(Record(topic, key, v, _unheaders(headers), part, rid & mask, ts))
        return out

    def commit(self, group: str, offsets: Mapping[TP, int]) -> None:
        with _tx(self.w):
            self.w.executemany(
                "INSERT INTO commits VALUES (?, ?, ?) ON CONFLICT (grp, partition) DO UPDATE SET off = excluded.off",
                [(group, self._pids[tp], off) for tp, off in offsets.items()],
            )

    def close(self) -> None:
        self.r.close()
        self.w.close()
        os.close(self._lock)  # releases the flock
