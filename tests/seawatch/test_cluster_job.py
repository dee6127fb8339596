"""``seawatch backtest DATASET/`` on a real Dask cluster (a LocalCluster of worker processes on loopback, shared
by the module): the same alerts and vessel scores as the single-process backtest of the raw log for any number
of buckets and partitions, with a worker killed mid-run, and failures that name their partition."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.partitions import FLEET_DETECTORS, FLEET_GROUPS
from feeds.files import InputError
from seawatch.backtest_job import BacktestOptions
from seawatch.cluster_job import ClusterOptions, bucket_groups, fleet_groups, run_history_backtest
from tests.seawatch.test_history import NOAA, assert_same_outputs, backtest, ingest, jitter

distributed = pytest.importorskip("dask.distributed", reason="the cluster extra: pip install 'seawatch[cluster]'")


@pytest.fixture(scope="module")
def cluster():  # type: ignore[no-untyped-def]
    """Two one-thread worker processes, started once for the module (a few seconds)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  memory_limit="1GiB") as local:  # fmt: skip
        yield local


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from seawatch.simulator.config import SimConfig
    from seawatch.simulator.scenario import simulate

    folder = tmp_path_factory.mktemp("cluster")
    feed = jitter(simulate(SimConfig(hours=8, vessels=80, seed=29, injections_per_day=9)).feed)
    (folder / "feed.nmea").write_bytes(feed)
    backtest(str(folder / "feed.nmea"), "--out", str(folder / "raw"))
    return folder


def on_cluster(dataset: Path, out: Path, address: str, partitions: int | None = None,
               fleet_stages: int | None = None) -> None:  # fmt: skip
    run_history_backtest(str(dataset), out, BacktestOptions(report=False, progress=False),
                         ClusterOptions(cluster=address, partitions=partitions, fleet_stages=fleet_stages))  # fmt: skip


def test_bucket_groups_deal_every_bucket_once() -> None:
    for n in range(1, 12):
        groups = bucket_groups(list(range(7)), n)
        assert sorted(b for g in groups for b in g) == list(range(7)) and all(groups)
        assert len(groups) == min(n, 7)


def test_fleet_groups_deal_every_fleet_detector_once() -> None:
    for n in range(1, 6):
        groups = fleet_groups(n)
        assert sorted(d for g in groups for d in g) == sorted(FLEET_DETECTORS) and all(groups)
        assert len(groups) == min(n, len(FLEET_GROUPS))


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(1, 24), st.integers(1, 10), st.integers(1, 3))
def test_any_buckets_and_partitions_give_the_single_process_answer(cluster, scenario: Path, tmp_path_factory,  # type: ignore[no-untyped-def]
                                                                    buckets: int, partitions: int,
                                                                    fleet_stages: int) -> None:  # fmt: skip
    work = tmp_path_factory.mktemp("run")
    ingest(str(scenario / "feed.nmea"), "--out", str(work / "ds"), "--buckets", str(buckets))
    on_cluster(work / "ds", work / "out", cluster.scheduler_address, partitions, fleet_stages)
    assert_same_outputs(scenario / "raw", work / "out")


def test_a_worker_killed_mid_run_changes_nothing(cluster, scenario: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ingest(str(scenario / "feed.nmea"), "--out", str(tmp_path / "ds"), "--buckets", "16")
    with distributed.Client(cluster) as client:
        pids = client.run(os.getpid)
        killed: list[str] = []

        def kill_one_busy_worker() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not killed:
                for address, keys in client.processing().items():
                    if any(str(k).startswith("seawatch-") for k in keys):
                        os.kill(pids[address], signal.SIGKILL)
                        killed.append(address)
                        return
                time.sleep(0.005)

        killer = threading.Thread(target=kill_one_busy_worker)
        killer.start()
        on_cluster(tmp_path / "ds", tmp_path / "out", cluster.scheduler_address, partitions=8)
        killer.join()
        assert killed, "no worker was caught running a partition"
        client.wait_for_workers(2, timeout=60)  # the nanny restarts it for the next tests
    assert_same_outputs(scenario / "raw", tmp_path / "out")


def test_a_failed_partition_is_named(cluster, scenario: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ingest(str(scenario / "feed.nmea"), "--out", str(tmp_path / "ds"), "--buckets", "4")
    broken = sorted((tmp_path / "ds" / "statics").rglob("*.parquet"))[0]
    broken.write_bytes(b"PAR1 not really Parquet PAR1")
    with pytest.raises(InputError, match=r"(vessel partition \d \(MMSI buckets [\d, ]+\)|the fleet stage) of "):
        on_cluster(tmp_path / "ds", tmp_path / "out", cluster.scheduler_address, partitions=4)


@pytest.mark.parametrize(
    ("workers", "stages"),
    [
        (1, "one stage"),
        (2, "4 vessel partition(s) + the fleet stage"),
        (3, "6 vessel partition(s) + the fleet stage in 2"),
    ],
)
def test_the_command_starts_its_own_cluster_and_says_where_its_dashboard_is(  # type: ignore[no-untyped-def]
    scenario: Path, tmp_path: Path, capsys, workers: int, stages: str
) -> None:
    ingest(str(scenario / "feed.nmea"), "--out", str(tmp_path / "ds"))
    capsys.readouterr()
    backtest(str(tmp_path / "ds"), "--out", str(tmp_path / "out"), "--workers", str(workers), "--worker-memory", "1GiB")
    said = capsys.readouterr()
    assert "Dask dashboard: http://" in said.err
    assert f"{workers} worker(s), {stages}; peak memory of a worker" in said.out and "limit 1GiB" in said.out
    assert_same_outputs(scenario / "raw", tmp_path / "out")


@pytest.mark.skipif(not NOAA.exists(), reason=f"the NOAA sample is not at {NOAA} (../shared/data/csv)")
def test_the_noaa_archive_gives_the_single_process_answer(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    backtest(str(NOAA), "--out", str(tmp_path / "raw"))
    ingest(str(NOAA), "--out", str(tmp_path / "ds"), "--buckets", "12")
    on_cluster(tmp_path / "ds", tmp_path / "out", cluster.scheduler_address, partitions=5)
    assert pl.read_parquet(tmp_path / "raw" / "alerts.parquet").height > 0
    assert_same_outputs(tmp_path / "raw", tmp_path / "out")


def test_the_printed_dashboard_answers() -> None:
    import urllib.request

    from seawatch.dask_start import connect

    client, cluster = connect(1, None, "1GiB")
    try:
        with urllib.request.urlopen(client.dashboard_link, timeout=30) as page:
            assert page.status == 200 and b"bokeh" in page.read().lower()
    finally:
        client.close()
        cluster.close()


def test_a_bad_option_closes_the_cluster_started_for_it(scenario: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    import psutil

    from seawatch.cli import main

    ingest(str(scenario / "feed.nmea"), "--out", str(tmp_path / "ds"))
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    code = main(["backtest", str(tmp_path / "ds"), "--out", str(tmp_path / "out"), "--workers", "2",
                 "--zones", str(tmp_path / "missing.geojson"), "--progress", "off"])  # fmt: skip
    assert code == 2 and "missing.geojson" in capsys.readouterr().err
    workers = [p for p in psutil.Process().children(recursive=True) if p.pid not in before and p.is_running()
               and p.status() != psutil.STATUS_ZOMBIE and "spawn_main" in " ".join(p.cmdline())]  # fmt: skip
    assert not workers, "worker processes left running"


def test_dask_is_imported_only_on_the_cluster_path() -> None:
    import json
    import subprocess
    import sys

    jobs = "seawatch.cli, seawatch.backtest_job, seawatch.ingest_job, seawatch.history"
    listed = "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))))"
    code = f"import json, sys; import {jobs}; {listed}"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []
    code = code.replace(jobs, f"{jobs}, dask.distributed")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "distributed" in json.loads(done.stdout), "the check sees Dask when it is imported"


def test_a_local_cluster_of_several_workers_is_worker_processes() -> None:
    from seawatch.dask_start import connect

    client, cluster = connect(3, None, "1GiB")
    try:
        client.wait_for_workers(3, timeout=120)
        pids = sorted(client.run(os.getpid).values())
        assert os.getpid() not in pids and len(set(pids)) == 3, pids
    finally:
        client.close()
        cluster.close()
