"""The ``seawatch`` command line. Heavy modules are imported inside the commands, so ``--help`` is instant; the
history commands are in :mod:`seawatch.cli_history`, the live service's in :mod:`seawatch.cli_live`."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from seawatch.cli_common import THREADS_HELP, batch_gc, positive_int, use_threads
from seawatch.cli_history import add_backtest_parsers, add_ingest_parsers, add_models_parsers
from seawatch.cli_live import add_dossier_parsers, add_relay_parsers, add_serve_parsers
from seawatch.watchlist_job import add_watchlist_parser


def _decode(args: argparse.Namespace) -> int:
    use_threads(args.threads)
    batch_gc()  # the imports and Numba's start-up made ~0.09 s of collections of the 4 M corpus's 0.11 s
    # numpy's OpenBLAS, and scipy's (loaded for Numba's BLAS check), each start a thread a core that spins ~0.1 s
    # waiting for work at start-up; decoding calls no BLAS
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
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
    dec.add_argument("--threads", type=positive_int, metavar="N", help=THREADS_HELP)
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
    add_backtest_parsers(sub)
    add_ingest_parsers(sub)
    add_serve_parsers(sub)
    add_relay_parsers(sub)
    _add_anchorages(sub)
    add_models_parsers(sub)
    add_dossier_parsers(sub)
    add_watchlist_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    if argv is None:  # the command itself, about to exit
        # Python's exit walks every object still alive (~125,000 after the imports and Numba's kernels) in three
        # full collections before freeing them: 0.3-0.4 s of CPU after `seawatch decode` is done (benchmarks/
        # RESULTS.md, issue 13). Frozen, they are freed without being walked; tests call main(argv) and are spared.
        gc.freeze()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
