"""The subscription pages: the daily digest sign-up form (e-mail, double opt-in) beside the Atom feeds, and the
pages the digest's e-mail links open (confirm, unsubscribe). Sign-up goes through the notifier's public e-mail
sign-up (site/signup.py) in this process; without one the page says so and the feeds still work.

The form posts here, never with a key; a post from another site (Sec-Fetch-Site: cross-site) is refused, and the
sign-up rate-limits per client and per address.
"""

# No `from __future__ import annotations`: FastAPI reads the dependencies from the annotations.

import re
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .deps import SignupDep, TopicLabelsDep
from .site import render
from .site.labels import TopicLabels
from .site.links import LATEST_FEED, TRENDING_FEED, Feed, feed
from .site.signup import SignupLimited, SignupLinkInvalid, SignupRejected

router = APIRouter(include_in_schema=False)

MAX_TOPICS = 20
FORM_TOPICS = 30  # the largest topics offered as checkboxes
# A first check so a typo gets its message at once; the notifier's sign-up has the last word.
EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$")
UNAVAILABLE = "E-mail sign-up is not enabled on this server yet; the Atom feeds below work in any feed reader."


def _feeds(request: Request) -> list[Feed]:
    got = [feed(request, TRENDING_FEED, f"Trending papers ({w})", window=w) for w in ("24h", "7d", "30d")]
    got.append(feed(request, LATEST_FEED, "Latest papers"))
    return [f for f in got if f is not None]


def _form(
    request: Request,
    labels: TopicLabels,
    *,
    status: int = 200,
    error: str | None = None,
    email: str = "",
    chosen: tuple[str, ...] = (),
    query: str = "",
    available: bool = True,
) -> HTMLResponse:
    return render.page(
        "subscribe.html.j2",
        status,
        nav="subscribe",
        feeds=_feeds(request),
        topics=labels.largest[:FORM_TOPICS],
        labels=labels.labels,
        error=error,
        email=email,
        chosen=chosen,
        query=query,
        available=available,
    )


@router.get("/subscribe", response_class=HTMLResponse)
async def subscribe_page(request: Request, signup: SignupDep, labels: TopicLabelsDep) -> HTMLResponse:
    topic = (request.query_params.get("topic") or "")[:64]
    return _form(request, labels, chosen=(topic,) if topic else (), available=signup is not None)


@router.post("/subscribe", response_class=HTMLResponse)
async def subscribe_post(request: Request, signup: SignupDep, labels: TopicLabelsDep) -> Response:
    if request.headers.get("sec-fetch-site") == "cross-site":
        return render.error(403, "Sign up from this site", "The form was posted from another site.", nav="subscribe")
    try:
        form = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=100)
    except ValueError:  # more fields than any form of ours sends
        return _form(request, labels, status=422, error="The form has too many fields.", available=signup is not None)
    email = (form.get("email") or [""])[0].strip()
    query = (form.get("query") or [""])[0].strip()
    chosen = tuple(dict.fromkeys(t.strip() for t in form.get("topic", []) if t.strip()))

    def again(status: int, error: str) -> HTMLResponse:
        return _form(
            request,
            labels,
            status=status,
            error=error,
            email=email,
            chosen=chosen,
            query=query,
            available=signup is not None,
        )

    if signup is None:
        return again(503, UNAVAILABLE)
    why = None
    if not email:
        why = "Enter your e-mail address."
    elif len(email) > 254 or not EMAIL.match(email):
        why = f"{email[:80]!r} is not an e-mail address."
    elif len(chosen) > MAX_TOPICS or any(len(t) > 64 for t in chosen):
        why = f"Choose at most {MAX_TOPICS} topics."
    elif len(query) > 1000:
        why = "The saved search is longer than 1000 characters."
    if why:
        return again(422, why)
    try:
        await signup.sign_up(
            email, topics=chosen, query=query or None, client=request.client.host if request.client else ""
        )
    except SignupRejected as e:
        return again(422, str(e))
    except SignupLimited as e:
        return again(429, str(e))
    # Post/redirect/get: reloading the answer does not send a second confirmation e-mail.
    return RedirectResponse("/subscribe/sent", status_code=303, headers=render.PAGE_HEADERS)


@router.get("/subscribe/sent", response_class=HTMLResponse)
async def subscribe_sent() -> HTMLResponse:
    return render.page("subscribed.html.j2", nav="subscribe", outcome="sent")


async def _link(request: Request, signup: SignupDep, kind: str) -> HTMLResponse:
    sid = request.query_params.get("id") or ""
    token = request.query_params.get("token") or ""
    if signup is None:
        return render.error(503, "Subscriptions are not enabled", UNAVAILABLE, nav="subscribe")
    if not sid or not token or len(sid) > 200 or len(token) > 200:
        return render.error(404, "This link is not valid", "The link is incomplete: copy all of it.", nav="subscribe")
    try:
        state = await (signup.confirm(sid, token) if kind == "confirm" else signup.unsubscribe(sid, token))
    except SignupLinkInvalid:
        why = "It names no subscription or has been replaced. Sign up again if you want the digest."
        return render.error(404, "This link is not valid", why, nav="subscribe")
    return render.page("subscribed.html.j2", nav="subscribe", outcome=kind, state=state)


@router.get("/subscribe/confirm", response_class=HTMLResponse)
async def confirm_page(request: Request, signup: SignupDep) -> HTMLResponse:
    """The confirmation e-mail's link: the subscription becomes active (double opt-in)."""
    return await _link(request, signup, "confirm")


@router.get("/subscribe/unsubscribe", response_class=HTMLResponse)
async def unsubscribe_page(request: Request, signup: SignupDep) -> HTMLResponse:
    """The digest's visible unsubscribe link (the List-Unsubscribe one-click POST goes to the API)."""
    return await _link(request, signup, "unsubscribe")
