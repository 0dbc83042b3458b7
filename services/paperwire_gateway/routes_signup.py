"""What a recipient uses without a key: the site's e-mail sign-up (double opt-in, one confirmation per address
per sign-up period), and the links in the e-mails — confirm (GET), unsubscribe (GET shows a page with a button,
POST is RFC 8058 one-click). The pages are the site's (its templates escape everything they show) and send no
Referer (the URL holds a token)."""

# No `from __future__ import annotations`: FastAPI reads the dependencies from the annotations.

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse

from .bodies import JSON_ONLY
from .deps import SubscriptionServiceDep
from .schemas import EmailSignupIn, SignupAccepted, problems
from .site import render

router = APIRouter(tags=["subscriptions"])
SubscriptionId = Annotated[str, Path(min_length=1, max_length=64)]
Token = Annotated[str, Query(min_length=1, max_length=200, description="the token from the e-mailed link")]
PAGE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {"schema": {"type": "string"}}}, "description": "an HTML page"}
}
NO_SUCH_LINK = {404: "no subscription with this id, or the token is not its token"}
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}  # over the site's headers (its Content-Security-Policy among them)
ONE_CLICK_BODY = {
    "required": False,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "properties": {
                    "List-Unsubscribe": {
                        "type": "string",
                        "description": "`One-Click` as mail clients send it (RFC 8058); not checked: the token in "
                        "the URL is the credential, and no unsubscribe is refused over its body",
                    }
                },
            }
        }
    },
}


def page(title: str, *paragraphs: str, one_click: bool = False) -> HTMLResponse:
    """A page in the site's look and with its security headers; every argument is text, escaped by the template."""
    return render.page(
        "notice.html.j2", nav="subscribe", title=title, paragraphs=paragraphs, one_click=one_click, headers=HEADERS
    )


@router.post(
    "/v1/subscriptions/email",
    status_code=202,
    response_model=SignupAccepted,
    responses=problems(
        400, 415, 422, why={400: "the body is not JSON", 422: "not an e-mail address, or an invalid saved search"}
    ),
    dependencies=[JSON_ONLY],
)
async def sign_up(subs: SubscriptionServiceDep, body: EmailSignupIn) -> dict[str, Any]:
    """Sign up for the daily digest without a key (the site's form; it spends the client address's quota,
    PAPERWIRE_GATEWAY_RATE_LIMIT_ANONYMOUS, like any request without a key). A confirmation e-mail goes to the
    address unless one went there in the current sign-up period (PAPERWIRE_NOTIFIER_SIGNUP_PERIOD_S); nothing is
    sent until its link is followed. The answer is the same either way: it tells nobody whether an address is
    subscribed."""
    await subs.sign_up(body.email, body.query, tuple(body.topics))
    return {
        "status": "pending_confirmation",
        "detail": "unless this address had a confirmation e-mail recently, one is on its way: follow its link to "
        "start the digest",
    }


@router.get(
    "/v1/subscriptions/{subscription_id}/confirm",
    response_class=HTMLResponse,
    responses={**PAGE, **problems(404, 422, why=NO_SUCH_LINK)},
)
async def confirm(subs: SubscriptionServiceDep, subscription_id: SubscriptionId, token: Token) -> HTMLResponse:
    """The link in the confirmation e-mail: the digest starts (double opt-in)."""
    r = await subs.confirm(subscription_id, token)
    if r.status == "active":
        return page("Subscription confirmed", f"The daily digest will come to {r.email}.")
    return page("Not confirmed", f"This subscription is {r.status.replace('_', ' ')}.")


@router.get(
    "/v1/subscriptions/{subscription_id}/unsubscribe",
    response_class=HTMLResponse,
    responses={**PAGE, **problems(404, 422, why=NO_SUCH_LINK)},
)
async def unsubscribe_page(subs: SubscriptionServiceDep, subscription_id: SubscriptionId, token: Token) -> HTMLResponse:
    """The visible unsubscribe link: a page with a button (a GET changes nothing, so link scanners cannot
    unsubscribe anyone)."""
    r = await subs.by_token(subscription_id, token, "unsubscribe")
    if r.status == "unsubscribed":
        return page("Unsubscribed", f"{r.email} gets no more Paperwire e-mails from this subscription.")
    return page("Unsubscribe", f"Stop the Paperwire daily digest to {r.email}?", one_click=True)


@router.post(
    "/v1/subscriptions/{subscription_id}/unsubscribe",
    response_class=HTMLResponse,
    responses={**PAGE, **problems(404, 422, why=NO_SUCH_LINK)},
    openapi_extra={"requestBody": ONE_CLICK_BODY},
)
async def unsubscribe(subs: SubscriptionServiceDep, subscription_id: SubscriptionId, token: Token) -> HTMLResponse:
    """RFC 8058 one-click unsubscribe (what mail clients POST to the List-Unsubscribe URL, with the body
    `List-Unsubscribe=One-Click`), and the page's button. No login: the token is the credential."""
    r = await subs.unsubscribe(subscription_id, token)
    return page("Unsubscribed", f"{r.email} gets no more Paperwire e-mails from this subscription.")
