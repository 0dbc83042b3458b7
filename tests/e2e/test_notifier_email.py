"""E-mail through a real SMTP server (mailpit) and the real HTTP API, on both backends: the site's anonymous
sign-up (double opt-in: one confirmation however often the form is sent) and a key holder's e-mail subscription,
the confirmation links followed over HTTP, then `POST /v1/digests/send` -> one digest each with the right papers,
valid multipart, one-click unsubscribe (a real RFC 8058 POST); sent again -> nothing; after unsubscribing -> nothing.
"""

from __future__ import annotations

import asyncio
import email
import json
import re
import time
import uuid
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import httpx
import pytest

from paperwire_common.clock import FixedClock
from tests.conftest import free_port, mint_key
from tests.notify_kit import Mailpit, eventually

from .notify_rig import backend_settings, notify_rig, served
from .pipeline import pipeline

BACKENDS = ["embedded", pytest.param("kafka", marks=[pytest.mark.kafka, pytest.mark.elasticsearch, pytest.mark.redis])]
PAPERS = [
    ("Video diffusion models at scale", "We train diffusion models for video generation. Diffusion works."),
    ("Latent diffusion for audio", "A latent diffusion model generates audio from text prompts."),
    ("Protein folding with transformers", "We predict protein structures with attention. Folding is hard."),
    ("Graph networks for molecules", "Message passing networks predict molecular properties."),
]


def corpus(tmp: Path) -> Path:
    path = tmp / "papers.jsonl"
    path.write_text("\n".join(json.dumps({"title": t, "abstract": a, "authors": ["A. Author"]}) for t, a in PAPERS))
    return path


def parsed(mp: Mailpit, mid: str) -> EmailMessage:
    msg = email.message_from_bytes(mp.raw(mid), policy=default)
    assert isinstance(msg, EmailMessage)
    return msg


def link(text: str, public: str, kind: str) -> str:
    url = re.search(rf"{re.escape(public)}/v1/subscriptions/sub_\w+/{kind}\?token=[\w-]+", text)
    assert url is not None, text
    return url.group(0)


def plain(mp: Mailpit, message: dict[str, Any]) -> str:
    return str(parsed(mp, message["ID"]).get_body(("plain",)).get_content())  # type: ignore[union-attr]


def digests(mp: Mailpit, to: str) -> list[dict[str, Any]]:
    return [m for m in mp.messages(to) if m["Subject"].startswith("Paperwire digest")]


@pytest.fixture(params=BACKENDS)
def common(request: pytest.FixtureRequest) -> dict[str, Any]:
    return backend_settings(request.param, request)


@pytest.mark.timeout(300)
async def test_sign_up_confirm_digest_twice_one_click_unsubscribe(
    common: dict[str, Any], mailpit: Mailpit, tmp_path: Path
) -> None:
    me, control = f"reader-{uuid.uuid4().hex[:8]}@example.org", f"control-{uuid.uuid4().hex[:8]}@example.org"
    clock = FixedClock(time.time())
    port = free_port()
    public = f"http://127.0.0.1:{port}"  # every link in the e-mails points at the gateway served here
    backend, namespace = common.pop("backend"), common.pop("namespace", "")
    workers = ("enricher", "indexer", "trending")
    async with pipeline(backend, namespace, workers=workers, public_url=public, **common) as p:
        await p.ingest(str(corpus(tmp_path)))
        await p.settle()
        async with (
            notify_rig({}, clock=clock, backends=p.backends, smtp_url=mailpit.smtp_url),
            served(p.backends, port, clock=clock),
            httpx.AsyncClient(base_url=public) as c,
        ):
            operator = await mint_key(c, "admin", name="cron")

            async def send() -> int:
                r = await c.post("/v1/digests/send", headers=operator)
                assert r.status_code == 200, r.text
                return int(r.json()["queued"])

            # The site's form, twice (no key): the same answer, one confirmation e-mail.
            for _ in range(2):
                r = await c.post("/v1/subscriptions/email", json={"email": me, "query": "diffusion"})
                assert r.status_code == 202 and r.json()["status"] == "pending_confirmation", r.text
            # A key holder's e-mail subscription; a second one to the same address within the period: 429.
            alice = await mint_key(c, "subscriptions:write", name="alice")
            r = await c.post("/v1/subscriptions", json={"channel": "email", "email": control}, headers=alice)
            assert r.status_code == 201 and r.json()["status"] == "pending_confirmation", r.text
            again = await c.post("/v1/subscriptions", json={"channel": "email", "email": control}, headers=alice)
            assert again.status_code == 429 and int(again.headers["retry-after"]) > 0
            assert [s["email"] for s in (await c.get("/v1/subscriptions", headers=alice)).json()["items"]] == [
                control
            ]  # the anonymous sign-up belongs to no key

            # Nothing but the confirmation until its link is followed.
            (confirm,) = await eventually(lambda: mailpit.messages(me))
            assert await send() == 0
            msg = parsed(mailpit, confirm["ID"])
            assert msg["Subject"] == "Confirm your Paperwire subscription"
            page = await c.get(link(plain(mailpit, confirm), public, "confirm"))
            assert page.status_code == 200 and "Subscription confirmed" in page.text
            assert page.headers["content-type"].startswith("text/html")
            assert page.headers["referrer-policy"] == "no-referrer"
            (cmsg,) = await eventually(lambda: mailpit.messages(control))
            assert (await c.get(link(plain(mailpit, cmsg), public, "confirm"))).status_code == 200
            assert len(mailpit.messages(me)) == 1  # the second sign-up sent nothing

            assert await send() == 2
            got = await eventually(lambda: digests(mailpit, me))
            assert len(got) == 1
            d = parsed(mailpit, got[0]["ID"])
            assert d.get_content_type() == "multipart/alternative"
            assert [part.get_content_type() for part in d.iter_parts()] == ["text/plain", "text/html"]
            text = d.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            html = d.get_body(("html",)).get_content()  # type: ignore[union-attr]
            for title, _ in PAPERS[:2]:
                assert title in text and title in html
            for title, _ in PAPERS[2:]:
                assert title not in text  # the saved search is "diffusion"
            assert f"{public}/papers/" in text  # the site's paper pages
            unsub = d["List-Unsubscribe"]
            assert d["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            assert unsub.startswith(f"<{public}/v1/subscriptions/") and "/unsubscribe?token=" in unsub
            assert unsub.strip("<>") in text and unsub.strip("<>") in html  # the visible link too
            assert len(await eventually(lambda: digests(mailpit, control))) == 1

            # Sent again: nothing.
            assert await send() == 0
            # The visible link shows a page and changes nothing; the one-click POST (RFC 8058) unsubscribes.
            url = unsub.strip("<>")
            shown = await c.get(url)
            assert shown.status_code == 200 and '<form method="post">' in shown.text and me in shown.text
            r = await c.post(
                url,
                content=b"List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert r.status_code == 200 and "Unsubscribed" in r.text, r.text
            assert "Unsubscribed" in (await c.get(url)).text
            assert (await c.post(url.replace("token=", "token=x"))).status_code == 404  # a wrong token
            clock.advance(86_400)
            assert await send() == 1  # the control subscription only
            await eventually(lambda: len(digests(mailpit, control)) == 2)
            await asyncio.sleep(0.5)  # the notifier runs meanwhile: nothing more comes
            assert len(digests(mailpit, me)) == 1
