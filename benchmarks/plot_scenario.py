"""Draw a simulated scenario's tracks over the coast, to look at (not a test).

    python benchmarks/plot_scenario.py [--hours 24] [--vessels 300] [--seed 0] [--out /tmp/scenario.png]

Simulates the scenario (or reads ``--from DIR`` written by ``seawatch simulate``), decodes ``feed.nmea`` with our
decoder and draws every vessel's reported track by role, the labelled behaviours, the boundary, zones, lanes and
stations, over Natural Earth land from ``../shared/data/geo`` (drawn here only: the package has no land data).
A second picture zooms on Hai Phong and Ha Long bay. Needs matplotlib (``pip install matplotlib``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from engine.decode import decode_bytes  # noqa: E402
from engine.geo.regions import load_pack  # noqa: E402

GEO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "geo"
COLOURS = {
    "container": "tab:blue",
    "cargo": "tab:cyan",
    "bulk": "tab:olive",
    "tanker": "tab:orange",
    "small_tanker": "darkorange",
    "ferry": "tab:purple",
    "tug": "tab:brown",
    "fishing": "tab:green",
    "sart": "red",
}
KIND_MARK = {
    "ais_gap": ("o", "black"),
    "encounter": ("*", "magenta"),
    "loitering": ("s", "navy"),
    "spoofing": ("X", "red"),
    "land_position": ("P", "red"),
    "identity_conflict": ("D", "teal"),
    "identity_change": ("d", "teal"),
    "invalid_identity": ("h", "grey"),
    "draught_change": ("v", "sienna"),
    "zone_entry": ("^", "crimson"),
    "border_crossing": (">", "gold"),
    "distress": ("*", "red"),
}


def land(ax, box: tuple[float, float, float, float]) -> None:
    lo0, lo1, la0, la1 = box
    for name in ("naturalearth_ne_10m_land.geojson", "naturalearth_ne_10m_minor_islands.geojson"):
        path = GEO / name
        if not path.is_file():
            continue
        for feat in json.loads(path.read_text())["features"]:
            g = feat["geometry"]
            for poly in g["coordinates"] if g["type"] == "MultiPolygon" else [g["coordinates"]]:
                ring = np.asarray(poly[0])
                if ring[:, 0].max() < lo0 or ring[:, 0].min() > lo1 or ring[:, 1].max() < la0 or ring[:, 1].min() > la1:
                    continue
                ax.fill(ring[:, 0], ring[:, 1], color="#e8dcc0", ec="#9c8a66", lw=0.4, zorder=1)


def draw(out: Path, data: Path, box: tuple[float, float, float, float], title: str, lw: float) -> None:
    pack = load_pack("gulf-of-tonkin")
    decoded = decode_bytes((data / "feed.nmea").read_bytes(), details=False)
    pos = decoded.positions.sort("mmsi", "t")
    vessels = pl.read_csv(data / "vessels.csv").unique("mmsi", keep="first")
    labels = pl.read_csv(data / "labels.csv")
    pos = pos.join(vessels.select("mmsi", "type"), on="mmsi", how="left")
    lo0, lo1, la0, la1 = box
    fig, ax = plt.subplots(figsize=(14, 14 * (la1 - la0) / (lo1 - lo0) / np.cos(np.radians((la0 + la1) / 2))))
    ax.set_facecolor("#dceefc")
    land(ax, box)
    for i in range(len(pack.zones)):
        lat, lon = pack.zones.part(i)
        colour = {"restricted": "crimson", "watch": "darkorange", "fishing": "green"}.get(str(pack.zones.kinds[i]), "k")
        ax.plot(lon, lat, color=colour, lw=1.0, ls="--", zorder=2)
    for i in range(len(pack.lanes)):
        lat, lon = pack.lanes.part(i)
        ax.plot(lon, lat, color="white", lw=2.5, alpha=0.7, zorder=2)
    blat, blon = pack.boundaries.part(0)
    ax.plot(blon, blat, color="black", lw=1.2, ls="-.", zorder=3, label="VN-CN boundary (2000)")
    st = pack.stations
    ax.scatter(st.lon, st.lat, marker="^", s=60, c="black", zorder=6, label="AIS stations")
    for _, g in pos.group_by("mmsi", maintain_order=True):
        lat, lon = g["lat"].to_numpy(), g["lon"].to_numpy()
        jump = np.flatnonzero(np.hypot(np.diff(lat), np.diff(lon)) > 0.15) + 1
        colour = COLOURS.get(str(g["type"][0]), "grey")
        for a, b in zip(np.r_[0, jump], np.r_[jump, lat.shape[0]], strict=True):
            ax.plot(lon[a:b], lat[a:b], color=colour, lw=lw, alpha=0.8, zorder=4)
    for kind, (marker, colour) in KIND_MARK.items():
        sel = labels.filter(pl.col("kind") == kind)
        if sel.height:
            ax.scatter(
                sel["lon"],
                sel["lat"],
                marker=marker,
                s=70,
                c=colour,
                ec="white",
                lw=0.6,
                zorder=7,
                label=f"{kind} ({sel.height})",
            )
    for role, colour in COLOURS.items():
        ax.plot([], [], color=colour, lw=2, label=role)
    ax.set_xlim(lo0, lo1)
    ax.set_ylim(la0, la1)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=7, ncol=2, framealpha=0.9)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--vessels", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--from", dest="source", type=Path, help="a folder written by seawatch simulate")
    ap.add_argument("--out", type=Path, default=Path("/tmp/scenario.png"))
    args = ap.parse_args()
    data = args.source
    if data is None:
        from seawatch.simulator.config import SimConfig
        from seawatch.simulator.scenario import simulate

        data = Path(tempfile.mkdtemp(prefix="scenario-"))
        started = time.perf_counter()
        simulate(SimConfig(hours=args.hours, vessels=args.vessels, seed=args.seed)).write(data)
        print(f"simulated {args.hours:g} h x {args.vessels} vessels in {time.perf_counter() - started:.1f} s -> {data}")
    title = f"seawatch simulate: {args.hours:g} h, {args.vessels} vessels, seed {args.seed}"
    draw(args.out, data, (105.5, 110.0, 17.4, 21.8), title, 0.5)
    zoom = args.out.with_name(args.out.stem + "_haiphong" + args.out.suffix)
    draw(zoom, data, (106.6, 107.45, 20.5, 21.05), title + " - Hai Phong and Ha Long", 0.8)
    print(f"wrote {args.out} and {zoom}")


if __name__ == "__main__":
    main()
