"""Redis KeyStore (kafka backend): every gateway replica reads the same keys.

Layout (P = `<namespace>paperwire:keys`): `P:hash` hash, key hash -> record JSON (verification is one HGET);
`P:id` hash, key id -> key hash. Both are written and deleted in one MULTI.
"""

from __future__ import annotations

from typing import Any

from .model import KeyRecord


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class RedisKeyStore:
    def __init__(self, redis: Any, *, prefix: str = "paperwire:keys") -> None:
        self.r = redis
        self.k_hash, self.k_id = f"{prefix}:hash", f"{prefix}:id"

    async def add(self, record: KeyRecord) -> None:
        if not await self.r.hsetnx(self.k_id, record.id, record.hash):
            raise ValueError(f"a key with id {record.id} exists")
        if not await self.r.hsetnx(self.k_hash, record.hash, record.model_dump_json()):
            await self.r.hdel(self.k_id, record.id)
            raise ValueError(f"a key with this hash exists: {record.id}")

    async def by_hash(self, key_hash: str) -> KeyRecord | None:
        raw = await self.r.hget(self.k_hash, key_hash)
        return KeyRecord.model_validate_json(raw) if raw is not None else None

    async def list(self) -> list[KeyRecord]:
        records = [KeyRecord.model_validate_json(v) for v in await self.r.hvals(self.k_hash)]
        return sorted(records, key=lambda k: (k.created_at, k.id))

    async def delete(self, key_id: str) -> bool:
        h = await self.r.hget(self.k_id, key_id)
        if h is None:
            return False
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.hdel(self.k_id, key_id)
            pipe.hdel(self.k_hash, _s(h))
            await pipe.execute()
        return True
