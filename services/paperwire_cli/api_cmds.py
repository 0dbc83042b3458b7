"""`paperwire keys create|list|revoke` (on the key store itself: Redis on the kafka backend, the data dir's
keys.sqlite when embedded) and `paperwire ingest` (onto Kafka, or with `--to URL` a file sent to a gateway's
POST /v1/papers)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys

from paperwire_common.settings import CommonSettings

KEY_ENV = "PAPERWIRE_API_KEY"


def _key_service() -> object | str:
    from paperwire_common.keys import KeyService, make_key_store
    from paperwire_common.keys.master import MasterKeyMissing, resolve_master_key

    common = CommonSettings()
    if common.backend == "embedded" and not common.embedded_data_dir:
        return (
            "keys of the embedded backend live in its data dir: set PAPERWIRE_EMBEDDED_DATA_DIR "
            "(`make run` uses .paperwire/data)"
        )
    try:
        master = resolve_master_key(common)
    except MasterKeyMissing as e:
        return str(e)
    if common.backend == "kafka":
        from redis.asyncio import Redis

        return KeyService(make_key_store(Redis.from_url(common.redis_url), common.namespace), master)
    assert common.embedded_data_dir
    return KeyService(make_key_store(None, path=os.path.join(common.embedded_data_dir, "keys.sqlite")), master)


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if ts is not None else "never"


def cmd_keys(args: argparse.Namespace) -> int:
    from paperwire_common.keys import KeyService
    from paperwire_common.keys.service import UnknownScope

    svc = _key_service()
    if not isinstance(svc, KeyService):
        print(f"paperwire keys: {svc}", file=sys.stderr)
        return 2

    async def go() -> int:
        assert isinstance(svc, KeyService)
        if args.action == "create":
            expires = None
            if args.expires_at:
                when = dt.datetime.fromisoformat(args.expires_at)
                expires = (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp()
            try:
                rec, token = await svc.create(args.name, args.scope, expires)
            except UnknownScope as e:
                print(f"paperwire keys: {e}", file=sys.stderr)
                return 2
            print(f"id       {rec.id}\nname     {rec.name}\nscopes   {' '.join(rec.scopes)}")
            print(f"expires  {_when(rec.expires_at)}\nkey      {token}\n(the key is shown once: keep it now)")
            return 0
        if args.action == "list":
            for k in await svc.list():
                print(f"{k.id}  {k.prefix}…  {' '.join(k.scopes):40}  expires {_when(k.expires_at):20}  {k.name}")
            return 0
        if not await svc.revoke(args.id):
            print(f"paperwire keys: no key with id {args.id!r}", file=sys.stderr)
            return 1
        print(f"revoked {args.id} (every gateway refuses it within PAPERWIRE_GATEWAY_KEY_CACHE_TTL_S)")
        return 0

    return asyncio.run(go())


def add_keys_parser(sub: argparse._SubParsersAction) -> None:
    from paperwire_common.keys import SCOPES

    k = sub.add_parser("keys", help="API keys: create (shown once), list, revoke")
    ks = k.add_subparsers(dest="action", required=True)
    c = ks.add_parser("create", help="a new key with scopes")
    c.add_argument("--name", required=True)
    c.add_argument("--scope", action="append", required=True, choices=SCOPES, help="repeat for several")
    c.add_argument("--expires-at", metavar="ISO-8601", help="e.g. 2027-01-31T00:00:00Z (default: never)")
    ks.add_parser("list", help="every key (id, prefix, scopes, expiry, name)")
    r = ks.add_parser("revoke", help="revoke a key by id")
    r.add_argument("id")
    for p in (k, c):
        p.add_argument("--backend", choices=["embedded", "kafka"])
    k.set_defaults(func=cmd_keys)


def cmd_ingest(args: argparse.Namespace) -> int:
    import httpx

    from paperwire_common.backends import make_backends
    from paperwire_ingestor.records import FormatError
    from paperwire_ingestor.service import Ingestor

    if args.to:
        return ingest_over_http(args)
    if CommonSettings().backend == "embedded":
        print(
            "paperwire: `ingest` publishes to Kafka (--backend kafka); with the embedded backend send the file to "
            "the running gateway (`--to http://127.0.0.1:8000 --key KEY`) or use `paperwire run all --ingest PATH`",
            file=sys.stderr,
        )
        return 2

    async def go() -> int:
        b = make_backends(CommonSettings(), client_id="paperwire-ingestor")
        await b.start()
        try:
            total = 0
            for target in args.sources:
                s = await Ingestor(b).ingest_path(target, args.format)
                print(f"{target}: {s.line()}")
                for r in s.reasons[: args.show_rejections]:
                    print(f"  rejected {r}")
                if len(s.reasons) > args.show_rejections:
                    print(f"  ... {len(s.reasons) - args.show_rejections} more rejections")
                total += s.read
            return 0
        except (FormatError, httpx.HTTPError, OSError) as e:
            # A bad file or URL: a message and a non-zero exit; what was published before stays published.
            print(f"paperwire: {e}", file=sys.stderr)
            return 1
        finally:
            await b.stop()

    return asyncio.run(go())


def ingest_over_http(args: argparse.Namespace) -> int:
    """Send each file (or stdin) to the gateway's POST /v1/papers; print its summary like a local ingest."""
    import httpx

    key = args.key or os.environ.get(KEY_ENV)
    if not key:
        print(f"paperwire ingest --to: a key with papers:write is needed (--key or ${KEY_ENV})", file=sys.stderr)
        return 2
    url = args.to.rstrip("/") + "/v1/papers"
    params = {"format": args.format} if args.format != "auto" else {}
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/octet-stream"}
    code = 0
    with httpx.Client(timeout=httpx.Timeout(300.0, connect=10.0)) as client:
        for target in args.sources:
            if target.startswith(("http://", "https://")):
                print(f"paperwire: {target}: --to sends files; harvest URLs with the gateway's host", file=sys.stderr)
                return 2
            try:
                data = sys.stdin.buffer.read() if target == "-" else open(target, "rb").read()
            except OSError as e:
                print(f"paperwire: {e}", file=sys.stderr)
                return 1
            try:
                r = client.post(url, content=data, params=params, headers=headers)
            except httpx.HTTPError as e:
                print(f"paperwire: {url}: {e}", file=sys.stderr)
                return 1
            if r.status_code != 202:
                detail = (
                    r.json().get("detail", r.text) if r.headers.get("content-type", "").endswith("json") else r.text
                )
                print(f"paperwire: {target}: {r.status_code} {detail}", file=sys.stderr)
                code = 1
                continue
            s = r.json()
            print(
                f"{target}: read {s['read']}, new {s['new']}, updated {s['updated']}, "
                f"unchanged {s['unchanged']}, rejected {s['rejected']} ({s['format']}, via {args.to})"
            )
            for rej in s["rejections"][: args.show_rejections]:
                print(f"  rejected {rej['position']}: {rej['reason']}")
            if s["rejected"] > min(args.show_rejections, len(s["rejections"])):
                print(f"  ... {s['rejected'] - min(args.show_rejections, len(s['rejections']))} more rejections")
    return code
