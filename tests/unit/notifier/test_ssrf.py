"""SSRF: refused at creation with the reason, and at connect time (DNS rebinding) -- with no connection made, as a
listener that counts connections proves."""

from __future__ import annotations

import ipaddress
import sqlite3

import pytest

from paperwire_common.deliveries.port import Delivery
from paperwire_common.deliveries.sqlite import SqliteDeliveryStore
from paperwire_common.events import SubscriptionRecord, WebhookSecret
from paperwire_common.subscriptions.service import NewSubscription, SubscriptionInvalid, SubscriptionService
from paperwire_common.subscriptions.settings import NotifySettings
from paperwire_common.subscriptions.sqlite import SqliteSubscriptionStore
from paperwire_common.webhooks import signing
from paperwire_common.webhooks.ssrf import IPAddress, TargetPolicy, UnsafeTarget, check_url
from paperwire_notifier.sender import WebhookSender
from tests.notify_kit import ConnectionCounter


async def ten_dot(host: str, port: int) -> list[IPAddress]:
    """A resolver answering as a hostile DNS zone would: evil.example -> 10.0.0.7."""
    return [ipaddress.ip_address("10.0.0.7")] if host == "evil.example" else [ipaddress.ip_address("93.184.216.34")]


def service(policy_http: bool = True, networks: str = "") -> SubscriptionService:
    db = sqlite3.connect(":memory:", isolation_level=None)
    return SubscriptionService(
        SqliteSubscriptionStore(db),
        SqliteDeliveryStore(db),
        NotifySettings(allow_http=policy_http, allow_networks=networks),
        "http://paperwire.test",
        resolver=ten_dot,
    )


@pytest.mark.parametrize(
    "url, why",
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://127.0.0.1:{port}/hook", "loopback"),
        ("http://[::ffff:10.0.0.1]/", "IPv4-mapped"),
        ("http://evil.example:{port}/", "resolves to a private address (10.0.0.7)"),
        ("http://100.64.0.1/", "carrier-grade NAT"),
        ("http://[fe80::1]/", "link-local"),
        ("http://224.0.0.1/", "multicast"),
        ("http://0.0.0.0:{port}/", "unspecified"),
        ("http://[::1]:{port}/", "loopback"),
        ("http://2130706433/", "not a canonical IP"),
        ("ftp://example.org/", "scheme"),
    ],
)
async def test_refused_at_creation_with_the_reason_and_no_connection(
    url: str, why: str, counter: ConnectionCounter
) -> None:
    svc = service()
    with pytest.raises(SubscriptionInvalid) as e:
        await svc.create(
            "alice", NewSubscription("webhook", url=url.format(port=counter.port), events=("topic.created",))
        )
    assert why in str(e.value) and str(e.value).startswith("url: ")
    assert counter.connections == 0 and await svc.list_for("alice") == []


async def test_https_required_unless_allowed() -> None:
    with pytest.raises(SubscriptionInvalid, match="http is not allowed"):
        await service(policy_http=False).create(
            "a", NewSubscription("webhook", url="http://example.org/h", events=("topic.created",))
        )
    created = await service(policy_http=False).create(
        "a", NewSubscription("webhook", url="https://example.org/h", events=("topic.created",))
    )
    assert created.secret and created.secret.startswith("whsec_")


async def test_allow_networks_lets_an_intranet_through() -> None:
    created = await service(networks="10.0.0.0/8").create(
        "a", NewSubscription("webhook", url="http://evil.example/h", events=("topic.created",))
    )
    assert created.subscription.url == "http://evil.example/h"
    with pytest.raises(UnsafeTarget, match="IPv4-mapped"):  # never, whatever is allowed
        await check_url("http://[::ffff:10.0.0.1]/", TargetPolicy.of(True, ["10.0.0.0/8", "::/0"]))


async def test_refused_at_connect_time_after_rebinding(counter: ConnectionCounter) -> None:
    """Created while loopback was allowed; `localhost` now resolves (for real) to a refused address at the
    moment of sending: the guarded resolver drops it and no connection is made."""
    url = f"http://localhost:{counter.port}/hook"
    await check_url(url, TargetPolicy.of(True, ["127.0.0.0/8", "::1/128"]))
    sub = SubscriptionRecord(
        id="sub_1",
        revision=1,
        owner="a",
        channel="webhook",
        url=url,
        events=["topic.created"],
        secrets=[WebhookSecret(secret=signing.new_secret(), created_at=0)],
        created_at=0,
        updated_at=0,
    )
    sender = WebhookSender(TargetPolicy.of(True, []), timeout_s=2, max_response_bytes=1024, max_connections=4)
    d = Delivery("msg_1", "sub_1", "webhook", "topic.created", "e1", b"{}", 0.0)
    try:
        res = await sender.send(sub, d)
        literal = await sender.send(sub.model_copy(update={"url": f"http://127.0.0.1:{counter.port}/"}), d)
    finally:
        await sender.close()
    assert not res.ok and res.error is not None and "refused target" in res.error and "loopback" in res.error
    assert not literal.ok and literal.error is not None and "loopback" in literal.error
    assert counter.connections == 0
