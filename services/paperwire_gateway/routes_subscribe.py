"""The subscription page: the daily digest sign-up form (e-mail, double opt-in) beside the Atom feeds. The form
posts here, never with a key, and signs up through the subscription service in this process (what
`POST /v1/subscriptions/email` does): one confirmation e-mail per address per sign-up period, and the same answer
whether or not one was sent. A post from another site (Sec-Fetch-Site: cross-site) is refused. The e-mailed
links open routes_signup.py's pages, rendered with the site's templates.
"""

# No `from __future__ import annotations`: FastAPI reads the dependencies from the annotations.

import re
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperwire_common.subscriptions.service import SubscriptionInvalid

from .deps import SubscriptionServiceDep, TopicLabelsDep
from .site import render
from .site.labels import TopicLabels
from .site.links import LATEST_FEED, TRENDING_FEED, Feed, feed

router = APIRouter(include_in_schema=False)

MAX_TOPICS = 20
FORM_TOPICS = 30  # the largest topics offered as checkboxes
# A first check so a typo gets its message at once; the notifier's sign-up has the last word.
EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$")


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
    )


@router.get("/subscribe", response_class=HTMLResponse)
async def subscribe_page(request: Request, labels: TopicLabelsDep) -> HTMLResponse:
    topic = (request.query_params.get("topic") or "")[:64]
    return _form(request, labels, chosen=(topic,) if topic else ())


@router.post("/subscribe", response_class=HTMLResponse)
async def subscribe_post(request: Request, subs: SubscriptionServiceDep, labels: TopicLabelsDep) -> Response:
    if request.headers.get("sec-fetch-site") == "cross-site":
        return render.error(403, "Sign up from this site", "The form was posted from another site.", nav="subscribe")
    try:
        form = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=100)
    except ValueError:  # more fields than any form of ours sends
        return _form(request, labels, status=422, error="The form has too many fields.")
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
        )

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
        await subs.sign_up(email, query or None, chosen)
    except SubscriptionInvalid as e:
        why = str(e)
        return again(422, f"The saved search is not valid: {why[7:]}" if why.startswith("query: ") else why)
    # Post/redirect/get: reloading the answer does not send a second confirmation e-mail.
    return RedirectResponse("/subscribe/sent", status_code=303, headers=render.PAGE_HEADERS)


@router.get("/subscribe/sent", response_class=HTMLResponse)
async def subscribe_sent() -> HTMLResponse:
    return render.page(
        "notice.html.j2",
        nav="subscribe",
        title="Check your inbox",
        paragraphs=(
            "If the address can receive the digest, a confirmation e-mail is on its way (at most one a day).",
            "Follow its link to start the daily digest; until then nothing else is sent.",
        ),
    )
