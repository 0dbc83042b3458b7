"""Keys and quotas on gRPC follow REST's rules, with the gateway's own KeyService and quotas (the Python stubs, and
grpcurl with `-H 'authorization: Bearer …'`): public reads unless PAPERWIRE_GATEWAY_PUBLIC_READS=false
(UNAUTHENTICATED), a bad key UNAUTHENTICATED, a key without a method's scope PERMISSION_DENIED, over the quota
RESOURCE_EXHAUSTED with the quota in the trailing metadata; a revocation on REST is refused on gRPC at once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from paperwire.v1 import papers_pb2, papers_pb2_grpc, topics_pb2
from paperwire_common.backends import make_backends
from paperwire_common.keys import Scope
from paperwire_common.settings import CommonSettings
from paperwire_gateway.app import create_app
from paperwire_gateway.grpc import serve_grpc
from paperwire_gateway.grpc.auth import METHOD_SCOPES, peer_address
from paperwire_gateway.settings import GatewaySettings
from tests.conftest import MASTER_AUTH, TEST_MASTER_KEY, free_port, mint_key

from .test_grpcurl import grpcurl

LATEST = papers_pb2.LatestRequest(size=3)
MASTER = MASTER_AUTH["Authorization"]


class Rig:
    def __init__(self, stub: Any, channel: grpc.aio.Channel, rest: httpx.AsyncClient, target: str) -> None:
        self.stub, self.channel, self.rest, self.target = stub, channel, rest, target

    async def key(self, *scopes: str) -> tuple[tuple[str, str], ...]:
        """A new key (made on REST) as gRPC metadata."""
        header = (await mint_key(self.rest, *scopes))["Authorization"]
        return (("authorization", header),)


@asynccontextmanager
async def rig(scopes: Mapping[str, Scope] = METHOD_SCOPES, **settings: Any) -> AsyncIterator[Rig]:
    """REST (in process) and gRPC (a loopback port) of one gateway over an empty embedded backend."""
    b = make_backends(CommonSettings(backend="embedded", embeddings=False))
    await b.start()
    app = create_app(b, GatewaySettings(**settings), master_key=TEST_MASTER_KEY)
    port, stop = free_port(), asyncio.Event()
    task = asyncio.create_task(serve_grpc(app.state.ctx, "127.0.0.1", port, stop, scopes))
    target = f"127.0.0.1:{port}"
    try:
        async with (
            grpc.aio.insecure_channel(target) as ch,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as rest,
        ):
            await asyncio.wait_for(ch.channel_ready(), 10)
            yield Rig(papers_pb2_grpc.PapersStub(ch), ch, rest, target)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        await b.stop()


async def refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await call
    return e.value


def trailing(error: grpc.aio.AioRpcError) -> dict[str, str]:
    return {k: v for k, v in error.trailing_metadata() or ()}


async def answered(call: Any) -> dict[str, str]:
    """Await a unary call; its trailing metadata."""
    await call
    return {k: v for k, v in await call.trailing_metadata() or ()}


async def test_public_reads_keys_and_bad_keys() -> None:
    async with rig() as r:
        anonymous = await answered(r.stub.Latest(LATEST))
        assert anonymous["ratelimit-policy"] == '"anonymous";q=120;w=60' and anonymous["ratelimit"].startswith('"anon')
        keyed = await answered(r.stub.Latest(LATEST, metadata=await r.key("events:write")))
        assert keyed["ratelimit-policy"] == '"key";q=600;w=60', "the key's own quota"
        for bad, says in [
            ("Bearer pw_made_up", "unknown, revoked or expired"),
            ("Basic dTpw", "must be `Bearer <key>`"),
            ("Bearer", "must be `Bearer <key>`"),
        ]:
            e = await refused(r.stub.Latest(LATEST, metadata=(("authorization", bad),)))
            assert e.code() == grpc.StatusCode.UNAUTHENTICATED and says in (e.details() or ""), (bad, e.details())
        # Probes and reflection need no key, even with a bad one.
        health = health_pb2_grpc.HealthStub(r.channel)
        got = await health.Check(health_pb2.HealthCheckRequest(), metadata=(("authorization", "Bearer nope"),))
        assert got.status == health_pb2.HealthCheckResponse.SERVING
        master = await r.stub.ListTopics(topics_pb2.ListTopicsRequest(), metadata=(("authorization", MASTER),))
        assert list(master.topics) == []


async def test_reads_can_require_a_key() -> None:
    async with rig(public_reads=False) as r:
        e = await refused(r.stub.Latest(LATEST))
        assert e.code() == grpc.StatusCode.UNAUTHENTICATED and "PUBLIC_READS=false" in (e.details() or "")
        e = await refused(r.stub.WatchTopicEvents(topics_pb2.WatchTopicEventsRequest()).read())
        assert e.code() == grpc.StatusCode.UNAUTHENTICATED, "the stream too"
        key = await r.key("subscriptions:write")
        assert list((await r.stub.Latest(LATEST, metadata=key)).items) == []
        watch = r.stub.WatchTopicEvents(topics_pb2.WatchTopicEventsRequest(), metadata=key)
        assert dict(await watch.initial_metadata())["paperwire-position"] == "-1"
        watch.cancel()
        health = health_pb2_grpc.HealthStub(r.channel)
        assert (await health.Check(health_pb2.HealthCheckRequest())).status == health_pb2.HealthCheckResponse.SERVING


async def test_a_method_with_a_scope_refuses_a_key_without_it() -> None:
    async with rig(scopes={"/paperwire.v1.Papers/Latest": "admin"}) as r:
        e = await refused(r.stub.Latest(LATEST))
        assert e.code() == grpc.StatusCode.UNAUTHENTICATED and "scope admin" in (e.details() or "")
        e = await refused(r.stub.Latest(LATEST, metadata=await r.key("events:write")))
        assert e.code() == grpc.StatusCode.PERMISSION_DENIED and "lacks the scope admin" in (e.details() or "")
        await r.stub.Latest(LATEST, metadata=await r.key("admin"))
        await r.stub.ListTopics(topics_pb2.ListTopicsRequest())  # other methods stay public


async def test_over_the_quota_is_resource_exhausted_with_the_quota_shared_with_rest() -> None:
    async with rig(rate_limit_key="3/minute") as r:
        key = await r.key("events:write")
        rest_auth = {"Authorization": dict(key)["authorization"]}
        assert (await r.rest.get("/v1/feeds/latest", headers=rest_auth)).status_code == 200  # one of the three
        await r.stub.Latest(LATEST, metadata=key)
        last = await answered(r.stub.ListTopics(topics_pb2.ListTopicsRequest(), metadata=key))
        assert last["ratelimit"].startswith('"key";r=0;')
        e = await refused(r.stub.Latest(LATEST, metadata=key))
        assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "over the quota of this key" in (e.details() or "")
        fields = trailing(e)
        assert fields["ratelimit-policy"] == '"key";q=3;w=60' and int(fields["retry-after"]) >= 1
        assert (await r.rest.get("/v1/feeds/latest", headers=rest_auth)).status_code == 429, "and REST is over too"
        # The master key has no quota.
        for _ in range(5):
            await r.stub.Latest(LATEST, metadata=(("authorization", MASTER),))


async def test_a_key_revoked_on_rest_is_refused_on_grpc_at_once() -> None:
    async with rig() as r:
        key = await r.key("events:write")
        await r.stub.Latest(LATEST, metadata=key)  # verified: now in the shared cache
        (record,) = (await r.rest.get("/v1/keys", headers=MASTER_AUTH)).json()["keys"]
        assert (await r.rest.delete(f"/v1/keys/{record['id']}", headers=MASTER_AUTH)).status_code == 204
        e = await refused(r.stub.Latest(LATEST, metadata=key))
        assert e.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_grpcurl_sends_a_key_in_metadata() -> None:
    async with rig(public_reads=False) as r:
        code, out, err = await grpcurl("-plaintext", r.target, "list")
        assert code == 0 and "paperwire.v1.Papers" in out.split(), err  # reflection needs no key
        code, _, err = await grpcurl("-plaintext", "-d", '{"size": 2}', r.target, "paperwire.v1.Papers/Latest")
        assert code != 0 and "Code: Unauthenticated" in err and "PUBLIC_READS=false" in err
        bearer = dict(await r.key("events:write"))["authorization"]
        code, out, err = await grpcurl(
            "-plaintext", "-v", "-H", f"authorization: {bearer}", "-d", '{"size": 2}', r.target,
            "paperwire.v1.Papers/Latest",
        )  # fmt: skip
        assert code == 0, err
        assert json.loads(out[out.index("{") : out.rindex("}") + 1]) == {}, "an empty index: no items"
        assert 'ratelimit-policy: "key";q=600;w=60' in out, "the trailing metadata grpcurl -v prints"
        code, _, err = await grpcurl(
            "-plaintext", "-H", "authorization: Bearer pw_nope", "-d", "{}", r.target, "paperwire.v1.Papers/Latest"
        )
        assert code != 0 and "Code: Unauthenticated" in err and "unknown, revoked or expired" in err


@pytest.mark.parametrize(
    ("peer", "address"),
    [
        ("ipv4:127.0.0.1:50000", "127.0.0.1"),
        ("ipv6:[::1]:50000", "::1"),
        ("ipv6:%5B::1%5D:50000", "::1"),
        ("ipv6:%5B2001%3Adb8%3A%3A7%5D:1", "2001:db8::7"),
        ("unix:/tmp/sock", None),
    ],
)
def test_the_peer_address_is_what_rest_sees(peer: str, address: str | None) -> None:
    assert peer_address(peer) == address
