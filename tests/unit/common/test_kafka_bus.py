"""KafkaBus behaviour that needs no broker."""

from __future__ import annotations

import asyncio
import time


async def test_kafka_publish_is_bounded_even_when_send_itself_blocks() -> None:
    # Regression: only the acknowledgements were bounded by send_timeout_s; aiokafka's send() itself waits while
    # its buffer is full or a partition has no leader (a broker down), and that wait was unbounded.
    from paperwire_common.bus.kafka import BusUnavailable, KafkaBus
    from paperwire_common.bus.port import Message

    class StuckProducer:
        async def send(self, *_: object, **__: object) -> None:
            await asyncio.sleep(3600)

    bus = KafkaBus("127.0.0.1:1", send_timeout_s=0.2)
    bus._producer = StuckProducer()
    t0 = time.monotonic()
    try:
        await bus.publish([Message("t", "k", b"v")])
    except BusUnavailable:
        pass
    else:
        raise AssertionError("publish returned although nothing was acknowledged")
    assert time.monotonic() - t0 < 1
