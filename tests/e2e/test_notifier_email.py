"""E-mail through a real SMTP server (mailpit): double opt-in, then the digest with the right papers as valid
multipart with one-click unsubscribe; queued again -> nothing; after unsubscribing -> nothing."""

from __future__ import annotations

import email
import json
import re
import time
import uuid
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from paperwire_common.clock import FixedClock
from paperwire_common.subscriptions.service import NewSubscription
from tests.notify_kit import Mailpit, eventually

from .notify_rig import notify_rig
from .pipeline import pipeline

PUBLIC = "https://paperwire.example"
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


def link(text: str, kind: str) -> tuple[str, str]:
    url = re.search(rf"{re.escape(PUBLIC)}/v1/subscriptions/(sub_\w+)/{kind}\?token=([\w-]+)", text)
    assert url is not None, text
    return url.group(1), url.group(2)


@pytest.mark.timeout(300)
async def test_double_opt_in_digest_one_click_unsubscribe(mailpit: Mailpit, tmp_path: Path) -> None:
    me, control = f"reader-{uuid.uuid4().hex[:8]}@example.org", f"control-{uuid.uuid4().hex[:8]}@example.org"
    clock = FixedClock(time.time())
    async with pipeline("embedded", workers=("enricher", "indexer", "trending"), public_url=PUBLIC) as p:
        await p.ingest(str(corpus(tmp_path)))
        await p.settle()
        async with notify_rig({}, clock=clock, backends=p.backends, smtp_url=mailpit.smtp_url) as rig:
            svc, n = rig.service, rig.notifier
            created = await svc.create("alice", NewSubscription("email", email=me, query="diffusion"))
            await svc.create("bob", NewSubscription("email", email=control))
            assert created.subscription.status == "pending_confirmation"

            async def digest() -> int:
                return await n.digest_builder().queue_due(n.subscriptions, n.deliveries, clock.now(), scheduled=False)

            # Nothing but the confirmation until the link is followed.
            (confirm,) = await eventually(lambda: mailpit.messages(me))
            assert await digest() == 0
            msg = parsed(mailpit, confirm["ID"])
            assert msg["Subject"] == "Confirm your Paperwire subscription"
            text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            sid, token = link(text, "confirm")
            assert sid == created.subscription.id
            await svc.confirm(sid, token)
            for m in mailpit.messages(control):
                ctext = parsed(mailpit, m["ID"]).get_body(("plain",)).get_content()  # type: ignore[union-attr]
                await svc.confirm(*link(ctext, "confirm"))

            assert await digest() == 2
            got = await eventually(
                lambda: [m for m in mailpit.messages(me) if m["Subject"].startswith("Paperwire digest")]
            )
            assert len(got) == 1
            d = parsed(mailpit, got[0]["ID"])
            assert d.get_content_type() == "multipart/alternative"
            assert [part.get_content_type() for part in d.iter_parts()] == ["text/plain", "text/html"]
            plain = d.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            html = d.get_body(("html",)).get_content()  # type: ignore[union-attr]
            for title, _ in PAPERS[:2]:
                assert title in plain and title in html
            for title, _ in PAPERS[2:]:
                assert title not in plain  # the saved search is "diffusion"
            assert f"{PUBLIC}/v1/papers/" in plain
            unsub = d["List-Unsubscribe"]
            assert d["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            assert unsub.startswith(f"<{PUBLIC}/v1/subscriptions/{sid}/unsubscribe?token=") and unsub.endswith(">")
            assert unsub.strip("<>") in plain and unsub.strip("<>") in html  # the visible link too
            assert (
                len(
                    await eventually(
                        lambda: [m for m in mailpit.messages(control) if m["Subject"].startswith("Paperwire digest")]
                    )
                )
                == 1
            )

            # Sent again: nothing.
            assert await digest() == 0
            # One-click unsubscribe (the token of the List-Unsubscribe URL), then the next day: nothing for me.
            q = parse_qs(urlsplit(unsub.strip("<>")).query)
            await svc.unsubscribe(sid, q["token"][0])
            clock.advance(86_400)
            assert await digest() == 1  # the control subscription only
            await eventually(
                lambda: len([m for m in mailpit.messages(control) if m["Subject"].startswith("Paperwire digest")]) == 2
            )
            time.sleep(0.5)
            mine = [m for m in mailpit.messages(me) if m["Subject"].startswith("Paperwire digest")]
            assert len(mine) == 1
