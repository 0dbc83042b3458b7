"""E-mail transport: SMTP with aiosmtplib at PAPERWIRE_NOTIFIER_SMTP_URL, or, without one, `.eml` files in the
outbox directory (the embedded default: <data dir>/outbox/), each logged with its path.

    smtp://user:password@host:587            STARTTLS when the server offers it (aiosmtplib's default)
    smtp://host:587?starttls=require         refuse to send without STARTTLS
    smtp://host:1025?starttls=off            plain (a local catcher such as mailpit)
    smtps://user:password@host:465           implicit TLS
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from paperwire_common.deliveries.port import Delivery
from paperwire_common.logging import get_logger

from .handlers import Result

log = get_logger(__name__)


class Mailer:
    def __init__(self, smtp_url: str | None, sender: str, outbox_dir: str, timeout_s: float = 30.0) -> None:
        self.sender, self.timeout_s = sender, timeout_s
        self.outbox = Path(outbox_dir)
        self._smtp = urlsplit(smtp_url) if smtp_url else None
        if self._smtp is not None and self._smtp.scheme not in ("smtp", "smtps"):
            raise ValueError(f"PAPERWIRE_NOTIFIER_SMTP_URL: scheme must be smtp or smtps, not {self._smtp.scheme!r}")

    @property
    def target(self) -> str:
        if self._smtp is None:
            return f"outbox {self.outbox}"
        return f"{self._smtp.scheme}://{self._smtp.hostname}:{self._smtp.port or ''}"

    async def send(self, d: Delivery) -> Result:
        started = time.perf_counter()
        if self._smtp is None:
            return self._to_outbox(d, started)
        u = self._smtp
        mode = (parse_qs(u.query).get("starttls") or ["auto"])[0]
        implicit = u.scheme == "smtps"
        try:
            await aiosmtplib.send(
                d.body,
                sender=self.sender_address(),
                recipients=[d.recipient or ""],
                hostname=u.hostname or "localhost",
                port=u.port or (465 if implicit else 587),
                username=unquote(u.username) if u.username else None,
                password=unquote(u.password) if u.password else None,
                use_tls=implicit,
                start_tls=None if mode == "auto" or implicit else mode == "require",
                timeout=self.timeout_s,
            )
        except aiosmtplib.SMTPResponseException as e:
            return Result(
                False,
                time.perf_counter() - started,
                e.code,
                f"SMTP {e.code}: {e.message}"[:500],
                permanent=e.code >= 500,
            )
        except (aiosmtplib.SMTPException, OSError) as e:
            return Result(False, time.perf_counter() - started, error=f"SMTP: {type(e).__name__}: {e}"[:500])
        return Result(True, time.perf_counter() - started, 250)

    def sender_address(self) -> str:
        import email.utils

        return email.utils.parseaddr(self.sender)[1] or self.sender

    def _to_outbox(self, d: Delivery, started: float) -> Result:
        self.outbox.mkdir(parents=True, exist_ok=True)
        path = self.outbox / f"{d.id}.eml"
        fd, tmp = tempfile.mkstemp(dir=self.outbox, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(d.body)
        os.replace(tmp, path)  # whole files only: a reader never sees half a message
        log.info("notifier.email_written", path=str(path), to=d.recipient, kind=d.event_type)
        return Result(True, time.perf_counter() - started, 250)
