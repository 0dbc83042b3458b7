"""The `paperwire` command: run services, ingest sources, manage topics."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from paperwire_common.logging import configure_logging
from paperwire_common.settings import CommonSettings
from paperwire_common.workers import WORKERS

from .api_cmds import add_keys_parser, cmd_ingest


def _backend_env(args: argparse.Namespace) -> None:
    # --backend is a shortcut for PAPERWIRE_BACKEND, so every settings class sees the same choice.
    if getattr(args, "backend", None):
        os.environ["PAPERWIRE_BACKEND"] = args.backend


def cmd_run(args: argparse.Namespace) -> int:
    from paperwire_common.keys.master import missing

    from .runner import SAMPLE, SERVICES, run_all, run_one

    if args.service in ("all", "gateway") and (why := missing(CommonSettings())):
        print(f"paperwire: the gateway refuses to start: {why}", file=sys.stderr)
        return 2

    if args.service == "all":
        ingest = args.ingest if args.ingest is not None else ([str(SAMPLE)] if not args.no_sample else [])
        return asyncio.run(run_all(ingest))
    if args.service == "ingestor":
        print(f"paperwire: cannot run {args.service!r} alone; use `paperwire ingest`", file=sys.stderr)
        return 2
    if args.service not in SERVICES:
        print(f"paperwire: no service {args.service!r}; one of all, {', '.join(SERVICES[1:])}", file=sys.stderr)
        return 2
    if CommonSettings().backend == "embedded":
        print(
            "paperwire: a service alone needs the real backends (--backend kafka); the embedded backend lives "
            "inside `paperwire run all`",
            file=sys.stderr,
        )
        return 2
    return asyncio.run(run_one(args.service))


def cmd_topics(args: argparse.Namespace) -> int:
    return _topics_recluster()


def cmd_streams(args: argparse.Namespace) -> int:
    from paperwire_common.streams import ALL_STREAMS, ensure_streams

    if args.action == "create":
        from paperwire_common.backends import make_backends

        async def go() -> None:
            b = make_backends(CommonSettings())
            await b.bus.start()
            await ensure_streams(b.bus)
            await b.bus.stop()

        asyncio.run(go())
    for t in ALL_STREAMS:
        print(
            f"{t.name:22} key={t.key:9} schema={t.schema.__name__:14} producer={t.producer:9} "
            f"consumers={','.join(t.consumers):26} dlq={t.dlq}"
        )
    return 0


def _topics_recluster() -> int:
    from paperwire_common.backends import make_backends
    from paperwire_common.clock import SystemClock
    from paperwire_common.topics.service import TopicReadService
    from paperwire_trending.settings import TrendingSettings
    from paperwire_trending.topic_job import recluster

    if CommonSettings().backend != "kafka":
        print(
            "paperwire: recluster reads Elasticsearch and keeps topics in Redis: use --backend kafka "
            "(with the embedded backend, `paperwire run all` runs the topic job itself)",
            file=sys.stderr,
        )
        return 2

    async def go() -> int:
        ts = TrendingSettings()
        b = make_backends(CommonSettings(), client_id="paperwire-topics", trends=ts, topics=ts)
        await b.start()
        try:
            events = await recluster(b, b.topics, SystemClock(), ts.topic_job_config())
            topics = await TopicReadService(b.topics, b.index).list_topics(size=10_000)
        finally:
            await b.stop()
        for t in topics:
            print(f"{t['id']}  {t['size']:5d} papers  z={t['trend']['z']:6.2f}  {t['label']}")
        for e in events:
            print(f"published {e.kind:14} {e.topic_id}  {e.label}")
        print(f"{len(topics)} topics; {len(events)} events published on topics.v1")
        return 0

    return asyncio.run(go())


def cmd_search(args: argparse.Namespace) -> int:
    from paperwire_common.backends import make_backends
    from paperwire_indexer.reindex import reindex

    if CommonSettings().backend != "kafka":
        print("paperwire: reindex rebuilds Elasticsearch from Kafka: use --backend kafka", file=sys.stderr)
        return 2

    async def go() -> int:
        b = make_backends(CommonSettings(), client_id="paperwire-reindex")
        await b.start()
        try:
            out = await reindex(b, delete_old=args.delete_old)
        finally:
            await b.stop()
        print(
            f"alias {CommonSettings().namespace}{CommonSettings().index_alias}: {out['old']} -> {out['new']}, "
            f"{out['documents']} documents ({out['replayed']} events replayed in {out['seconds']} s)"
        )
        return 0

    return asyncio.run(go())


def cmd_trending(args: argparse.Namespace) -> int:
    from paperwire_common.backends import make_backends
    from paperwire_trending.rebuild import rebuild

    async def go() -> int:
        b = make_backends(CommonSettings(), client_id="paperwire-trending-rebuild")
        await b.start()
        try:
            out = await rebuild(b, check=args.check)
        finally:
            await b.stop()
        if args.check:
            for w, r in out["windows"].items():
                print(
                    f"{w:4} papers {r['papers']:6}  same ranking {r['same_ranking']}  "
                    f"max rel diff {r['max_rel_diff']:.2e}"
                )
            print(
                f"{out['records']} records replayed in {out['seconds']} s: {'EQUAL' if out['equal'] else 'DIFFERENT'}"
            )
            return 0 if out["equal"] else 1
        print(f"rebuilt from {out['records']} records in {out['seconds']} s")
        return 0

    if CommonSettings().backend != "kafka":
        print("paperwire: rebuild replays Kafka topics: use --backend kafka", file=sys.stderr)
        return 2
    return asyncio.run(go())


def cmd_healthcheck(args: argparse.Namespace) -> int:
    """Exit 0 when the service answers GET /healthz with 200 on its port (the Docker HEALTHCHECK)."""
    import urllib.request

    from .runner import health_port

    service = args.service or os.environ.get("PAPERWIRE_SERVICE", "")
    port = health_port(service)
    if port is None:
        print(f"paperwire healthcheck: no health endpoint for service {service!r}", file=sys.stderr)
        return 2
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=args.timeout) as r:
            return 0 if r.status == 200 else 1
    except Exception as e:
        print(f"paperwire healthcheck: {service} on port {port}: {e}", file=sys.stderr)
        return 1


def cmd_settings(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .settings_doc import markdown, with_settings

    if args.update_readme:
        path = Path(args.update_readme)
        path.write_text(with_settings(path.read_text()))
        return 0
    print(markdown(), end="")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="paperwire", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run", help="run one service, or all of them in one process")
    r.add_argument("service", help=f"all, {', '.join(WORKERS)} or gateway")
    r.add_argument("--backend", choices=["embedded", "kafka"])
    r.add_argument("--ingest", action="append", metavar="PATH", help="(run all) ingest these at start")
    r.add_argument("--no-sample", action="store_true", help="(run all) do not ingest the sample corpus")
    r.set_defaults(func=cmd_run)

    i = sub.add_parser("ingest", help="read papers from files, stdin (-) or URLs and publish them")
    i.add_argument("sources", nargs="+", metavar="PATH|URL")
    i.add_argument(
        "--format", default="auto", choices=["auto", "text", "jsonl", "arxiv-atom", "oai-pmh", "daily-papers"]
    )
    i.add_argument("--backend", choices=["embedded", "kafka"])
    i.add_argument("--show-rejections", type=int, default=20, metavar="N")
    i.add_argument("--to", metavar="URL", help="send the files to this gateway's POST /v1/papers instead")
    i.add_argument("--key", help="(--to) an API key with papers:write (default: $PAPERWIRE_API_KEY)")
    i.set_defaults(func=cmd_ingest)
    add_keys_parser(sub)

    k = sub.add_parser(
        "streams",
        help="list the stream registry (every Kafka topic, its schema and dead-letter topic); `create` creates them "
        "on Kafka",
    )
    k.add_argument("action", nargs="?", choices=["list", "create"], default="list")
    k.add_argument("--backend", choices=["embedded", "kafka"])
    k.set_defaults(func=cmd_streams)

    t = sub.add_parser(
        "topics",
        help="research topics: `recluster` re-clusters the papers into topics now and publishes what emerged on "
        "topics.v1",
    )
    t.add_argument("action", choices=["recluster"])
    t.add_argument("--backend", choices=["embedded", "kafka"])
    t.set_defaults(func=cmd_topics)
    se = sub.add_parser("search", help="search index operations")
    se.add_argument("action", choices=["reindex"], help="reindex: rebuild from Kafka into a new index, switch alias")
    se.add_argument("--delete-old", action="store_true", help="delete the previous index after the switch")
    se.add_argument("--backend", choices=["embedded", "kafka"])
    se.set_defaults(func=cmd_search)

    tr = sub.add_parser("trending", help="trending score operations")
    tr.add_argument("action", choices=["rebuild"], help="rebuild: recompute every score from the Kafka topics")
    tr.add_argument("--check", action="store_true", help="rebuild into a scratch store and compare with the live one")
    tr.add_argument("--backend", choices=["embedded", "kafka"])
    tr.set_defaults(func=cmd_trending)

    hc = sub.add_parser("healthcheck", help="exit 0 when the service answers /healthz on its port (Docker HEALTHCHECK)")
    hc.add_argument("service", nargs="?", help="a worker or gateway (default: $PAPERWIRE_SERVICE)")
    hc.add_argument("--timeout", type=float, default=4.0, metavar="S")
    hc.set_defaults(func=cmd_healthcheck)

    st = sub.add_parser("settings", help="print every setting (env var, default, meaning) as Markdown")
    st.add_argument("--update-readme", metavar="README.md", help="rewrite the settings block of this file")
    st.set_defaults(func=cmd_settings)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    _backend_env(args)
    s = CommonSettings()
    configure_logging(s.log_level, s.log_format)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
