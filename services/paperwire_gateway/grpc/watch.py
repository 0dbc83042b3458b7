"""WatchTopicEvents: the topics.v1 stream (topic.created, topic.trending) as a gRPC server stream.

Each call reads topics.v1 with its own group-less StreamReader (bus port), so clients never share or commit
offsets. A position is an offset in topics.v1, which has one partition (StreamSpec): one total order of
events. The call's first response header, `paperwire-position`, is the position the stream starts after
(the last event before it, -1 for an empty stream); every event carries its own. A client that resumes with
`after_position` = the last position it saw gets every later event exactly once, in order; events older
than the stream's retention are gone, and it then starts at the oldest kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc

from paperwire_common.bus.port import EventBus
from paperwire_common.envelope import PoisonMessage, decode
from paperwire_common.events import TopicEvent
from paperwire_common.logging import get_logger
from paperwire_common.metrics import GRPC_WATCHERS
from paperwire_common.streams import TOPIC_EVENTS

from .convert import to_event
from .errors import Context, RpcError, invalid, streaming

log = get_logger(__name__)
KINDS = ("topic.created", "topic.trending")
POSITION_HEADER = "paperwire-position"
POLL_S = 1.0  # how often an idle stream looks at `closing` (server shutdown)


class TopicEventWatch:
    def __init__(self, bus: EventBus, max_watchers: int) -> None:
        self.bus, self.max_watchers = bus, max_watchers
        self.open = 0
        self.closing = asyncio.Event()  # set on shutdown: open streams end cleanly instead of being cancelled

    async def _partition(self) -> None:
        parts = await self.bus.end_offsets(TOPIC_EVENTS.name)
        if len(parts) != 1:
            raise RpcError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"{TOPIC_EVENTS.name} has {len(parts)} partitions; positions need exactly one",
            )

    @streaming
    async def WatchTopicEvents(self, request: Any, context: Context) -> AsyncIterator[Any]:
        bad = sorted(set(request.kinds) - set(KINDS))
        if bad:
            raise invalid(f"kinds must be of {', '.join(KINDS)}; not {', '.join(bad)}")
        kinds = set(request.kinds) or set(KINDS)
        after = request.after_position if request.HasField("after_position") else None
        if after is not None and after < -1:
            raise invalid("after_position must be -1 (every kept event) or a position received before")
        if self.open >= self.max_watchers:
            raise RpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, f"{self.max_watchers} streams open; retry later")
        await self._partition()
        reader = self.bus.reader(TOPIC_EVENTS.name, 0, None if after is None else after + 1)
        self.open += 1
        GRPC_WATCHERS.inc()
        try:
            await reader.start()
            if after is not None and after + 1 > reader.position:
                raise invalid(
                    f"after_position {after} is ahead of the stream (its last position: {reader.position - 1})"
                )
            await context.send_initial_metadata(((POSITION_HEADER, str(reader.position - 1)),))
            while not self.closing.is_set():
                for record in await reader.poll(100, POLL_S):
                    try:
                        ev = decode(TOPIC_EVENTS, record).event
                    except PoisonMessage as e:  # the notifier dead-letters it; a watcher skips it
                        log.warning("grpc.watch_skipped", offset=record.offset, reason=str(e))
                        continue
                    assert isinstance(ev, TopicEvent)
                    if ev.kind in kinds:
                        yield to_event(ev, record.offset)
        finally:
            self.open -= 1
            GRPC_WATCHERS.dec()
            await reader.stop()
