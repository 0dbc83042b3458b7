"""What a key is: its record as stored (only a hash of the secret) and the Principal a verified token gives."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

Scope = Literal["events:write", "papers:write", "subscriptions:write", "admin"]
SCOPES: tuple[str, ...] = get_args(Scope)
MASTER_ID = "master"  # the Principal of the master key (it holds every scope)
# Key ids are `k_…`: a key id is an owner of subscriptions and a prefix of actor ids, so it can never be `master`
# or the owner of the site's anonymous sign-ups (`anonymous`).
KEY_ID_PATTERN = r"^k_[0-9a-z]{1,32}$"


def key_hash(token: str) -> str:
    """What the store keeps of a key. Keys are 256-bit random, so a fast hash is enough (no password stretching:
    there is nothing to guess), and it makes verification one lookup."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


class KeyRecord(BaseModel):
    """A key as stored: never the key itself, only its hash and its first characters (to recognise it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(pattern=KEY_ID_PATTERN)
    name: str
    scopes: tuple[Scope, ...]
    prefix: str
    hash: str
    created_at: float
    expires_at: float | None = None

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at


@dataclass(frozen=True)
class Principal:
    """Who sent a request: a key's id (the master key is `master`), its name and scopes."""

    key_id: str
    name: str
    scopes: frozenset[str]
    master: bool = False

    def allows(self, scope: str) -> bool:
        return self.master or scope in self.scopes
