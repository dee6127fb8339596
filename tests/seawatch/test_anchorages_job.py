"""``seawatch anchorages`` on AIS made with pyais's encoder (the real component) and on the real recordings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pyais import encode_dict

from seawatch.cli import main
from tests import reference as ref

NMEA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nmea"
GEO = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "geo"
T0 = 1_717_200_000  # 2024-06-01T00:00:00Z
HON_GAI = (20.7239, 107.1744)  # Hon Gai transshipment anchorage (haiphong_quangninh_ports_anchorages.csv)
CAM_PHA = (20.8206, 107.2864)


def sentence(mmsi: int, lat: float, lon: float, sog: float, status: int, t: float | None) -> str:
    nmea = encode_dict({"type": 1, "mmsi": mmsi, "lat": lat, "lon": lon, "speed": sog, "status": status,
                        "course": 90.0, "heading": 90})[0]  # fmt: skip
    return nmea if t is None else f"{t:.1f} {nmea}"  # a unix-time prefix, as simpleais records


def anchored(rng, mmsi: int, where: tuple[float, float], start: float, hours: float, sog=None, status=1):
    fixes = int(hours * 3) + 1  # one every 20 minutes
    return [
        (start + k * 1200, sentence(mmsi, where[0] + rng.normal(0, 0.0003), where[1] + rng.normal(0, 0.0003),
                                    rng.uniform(0, 0.3) if sog is None else sog, status, start + k * 1200))
        for k in range(fixes)
    ]  # fmt: skip


def scenario(path: Path) -> Path:
    """23 vessels stop 13 h at Hon Gai (one reports no speed, only "moored"), 6 stop at Cam Pha, 10 steam
    through Hon Gai without stopping, and 50 reports carry no time."""
    rng = np.random.default_rng(0)
    lines = []
    for v in range(22):
        lines += anchored(rng, 574000000 + v, HON_GAI, T0 + v * 3600, 13)
    lines += anchored(rng, 574000100, HON_GAI, T0, 13, sog=102.3, status=5)
    for v in range(6):
        lines += anchored(rng, 412000000 + v, CAM_PHA, T0 + v * 1800, 14)
    for v in range(10):
        for k in range(40):
            t = T0 + v * 600 + k * 60
            lines.append((t, sentence(477000000 + v, HON_GAI[0], HON_GAI[1] - 0.1 + k * 0.005, 12.0, 0, t)))
    lines += [(0, sentence(574000050, HON_GAI[0], HON_GAI[1], 0.0, 1, None))] * 50
    lines.sort(key=lambda x: x[0])
    path.write_text("\n".join(text for _, text in lines) + "\n")
    return path


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(["anchorages", *map(str, args), "--progress", "off"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def features(path: Path) -> list[dict]:
    data = json.loads(path.read_text())
    assert data["type"] == "FeatureCollection"
    return data["features"]


def test_finds_the_anchorage_where_enough_vessels_stopped(tmp_path, capsys):
    feed = scenario(tmp_path / "feed.nmea")
    code, out, err = run(capsys, feed, "--out", tmp_path / "a.geojson")
    assert (code, err) == (0, "")
    found = features(tmp_path / "a.geojson")
    assert len(found) == 1
    lon, lat = found[0]["geometry"]["coordinates"]
    assert ref.haversine_km(lat, lon, *HON_GAI) < 0.1
    props = found[0]["properties"]
    assert props["vessels"] == 23 and props["stops"] == 23 and props["hours"] == pytest.approx(23 * 13, rel=1e-6)
    assert "50 without a time" in out and "anchorages (cells where 20 or more vessels stopped): 1" in out


def test_thresholds_are_settings(tmp_path, capsys):
    feed = scenario(tmp_path / "feed.nmea")
    assert run(capsys, feed, "--out", tmp_path / "b.geojson", "--min-vessels", "5")[0] == 0
    found = features(tmp_path / "b.geojson")
    assert [f["properties"]["vessels"] for f in found] == [23, 6]
    assert run(capsys, feed, "--out", tmp_path / "c.geojson", "--min-vessels", "5", "--min-hours", "13.5")[0] == 0
    assert [f["properties"]["vessels"] for f in features(tmp_path / "c.geojson")] == [6]


def test_streaming_in_small_chunks_finds_the_same(tmp_path, capsys):
    feed = scenario(tmp_path / "feed.nmea")
    run(capsys, feed, "--out", tmp_path / "whole.geojson")
    run(capsys, feed, "--out", tmp_path / "chunks.geojson", "--chunk-mb", "0.01")
    assert features(tmp_path / "whole.geojson") == features(tmp_path / "chunks.geojson")


@pytest.mark.parametrize(
    ("args", "says"),
    [(["missing.nmea"], "no such file"), (["{feed}", "--min-vessels", "0"], "min-vessels must be 1 or more")],
)
def test_bad_input_is_a_one_line_error(tmp_path, capsys, args, says):
    feed = scenario(tmp_path / "feed.nmea")
    args = [a.format(feed=feed) if "{" in a else a for a in args]
    code, out, err = run(capsys, *[tmp_path / a if a == "missing.nmea" else a for a in args], "--out",
                         tmp_path / "x.geojson")  # fmt: skip
    assert code == 2 and out == "" and err.count("\n") == 1 and says in err
    assert not (tmp_path / "x.geojson").exists()


def test_real_recordings_find_real_ports(tmp_path, capsys):
    if not NMEA_DIR.is_dir() or not (GEO / "naturalearth_ne_10m_ports.geojson").is_file():
        pytest.skip(f"the real recordings {NMEA_DIR} or ports in {GEO} are not here (see ../shared/data/README.md)")
    # the recordings span hours, not years, and most lines carry no time: only small thresholds find anything
    code, out, _ = run(capsys, *sorted(NMEA_DIR.glob("*.*")), "--out", tmp_path / "r.geojson",
                       "--min-vessels", "3", "--min-hours", "0.5")  # fmt: skip
    assert code == 0 and "without a time" in out
    found = features(tmp_path / "r.geojson")
    ports = [f["geometry"]["coordinates"] for f in json.loads((GEO / "naturalearth_ne_10m_ports.geojson").read_text())
             ["features"]]  # fmt: skip
    assert len(found) >= 3
    for f in found:  # Auckland and New Plymouth (Port Taranaki), from the AMSA recording
        lon, lat = f["geometry"]["coordinates"]
        assert min(ref.haversine_km(lat, lon, plat, plon) for plon, plat in ports) < 2.0
