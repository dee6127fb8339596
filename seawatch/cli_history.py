"""``seawatch backtest``, ``ingest``, ``train`` and ``models``: the history side of the command line (heavy modules
are imported inside the commands, so ``--help`` stays instant)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seawatch.cli_common import THREADS_HELP, batch_gc, positive_int, use_threads


def _backtest(args: argparse.Namespace) -> int:
    use_threads(args.threads)
    batch_gc()
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
        watchlists=tuple(Path(p) for p in args.watchlist or ()),
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
    use_threads(args.threads)
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


def add_ingest_parsers(sub) -> None:
    ig = sub.add_parser(
        "ingest",
        help="decode history once into a Parquet dataset partitioned by day and MMSI bucket",
        description="Decode NMEA logs with times and NOAA/DMA CSV archives into DATASET (a folder, file:// or "
        "another fsspec URL), hive-partitioned by day and MMSI bucket; ingesting again appends. `seawatch "
        "backtest DATASET/` then reads it (--from/--to/--bbox; --workers N or --cluster tcp://HOST:8786 on Dask).",
    )
    ig.add_argument("inputs", nargs="+", metavar="INPUT", help="NMEA logs, NOAA/DMA CSV or positions.parquet")
    ig.add_argument("--out", required=True, metavar="DATASET", help="the dataset folder or URL (created; appended)")
    ig.add_argument("--buckets", type=positive_int, metavar="N", help="MMSI buckets of a new dataset (default 32)")
    ig.add_argument("--skip-untimed", action="store_true", help="leave out NMEA logs without any time, saying so")
    ig.add_argument("--progress", choices=("auto", "on", "off"), default="auto", help="progress bar")
    ig.add_argument("--threads", type=positive_int, metavar="N", help=THREADS_HELP)
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


def add_models_parsers(sub) -> None:
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


def add_backtest_parsers(sub) -> None:
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
    bt.add_argument("--watchlist", action="append", metavar="FILE",
                    help="a watchlist file (CSV or FollowTheMoney JSON, as `seawatch watchlist import` reads), named "
                    "after the file; its vessels get the live service's reason on the smuggling score and "
                    "vessels.parquet a watchlists column (repeat for more lists)")  # fmt: skip
    bt.add_argument("--skip-untimed", action="store_true", help="leave out NMEA logs without any time, saying so")
    bt.add_argument("--no-report", action="store_true", help="write the Parquet files only")
    bt.add_argument(
        "--chunk-mb", type=float, default=64.0, help="bytes read per step, in MiB (default 64; memory follows it)"
    )
    bt.add_argument("--progress", choices=("auto", "on", "off"), default="auto", help="progress bar")
    bt.add_argument("--threads", type=positive_int, metavar="N", help=THREADS_HELP)
    history = bt.add_argument_group("a history dataset (from `seawatch ingest`) as the one INPUT")
    history.add_argument("--from", dest="start", type=_utc, metavar="UTC", help="from this day or time (UTC)")
    history.add_argument("--to", dest="end", type=_utc, metavar="UTC", help="up to this day or time, excluded")
    history.add_argument("--bbox", type=_bbox, metavar="LON0,LAT0,LON1,LAT1", help="positions inside this box")
    history.add_argument("--workers", type=positive_int, metavar="N", help="on a local Dask cluster of N workers")
    history.add_argument("--cluster", metavar="tcp://HOST:8786", help="on the Dask cluster of this scheduler")
    history.add_argument("--partitions", type=positive_int, metavar="N",
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
