"""What the command line's modules share: the thread setting and its argument type."""

from __future__ import annotations

import argparse
import os


def use_threads(threads: int | None) -> None:
    """``--threads N`` (else ``SEAWATCH_THREADS``): the decoding workers, and polars' and Numba's own pools when
    they are not set apart, so that 1 keeps the whole run on one core. Set before polars and Numba are imported."""
    if threads is not None:
        os.environ["SEAWATCH_THREADS"] = str(threads)
    setting = os.environ.get("SEAWATCH_THREADS", "").strip()
    if setting.isdigit() and int(setting) > 0:
        for pool in ("POLARS_MAX_THREADS", "NUMBA_NUM_THREADS"):
            os.environ.setdefault(pool, setting)


def positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of threads, at least 1 (1: one core)")
    return n


THREADS_HELP = "threads that decode at once (default: SEAWATCH_THREADS, else every core; 1: one core)"
