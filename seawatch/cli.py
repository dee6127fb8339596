"""The ``seawatch`` command line. Heavy modules are imported inside the commands, so ``--help`` is instant."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def _decode(args: argparse.Namespace) -> int:
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
    dec.set_defaults(func=_decode)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
