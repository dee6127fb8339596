"""Quarantine for a feed that is its own journal (a NATS stream): a batch the engine fails on is kept aside with the
feed positions it held, and every start passes over those positions.

With a local journal the runner replays a failed batch from it, and quarantines it when it fails again
(engine/stream.py). A bus feed keeps no local journal: what came since the snapshot is on the bus, not here, so the
engine cannot go back and try again in place. The batch is quarantined at once, with the positions (stream
sequences) of its deliveries, and the runner stops; the next start (a supervisor's restart, or the standby that
takes over from the same state folder) reads the bus again from its snapshot and passes over the quarantined
messages (feeds/nats.py ``skip``), which are then acknowledged with the ones after them: the bus does not deliver
them again and again, and the engine goes on without them, as it does without a quarantined journal batch.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from engine.deliveries import TABLES
from engine.durable import crash_point, fsync_dir, fsync_file
from feeds.sources import FeedBatch

POSITIONS = "positions.json"  # {feed URL: [positions]} of a quarantined bus batch
PREFIX = "feed-"  # a quarantined bus batch's folder: feed-<first position>-<last position>; journal ones are digits


def quarantine_delivered(folder: Path, tables: dict[str, pl.DataFrame], deliveries: Sequence[FeedBatch],
                         cause: BaseException) -> Path:  # fmt: skip
    """Keep a batch the engine failed on in ``folder`` (the runner's quarantine/): its decoded rows, the error, and
    the positions of its deliveries by feed; whole or not at all. Returns where it went."""
    positions: dict[str, list[int]] = {}
    for d in deliveries:
        if d.position >= 0:
            positions.setdefault(d.url, []).append(d.position)
    held = [p for ps in positions.values() for p in ps]
    target = folder / f"{PREFIX}{min(held, default=0):012d}-{max(held, default=0):012d}"
    tmp = folder / f".tmp-{target.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in TABLES:
        tables[name].write_ipc(tmp / f"{name}.arrow")
        fsync_file(tmp / f"{name}.arrow")
    (tmp / "error.txt").write_text(f"{type(cause).__name__}: {cause}\n")
    (tmp / POSITIONS).write_text(json.dumps({url: sorted(ps) for url, ps in positions.items()}))
    fsync_file(tmp / POSITIONS)
    fsync_dir(tmp)
    crash_point("quarantine.move")
    shutil.rmtree(target, ignore_errors=True)  # the same batch quarantined before a crash cut the last one short
    os.replace(tmp, target)
    fsync_dir(folder)
    return target


def quarantined_positions(folder: Path) -> dict[str, set[int]]:
    """The feed positions of every batch quarantined in ``folder``, by feed URL: a start passes over them."""
    out: dict[str, set[int]] = {}
    for held in sorted(folder.glob(f"{PREFIX}*/{POSITIONS}")):
        for url, positions in json.loads(held.read_text()).items():
            out.setdefault(url, set()).update(int(p) for p in positions)
    return out


def recent_quarantines(folder: Path, within_s: float) -> list[tuple[float, str]]:
    """(seconds ago, the folder and its error) of each bus batch quarantined in ``folder`` within ``within_s``,
    youngest first: a start still reports them (the runner that quarantined one stopped)."""
    now, out = time.time(), []
    for where in folder.glob(f"{PREFIX}*"):
        if (where / POSITIONS).is_file() and now - where.stat().st_mtime < within_s:
            out.append((now - where.stat().st_mtime, f"{where} ({(where / 'error.txt').read_text().strip()})"))
    return sorted(out)
