"""Wire format: JSON value + CloudEvents attributes in headers (binary content mode).

Encoding and decoding live here so producers and consumers agree byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from .bus.port import Message, Record
from .clock import iso
from .streams import StreamSpec

M = TypeVar("M", bound=BaseModel)


class PoisonMessage(Exception):
    """A record that can never be processed (bad JSON, wrong schema): it goes to the DLQ."""


@dataclass(frozen=True)
class Decoded(Generic[M]):
    record: Record
    event: M
    event_id: str


def encode(spec: StreamSpec, event: BaseModel, *, key: str, event_id: str, source: str, time: float) -> Message:
    headers = (
        ("ce_specversion", b"1.0"),
        ("ce_id", event_id.encode()),
        ("ce_source", source.encode()),
        ("ce_type", spec.ce_type.encode()),
        ("ce_time", iso(time).encode()),
        ("content-type", b"application/json"),
    )
    return Message(spec.name, key, event.model_dump_json(exclude_none=True).encode(), headers)


def decode(spec: StreamSpec, record: Record) -> Decoded[BaseModel]:
    try:
        event = spec.schema.model_validate_json(record.value)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise PoisonMessage(f"invalid {spec.name} message: {where}: {first['msg']}") from None
    ce_id = record.header("ce_id")
    if not ce_id:
        raise PoisonMessage("missing ce_id header")
    return Decoded(record, event, ce_id)


def dead_letter(record: Record, *, reason: str, group: str, time: float) -> Message:
    """The original bytes and headers, plus why and where it failed."""
    extra = (
        ("dlq_reason", reason[:2000].encode()),
        ("dlq_topic", record.topic.encode()),
        ("dlq_partition", str(record.partition).encode()),
        ("dlq_offset", str(record.offset).encode()),
        ("dlq_group", group.encode()),
        ("dlq_time", iso(time).encode()),
    )
    return Message(f"{record.topic}.dlq", record.key, record.value, record.headers + extra)
