"""``seawatch backtest DATASET/``: the backtest of a history dataset, in one process or fanned out on Dask.

The partitioning (:mod:`engine.partitions`): the per-vessel detectors and the features run per group of MMSI
buckets (a *vessel partition*), the four fleet detectors run as one *fleet stage* over every kept row; each stage
reads the dataset itself (seawatch/history.py), in arrival order, and returns its alerts (and the features, or the
station outages). The client concatenates them and scores the vessels as the single-process backtest does
(seawatch/backtest_job.py, :func:`finish_backtest`), so the outputs are the same for any number of workers and
partitions.

On a cluster (``--workers N``: a local Dask cluster of N one-thread worker processes; ``--cluster tcp://...``: an
existing scheduler) every stage is one task. A task is a pure function of the dataset, so a worker that dies
mid-run only costs its task a second run elsewhere (Dask reschedules it); a task that fails names its partition.
Dask is imported only here, and only on this path: the command line starts as fast without it.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from engine.partitions import FLEET_DETECTORS, FLEET_GROUPS
from feeds.files import InputError
from seawatch.backtest_job import BacktestOptions, BacktestSummary, Setup, finish_backtest, thin_tracks
from seawatch.dask_start import WORKER_MEMORY, connect_soon
from seawatch.history import Dataset, Filters
from seawatch.inputs import STALE
from seawatch.stages import StageResult, context, run_stage

PARTITIONS_PER_WORKER = 2  # vessel partitions per worker by default: work to steal while the fleet stage runs


@dataclass
class ClusterOptions:
    workers: int | None = None  # start a local Dask cluster of this many worker processes
    cluster: str | None = None  # or use the scheduler at this address (tcp://host:8786)
    partitions: int | None = None  # vessel partitions (groups of MMSI buckets); default 2 per worker
    fleet_stages: int | None = None  # stages the fleet detectors are dealt into (1-3); default from the workers
    worker_memory: str = WORKER_MEMORY
    filters: Filters = field(default_factory=Filters)
    starting: Future | None = None  # the cluster being reached already (dask_start.connect_soon)

    @property
    def distributed(self) -> bool:
        return self.workers is not None or self.cluster is not None


def run_history_backtest(url: str, out: Path, options: BacktestOptions, plan: ClusterOptions) -> BacktestSummary:
    """Backtest the dataset at ``url`` into ``out``, in this process or on Dask (``plan``); raises InputError."""
    dataset = Dataset(url)
    started = time.perf_counter()
    zones = str(options.zones.resolve()) if options.zones else None  # the workers' working folder may differ
    args = (plan.filters, options.region, options.examples, zones)
    setup = Setup.of(options, out)
    closing = None
    if plan.distributed:
        job = _submit(url, dataset.buckets_present(), args, plan)
        try:
            results = job.gather(options.progress)
        except BaseException:
            job.close()
            raise
        closing = threading.Thread(target=job.close, name="dask-close")  # while this thread scores and writes
        closing.start()
    else:
        results = [run_stage(url, "all", None, *args, name="the backtest")]
    try:
        return _finish(url, dataset, out, options, plan, setup, results, job if plan.distributed else None, started)
    finally:
        if closing is not None:
            closing.join()


def _finish(url: str, dataset: Dataset, out: Path, options: BacktestOptions, plan: ClusterOptions, setup: Setup,
            results: list[StageResult], job: _DaskJob | None, started: float) -> BacktestSummary:  # fmt: skip
    """The stages' results put together as the single-process backtest's, scored and written."""
    runs = dataset.runs
    summary = BacktestSummary(out=out, files=sum(len(r["inputs"]) for r in runs), notices=list(setup.notices))
    if job is not None:
        summary.notices.append(job.notice(results))
    fleet = next(r for r in results if r.outages is not None)  # a stage over every kept row: the engine's counts
    parts = [r for r in results if r.vessels is not None]
    summary.positions = sum(r.positions for r in parts)
    summary.messages = sum(int(r["messages"]) for r in runs) if not plan.filters.any else summary.positions
    summary.engine = fleet.counts.copy()
    if not plan.filters.any:  # what ingest set aside (no time, late) and the archives' carried-over rows
        for r in runs:
            summary.engine.update({k: v for k, v in r["counts"].items() if k in ("no_time", "late", STALE)})
    alerts = pl.concat([r.alerts for r in results])
    vessels = pl.concat([r.vessels for r in parts if r.vessels is not None]).sort("mmsi")
    days = pl.concat([r.days for r in parts if r.days is not None]).sort("mmsi", "day")
    outages = fleet.outages if fleet.outages is not None else pl.DataFrame()
    tracks = lambda top: thin_tracks(dataset.read_positions(top, plan.filters))  # noqa: E731 - the report's maps
    finish_backtest(summary, setup, options, alerts, vessels, days, outages, tracks, url, started)
    return summary


def bucket_groups(buckets: list[int], partitions: int) -> list[tuple[int, ...]]:
    """``buckets`` dealt into ``partitions`` groups (fewer when there are fewer buckets), none empty."""
    n = max(1, min(partitions, len(buckets)))
    return [tuple(buckets[i::n]) for i in range(n) if buckets[i::n]]


@dataclass
class _DaskJob:
    """The stages submitted to a cluster, by their partition's name."""

    client: Any
    cluster: Any  # the LocalCluster this run started, or None
    futures: dict[Any, str]
    workers: int
    partitions: int
    memory: str

    def gather(self, progress: bool | None) -> list[StageResult]:
        """Every stage's result as they finish (a tqdm bar on the client); InputError naming a failed partition."""
        from dask.distributed import as_completed
        from tqdm import tqdm

        results = []
        show = sys.stderr.isatty() if progress is None else progress
        with tqdm(total=len(self.futures), unit="partition", disable=not show, file=sys.stderr,
                  desc="backtest") as bar:  # fmt: skip
            for future in as_completed(self.futures):
                try:
                    results.append(future.result())
                except InputError:
                    raise
                except Exception as exc:  # noqa: BLE001 - whatever the cluster raised, said with its partition
                    name = self.futures[future]
                    raise InputError(f"{name} failed on the cluster: {type(exc).__name__}: {exc}") from None
                bar.update(1)
        return results

    def notice(self, results: list[StageResult]) -> str:
        peak = max(r.peak_rss for r in results)
        fleet = sum(1 for name in self.futures.values() if name.startswith("the fleet stage"))
        stages = (f"{self.partitions} vessel partition(s) + the fleet stage" + (f" in {fleet}" if fleet > 1 else "")
                  if self.partitions else "one stage")  # fmt: skip
        return (f"Dask: {self.workers} worker(s), {stages}; peak memory of a worker {peak / 2**30:.2f} GiB "
                f"(limit {self.memory})")  # fmt: skip

    def close(self) -> None:
        for future in self.futures:
            future.cancel()
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _submit(url: str, buckets: list[int], args: tuple, plan: ClusterOptions) -> _DaskJob:
    """Reach the cluster (started early when the command line did: seawatch/dask_start.py), print its dashboard's
    address, and submit every stage."""
    starting = plan.starting or connect_soon(plan.workers, plan.cluster, plan.worker_memory)
    if plan.workers == 1:  # the local worker in this process needs them: loaded while the cluster starts
        context(*args[1:])
    client, cluster = starting.result()
    sys.stderr.write(f"Dask dashboard: {client.dashboard_link}\n")
    # a local cluster's worker processes may still be starting: count the workers asked for
    workers = plan.workers if cluster is not None and plan.workers else len(client.scheduler_info()["workers"])
    workers = max(1, workers)
    token = uuid.uuid4().hex[:8]  # keys of this run: several runs may share a scheduler
    memory = plan.worker_memory if cluster is not None else "the cluster's"
    if workers == 1 and plan.partitions is None:  # one worker: cutting would only add work
        future = client.submit(run_stage, url, "all", None, *args, name="the backtest", pure=False,
                               key=f"seawatch-all-{token}")  # fmt: skip
        return _DaskJob(client, cluster, {future: "the backtest"}, workers, 0, memory)
    groups = bucket_groups(buckets, plan.partitions or PARTITIONS_PER_WORKER * workers)
    futures = {}
    for i, fleet in enumerate(fleet_groups(plan.fleet_stages or min(len(FLEET_GROUPS), max(1, workers - 1)))):
        name = "the fleet stage" + (f" ({', '.join(fleet)})" if len(fleet) < len(FLEET_DETECTORS) else "")
        futures[client.submit(run_stage, url, "fleet", None, *args, name=name, fleet=fleet, pure=False, priority=1,
                              key=f"seawatch-fleet-{i}-{token}")] = name  # fmt: skip
    for i, group in enumerate(groups):
        name = f"vessel partition {i} (MMSI buckets {', '.join(map(str, group))})"
        futures[client.submit(run_stage, url, "vessels", group, *args, name=name, pure=False,
                              key=f"seawatch-vessels-{i}-{token}")] = name  # fmt: skip
    return _DaskJob(client, cluster, futures, workers, len(groups), memory)


def fleet_groups(stages: int) -> list[tuple[str, ...]]:
    """The fleet detectors dealt into ``stages`` stages (at most one per group of
    :data:`engine.partitions.FLEET_GROUPS`). By default one stage on two workers or fewer, one fewer than the
    workers beyond: each stage reads every row again (~0.6 s a pass on the 7-day log, benchmarks/RESULTS.md), so
    a cut pays only when the fleet work would otherwise be one worker's alone while the others wait."""
    n = max(1, min(stages, len(FLEET_GROUPS)))
    return [*FLEET_GROUPS[: n - 1], tuple(sorted(d for g in FLEET_GROUPS[n - 1 :] for d in g))]
