"""``seawatch serve``, ``api``, ``relay``, ``demo``, ``keys``, ``backup`` and ``dossier``: the live service's side
of the command line (heavy modules are imported inside the commands, so ``--help`` stays instant)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _serve(args: argparse.Namespace) -> int:
    import asyncio

    from pydantic import ValidationError

    from api.settings import Settings
    from engine.stream import StreamSettings
    from feeds.sources import FeedError
    from seawatch.serve_job import ServeOptions, serve

    try:
        settings = Settings()
        options = ServeOptions(feeds=args.feed, host=args.host, port=args.port, state_dir=Path(args.state),
                               region=args.region, examples=args.examples, speed=args.speed,
                               models=Path(args.models) if args.models else None,
                               stream=StreamSettings(snapshot_seconds=args.snapshot_seconds),
                               api=not args.no_api)  # fmt: skip
        where = "no API (--no-api)" if args.no_api else f"the API and the map on http://{args.host}:{args.port}/"
        sys.stdout.write(f"seawatch serve: {len(args.feed)} feed(s); {where} (Ctrl-C stops, state in "
                         f"{args.state})\n")  # fmt: skip
        sys.stdout.flush()
        asyncio.run(serve(options, settings))
    except (ValidationError, FeedError, ValueError, OSError) as exc:
        sys.stderr.write(f"seawatch serve: {exc}\n")
        return 2
    return 0


def _api(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from seawatch.api_job import run_api

    try:
        run_api(args.host, args.port, args.workers)
    except (ValidationError, ValueError, OSError) as exc:
        sys.stderr.write(f"seawatch api: {exc}\n")
        return 2
    return 0


def _relay(args: argparse.Namespace) -> int:
    from feeds.sources import FeedError
    from feeds.spool import SpoolError
    from seawatch.relay_job import RelayOptions, limits_from_env, relay

    try:
        options = RelayOptions(feeds=args.feed, nats=args.nats, stream=args.stream, station=args.station,
                               speed=args.speed, spool=Path(args.spool), spool_bytes=int(args.spool_mb * 2**20),
                               limits=limits_from_env())  # fmt: skip
        counts = relay(options)
    except (FeedError, SpoolError, ValueError, OSError) as exc:
        sys.stderr.write(f"seawatch relay: {exc}\n")
        return 2
    sys.stdout.write(f"seawatch relay: {counts.lines} lines in {counts.published} bus messages sent "
                     f"({counts.duplicates} already there, {counts.failures} failed sends tried again)\n")  # fmt: skip
    return 0


def add_relay_parsers(sub) -> None:
    rl = sub.add_parser(
        "relay",
        help="publish a station's AIS feeds onto a NATS JetStream stream",
        description="Read AIS feeds (tcp://, udp://, file:// replayed at --speed) and publish every line, with its "
        "receive time and source, to the JetStream stream STREAM (subject STREAM.<source>) for `seawatch serve "
        "--feed nats://HOST:PORT/STREAM`. Lines wait in a spool on disk (bounded) while the server is away and are "
        "resent without duplicates. Stream limits: SEAWATCH_BUS_MAX_AGE_HOURS (24), SEAWATCH_BUS_MAX_GB (20), "
        "SEAWATCH_BUS_DUPLICATE_WINDOW_S (600), SEAWATCH_BUS_REPLICAS (1).",
    )
    rl.add_argument("--feed", action="append", required=True, metavar="URL", help="a feed URL (repeat for more)")
    rl.add_argument("--nats", default="nats://127.0.0.1:4222", metavar="URL",
                    help="the NATS server, or a cluster's servers comma-separated (any one that answers)")
    rl.add_argument("--stream", default="AIS", help="the JetStream stream (default AIS; created when missing)")
    rl.add_argument("--station", help="the source name in the subjects (default: from each feed URL)")
    rl.add_argument("--speed", type=float, help="replay speed of file:// feeds (1 real time, 0 as fast as possible)")
    rl.add_argument("--spool", default=".seawatch-relay", metavar="DIR", help="the spool folder (.seawatch-relay)")
    rl.add_argument("--spool-mb", type=float, default=1024.0, metavar="MB",
                    help="the spool's bound: the oldest unsent lines are given up beyond it (default 1024)")
    rl.set_defaults(func=_relay)


def _demo(args: argparse.Namespace) -> int:
    from seawatch.demo_job import run_demo

    try:
        run_demo(Path(args.dir), hours=args.hours, speed=args.speed, host=args.host, port=args.port,
                 seed=args.seed)  # fmt: skip
    except (ValueError, OSError) as exc:
        sys.stderr.write(f"seawatch demo: {exc}\n")
        return 2
    return 0


def _keys(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from api.app import open_store
    from api.keys import create_key
    from api.settings import Settings

    try:
        store = open_store(Settings())
        try:
            key = create_key(store, args.name, args.role)
        finally:
            store.close()
    except (ValidationError, ValueError, OSError) as exc:
        sys.stderr.write(f"seawatch keys: {exc}\n")
        return 2
    sys.stdout.write(f"{key}\n")
    sys.stderr.write(f"a {args.role} key named {args.name!r}: shown once, only its hash is stored\n")
    return 0


def _backup(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from api.settings import Settings
    from api.store import Store
    from api.store.store import pg_dump_command

    try:
        settings = Settings()
        if not settings.store_url().startswith("sqlite"):
            sys.stdout.write(pg_dump_command(settings.store_url(), Path(args.out)) + "\n")
            sys.stderr.write("seawatch backup: the store is PostgreSQL: nothing copied; run the pg_dump line above "
                             "(password in PGPASSWORD or ~/.pgpass; pg_restore restores it)\n")  # fmt: skip
            return 2
        store = Store(settings.store_url(), migrate=False)
        try:
            size = store.backup(Path(args.out))
        finally:
            store.close()
    except (ValidationError, ValueError, OSError) as exc:
        sys.stderr.write(f"seawatch backup: {exc}\n")
        return 2
    sys.stdout.write(f"seawatch backup: {settings.store_url()} -> {args.out} ({size / 2**20:.1f} MiB)\n")
    return 0


def add_serve_parsers(sub) -> None:
    sv = sub.add_parser(
        "serve",
        help="run the live engine on AIS feeds, with the API and the map",
        description="Run the stream engine on live feeds (tcp://host:port, udp://:port, file://path replayed at "
        "real time or --speed, wss://... aisstream.io JSON with SEAWATCH_AISSTREAM_KEY, nats://host:port/STREAM "
        "a JetStream stream `seawatch relay` fills) and serve the API "
        "(/api/v1), /healthz, /metrics and the map page (/). Settings come from SEAWATCH_* variables, e.g. "
        "SEAWATCH_DATABASE_URL (PostgreSQL) or SEAWATCH_DATABASE_PATH (SQLite, the default), SEAWATCH_ADMIN_KEY.",
    )
    sv.add_argument("--feed", action="append", required=True, metavar="URL", help="a feed URL (repeat for more)")
    sv.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    sv.add_argument("--state", default=".seawatch", metavar="DIR", help="engine snapshots and journal (.seawatch)")
    sv.add_argument("--region", default="gulf-of-tonkin", help="built-in region pack or a pack .geojson file")
    sv.add_argument("--examples", action="store_true",
                    help="also alert on the region pack's example zones (made up, for the demo; off: facts only)")
    sv.add_argument("--speed", type=float, help="replay speed of file:// feeds (1 real time, 0 as fast as possible)")
    sv.add_argument("--models", metavar="DIR", help="model files from `seawatch train` (default: the shipped ones)")
    sv.add_argument("--snapshot-seconds", type=float, default=30.0, metavar="S",
                    help="snapshot the engine this often: what a restart replays of the journal or the bus (30)")
    sv.add_argument("--no-api", action="store_true",
                    help="run the engine alone, without HTTP (the API runs elsewhere: seawatch api, same database)")
    sv.set_defaults(func=_serve)
    ap = sub.add_parser(
        "api",
        help="serve the API and the map alone, on the database an engine writes",
        description="Serve /api/v1, /healthz, /metrics and the map page from the store (SEAWATCH_DATABASE_URL, "
        "PostgreSQL, or SEAWATCH_DATABASE_PATH) without an engine, in --workers processes; the live alert stream "
        "in every worker from the database. The engine runs elsewhere: seawatch serve --no-api.",
    )
    ap.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    ap.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes (default 1)")
    ap.set_defaults(func=_api)
    dm = sub.add_parser(
        "demo",
        help="serve a simulated Gulf of Tonkin feed replayed in (sped-up) real time",
        description="Simulate Gulf of Tonkin traffic with every alert kind injected, replay it as a live feed "
        "and serve the map and the API; prints the URL and a viewer key. Needs no data.",
    )
    dm.add_argument("--dir", default=".demo/live", help="folder for the scenario, the database and the state")
    dm.add_argument("--hours", type=float, default=24.0, help="hours of traffic to simulate (default 24)")
    dm.add_argument("--speed", type=float, default=60.0, help="replay speed (default 60: an hour a minute)")
    dm.add_argument("--seed", type=int, default=1, help="scenario seed (default 1)")
    dm.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    dm.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    dm.set_defaults(func=_demo)
    ks = sub.add_parser(
        "keys",
        help="create an API key (printed once; the store keeps its hash)",
        description="Create an API key in the store that SEAWATCH_DATABASE_URL / SEAWATCH_DATABASE_PATH names. "
        "Roles: viewer reads, analyst also triages, admin also manages zones and keys.",
    )
    ks.add_argument("action", choices=("create",), help="what to do")
    ks.add_argument("--name", required=True, help="who or what uses the key (recorded with triage decisions)")
    ks.add_argument("--role", choices=("viewer", "analyst", "admin"), default="viewer", help="default viewer")
    ks.set_defaults(func=_keys)
    bk = sub.add_parser(
        "backup",
        help="copy the store to a file while the service runs (SQLite); print the pg_dump line (PostgreSQL)",
        description="Copy the SQLite store that SEAWATCH_DATABASE_PATH / SEAWATCH_DATABASE_URL names to OUT with "
        "SQLite's online backup: a consistent copy while `seawatch serve` keeps writing. Open the copy as the store "
        "to restore. A PostgreSQL store is backed up with pg_dump: the command prints the line to run.",
    )
    bk.add_argument("out", metavar="OUT", help="the backup file (must not exist)")
    bk.set_defaults(func=_backup)


DOSSIER_SUFFIXES = {".html": "html", ".htm": "html", ".json": "json", ".md": "md", ".markdown": "md"}


def _dossier(args: argparse.Namespace) -> int:
    from datetime import datetime, timedelta

    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from api.dossier import build_dossier, render
    from api.settings import Settings
    from api.store import Store
    from engine.geo.land import LandIndex

    out = Path(args.out)
    fmt = DOSSIER_SUFFIXES.get(out.suffix.lower())
    if fmt is None:
        sys.stderr.write(f"seawatch dossier: {out}: name the file .html, .json or .md (the format: html, json or md)\n")
        return 2
    try:
        since = datetime.fromisoformat(args.since) if args.since else None
    except ValueError:
        since = None
    if args.since and (since is None or since.tzinfo is None):
        sys.stderr.write(f"seawatch dossier: --since {args.since!r}: give an ISO 8601 time with its zone, "
                         "e.g. 2026-12-01T00:00:00Z\n")  # fmt: skip
        return 2
    try:
        settings = Settings(**({"database_url": args.database} if args.database else {}))
        store = Store(settings.store_url(), migrate=False, track_interval_s=settings.track_interval_s,
                      track_retention=timedelta(hours=settings.track_retention_hours))  # fmt: skip
        try:
            if not store.is_current():
                sys.stderr.write(f"seawatch dossier: {settings.store_url()}: the store's schema is not this "
                                 "seawatch's; open it with `seawatch serve` (or `seawatch api`) once to migrate it\n")
                return 2
            dossier = build_dossier(store, args.mmsi, bar=settings.noisy_bar(), since=since,
                                    track_max=settings.track_points_max)  # fmt: skip
        finally:
            store.close()
        if dossier is None:
            sys.stderr.write(f"seawatch dossier: no vessel {args.mmsi} in the store {settings.store_url()}\n")
            return 2
        body = render(dossier, fmt, LandIndex.load() if fmt == "html" else None)  # type: ignore[arg-type]
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(body)
    except (ValidationError, ValueError, OSError, SQLAlchemyError) as exc:
        sys.stderr.write(f"seawatch dossier: {exc}\n")
        return 2
    sys.stdout.write(f"seawatch dossier: MMSI {args.mmsi}: {len(dossier.alerts)} alerts, "
                     f"{len(dossier.track)} positions -> {out} ({len(body) / 1024:.0f} KiB)\n")  # fmt: skip
    return 0


def add_dossier_parsers(sub) -> None:
    ds = sub.add_parser(
        "dossier",
        help="write a vessel's evidence dossier (HTML, JSON or Markdown)",
        description="Write everything the store holds on one vessel to FILE: identity and its history, the track "
        "map with the alerts, every alert with its reasons and triage history, the scores' reasons, mutes, "
        "watchlists, the data's coverage and gaps, and the disclaimer (a triage aid, not a legal finding). The "
        "format follows FILE's suffix: .html (one file, opens offline, prints), .json or .md.",
    )
    ds.add_argument("mmsi", type=int, metavar="MMSI", help="the vessel")
    ds.add_argument("--out", required=True, metavar="FILE", help="FILE.html, FILE.json or FILE.md")
    ds.add_argument("--database", metavar="URL", help="the store's SQLAlchemy URL (default: SEAWATCH_DATABASE_URL "
                    "or SEAWATCH_DATABASE_PATH, as seawatch serve)")  # fmt: skip
    ds.add_argument("--since", metavar="T", help="alerts, decisions and track from this time on (ISO 8601 with zone)")
    ds.set_defaults(func=_dossier)
