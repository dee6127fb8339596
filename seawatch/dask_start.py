"""Reaching the Dask cluster of ``seawatch backtest DATASET/ --workers N | --cluster ADDRESS``, early.

A local cluster of N workers has one worker in this process (a thread: the command has loaded seawatch and its
kernels already, and its own thread only waits for the results meanwhile) and N - 1 worker processes (one thread
each: the engine's Python parts hold the GIL). Each worker process loads seawatch's kernels once
(:func:`dask_setup`, their preload) -- a few seconds, as the single-process command spends them too; a cluster
of worker processes only would load them once more than needed, on a machine whose cores are the workers.
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
    with ``memory`` each (one in this process, the others processes); and that cluster (None for ``address``).
    Raises InputError."""
    from dask.distributed import Client, LocalCluster

    from feeds.files import InputError

    try:
        if address is not None:
            return Client(address, timeout="30s"), None
        if workers == 1:  # in this process (a thread): a second process would only load everything again
            cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=False, memory_limit=memory,
                                   dashboard_address=":0")  # fmt: skip
            return Client(cluster), cluster
        cluster = _mixed_cluster(workers or 2, memory)
        client = Client(cluster)  # before the processes are asked for: a client of a cluster waits for them all
        cluster.scale(workers)  # they start in the background; the worker here takes tasks meanwhile
        return client, cluster
    except (OSError, TimeoutError, ValueError) as exc:
        where = address or f"a local cluster of {workers} workers"
        raise InputError(f"{where}: cannot start or reach the Dask cluster ({exc})") from None


def _mixed_cluster(workers: int, memory: str) -> Any:
    """A local cluster of one worker in this process and ``workers`` - 1 worker processes (the module's
    docstring), each of one thread and ``memory``, on loopback, with the dashboard on a free port. It is
    returned with the worker here only: :meth:`SpecCluster.scale` adds the processes."""
    import logging

    from dask.distributed import Nanny, Scheduler, SpecCluster, Worker

    pools = str(max(1, (os.cpu_count() or 1) // workers))  # polars' and Numba's threads of a worker process
    here = {"cls": Worker, "options": {"nthreads": 1, "memory_limit": memory, "host": LOOPBACK}}
    apart = {"cls": Nanny, "options": {"nthreads": 1, "memory_limit": memory, "host": LOOPBACK, "preload": [__name__],
                                       "silence_logs": logging.WARN,
                                       "env": {"POLARS_MAX_THREADS": pools, "NUMBA_NUM_THREADS": pools}}}  # fmt: skip
    scheduler = {"cls": Scheduler, "options": {"host": LOOPBACK, "dashboard_address": ":0"}}
    return SpecCluster(workers={"here": here}, worker=apart, scheduler=scheduler, silence_logs=logging.WARN,
                       name="seawatch")  # fmt: skip


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
