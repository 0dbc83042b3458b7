"""API keys: created, listed and revoked with the master key (Meilisearch's model: one operator credential,
scoped keys for clients)."""

# No `from __future__ import annotations`: FastAPI reads the body model and dependencies from the annotations.

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path

from paperwire_common.clock import iso
from paperwire_common.keys import KeyRecord

from .bodies import JSON_ONLY
from .deps import ClockDep, KeyServiceDep, MasterKey
from .schemas import KeyCreate, KeyCreated, KeyList, problems

router = APIRouter(tags=["keys"])


def key_info(k: KeyRecord) -> dict[str, Any]:
    return {
        "id": k.id,
        "name": k.name,
        "scopes": list(k.scopes),
        "prefix": k.prefix,
        "created_at": iso(k.created_at),
        "expires_at": iso(k.expires_at) if k.expires_at is not None else None,
    }


@router.post(
    "/v1/keys",
    status_code=201,
    response_model=KeyCreated,
    responses=problems(400, 401, 403, 415, 422),
    dependencies=[JSON_ONLY],
)
async def create_key(master: MasterKey, keys: KeyServiceDep, clock: ClockDep, body: KeyCreate) -> dict[str, Any]:
    """A new key with these scopes (the master key only). The answer holds the key: it is shown this once."""
    expires = body.expires_at.timestamp() if body.expires_at else None
    if expires is not None and expires <= clock.now():
        raise HTTPException(422, "expires_at is in the past")
    record, token = await keys.create(body.name, body.scopes, expires)
    return {**key_info(record), "key": token}


@router.get("/v1/keys", response_model=KeyList, responses=problems(401, 403))
async def list_keys(master: MasterKey, keys: KeyServiceDep) -> dict[str, Any]:
    """Every key (never the keys themselves: their first characters and what they may do)."""
    return {"keys": [key_info(k) for k in await keys.list()]}


@router.delete("/v1/keys/{key_id}", status_code=204, responses=problems(401, 403, 404))
async def revoke_key(
    master: MasterKey, keys: KeyServiceDep, key_id: Annotated[str, Path(min_length=1, max_length=64)]
) -> None:
    """Revoke a key: refused at once by this gateway, by every other replica within
    PAPERWIRE_GATEWAY_KEY_CACHE_TTL_S."""
    if not await keys.revoke(key_id):
        raise HTTPException(404, f"no key with id {key_id!r}")
