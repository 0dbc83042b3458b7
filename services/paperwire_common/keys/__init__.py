"""API keys: the KeyStore port (port.py), its SQLite (embedded) and Redis (kafka backend) adapters, the model
(model.py), the master key (master.py) and the KeyService (service.py) that the REST gateway and gRPC use
to turn a bearer token into a Principal with scopes."""

from __future__ import annotations

from typing import Any

from .model import SCOPES, KeyRecord, Principal, Scope
from .port import KeyStore
from .service import KeyService
from .sqlite import SqliteKeyStore

__all__ = ["SCOPES", "KeyRecord", "KeyService", "KeyStore", "Principal", "Scope", "SqliteKeyStore", "make_key_store"]


def make_key_store(redis: Any, namespace: str = "", path: str | None = None) -> KeyStore:
    """Redis when a client is given (kafka backend, shared by every gateway replica), else SQLite at `path`
    (the embedded data dir) or in memory."""
    if redis is None:
        return SqliteKeyStore(path or ":memory:")
    from .redis import RedisKeyStore

    return RedisKeyStore(redis, prefix=f"{namespace}paperwire:keys")
