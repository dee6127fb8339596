"""The ``seawatch`` command line. Heavy modules are imported inside the commands, so ``--help`` is instant."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from seawatch.watchlist_job import add_watchlist_parser


def _use_threads(threads: int | None) -> None:
    """``--threads N`` (else ``SEAWATCH_THREADS``): the decoding workers, and polars' and Numba's own pools when
    they are not set apart, so that 1 keeps the whole run on one core. Set before polars and Numba are imported."""
    if threads is not None:
        os.environ["SEAWATCH_THREADS"] = str(threads)
    setting = os.environ.get("SEAWATCH_THREADS", "").strip()
    if setting.isdigit() and int(setting) > 0:
        for pool in ("POLARS_MAX_THREADS", "NUMBA_NUM_THREADS"):
            os.environ.setdefault(pool, setting)


def _threads(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of threads, at least 1 (1: one core)")
    return n


THREADS_HELP = "threads that decode at once (default: SEAWATCH_THREADS, else every core; 1: one core)"


def _decode(args: argparse.Namespace) -> int:
    _use_threads(args.threads)
    from feeds.files import InputError
    from seawatch.decode_job import DecodeOptions, run_decode

    options = DecodeOptions(
        keep_bad_checksums=args.keep_bad_checksums,
        details=not args.no_details,
        chunk_bytes=int(args.chunk_mb * 1024 * 1024),
        progress=None if args.progress == "auto" else args.progress == "on",
    )
    try:
        summary = run_decode([Path(p) for p in args.inputs], Path(args.out), options)
    except InputError as exc:
        sys.stderr.write(f"seawatch decode: {exc}\n")
        return 2
    sys.stdout.write(summary.render())
    return 0


def _detect(args: argparse.Namespace) -> int:
    from engine.geo.regions import PackError
    from feeds.archives import ArchiveError
    from feeds.files import InputError
    from seawatch.detect_job import run_detect

    progress = None if args.progress == "auto" else args.progress == "on"
    try:
        summary = run_detect([Path(p) for p in args.inputs], Path(args.out), args.region, progress,
                             zones=Path(args.zones) if args.zones else None, examples=args.examples)
    except (InputError, ArchiveError, PackError) as exc:
        sys.stderr.write(f"seawatch detect: {exc}\n")
        return 2
    sys.stdout.write(summary.render())
    return 0


def _backtest(args: argparse.Namespace) -> int:
    _use_threads(args.threads)
    starting = None
    one_folder_or_url = len(args.inputs) == 1 and not Path(args.inputs[0]).is_file()  # a dataset, likely
    if (args.workers is not None or args.cluster is not None) and one_folder_or_url:  # workers load meanwhile
        from seawatch.dask_start import WORKER_MEMORY, connect_soon

        starting = connect_soon(args.workers, args.cluster, args.worker_memory or WORKER_MEMORY)
    from engine.geo.regions import PackError
    from feeds.archives import ArchiveError
    from feeds.files import InputError
    from seawatch.backtest_job import BacktestOptions, run_backtest

    options = BacktestOptions(
        region=args.region,
        zones=Path(args.zones) if args.zones else None,
        examples=args.examples,
        labels=Path(args.labels) if args.labels else None,
        models=Path(args.models) if args.models else None,
        skip_untimed=args.skip_untimed,
        report=not args.no_report,
        progress=None if args.progress == "auto" else args.progress == "on",
        chunk_bytes=int(args.chunk_mb * 1024 * 1024),
    )
    try:
        if _history_run(args):
            summary = _backtest_history(args, options, starting)
        else:
            summary = run_backtest([Path(p) for p in args.inputs], Path(args.out), options)
    except (InputError, ArchiveError, PackError) as exc:
        if starting is not None:
            from seawatch.dask_start import close_when_started

            close_when_started(starting)
        sys.stderr.write(f"seawatch backtest: {exc}\n")
        return 2
    sys.stdout.write(summary.render())
    return 0


def _history_run(args: argparse.Namespace) -> bool:
    """Whether ``backtest`` reads a history dataset (else files); InputError for dataset-only options on files."""
    from feeds.files import InputError
    from seawatch.history import is_dataset

    if len(args.inputs) == 1 and is_dataset(args.inputs[0]):
        return True
    asked = [flag for flag, value in (("--workers", args.workers), ("--cluster", args.cluster),
             ("--from", args.start), ("--to", args.end), ("--bbox", args.bbox)) if value is not None]  # fmt: skip
    if asked:
        raise InputError(f"{', '.join(asked)}: only for a history dataset; write one with `seawatch ingest "
                         f"{' '.join(args.inputs[:2])} --out DATASET/` and backtest DATASET/")  # fmt: skip
    return False


def _backtest_history(args: argparse.Namespace, options, starting):
    from seawatch.cluster_job import WORKER_MEMORY, ClusterOptions, run_history_backtest
    from seawatch.history import Filters

    plan = ClusterOptions(workers=args.workers, cluster=args.cluster, partitions=args.partitions,
                          worker_memory=args.worker_memory or WORKER_MEMORY,
                          filters=Filters(args.start, args.end, args.bbox), starting=starting)  # fmt: skip
    return run_history_backtest(args.inputs[0], Path(args.out), options, plan)


def _ingest(args: argparse.Namespace) -> int:
    _use_threads(args.threads)
    from feeds.archives import ArchiveError
    from feeds.files import InputError
    from seawatch.ingest_job import DEFAULT_BUCKETS, IngestOptions, run_ingest

    options = IngestOptions(buckets=args.buckets or DEFAULT_BUCKETS, skip_untimed=args.skip_untimed,
                            progress=None if args.progress == "auto" else args.progress == "on")  # fmt: skip
    try:
        summary = run_ingest([Path(p) for p in args.inputs], args.out, options)
    except (InputError, ArchiveError) as exc:
        sys.stderr.write(f"seawatch ingest: {exc}\n")
        return 2
    sys.stdout.write(summary.render())
    return 0


def _utc(text: str):
    from datetime import UTC, datetime

    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        msg = f"{text!r}: give a UTC date or time, e.g. 2026-01-05 or 2026-01-05T06:00"
        raise argparse.ArgumentTypeError(msg) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _bbox(text: str) -> tuple[float, float, float, float]:
    try:
        lon0, lat0, lon1, lat1 = (float(v) for v in text.split(","))
    except ValueError:
        lon0 = lat0 = lon1 = lat1 = float("nan")
    if not (-180 <= lon0 < lon1 <= 180 and -90 <= lat0 < lat1 <= 90):
        raise argparse.ArgumentTypeError(f"{text!r}: give LON_MIN,LAT_MIN,LON_MAX,LAT_MAX in degrees, e.g. "
                                         "105.5,19.0,108.5,21.7")  # fmt: skip
    return lon0, lat0, lon1, lat1


def _add_ingest(sub) -> None:
    ig = sub.add_parser(
        "ingest",
        help="decode history once into a Parquet dataset partitioned by day and MMSI bucket",
        description="Decode NMEA logs with times and NOAA/DMA CSV archives into DATASET (a folder, file:// or "
        "another fsspec URL), hive-partitioned by day and MMSI bucket; ingesting again appends. `seawatch "
        "backtest DATASET/` then reads it (--from/--to/--bbox; --workers N or --cluster tcp://HOST:8786 on Dask).",
    )
    ig.add_argument("inputs", nargs="+", metavar="INPUT", help="NMEA logs, NOAA/DMA CSV or positions.parquet")
    ig.add_argument("--out", required=True, metavar="DATASET", help="the dataset folder or URL (created; appended)")
    ig.add_argument("--buckets", type=_threads, metavar="N", help="MMSI buckets of a new dataset (default 32)")
    ig.add_argument("--skip-untimed", action="store_true", help="leave out NMEA logs without any time, saying so")
    ig.add_argument("--progress", choices=("auto", "on", "off"), default="auto", help="progress bar")
    ig.add_argument("--threads", type=_threads, metavar="N", help=THREADS_HELP)
    ig.set_defaults(func=_ingest)


def _train(args: argparse.Namespace) -> int:
    from engine.geo.regions import PackError
    from feeds.files import InputError
    from seawatch.train_job import TrainOptions, run_train

    if args.from_store is not None:
        return _train_from_store(args)
    options = TrainOptions(seeds=args.seeds or [], scenarios=[Path(p) for p in args.scenario or []],
                           hours=args.hours, vessels=args.vessels, region=args.region,
                           random_state=args.random_state)  # fmt: skip
    try:
        summary = run_train(options, Path(args.out))
    except (InputError, PackError, ValueError) as exc:
        sys.stderr.write(f"seawatch train: {exc}\n")
        return 2
    sys.stdout.write(summary.render())
    return 0


def _train_from_store(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from api.settings import Settings
    from feeds.files import InputError
    from models.files import ModelFileError
    from models.registry import Registry, RegistryError
    from seawatch.train_job import StoreTrainOptions, run_train_from_store

    try:
        settings = Settings()
        registry = Registry(Path(args.registry) if args.registry else settings.registry_dir(), _base(args))
        current = registry.current()
        options = StoreTrainOptions(database_url=args.from_store or settings.store_url(),
                                    current=registry.folder(current),
                                    current_name="base" if current is None else f"version {current}",
                                    hold_out=args.hold_out, prior_seeds=args.prior_seeds or [],
                                    prior_weight=args.prior_weight, hours=args.hours, vessels=args.vessels,
                                    region=args.region, random_state=args.random_state)  # fmt: skip
        summary = run_train_from_store(options, Path(args.out))
    except (ValidationError, InputError, RegistryError, ModelFileError, SQLAlchemyError, ValueError) as exc:
        sys.stderr.write(f"seawatch train: {exc}\n")
        return 2
    sys.stdout.write(summary.render())
    return 0


def _base(args: argparse.Namespace) -> Path | None:
    return Path(args.models) if getattr(args, "models", None) else None


def _models(args: argparse.Namespace) -> int:
    import getpass
    import json
    from datetime import UTC, datetime

    from pydantic import ValidationError

    from api.settings import Settings
    from models.files import ModelFileError
    from models.registry import Registry, RegistryError

    try:
        settings = Settings()
        registry = Registry(Path(args.registry) if args.registry else settings.registry_dir(), _base(args))
        who = f"command line ({getpass.getuser()})"
        if args.action == "list":
            state = registry.state()
            sys.stdout.write(json.dumps({"current": state.get("current"), "versions": registry.versions(),
                                         "history": state["history"]}, indent=1, default=str) + "\n")  # fmt: skip
            return 0
        if args.action == "add":
            version = registry.add(Path(args.dir), by=who)
            sys.stdout.write(f"version {version} added from {args.dir}; promote it with `seawatch models promote "
                             f"{version}`\n")  # fmt: skip
            return 0
        if args.action == "promote":
            previous = registry.current()
            comparison = registry.promote(args.version, by=who, force=args.force)
            details = {"previous": previous, "forced": not comparison.better, **vars(comparison)}
            sys.stdout.write(f"version {args.version} is current{' (forced)' if details['forced'] else ''}: "
                             f"{comparison.said()}\n")  # fmt: skip
            subject, kind = args.version, "model.promote"
        else:
            left, back_to = registry.rollback(by=who)
            details = {"back_to": back_to}
            sys.stdout.write(f"rolled back from version {left} to {back_to or 'the base models'}\n")
            subject, kind = left, "model.rollback"
    except (ValidationError, RegistryError, ModelFileError, OSError) as exc:
        sys.stderr.write(f"seawatch models: {exc}\n")
        return 2
    _audit(settings, kind, subject, who, {k: (None if v != v else v) for k, v in details.items()},
           datetime.now(UTC))  # fmt: skip
    return 0


def _audit(settings, kind: str, subject: str, who: str, details: dict, at) -> None:
    """Record a registry change in the store's audit log, when there is a store (the registry's history has it
    anyway); a store that cannot be written is said, not fatal: the change is made."""
    from sqlalchemy.exc import SQLAlchemyError

    from api.store import Store

    if settings.database_url is None and not settings.database_path.expanduser().is_file():
        sys.stderr.write("seawatch models: no store to audit in (SEAWATCH_DATABASE_URL); the registry's history "
                         "records the change\n")  # fmt: skip
        return
    try:
        store = Store(settings.store_url(), migrate=False)
        try:
            store.record_audit(kind, subject, actor=who, key_id=None, at=at, details=details)
        finally:
            store.close()
    except (SQLAlchemyError, ValueError) as exc:
        sys.stderr.write(f"seawatch models: not recorded in the audit log ({exc}); the registry's history has it\n")


def _add_models(sub) -> None:
    md = sub.add_parser(
        "models",
        help="the model registry: list, add, promote, roll back",
        description="The model registry (SEAWATCH_MODELS_DIR, default .seawatch/models): numbered versions of the "
        "scoring models and the one `seawatch serve` uses (it follows a promotion within a scoring cycle). A "
        "version is promoted only when it beats the current model on its held-out decisions (--force overrides); "
        "promotions and rollbacks go to the store's audit log.",
    )
    md.add_argument("--registry", metavar="DIR", help="the registry folder (default: SEAWATCH_MODELS_DIR)")
    md.add_argument("--models", metavar="DIR", help="the base models, in use when no version is (default: shipped)")
    actions = md.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="versions, the current one and the history (JSON)")
    add = actions.add_parser("add", help="add a folder written by `seawatch train --from-store` as a version")
    add.add_argument("dir", metavar="DIR")
    pr = actions.add_parser("promote", help="make a version current if it beats the current model")
    pr.add_argument("version", metavar="VERSION")
    pr.add_argument("--force", action="store_true", help="promote even if it does not beat the current model")
    actions.add_parser("rollback", help="return to the model in use before the current one was promoted")
    md.set_defaults(func=_models)


def _add_backtest(sub) -> None:
    bt = sub.add_parser(
        "backtest",
        help="replay history: alerts, vessel risk scores and an HTML report",
        description="Run the whole pipeline over history (NMEA logs with times, NOAA/DMA CSV archives, "
        "positions.parquet from `seawatch decode`; plain or .gz; recognised from their content), streamed in "
        "chunks, and write DIR/alerts.parquet, DIR/vessels.parquet (smuggling and fire scores with their reasons) "
        "and DIR/report.html (one file, opens offline). With --labels, recall and precision per kind.",
    )
    bt.add_argument("inputs", nargs="+", metavar="INPUT", help="NMEA logs, NOAA/DMA CSV or positions.parquet")
    bt.add_argument("--out", required=True, metavar="DIR", help="folder for the outputs (created)")
    bt.add_argument("--zones", metavar="FILE.geojson", help="zones to alert on (restricted, watch, ...)")
    bt.add_argument("--labels", metavar="FILE.csv", help="labels (as `seawatch simulate` writes) to measure against")
    bt.add_argument("--region", default="gulf-of-tonkin", help="built-in region pack or a pack .geojson file")
    bt.add_argument("--examples", action="store_true",
                    help="also alert on the region pack's example zones (made up, for the demo; off: facts only)")
    bt.add_argument("--models", metavar="DIR", help="folder of model files from `seawatch train` (default: shipped)")
    bt.add_argument("--skip-untimed", action="store_true", help="leave out NMEA logs without any time, saying so")
    bt.add_argument("--no-report", action="store_true", help="write the Parquet files only")
    bt.add_argument(
        "--chunk-mb", type=float, default=64.0, help="bytes read per step, in MiB (default 64; memory follows it)"
    )
    bt.add_argument("--progress", choices=("auto", "on", "off"), default="auto", help="progress bar")
    bt.add_argument("--threads", type=_threads, metavar="N", help=THREADS_HELP)
    history = bt.add_argument_group("a history dataset (from `seawatch ingest`) as the one INPUT")
    history.add_argument("--from", dest="start", type=_utc, metavar="UTC", help="from this day or time (UTC)")
    history.add_argument("--to", dest="end", type=_utc, metavar="UTC", help="up to this day or time, excluded")
    history.add_argument("--bbox", type=_bbox, metavar="LON0,LAT0,LON1,LAT1", help="positions inside this box")
    history.add_argument("--workers", type=_threads, metavar="N", help="on a local Dask cluster of N workers")
    history.add_argument("--cluster", metavar="tcp://HOST:8786", help="on the Dask cluster of this scheduler")
    history.add_argument("--partitions", type=_threads, metavar="N",
                         help="vessel partitions (groups of MMSI buckets; default 2 per worker)")
    history.add_argument("--worker-memory", metavar="SIZE", help="memory per local worker (default 2GiB; spills)")
    bt.set_defaults(func=_backtest)
    tr = sub.add_parser(
        "train",
        help="fit the scoring models on labelled scenarios",
        description="Fit the unusual-behaviour model and the evidence re-weighting model on labelled scenarios "
        "(simulated from --seeds, or folders with feed.nmea and labels.csv) and write versioned model files with "
        "their training metadata. `make models` makes the shipped ones.",
    )
    tr.add_argument("--out", required=True, metavar="DIR", help="folder for the model files (created)")
    tr.add_argument("--seeds", type=int, nargs="+", metavar="N", help="simulate one scenario per seed")
    tr.add_argument("--scenario", nargs="+", metavar="DIR", help="scenario folders (feed.nmea + labels.csv)")
    tr.add_argument("--hours", type=float, default=24.0, help="hours per simulated scenario (default 24)")
    tr.add_argument("--vessels", type=int, default=300, help="vessels per simulated scenario (default 300)")
    tr.add_argument("--region", default="gulf-of-tonkin", help="built-in region pack or a pack .geojson file")
    tr.add_argument("--random-state", type=int, default=0, help="seed of the models' randomness (default 0)")
    tr.add_argument("--from-store", nargs="?", const="", metavar="DATABASE_URL",
                    help="fit the evidence model on the analysts' decisions in the store (default: "
                    "SEAWATCH_DATABASE_URL), held out by time, measured against the registry's current "
                    "model")  # fmt: skip
    tr.add_argument("--hold-out", type=float, default=0.25, help="latest share of the decisions held out (0.25)")
    tr.add_argument("--prior-seeds", type=int, nargs="+", metavar="N", help="add simulated scenarios as priors")
    tr.add_argument("--prior-weight", type=float, default=0.5, metavar="W",
                    help="a simulated vessel counts W of an analyst's decision (sampled; default 0.5)")  # fmt: skip
    tr.add_argument("--registry", metavar="DIR", help="the model registry (default: SEAWATCH_MODELS_DIR)")
    tr.set_defaults(func=_train)


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


def _add_relay(sub) -> None:
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


def _add_serve(sub) -> None:
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


def _simulate(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from engine.geo.regions import PackError
    from seawatch.simulate_job import run_simulate
    from seawatch.simulator.config import SimConfig

    try:
        start = datetime.fromisoformat(args.start)
        cfg = SimConfig(
            hours=args.hours, seed=args.seed, region=args.region, vessels=args.vessels,
            start=start if start.tzinfo else start.replace(tzinfo=UTC), min_interval_s=args.min_interval,
            injections_per_day=args.injections_per_day,
        )  # fmt: skip
        summary = run_simulate(cfg, Path(args.out))
    except (PackError, ValueError, OSError) as exc:
        sys.stderr.write(f"seawatch simulate: {exc}\n")
        return 2
    sys.stdout.write(summary.render())
    return 0


def _anchorages(args: argparse.Namespace) -> int:
    from engine.geo.anchorage_settings import AnchorageSettings
    from feeds.files import InputError
    from seawatch.anchorages_job import AnchorageOptions, run_anchorages

    try:
        settings = AnchorageSettings(
            cell_km=args.cell_km, stopped_knots=args.stopped_knots, drift_km=args.drift_km,
            min_hours=args.min_hours, max_silence_hours=args.max_silence_hours, min_vessels=args.min_vessels,
        )  # fmt: skip
        options = AnchorageOptions(
            settings=settings,
            keep_bad_checksums=args.keep_bad_checksums,
            chunk_bytes=int(args.chunk_mb * 1024 * 1024),
            progress=None if args.progress == "auto" else args.progress == "on",
        )
        summary = run_anchorages([Path(p) for p in args.inputs], Path(args.out), options)
    except (InputError, ValueError) as exc:
        sys.stderr.write(f"seawatch anchorages: {exc}\n")
        return 2
    sys.stdout.write(summary.render())
    return 0


def _add_anchorages(sub) -> None:
    from engine.geo.anchorage_settings import AnchorageSettings

    d = AnchorageSettings()
    anc = sub.add_parser(
        "anchorages",
        help="find anchorages and ports in AIS traffic (GeoJSON points)",
        description="Find anchorages the way Global Fishing Watch does: cells about 0.5 km across where many "
        "distinct vessels stayed stationary for hours. Positions without a time cannot show a stay and are left "
        "out (the summary counts them). Writes a GeoJSON FeatureCollection of points.",
    )
    anc.add_argument("inputs", nargs="+", metavar="INPUT", help="NMEA files (.nmea .txt .log .nm4 .ais, .gz)")
    anc.add_argument("--out", required=True, metavar="FILE.geojson", help="GeoJSON file to write")
    anc.add_argument(
        "--min-vessels",
        type=int,
        default=d.min_vessels,
        metavar="N",
        help=f"distinct vessels that make a cell an anchorage (default {d.min_vessels}, as GFW)",
    )
    anc.add_argument(
        "--min-hours",
        type=float,
        default=d.min_hours,
        metavar="H",
        help=f"shortest stop that counts, in hours (default {d.min_hours:g}, as GFW)",
    )
    anc.add_argument(
        "--cell-km", type=float, default=d.cell_km, metavar="KM", help=f"cell size (default {d.cell_km:g})"
    )
    anc.add_argument(
        "--drift-km",
        type=float,
        default=d.drift_km,
        metavar="KM",
        help=f"how far a stopped vessel may drift (default {d.drift_km:g})",
    )
    anc.add_argument(
        "--stopped-knots",
        type=float,
        default=d.stopped_knots,
        metavar="KN",
        help=f"speed under which a vessel is stopped (default {d.stopped_knots:g})",
    )
    anc.add_argument(
        "--max-silence-hours",
        type=float,
        default=d.max_silence_hours,
        metavar="H",
        help=f"a silence longer than this ends a stop (default {d.max_silence_hours:g})",
    )
    anc.add_argument("--keep-bad-checksums", action="store_true", help="keep sentences with a wrong checksum")
    anc.add_argument("--chunk-mb", type=float, default=16.0, help="bytes read per step, in MiB (default 16)")
    anc.add_argument("--progress", choices=("auto", "on", "off"), default="auto", help="progress bar")
    anc.set_defaults(func=_anchorages)


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


def _add_dossier(sub) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seawatch",
        description="Maritime smuggling and fire-incident risk detection from AIS.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    dec = sub.add_parser(
        "decode",
        help="decode NMEA AIS logs into Parquet tables",
        description="Decode NMEA AIS logs (plain or .gz, any framing) into positions/statics/events Parquet "
        "files, and print counts by message type and rejects by reason.",
    )
    dec.add_argument("inputs", nargs="+", metavar="INPUT", help="NMEA files (.nmea .txt .log .nm4 .ais, .gz)")
    dec.add_argument("--out", required=True, metavar="DIR", help="folder for the Parquet files (created)")
    dec.add_argument("--keep-bad-checksums", action="store_true", help="keep sentences with a wrong checksum")
    dec.add_argument(
        "--no-details", action="store_true", help="skip pyais decoding of the rarer message types into `fields`"
    )
    dec.add_argument("--chunk-mb", type=float, default=16.0, help="bytes read per step, in MiB (default 16)")
    dec.add_argument("--progress", choices=("auto", "on", "off"), default="auto", help="progress bar")
    dec.add_argument("--threads", type=_threads, metavar="N", help=THREADS_HELP)
    dec.set_defaults(func=_decode)
    sim = sub.add_parser(
        "simulate",
        help="simulate labelled AIS traffic in a region",
        description="Simulate AIS traffic in a region (ships on lanes, anchorages, ferries, tugs, fishing boats, "
        "a reception model with station outages) with every alert kind injected a few times a day, and write "
        "feed.nmea, labels.csv, vessels.csv, zones.geojson and outages.csv. The same seed gives the same bytes.",
    )
    sim.add_argument("--hours", type=float, default=24.0, help="length of the scenario (default 24)")
    sim.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sim.add_argument("--out", required=True, metavar="DIR", help="folder for the scenario files (created)")
    sim.add_argument("--region", default="gulf-of-tonkin", help="built-in region pack or a pack .geojson file")
    sim.add_argument("--vessels", type=int, default=300, help="vessels in the scenario (default 300)")
    sim.add_argument("--start", default="2024-06-01T00:00:00+00:00", help="start time, ISO 8601 (default UTC)")
    sim.add_argument(
        "--min-interval",
        type=float,
        default=30.0,
        metavar="S",
        help="no vessel reports its position more often than this, in seconds (default 30)",
    )
    sim.add_argument(
        "--injections-per-day",
        type=float,
        default=3.0,
        metavar="N",
        help="how often each alert kind is injected per day, at least once (default 3)",
    )
    sim.set_defaults(func=_simulate)
    det = sub.add_parser(
        "detect",
        help="run every behaviour detector over AIS logs or archives",
        description="Run every detector of the engine (gaps, encounters, loitering, spoofing, land, identity, "
        "draught, zones, border, distress) over NMEA logs or NOAA/DMA CSV archives, streamed in chunks, and write "
        "DIR/alerts.parquet with the evidence of each alert in words.",
    )
    det.add_argument("inputs", nargs="+", metavar="INPUT", help="NMEA files (.nmea .txt .log .nm4 .ais, .gz) or CSV")
    det.add_argument("--out", required=True, metavar="DIR", help="folder for alerts.parquet (created)")
    det.add_argument("--region", default="gulf-of-tonkin", help="built-in region pack or a pack .geojson file")
    det.add_argument("--zones", metavar="FILE.geojson", help="zones to alert on (restricted, watch, ...)")
    det.add_argument("--examples", action="store_true",
                     help="also alert on the region pack's example zones (made up, for the demo; off: facts only)")
    det.add_argument("--progress", choices=("auto", "on", "off"), default="auto", help="progress bar")
    det.set_defaults(func=_detect)
    _add_backtest(sub)
    _add_ingest(sub)
    _add_serve(sub)
    _add_relay(sub)
    _add_anchorages(sub)
    _add_models(sub)
    _add_dossier(sub)
    add_watchlist_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
