"""The durable log of the embedded bus (bus/sqlite_log.py): what it stores, how, and that one process owns it.
(Its Kafka semantics are the EventBus contract: tests/contract/test_event_bus.py.)"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from paperwire_common.bus.embedded import EmbeddedBus
from paperwire_common.bus.port import Message
from paperwire_common.bus.sqlite_log import LogInUse


async def test_values_and_headers_round_trip_and_big_values_are_compressed(tmp_path: Path) -> None:
    path = tmp_path / "bus.sqlite"
    bus = EmbeddedBus(path=str(path))
    big = b'{"embedding": [' + b", ".join(b"0.0%d" % i for i in range(2000)) + b"]}"
    odd = bytes(range(256))  # header bytes that are not UTF-8 survive as they are
    await bus.publish([Message("t", "k", big, (("ce_id", b"e1"), ("raw", odd))), Message("t", "k", b"small")])
    await bus.stop()
    db = sqlite3.connect(path)
    rows = db.execute("SELECT codec, length(value) FROM records ORDER BY id").fetchall()
    db.close()
    assert rows[0][0] == 1 and rows[0][1] < len(big) / 2 and rows[1] == (0, 5)
    again = EmbeddedBus(path=str(path))
    got = again.records("t")
    assert [r.value for r in got] == [big, b"small"]
    assert got[0].headers == (("ce_id", b"e1"), ("raw", odd)) and got[0].header("ce_id") == "e1"
    assert [r.offset for r in got] == [0, 1] and got[0].partition == got[1].partition
    await again.stop()


async def test_a_second_owner_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    path = str(tmp_path / "bus.sqlite")
    first = EmbeddedBus(path=path)
    with pytest.raises(LogInUse, match="in use by another paperwire process"):
        EmbeddedBus(path=path)
    await first.stop()
    second = EmbeddedBus(path=path)
    await second.stop()


async def test_a_publish_cancelled_mid_write_keeps_bus_and_log_in_step(tmp_path: Path) -> None:
    """The write lands on its thread whatever the caller does: the bus must then know its offsets, so the next
    publish does not reuse them."""
    bus = EmbeddedBus(path=str(tmp_path / "bus.sqlite"), default_partitions=1)
    await bus.ensure_topics(["t"], partitions=1)
    task = asyncio.create_task(bus.publish([Message("t", "k", b"%d" % i) for i in range(2000)]))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.sleep(0.5)
    await bus.publish([Message("t", "k", b"after")])
    values = [r.value for r in bus.records("t")]
    assert values[-1] == b"after" and len(values) in (1, 2001)
    assert [r.offset for r in bus.records("t")] == list(range(len(values)))
    await bus.stop()
