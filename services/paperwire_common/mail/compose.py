"""E-mail messages from Jinja2 templates: multipart/alternative (plain text first, then HTML), with
`List-Unsubscribe` and `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058) on every message that has an
unsubscribe link. The HTML templates autoescape everything; the text templates are not HTML."""

from __future__ import annotations

import email.utils
from email.message import EmailMessage
from email.policy import SMTP
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).parent / "templates"


@cache
def _env(html: bool) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render(name: str, context: dict[str, Any]) -> tuple[str, str]:
    """(text, html) of template `name` (name.txt.j2 and name.html.j2)."""
    return (
        _env(False).get_template(f"{name}.txt.j2").render(**context),
        _env(True).get_template(f"{name}.html.j2").render(**context),
    )


def message(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    date: float,
    unsubscribe_url: str | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate(date, usegmt=True)
    domain = email.utils.parseaddr(sender)[1].rpartition("@")[2] or "paperwire.localhost"
    msg["Message-ID"] = f"<{message_id}@{domain}>"
    msg["Auto-Submitted"] = "auto-generated"
    if unsubscribe_url:
        msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg.as_bytes(policy=SMTP)
