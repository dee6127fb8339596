"""Learning from analysts (issue 12): does triaging day 1 make day 2 better?

    .venv/bin/python benchmarks/bench_analyst.py --seeds 31 32 33
    .venv/bin/python benchmarks/bench_analyst.py --seeds 31 32 33 --noisy-precision 0.5 --min-decisions 5
    .venv/bin/python benchmarks/bench_analyst.py --seeds 31 32 33 --coast-guard-zones   # a noisy zone file

Per seed, our simulator makes two days of the same fleet (``--train-days`` + 1 days in one scenario: the same
vessels, so a recurring legitimate pattern of day 1 can recur on day 2) and the engine runs over it
(``benchmarks/quality.py``'s detectors and pack). The API runs for real: the app under uvicorn on a loopback port
over a temporary SQLite store, as ``seawatch serve`` serves it. Day 1's alerts go into the store; a simulated
analyst (an analyst key, over HTTP) reads them from ``GET /api/v1/alerts`` and answers each from the scenario's
labels (confirmed when it matches a label by :func:`models.evaluation.matches`, dismissed with a reason code
otherwise), wrong ``--mistakes`` of the time (5 %, seeded); then mutes, for 30 days, each vessel and kind whose
alerts it dismissed as legitimate activity at least twice (a recurring legitimate pattern). Day 2's alerts then
go into the store and are read back through the API with ``muted`` and ``below_bar``.

Day 2 is measured with :func:`models.evaluation.measure` (precision: alerts matching a label / alerts; recall:
labels matched / labels; false alerts on background vessels) twice: *without learning*, every alert of day 2;
*with learning*, the alerts an analyst is still shown and notified of (neither muted nor under a raised bar).
And the vessels: both risk scores by :class:`models.scoring.Scorer` (the indicator model, as the live scorer
without model files) over both days' alerts, without and with the analysts' decisions, mutes and bars (what the
live ScoringSink gives it); a vessel is flagged at band high or critical, and is right when a label names it.
False alerts per 1000 vessel-hours count day 2's hours of the background vessels (their transmitters on then).

Both runs alert on the region pack with its examples (``engine_pack(..., examples=True)``, ``--examples`` in the
CLI: the simulator's labelled zone entries are in the example zones). With the default settings the engine's
false alerts are rare and do not recur on the same vessel, so there is little to learn (RESULTS.md).
``--coast-guard-zones`` adds what a coast guard plausibly draws and what makes analysts' work recur: a zone file
with two *watch* zones over the fishing grounds off Co To and Bach Long Vi (the pack's example grounds, on the
Vietnamese side of the Gulf's common fishing zone), to see foreign boats fishing there. The local fleet works
those grounds every day, so the same boats raise zone_entry alerts day after day (each heard again after an hour
unheard is a new visit), and the analyst dismisses them as legitimate activity. The learning applied is what the
service does by itself: the raised bars from the decisions (``SEAWATCH_NOISY_*`` at their defaults unless given)
and the analyst's mutes (the policy above: a vessel and kind after ``--mute-after`` legitimate dismissals).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.quality import default_detectors, run  # noqa: E402
from engine.alerts import ALERT_KINDS  # noqa: E402
from engine.geo.land import LandIndex  # noqa: E402
from engine.geo.regions import engine_pack, load_pack  # noqa: E402
from models.evaluation import matches, measure, read_truth  # noqa: E402

V1 = "/api/v1"
DAY = timedelta(hours=24)
MUTE_AFTER = 2  # dismissals of one vessel's alerts of one kind as legitimate activity that make a pattern to mute
# the coast guard's watch zones: the pack's example fishing grounds by the common fishing zone, drawn as a user would
COAST_GUARD_GROUNDS = ("Co To fishing ground (example)", "Bach Long Vi fishing ground (example)")
MUTE_DAYS = 30
# the reason code an analyst gives a false alert of each kind (what the map's picker offers)
DATA_KINDS = ("spoofing", "land_position", "identity_conflict", "identity_change", "invalid_identity")
FLAGGED = ("high", "critical")


def reason_for(kind: str) -> str:
    if kind == "ais_gap":
        return "reception_problem"
    return "data_error" if kind in DATA_KINDS else "legitimate_activity"


@dataclass
class Served:
    url: str
    store: Any  # api.store.Store
    analyst: str  # the analyst's key


@contextmanager
def served_api(folder: Path, noisy_precision: float, min_decisions: int) -> Iterator[Served]:
    """The app under uvicorn on 127.0.0.1 over a SQLite file in ``folder``, with an analyst key."""
    import uvicorn

    from api.app import create_app
    from api.keys import create_key
    from api.settings import Settings
    from api.store import Store

    url = f"sqlite:///{folder / 'seawatch.db'}"
    store = Store(url)
    key = create_key(store, "simulated analyst", "analyst")
    # one analyst triaging a day's alerts as fast as the API answers: the per-key and per-address rates are off
    settings = Settings(environment="development", database_url=url, noisy_precision=noisy_precision,
                        noisy_min_decisions=min_decisions, rate_per_key=0, rate_per_address=0)  # fmt: skip
    app = create_app(settings, store=store)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield Served(f"http://127.0.0.1:{port}", store, key)
    finally:
        server.should_exit = True
        thread.join(10)
        store.close()


def all_alerts(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """Every alert the API lists with ``params``, following its pages."""
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"page_size": 500, "muted": "all", **params} | ({"cursor": cursor} if cursor else {})
        r = client.get(f"{V1}/alerts", params=query)
        r.raise_for_status()
        body = r.json()
        out += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return out


def coast_guard_zones(folder: Path) -> Path:
    """A zone file (GeoJSON, as drawn in geojson.io) with a watch zone over each of :data:`COAST_GUARD_GROUNDS`."""
    pack = load_pack("gulf-of-tonkin")
    features = [
        {"type": "Feature", "geometry": f["geometry"],
         "properties": {"name": f["properties"]["name"].replace(" (example)", "") + " watch", "kind": "watch"}}
        for f in pack.features if f["properties"].get("name") in COAST_GUARD_GROUNDS
    ]  # fmt: skip
    if len(features) != len(COAST_GUARD_GROUNDS):
        raise SystemExit(f"the pack lacks some of {COAST_GUARD_GROUNDS}")
    path = folder / "coast-guard-watch.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def day_hours(scenario: Any, since_s: float) -> dict[int, float]:
    """Per MMSI: hours its transmitter is on from ``since_s`` (scenario seconds) to the scenario's end, as
    ``Scenario.active_hours`` counts them over the whole scenario."""
    out: dict[int, float] = {}
    for v in scenario.voyages:
        a = max(since_s, v.window[0], v.track.start)
        b = min(scenario.cfg.seconds, v.window[1], v.track.end)
        dark = sum(max(0.0, min(b, y) - max(a, x)) for x, y in v.dark)
        for ident in [v.vessel, *(x[1] for x in v.identities)]:
            out[ident.mmsi] = max(0.0, b - a - dark) / 3600.0
    return out


def triage_day(client: httpx.Client, truth: set[str], plan: dict[int, str], mistakes: float,
               rng: np.random.Generator, mute_after: int) -> dict[str, float]:  # fmt: skip
    """The simulated analyst: every new alert confirmed when it matches a label, dismissed otherwise (wrong
    ``mistakes`` of the time), then a mute of each recurring legitimate pattern. Returns what it did."""
    done: dict[str, float] = {"confirmed": 0, "dismissed": 0, "mistakes": 0, "mutes": 0}
    legit: dict[tuple[int, str], int] = {}
    for a in all_alerts(client, status="new"):
        right = a["alert_id"] in truth
        wrong = bool(rng.random() < mistakes)
        confirm = right != wrong
        body: dict[str, Any] = {"status": "confirmed", "note": "simulated analyst"}
        if not confirm:
            body = {"status": "dismissed", "reason": reason_for(a["kind"]), "note": "simulated analyst"}
            if body["reason"] == "legitimate_activity":
                legit[(a["mmsi"], a["kind"])] = legit.get((a["mmsi"], a["kind"]), 0) + 1
        r = client.patch(f"{V1}/alerts/{a['alert_id']}", json=body)
        r.raise_for_status()
        done[body["status"]] += 1
        done["mistakes"] += wrong
    expires = (datetime.now(UTC) + timedelta(days=MUTE_DAYS)).isoformat()
    for (mmsi, kind), n in sorted(legit.items()):
        if n < mute_after:
            continue
        what = plan.get(mmsi, "vessel")
        mute = {"pattern": "vessel", "kind": kind, "mmsi": mmsi, "expires_at": expires,
                "reason": f"legitimate {what}: {n} {kind} alerts dismissed on day 1"}  # fmt: skip
        client.post(f"{V1}/mutes", json=mute).raise_for_status()
        done["mutes"] += 1
    return done


def vessel_flags(table: pl.DataFrame, labelled: set[int]) -> dict[str, float | int | None]:
    flagged = set(table.filter(pl.col("band").is_in(FLAGGED))["mmsi"].to_list())
    right = len(flagged & labelled)
    return {"flagged": len(flagged), "right": right, "precision": right / len(flagged) if flagged else None,
            "recall": right / len(labelled) if labelled else None}  # fmt: skip


def one_seed(seed: int, args: argparse.Namespace, land: LandIndex) -> tuple[pl.DataFrame, dict[str, Any]]:
    from models.features import FeatureAccumulator
    from models.quality import NoisyBar
    from models.scoring import Scorer
    from seawatch.simulator.config import SimConfig  # benchmarks may use the simulator; the engine never does
    from seawatch.simulator.scenario import simulate

    hours = 24.0 * (args.train_days + 1)
    scenario = simulate(SimConfig(hours=hours, seed=seed, vessels=args.vessels))
    with tempfile.TemporaryDirectory() as tmp:
        scenario.write(Path(tmp))
        labels, vessels = read_truth(Path(tmp))
        zones = coast_guard_zones(Path(tmp)) if args.coast_guard_zones else None
        pack = engine_pack("gulf-of-tonkin", examples=True, zones=zones)
    alerts, positions, statics, _ = run(scenario.feed, default_detectors(pack, land))
    cut = datetime.fromtimestamp(scenario.cfg.epoch, UTC) + args.train_days * DAY
    hours2 = day_hours(scenario, args.train_days * DAY.total_seconds())
    vessels2 = vessels.with_columns(
        active_hours=pl.col("mmsi").replace_strict(hours2, default=0.0, return_dtype=pl.Float64)
    )
    day1, day2 = alerts.filter(pl.col("start") < cut), alerts.filter(pl.col("start") >= cut)
    labels1 = labels.filter(pl.col("start") < cut)
    labels2 = labels.filter(pl.col("start") >= cut)
    truth = set(matches(day1, labels1)["alert_id"].to_list())
    plan = dict(vessels.unique("mmsi", keep="first").select("mmsi", "plan").iter_rows())
    rng = np.random.default_rng([args.analyst_seed, seed])

    with tempfile.TemporaryDirectory() as tmp, served_api(Path(tmp), args.noisy_precision, args.min_decisions) as api:
        api.store.upsert_alerts(day1)
        with httpx.Client(base_url=api.url, headers={"X-API-Key": api.analyst}, timeout=30) as client:
            started = time.perf_counter()
            did = triage_day(client, truth, plan, args.mistakes, rng, args.mute_after)
            did["seconds"] = round(time.perf_counter() - started, 1)
            api.store.upsert_alerts(day2)
            flags = {"alert_id": pl.String(), "muted": pl.Boolean(), "below_bar": pl.Boolean()}
            shown = pl.DataFrame([{k: a[k] for k in flags} for a in all_alerts(client)], schema=flags, orient="row")
            bars = api.store.bars_in_force(NoisyBar(args.noisy_precision, args.min_decisions))
            decisions, mutes = api.store.decisions(), api.store.mutes_in_force()
    day2 = day2.join(shown, on="alert_id", how="left")
    kept = day2.filter(~pl.col("muted") & ~pl.col("below_bar"))
    right_day2 = set(matches(day2, labels2)["alert_id"].to_list())

    def alone(frame: pl.DataFrame) -> str:  # what one part of the learning keeps: alerts, right ones, precision
        right = sum(a in right_day2 for a in frame["alert_id"].to_list())
        return f"{frame.height} alerts, {right} right" + (
            f" (precision {right / frame.height:.3f})" if frame.height else ""
        )

    span = dict(hours=24.0, kinds=ALERT_KINDS, positions=positions.filter(pl.col("t") >= cut), statics=statics)
    before = measure(day2, labels2, vessels2, **span)  # type: ignore[arg-type]
    after = measure(kept, labels2, vessels2, **span)  # type: ignore[arg-type]
    table = before.select("kind", "labels", "alerts", "precision", "recall", "false_background").join(
        after.select("kind", alerts_l="alerts", precision_l="precision", recall_l="recall",
                     false_l="false_background"), on="kind")  # fmt: skip
    background = vessels2.filter(pl.col("role") == "background").unique("mmsi")["active_hours"].sum()
    table = table.with_columns(seed=pl.lit(seed), vh=pl.lit(float(background)))

    features = FeatureAccumulator(land)
    features.add(positions, statics)
    vessels_f, days_f = features.vessels(), features.days()
    scorer = Scorer()
    plain = scorer.score(alerts, vessels_f, days_f)
    learned = scorer.score(alerts, vessels_f, days_f, decisions=decisions, mutes=mutes, bars=bars)
    labelled = set(labels["mmsi"].to_list()) | set(labels["other_mmsi"].drop_nulls().to_list())
    muted2, under2 = day2.filter(pl.col("muted")), day2.filter(pl.col("below_bar"))
    is_right = pl.col("alert_id").is_in(list(right_day2))
    info = {
        "seed": seed, **did, "day1_alerts": day1.height, "day2_alerts": day2.height,
        "bars": bars.select("scope", "kind", "zone", "threshold", "said").to_dicts(),
        "day2_muted": muted2.height, "day2_muted_right": muted2.filter(is_right).height,
        "day2_below_bar": under2.height, "day2_below_bar_right": under2.filter(is_right).height,
        "day2_mutes_only": alone(day2.filter(~pl.col("muted"))),
        "day2_bars_only": alone(day2.filter(~pl.col("below_bar"))),
        "vessels_plain": vessel_flags(plain, labelled), "vessels_learned": vessel_flags(learned, labelled),
    }  # fmt: skip
    return table, info


def totals(table: pl.DataFrame) -> pl.DataFrame:
    """Per kind over every seed: labels, alerts, precision and recall without and with learning, and false alerts
    on background vessels (count, and per 1000 of their vessel-hours on the measured days)."""
    per_1000 = 1000 / table.unique("seed")["vh"].sum()
    matched = (pl.col("precision") * pl.col("alerts")).fill_null(0)
    matched_l = (pl.col("precision_l") * pl.col("alerts_l")).fill_null(0)
    hits, hits_l = (
        (pl.col("recall") * pl.col("labels")).fill_null(0),
        (pl.col("recall_l") * pl.col("labels")).fill_null(0),
    )
    per = table.with_columns(m=matched, m_l=matched_l, h=hits, h_l=hits_l)
    out = []
    for key, frame in (("kind", per), ("all", per.with_columns(kind=pl.lit("all")))):
        del key
        out.append(frame.group_by("kind").agg(
            pl.col("labels").sum(), pl.col("alerts").sum(), pl.col("alerts_l").sum(), pl.col("m").sum(),
            pl.col("m_l").sum(), pl.col("h").sum(), pl.col("h_l").sum(), pl.col("false_background").sum(),
            pl.col("false_l").sum()))  # fmt: skip
    both = pl.concat(out)
    ratio = lambda a, b: pl.when(pl.col(b) > 0).then(pl.col(a) / pl.col(b))  # noqa: E731
    return both.select(
        "kind", "labels", "alerts", "alerts_l",
        precision=ratio("m", "alerts").round(3), precision_l=ratio("m_l", "alerts_l").round(3),
        recall=ratio("h", "labels").round(3), recall_l=ratio("h_l", "labels").round(3),
        false=pl.col("false_background"), false_l="false_l",
        per_1000vh=(pl.col("false_background") * per_1000).round(2),
        per_1000vh_l=(pl.col("false_l") * per_1000).round(2),
    ).sort(pl.col("kind") == "all", "kind")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[31, 32, 33])
    ap.add_argument("--vessels", type=int, default=300)
    ap.add_argument("--train-days", type=int, default=1, help="days the analyst triages before the measured day")
    ap.add_argument("--mistakes", type=float, default=0.05, help="share of the analyst's answers that are wrong")
    ap.add_argument("--analyst-seed", type=int, default=7)
    ap.add_argument("--noisy-precision", type=float, default=0.3, help="SEAWATCH_NOISY_PRECISION")
    ap.add_argument("--min-decisions", type=int, default=10, help="SEAWATCH_NOISY_MIN_DECISIONS")
    ap.add_argument(
        "--mute-after",
        type=int,
        default=MUTE_AFTER,
        help="legitimate-activity dismissals of one vessel and kind after which the analyst mutes them",
    )
    ap.add_argument(
        "--coast-guard-zones",
        action="store_true",
        help="add a coast guard's zone file: watch zones over the Co To and Bach Long Vi fishing grounds",
    )
    args = ap.parse_args(argv)
    land = LandIndex.load()
    tables = []
    for seed in args.seeds:
        started = time.perf_counter()
        table, info = one_seed(seed, args, land)
        tables.append(table)
        sys.stdout.write(f"seed {seed} ({time.perf_counter() - started:.0f} s): {info}\n")
    with pl.Config(tbl_rows=100, tbl_cols=20, tbl_width_chars=200):
        sys.stdout.write(f"day 2, without learning -> with learning (_l), every seed:\n{totals(pl.concat(tables))}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
