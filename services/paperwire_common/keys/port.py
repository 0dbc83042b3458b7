"""KeyStore port: API key records by id and by hash of the key. Adapters: sqlite.py (embedded backend, the
data dir's keys.sqlite, or memory), redis.py (kafka backend, shared by every gateway replica);
tests/contract/test_key_store.py runs the same contract against both."""

from __future__ import annotations

from typing import Protocol

from .model import KeyRecord


class KeyStore(Protocol):
    async def add(self, record: KeyRecord) -> None:
        """Store a new key (ids and hashes are unique: a clash raises ValueError)."""
        ...

    async def by_hash(self, key_hash: str) -> KeyRecord | None:
        """The key whose secret hashes to `key_hash`, or None."""
        ...

    async def list(self) -> list[KeyRecord]:
        """Every key, oldest first."""
        ...

    async def delete(self, key_id: str) -> bool:
        """Forget a key (revocation); False if there was none with that id."""
        ...
