"""Pagination cursors: opaque, HMAC-signed, bound to the query, mode, filters and page size that issued them.

A cursor is a stateless bookmark (keyword mode: the last hit's sort values; semantic and hybrid: an offset into
the ranking, which is recomputed the same way for every page). Reusing one returns the same page again, as long
as the index has not changed; a forged cursor, or one used with another query, is a CursorError (HTTP 400).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from .port import Filters


class CursorError(ValueError):
    """A cursor that was not issued by us for this query (HTTP 400)."""


class Cursors:
    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    @staticmethod
    def fingerprint(q: str, mode: str, filters: Filters, size: int) -> str:
        return hashlib.sha256(json.dumps([q, mode, filters.__dict__, size], sort_keys=True).encode()).hexdigest()[:16]

    def issue(self, fp: str, state: dict[str, Any]) -> str:
        body = base64.urlsafe_b64encode(json.dumps({"f": fp, **state}, separators=(",", ":")).encode()).decode()
        return f"{body}.{self._sign(body)}"

    def open(self, cursor: str, fp: str) -> dict[str, Any]:
        body, _, sig = cursor.rpartition(".")
        # compare_digest refuses non-ASCII str, and no cursor of ours has any.
        if not body or not cursor.isascii() or not hmac.compare_digest(sig, self._sign(body)):
            raise CursorError("invalid cursor: not issued by this server")
        try:
            state: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body.encode()))
        except (binascii.Error, ValueError):  # signed, so only a changed secret gets here
            raise CursorError("invalid cursor: not issued by this server") from None
        if state.get("f") != fp:
            raise CursorError("invalid cursor: it belongs to another query, mode, filter set or page size")
        return state

    def _sign(self, body: str) -> str:
        return hmac.new(self.secret, body.encode(), hashlib.sha256).hexdigest()[:32]
