"""KeyService: create, list and revoke API keys, and verify a bearer token (REST `Authorization: Bearer`,
gRPC `authorization` metadata) into a Principal.

Verification is cached per process for `cache_ttl_s` (valid and unknown tokens alike, in a bounded LRU), so a
request costs a store lookup at most once per token and TTL. That bound is also how long a revocation takes to
reach every other replica: the replica that revokes drops its own entry at once.
"""

from __future__ import annotations

import hmac
import secrets
from collections import OrderedDict
from collections.abc import Sequence

from ..clock import Clock, SystemClock
from .model import MASTER_ID, SCOPES, KeyRecord, Principal, key_hash
from .port import KeyStore

TOKEN_PREFIX = "pw_"


class UnknownScope(ValueError):
    pass


class KeyService:
    def __init__(
        self,
        store: KeyStore,
        master_key: str,
        *,
        clock: Clock | None = None,
        cache_ttl_s: float = 2.0,
        cache_size: int = 10_000,
    ) -> None:
        if len(master_key) < 16:
            raise ValueError("the master key must have at least 16 characters")
        self.store = store
        self.clock = clock or SystemClock()
        self.ttl, self.size = cache_ttl_s, cache_size
        self._master_hash = key_hash(master_key)
        self._master = Principal(MASTER_ID, "master key", frozenset(SCOPES), master=True)
        self._cache: OrderedDict[str, tuple[float, KeyRecord | None]] = OrderedDict()

    def is_master(self, token: str) -> bool:
        return hmac.compare_digest(key_hash(token), self._master_hash)

    async def create(self, name: str, scopes: Sequence[str], expires_at: float | None = None) -> tuple[KeyRecord, str]:
        """A new key: its record and the key itself, which is shown once and never stored."""
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown:
            raise UnknownScope(f"unknown scopes {unknown}; known: {', '.join(SCOPES)}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        record = KeyRecord(
            id="k_" + secrets.token_hex(6),
            name=name,
            scopes=tuple(s for s in SCOPES if s in scopes),
            prefix=token[:10],
            hash=key_hash(token),
            created_at=self.clock.now(),
            expires_at=expires_at,
        )
        await self.store.add(record)
        return record, token

    async def list(self) -> list[KeyRecord]:
        return await self.store.list()

    async def revoke(self, key_id: str) -> bool:
        gone = await self.store.delete(key_id)
        for h, (_, rec) in list(self._cache.items()):
            if rec is not None and rec.id == key_id:
                del self._cache[h]
        return gone

    def known(self, token: str) -> tuple[bool, Principal | None]:
        """(True, the token's Principal or None) when it is answered without the store: the master key, or a
        verification younger than the cache TTL; (False, None) when verify() must ask the store."""
        h = key_hash(token)
        if hmac.compare_digest(h, self._master_hash):
            return True, self._master
        now = self.clock.now()
        hit = self._cache.get(h)
        if hit is not None and now - hit[0] < self.ttl:
            return True, self._principal(hit[1], now)
        return False, None

    async def verify(self, token: str) -> Principal | None:
        """The Principal of a token, or None for an unknown, revoked or expired key."""
        done, principal = self.known(token)
        if done:
            return principal
        h, now = key_hash(token), self.clock.now()
        record = await self.store.by_hash(h)
        self._cache[h] = (now, record)
        self._cache.move_to_end(h)
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return self._principal(record, now)

    @staticmethod
    def _principal(record: KeyRecord | None, now: float) -> Principal | None:
        if record is None or record.expired(now):
            return None
        return Principal(record.id, record.name, frozenset(record.scopes))
