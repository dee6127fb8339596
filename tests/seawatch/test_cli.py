"""``seawatch decode`` on the real recordings: the Parquet tables, .gz input, several inputs, one-line errors,
and a ``--help`` that starts without the heavy libraries."""

from __future__ import annotations

import gzip
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from engine.decode import Decoded, decode_bytes
from seawatch.cli import main

NMEA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nmea"
TABLES = ("positions", "statics", "events")
FILES = (  # a tag-block feed, a unix-prefixed feed, a Gatehouse feed with trailing times, USCG metadata
    "Ais.Net__Ais1000Lines.nm4",
    "simpleais__sample.ais",
    "risky__exact-earth-augmented-2.txt",
    "libais__typeexamples.nmea",
)


def real(name: str) -> Path:
    path = NMEA_DIR / name
    if not path.is_file():
        pytest.skip(f"real NMEA recording {path} is not here (see ../shared/data/README.md)")
    return path


def in_process(*paths: Path) -> dict[str, pl.DataFrame]:
    """What decoding the same files in this process gives, table by table, files in order."""
    decoded: list[Decoded] = [decode_bytes(p.read_bytes()) for p in paths]
    return {t: pl.concat([getattr(d, t) for d in decoded]) for t in TABLES}


def written(out: Path) -> dict[str, pl.DataFrame]:
    return {t: pl.read_parquet(out / f"{t}.parquet") for t in TABLES}


def run(capsys, *args: str | Path) -> tuple[int, str, str]:
    code = main(["decode", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_decode_writes_the_three_tables_as_decoded_in_process(tmp_path, capsys):
    paths = [real(name) for name in FILES]
    code, out, err = run(capsys, *paths, "--out", tmp_path / "out")
    assert (code, err) == (0, "")
    got, expected = written(tmp_path / "out"), in_process(*paths)
    for table in TABLES:
        assert got[table].height == expected[table].height > 0
        assert got[table].equals(expected[table]), table
    n = sum(expected[t].height for t in TABLES) - int((expected["statics"]["msg_type"] == 19).sum())
    assert out.startswith(f"decoded {n:,} messages from ") and f"in {len(paths)} file(s)" in out
    for table in TABLES:
        assert f"{tmp_path / 'out' / table}.parquet  {expected[table].height:,} rows" in out


def test_several_inputs_add_up(tmp_path, capsys):
    a, b = real("Ais.Net__Ais1000Lines.nm4"), real("risky__exact-earth-with-tag-block.txt")
    rows = {}
    for key, inputs in {"a": [a], "b": [b], "ab": [a, b]}.items():
        code, _, _ = run(capsys, *inputs, "--out", tmp_path / key, "--no-details")
        assert code == 0
        rows[key] = {t: frame.height for t, frame in written(tmp_path / key).items()}
    assert rows["ab"] == {t: rows["a"][t] + rows["b"][t] for t in TABLES}


@pytest.mark.parametrize("name", ["feed.ais.gz", "feed.nmea"])  # .gz, and gzip content under a plain name
def test_gzip_input(tmp_path, capsys, name):
    plain = real("simpleais__sample.ais")
    packed = tmp_path / name
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert run(capsys, plain, "--out", tmp_path / "plain")[0] == 0
    code, _, err = run(capsys, packed, "--out", tmp_path / "packed", "--chunk-mb", "0.05")  # many chunks
    assert (code, err) == (0, "")
    got, expected = written(tmp_path / "packed"), written(tmp_path / "plain")
    for table in TABLES:
        assert got[table].equals(expected[table]), table


def test_empty_file_gives_empty_tables(tmp_path, capsys):
    empty = tmp_path / "empty.nmea"
    empty.write_bytes(b"")
    code, out, _ = run(capsys, empty, "--out", tmp_path / "out")
    assert code == 0 and out.startswith("decoded 0 messages from 0 lines in 1 file(s)")
    tables = written(tmp_path / "out")
    assert {t: f.height for t, f in tables.items()} == dict.fromkeys(TABLES, 0)
    assert {"mmsi", "t", "lat", "lon"} <= set(tables["positions"].columns)


def _not_ais(tmp_path: Path) -> Path:
    path = tmp_path / "vessels.csv"
    path.write_text("MMSI,BaseDateTime,LAT,LON\n367000001,2022-01-03T00:00:00,29.1,-89.9\n")
    return path


def _truncated_gz(tmp_path: Path) -> Path:
    data = gzip.compress(real("simpleais__sample.ais").read_bytes())
    path = tmp_path / "cut.nmea.gz"
    path.write_bytes(data[: len(data) // 2])  # the first 64 KiB inflate fine: the damage shows only mid-run
    return path


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda tmp: tmp / "missing.nmea", "no such file"),
        (lambda tmp: (tmp / "logs").mkdir() or tmp / "logs", "is a directory"),
        (_not_ais, "no AIS sentence"),
        (_truncated_gz, "complete .gz file"),
    ],
    ids=["missing", "directory", "not-ais", "truncated-gz"],
)
def test_bad_input_is_a_one_line_error_naming_the_file(tmp_path, capsys, make, says):
    bad = make(tmp_path)
    code, out, err = run(capsys, bad, "--out", tmp_path / "out")
    assert code == 2 and out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith(f"seawatch decode: {bad}: ") and says in err
    assert "Traceback" not in err


def test_a_bad_input_among_good_ones_stops_before_writing(tmp_path, capsys):
    code, _, err = run(capsys, real("libais__typeexamples.nmea"), tmp_path / "missing.nmea", "--out", tmp_path / "o")
    assert code == 2 and "missing.nmea: no such file" in err
    assert not (tmp_path / "o").exists()


def test_output_folder_that_cannot_be_made(tmp_path, capsys):
    blocker = tmp_path / "taken"
    blocker.write_text("a file where the folder should go")
    code, _, err = run(capsys, real("libais__typeexamples.nmea"), "--out", blocker)
    assert code == 2 and err.count("\n") == 1 and str(blocker) in err and "output folder" in err


def test_help_is_fast():
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "seawatch.cli", "--help"], capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - started
    assert "decode" in done.stdout
    assert elapsed < 2.0, f"seawatch --help took {elapsed:.2f} s"


def test_importing_the_cli_does_not_import_the_heavy_libraries():
    heavy = "{'numba', 'polars', 'pyais'}"
    probe = f"import sys, seawatch.cli; print(sorted({{m.split('.')[0] for m in sys.modules}} & {heavy}))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_keys_create_prints_a_key_the_store_accepts(tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from api.app import open_store
    from api.keys import KeyChecker
    from api.settings import Settings

    monkeypatch.setenv("SEAWATCH_ENVIRONMENT", "development")
    monkeypatch.setenv("SEAWATCH_DATABASE_PATH", str(tmp_path / "k.db"))
    assert main(["keys", "create", "--name", "duty officer", "--role", "analyst"]) == 0
    key = capsys.readouterr().out.strip()
    store = open_store(Settings())
    try:
        found = KeyChecker(store, None).check(key)
    finally:
        store.close()
    assert found is not None and found.role == "analyst" and found.name == "duty officer"


def test_batch_gc_raises_only_the_youngest_generations_threshold() -> None:
    import gc

    from seawatch.cli_common import BATCH_GC_THRESHOLD, batch_gc

    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 11, 12)
        batch_gc()
        assert gc.get_threshold() == (BATCH_GC_THRESHOLD, 11, 12)
        assert gc.isenabled()
    finally:
        gc.set_threshold(*before)
