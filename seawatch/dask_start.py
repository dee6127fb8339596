"""Reaching the Dask cluster of ``seawatch backtest DATASET/ --workers N | --cluster ADDRESS``, early.

A local cluster of one worker is a thread of this process (the command has loaded seawatch and its kernels
already); of N > 1 workers, N worker processes of one thread each (the engine's Python parts hold the GIL), each
loading seawatch's kernels once (:func:`dask_setup`, their preload). (A cluster of one worker here and N - 1
processes was tried, 18d3396: ~1.6x faster to reach on 2 cores, but a task given to the worker here was once left
"processing" with its thread idle, and the command waited for ever in a fresh clone's test run; reverted.)
:func:`connect_soon` starts the cluster in a thread as the command begins, so that the worker processes load
while the command loads what it needs itself. This module imports nothing heavy: the command line imports it
before anything else.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

LOOPBACK = "127.0.0.1"  # a local cluster listens on loopback only
WORKER_MEMORY = "2GiB"  # per worker: Dask spills results to disk past 60 % of it and restarts a worker past 95 %


def connect(workers: int | None, address: str | None, memory: str = WORKER_MEMORY) -> tuple[Any, Any]:
    """A client of the scheduler at ``address``, or of a new local cluster of ``workers`` one-thread workers
    with ``memory`` each (one: a thread of this process; more: worker processes); and that cluster (None for
    ``address``). Raises InputError."""
    from dask.distributed import Client, LocalCluster

    from feeds.files import InputError

    try:
        if address is not None:
            return Client(address, timeout="30s"), None
        if workers == 1:  # in this process (a thread): a second process would only load everything again
            cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=False, memory_limit=memory,
                                   dashboard_address=":0")  # fmt: skip
            return Client(cluster), cluster
        pools = str(max(1, (os.cpu_count() or 1) // (workers or 1)))  # polars' and Numba's threads, per worker
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, memory_limit=memory,
                               host=LOOPBACK, dashboard_address=":0", preload=[__name__],
                               env={"POLARS_MAX_THREADS": pools, "NUMBA_NUM_THREADS": pools})  # fmt: skip
        return Client(cluster), cluster
    except (OSError, TimeoutError, ValueError) as exc:
        where = address or f"a local cluster of {workers} workers"
        raise InputError(f"{where}: cannot start or reach the Dask cluster ({exc})") from None


def connect_soon(workers: int | None, address: str | None, memory: str = WORKER_MEMORY) -> Future:
    """:func:`connect` in a thread; the future's result is (client, cluster)."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="dask-start")
    future = pool.submit(connect, workers, address, memory)
    pool.shutdown(wait=False)
    return future


def close_when_started(starting: Future) -> None:
    """Close what :func:`connect_soon` started (after a bad option: the command ends without using it)."""
    if starting.exception() is None:
        client, cluster = starting.result()
        client.close()
        if cluster is not None:
            cluster.close()


def dask_setup(worker: Any) -> None:
    """A local worker's preload: seawatch's modules and the Numba kernels of every detector, loaded once."""
    from seawatch.stages import warm

    warm()
