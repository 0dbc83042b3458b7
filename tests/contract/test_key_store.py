"""KeyStore contract (paperwire_common/keys/port.py), run against every adapter: SQLite (file and memory) and
Redis; and the KeyService over each (verification, expiry, revocation, the master key)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from paperwire_common.clock import FixedClock
from paperwire_common.keys import KeyRecord, KeyService, KeyStore, SqliteKeyStore
from paperwire_common.keys.model import key_hash
from paperwire_common.keys.service import UnknownScope


@pytest.fixture(params=["sqlite-memory", "sqlite-file", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[KeyStore]:
    if request.param == "sqlite-memory":
        yield SqliteKeyStore()
        return
    if request.param == "sqlite-file":
        yield SqliteKeyStore(str(tmp_path / "keys.sqlite"))
        return
    from redis.asyncio import Redis

    from paperwire_common.keys.redis import RedisKeyStore

    r = Redis.from_url(request.getfixturevalue("redis_url"))
    prefix = f"{request.getfixturevalue('namespace')}paperwire:keys"
    try:
        yield RedisKeyStore(r, prefix=prefix)
    finally:
        await r.delete(f"{prefix}:hash", f"{prefix}:id")
        await r.aclose()


def record(i: int, **kw: object) -> KeyRecord:
    base: dict[str, object] = {
        "id": f"k_{i:04d}",
        "name": f"key {i}",
        "scopes": ("events:write",),
        "prefix": "pw_abc",
        "hash": key_hash(f"secret-{i}"),
        "created_at": 1000.0 + i,
    }
    return KeyRecord.model_validate({**base, **kw})


async def test_add_find_list_delete(store: KeyStore) -> None:
    assert await store.list() == [] and await store.by_hash(key_hash("secret-1")) is None
    a, b = record(2), record(1, scopes=("papers:write", "admin"), expires_at=5000.0)
    await store.add(a)
    await store.add(b)
    assert await store.by_hash(key_hash("secret-1")) == b
    assert [k.id for k in await store.list()] == ["k_0001", "k_0002"], "oldest first"
    with pytest.raises(ValueError):
        await store.add(record(1, hash=key_hash("other")))  # same id
    with pytest.raises(ValueError):
        await store.add(record(3, hash=a.hash))  # same secret
    assert [k.id for k in await store.list()] == ["k_0001", "k_0002"], "a refused add leaves nothing behind"
    assert await store.delete("k_0001") is True and await store.delete("k_0001") is False
    assert await store.by_hash(key_hash("secret-1")) is None and await store.list() == [a]


async def test_the_service_verifies_scopes_expiry_and_revocation(store: KeyStore) -> None:
    clock = FixedClock(10_000.0)
    svc = KeyService(store, "m" * 32, clock=clock, cache_ttl_s=2.0)
    rec, token = await svc.create("ci", ["papers:write", "events:write"], expires_at=10_100.0)
    assert token.startswith("pw_") and len(token) > 40 and rec.prefix == token[:10]
    assert rec.hash == key_hash(token) and token not in rec.model_dump_json(), "only the hash is stored"
    assert rec.scopes == ("events:write", "papers:write"), "scopes in canonical order"
    p = await svc.verify(token)
    assert p is not None and p.key_id == rec.id and p.allows("papers:write") and not p.allows("admin")
    assert await svc.verify(token + "x") is None and await svc.verify("") is None
    master = await svc.verify("m" * 32)
    assert master is not None and master.master and all(master.allows(s) for s in ("admin", "events:write"))
    assert svc.is_master("m" * 32) and not svc.is_master(token)
    clock.t = 10_100.0
    assert await svc.verify(token) is None, "expired"
    clock.t = 10_000.0
    assert await svc.revoke(rec.id) is True
    assert await svc.verify(token) is None, "the revoking process forgets the key at once"
    with pytest.raises(UnknownScope):
        await svc.create("x", ["events:write", "root"])


async def test_another_process_sees_a_revocation_within_the_cache_ttl(store: KeyStore) -> None:
    clock = FixedClock(0.0)
    here, there = KeyService(store, "m" * 32, clock=clock), KeyService(store, "m" * 32, clock=clock, cache_ttl_s=2.0)
    rec, token = await here.create("bot", ["events:write"])
    assert await there.verify(token) is not None
    await here.revoke(rec.id)
    clock.t = 1.9
    assert await there.verify(token) is not None, "cached up to the TTL"
    clock.t = 2.0
    assert await there.verify(token) is None


def test_a_short_master_key_is_refused() -> None:
    with pytest.raises(ValueError):
        KeyService(SqliteKeyStore(), "short")
