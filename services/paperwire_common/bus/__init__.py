"""The event bus port and its adapters (embedded in-process, Kafka)."""

from .port import Consumer, EventBus, Message, Producer, Record

__all__ = ["Consumer", "EventBus", "Message", "Producer", "Record"]
