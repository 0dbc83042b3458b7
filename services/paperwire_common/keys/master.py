"""The master key (`PAPERWIRE_MASTER_KEY`): the operator's credential, which manages keys and holds every scope.

Embedded backend without one: generated on first start into the data dir as `master.key` (mode 0600) and
read from there afterwards; the log names the file, never the key. Kafka backend: several replicas must
agree on it, so it has to be set.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from ..logging import get_logger
from ..settings import CommonSettings

log = get_logger(__name__)
FILE = "master.key"


class MasterKeyMissing(RuntimeError):
    pass


def missing(settings: CommonSettings) -> str | None:
    """Why the gateway cannot start with these settings (kafka backend without a master key), or None."""
    if settings.backend == "kafka" and not (settings.master_key and settings.master_key.get_secret_value()):
        return (
            "PAPERWIRE_MASTER_KEY is not set: with the kafka backend every gateway replica needs the same "
            "master key (e.g. `openssl rand -base64 32`)"
        )
    return None


def resolve_master_key(settings: CommonSettings) -> str:
    if settings.master_key is not None and settings.master_key.get_secret_value():
        return settings.master_key.get_secret_value()
    why = missing(settings)
    if why:
        raise MasterKeyMissing(why)
    if not settings.embedded_data_dir:
        log.warning(
            "keys.master_key_ephemeral",
            hint="no PAPERWIRE_MASTER_KEY and no data dir: a random master key lives in this process only",
        )
        return secrets.token_urlsafe(32)
    path = Path(settings.embedded_data_dir) / FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside, then linked into place: a process starting at the same time reads a whole key or none.
        tmp = path.with_name(f".{FILE}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            log.info("keys.master_key_generated", path=str(path.resolve()))
            return path.read_text().strip()
        finally:
            tmp.unlink()
    key = path.read_text().strip()
    if len(key) < 16:
        raise MasterKeyMissing(f"{path} holds no master key (fewer than 16 characters)")
    log.info("keys.master_key_loaded", path=str(path.resolve()))
    return key
