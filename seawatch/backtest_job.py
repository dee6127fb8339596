"""``seawatch backtest``: history -> every detector -> both risk scores -> alerts, vessels and a report.

Inputs stream chunk by chunk (seawatch/inputs.py) through the engine and the feature accumulator, so memory
follows the fleet and the chunk size, not the input. At the end the scorer (models/scoring.py) turns alerts and
features into the vessel risk table, and the report (seawatch/report.py) draws it. With ``--labels`` (a
labels.csv as ``seawatch simulate`` writes it), alerts are measured against them with the same functions the
quality benchmark and the tests use (models/evaluation.py).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from engine.alerts import ALERT_KINDS
from engine.detectors import default_detectors
from engine.geo.land import LandIndex
from engine.geo.regions import RegionPack, engine_pack
from engine.runner import COLUMNS as ENGINE_COLUMNS
from engine.runner import Engine
from feeds.files import InputError
from models.evaluation import measure, pr_curve
from models.features import COLUMNS as FEATURE_COLUMNS
from models.features import FeatureAccumulator
from models.files import ModelFileError
from models.schema import BANDS
from models.scoring import Scorer
from seawatch.decode_job import progress_bar
from seawatch.inputs import STALE, Input, chunks, classify, readers_columns

TRACK_BIN = "10m"  # tracks for the report keep one position per vessel per bin
TRACK_ROWS_MAX = 3_000_000  # beyond this many kept positions, tracks are read again for the top vessels only
TOP_TRACKS = 10  # vessels drawn with their tracks in the report
TOP = 8  # vessels shown with their reasons in the summary
SHOWN_LISTED = 20  # watchlist matches named in the summary and the report; the rest are in vessels.parquet


# Input read per engine step. Each step costs the detectors ~20 ms whatever its size (polars calls, state per
# vessel), so bigger steps go faster: 64 MiB against 16 MiB is ~10 % less time for ~160 MB more memory
# (benchmarks/RESULTS.md); memory still follows the step, not the input.
BACKTEST_CHUNK_BYTES = 64 * 1024 * 1024


@dataclass
class BacktestOptions:
    region: str = "gulf-of-tonkin"
    zones: Path | None = None
    examples: bool = False  # alert on the region pack's example zones too (the demo's simulated traffic)
    labels: Path | None = None
    models: Path | None = None  # folder of model files; None: the shipped models
    skip_untimed: bool = False
    report: bool = True
    progress: bool | None = None
    chunk_bytes: int = BACKTEST_CHUNK_BYTES
    watchlists: tuple[Path, ...] = ()  # watchlist files (CSV, FollowTheMoney JSON): each a list, as the store's


@dataclass
class BacktestSummary:
    out: Path
    files: int = 0
    messages: int = 0
    positions: int = 0
    seconds: float = 0.0
    skipped: list[Path] = field(default_factory=list)
    engine: Counter[str] = field(default_factory=Counter)
    alerts: pl.DataFrame = field(default_factory=pl.DataFrame)
    vessels: pl.DataFrame = field(default_factory=pl.DataFrame)
    outages: pl.DataFrame = field(default_factory=pl.DataFrame)
    metrics: pl.DataFrame | None = None
    notices: list[str] = field(default_factory=list)
    listed: pl.DataFrame | None = None  # with --watchlist: the matches (models.watchlist.MATCH_SCHEMA)

    def lines(self) -> list[str]:
        rate = self.messages / self.seconds if self.seconds > 0 else 0.0
        out = [f"{self.messages:,} messages ({self.positions:,} positions) from {self.files} file(s) in "
               f"{self.seconds:.1f} s ({rate:,.0f} messages/s)"]  # fmt: skip
        if self.vessels.height:
            fmt = "%Y-%m-%d %H:%M"
            ends = self.vessels.select(
                pl.col("first_seen").min().dt.strftime(fmt), pl.col("last_seen").max().dt.strftime(fmt)
            )
            out.append(f"{self.vessels.height:,} vessels heard from {ends.item(0, 0)} to {ends.item(0, 1)} UTC")
        out.extend(self._listed_lines())
        out.extend(f"skipped (no times): {p}" for p in self.skipped)
        set_aside = {k: v for k, v in self.engine.items() if v}
        if set_aside:
            out.append("rows set aside: " + ", ".join(f"{k} {v:,}" for k, v in sorted(set_aside.items())))
        if self.outages.height:
            spells = [f"{r['station']} {r['start']:%Y-%m-%d %H:%M}-" + (f"{r['end']:%H:%M}" if r["end"] else "")
                      for r in self.outages.head(5).iter_rows(named=True)]  # fmt: skip
            out.append(f"{self.outages.height:,} receiving station outage(s): " + ", ".join(spells))
        out.extend(self.notices)
        return out

    def _listed_lines(self) -> list[str]:
        """The listed vessels seen, most suspicious first, each with its lists and what matched."""
        if self.listed is None:
            return []
        seen = self.listed.join(self.vessels.select("mmsi", "name", "smuggling_score"), on="mmsi", how="left")
        seen = seen.sort("smuggling_score", "mmsi", "watchlist_id", descending=[True, False, False], nulls_last=True)
        out = [f"{self.listed['mmsi'].n_unique():,} listed vessel(s) seen on the watchlists"]
        for r in seen.head(SHOWN_LISTED).iter_rows(named=True):
            name = f" {r['name']}" if r["name"] else ""
            out.append(f"  {r['mmsi']}{name}: on '{r['watchlist']}': {r['detail']}")
        if seen.height > SHOWN_LISTED:
            out.append(f"  ... and {seen.height - SHOWN_LISTED:,} more in vessels.parquet (its watchlists column)")
        return out

    def render(self) -> str:
        lines = self.lines()
        counts = dict(self.alerts.group_by("kind").len().iter_rows()) if self.alerts.height else {}
        lines.append(f"{self.alerts.height:,} alerts: " + ", ".join(f"{k} {counts[k]:,}" for k in ALERT_KINDS
                                                                    if counts.get(k)))  # fmt: skip
        bands = dict(self.vessels.group_by("band").len().iter_rows()) if self.vessels.height else {}
        lines.append("vessels by band: " + ", ".join(f"{b} {bands.get(b, 0):,}" for b in BANDS))
        for row in self.vessels.head(TOP).iter_rows(named=True):
            if row["band"] == "low":
                break
            name = f" {row['name']}" if row["name"] else ""
            lines.append(f"  {row['mmsi']}{name}: smuggling {row['smuggling_score']:.0f} ({row['smuggling_band']}),"
                         f" fire {row['fire_score']:.0f} ({row['fire_band']})")  # fmt: skip
            lines.extend(f"      {r}" for r in row["reasons"][:4])
        if self.metrics is not None:
            lines.append("against the labels:")
            for m in self.metrics.iter_rows(named=True):
                recall = "-" if m["recall"] is None else f"{m['recall']:.2f}"
                precision = "-" if m["precision"] is None else f"{m['precision']:.2f}"
                lines.append(f"  {m['kind']:<18} labels {m['labels']:>4}  recall {recall:>4}  "
                             f"alerts {m['alerts']:>5}  precision {precision:>4}")  # fmt: skip
        written = ["alerts.parquet", "vessels.parquet", "outages.parquet"]
        written += ["report.html"] if (self.out / "report.html").exists() else []
        lines.append("written: " + ", ".join(str(self.out / w) for w in written))
        return "\n".join(lines) + "\n"


@dataclass
class Setup:
    """What every backtest needs before it reads: the region pack, the land index, the scorer and the labels."""

    pack: RegionPack
    land: LandIndex
    scorer: Scorer
    labels: pl.DataFrame | None
    notices: list[str] = field(default_factory=list)
    entries: pl.DataFrame | None = None  # the --watchlist files' entries (models.watchlist.ENTRY_SCHEMA)

    @classmethod
    def of(cls, options: BacktestOptions, out: Path) -> Setup:
        """Check the options' files and create ``out``; raises InputError naming the bad one."""
        labels = _read_labels(options.labels) if options.labels else None
        pack = engine_pack(options.region, examples=options.examples, zones=options.zones)
        scorer = _scorer(options)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{out}: cannot create the output folder ({exc.strerror})") from None
        notices = [scorer] if isinstance(scorer, str) else []
        entries = None
        if options.watchlists:
            entries, said = _read_watchlists(options.watchlists)
            notices += said
        return cls(pack, LandIndex.load(), Scorer() if isinstance(scorer, str) else scorer, labels, notices, entries)


def run_backtest(paths: list[Path], out: Path, options: BacktestOptions) -> BacktestSummary:
    """Run the whole pipeline over ``paths`` and write ``out``; raises InputError naming a bad input first."""
    inputs, skipped = classify(paths, options.skip_untimed)
    setup = Setup.of(options, out)
    summary = BacktestSummary(out=out, files=len(inputs), skipped=skipped, notices=list(setup.notices))
    land = setup.land
    engine = Engine(default_detectors(setup.pack, land))
    features = FeatureAccumulator(land)
    tracks = _Tracks()
    started = time.perf_counter()
    stale = 0
    with progress_bar(sum(i.path.stat().st_size for i in inputs), options.progress, desc="backtest") as bar:
        for chunk in chunks(inputs, options.chunk_bytes, readers_columns(ENGINE_COLUMNS, FEATURE_COLUMNS)):
            engine.process(chunk.positions, chunk.statics, chunk.events)
            features.add(chunk.positions, chunk.statics)
            if options.report:  # the tracks are for the report's maps only
                tracks.add(chunk.positions)
            summary.messages += chunk.messages
            summary.positions += chunk.positions.height
            stale += chunk.stale
            bar.update(chunk.nbytes)
            elapsed = time.perf_counter() - started
            bar.set_postfix_str(f"{summary.messages / max(elapsed, 1e-9):,.0f} msg/s", refresh=False)
    engine.finish()
    summary.engine = engine.counts + Counter({STALE: stale})
    title = ", ".join(p.name for p in paths[:3]) + (" ..." if len(paths) > 3 else "")
    finish_backtest(summary, setup, options, engine.alerts(), features.vessels(), features.days(), engine.outages(),
                    lambda top: tracks.of(top, inputs, options.chunk_bytes), title, started)  # fmt: skip
    return summary


def finish_backtest(summary: BacktestSummary, setup: Setup, options: BacktestOptions, alerts: pl.DataFrame,
                    vessels: pl.DataFrame, days: pl.DataFrame, outages: pl.DataFrame,
                    tracks_of: Callable[[list[int]], pl.DataFrame], title: str, started: float) -> None:  # fmt: skip
    """Score the vessels and write alerts, vessels, outages and the report into ``summary.out`` (every backtest
    ends here: one process over inputs or a dataset, or a cluster; seawatch/cluster_job.py)."""
    out = summary.out
    summary.alerts = alerts.sort("start", "alert_id")
    if setup.entries is None:
        summary.vessels = setup.scorer.score(summary.alerts, vessels, days)
    else:  # as the live service scores: the lists' matches a reason each, and the vessels' watchlists column
        summary.vessels, summary.listed = setup.scorer.score_listed(summary.alerts, vessels, days, setup.entries)
    summary.seconds = time.perf_counter() - started
    summary.alerts.write_parquet(out / "alerts.parquet")
    summary.vessels.write_parquet(out / "vessels.parquet")
    summary.outages = outages  # receiving stations' outages: station_outage events, not alerts
    summary.outages.write_parquet(out / "outages.parquet")
    curve = None
    if setup.labels is not None:
        summary.metrics = _metrics(summary, setup.labels, options.labels)
        curve = pr_curve(summary.alerts, setup.labels)
    if options.report:
        from seawatch.report import write_report  # loaded only when a report is drawn

        top = _top_vessels(summary.vessels)
        write_report(out / "report.html", alerts=summary.alerts, vessels=summary.vessels, tracks=tracks_of(top),
                     metrics=summary.metrics, pr_curve=curve, pack=setup.pack, land=setup.land,
                     title=f"Seawatch backtest: {title}", summary=summary.lines())  # fmt: skip


def _scorer(options: BacktestOptions) -> Scorer | str:
    """The scorer with its models, or, when the models cannot be used, a notice saying why (indicators only)."""
    try:
        return Scorer.with_default_models(options.models)
    except ModelFileError as exc:
        if options.models is not None:
            raise InputError(str(exc)) from None
        return f"scores from the indicator model only: {exc}"


def _read_watchlists(paths: tuple[Path, ...]) -> tuple[pl.DataFrame, list[str]]:
    """The entries of watchlist files and what was read, in words; InputError naming a file that is not one."""
    from seawatch.watchlist_job import WatchlistFileError, read_lists

    try:
        return read_lists(paths)
    except WatchlistFileError as exc:
        raise InputError(f"--watchlist {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--watchlist: cannot read it ({exc})") from None


def _read_labels(path: Path) -> pl.DataFrame:
    if not path.is_file():
        raise InputError(f"{path}: no such labels file; give a labels.csv as `seawatch simulate` writes it")
    try:
        labels = pl.read_csv(path, schema_overrides={"other_mmsi": pl.Int64, "mmsi": pl.Int64})
        return labels.with_columns(pl.col("start", "end").str.to_datetime(time_zone="UTC"))
    except (pl.exceptions.PolarsError, OSError) as exc:
        need = "label_id, kind, mmsi, other_mmsi, start, end (ISO 8601 UTC)"
        raise InputError(f"{path}: not a labels file ({type(exc).__name__}); it needs the columns {need}") from None


def _metrics(summary: BacktestSummary, labels: pl.DataFrame, path: Path | None) -> pl.DataFrame:
    """Per-kind recall/precision; background = vessels without any label (vessels.csv beside the labels if any)."""
    roles = path.with_name("vessels.csv") if path is not None else None
    if roles is not None and roles.is_file():
        vessels = pl.read_csv(roles, schema_overrides={"mmsi": pl.Int64, "imo": pl.String})
        vessels = vessels.select("mmsi", "role", *(["active_hours"] if "active_hours" in vessels.columns else []))
    else:
        labelled = pl.concat([labels["mmsi"], labels["other_mmsi"].drop_nulls()]).unique().implode()
        vessels = summary.vessels.select(
            "mmsi",
            role=pl.when(pl.col("mmsi").is_in(labelled)).then(pl.lit("injected")).otherwise(pl.lit("background")),
        )
    hours = 0.0
    if summary.vessels.height:
        seen = summary.vessels.select(span=pl.col("last_seen").max() - pl.col("first_seen").min())["span"]
        hours = seen.dt.total_seconds().fill_null(0).item() / 3600.0
    return measure(summary.alerts, labels, vessels, hours=hours, kinds=ALERT_KINDS)


def _top_vessels(vessels: pl.DataFrame) -> list[int]:
    from seawatch.report import top_vessels  # the report's own ranking, so its track maps match its sections

    return top_vessels(vessels, TOP_TRACKS)["mmsi"].to_list()


class _Tracks:
    """Thinned positions of every vessel for the report, until there are too many; then a second read."""

    def __init__(self) -> None:
        self.parts: list[pl.DataFrame] = []
        self.rows = 0
        self.complete = True

    def add(self, positions: pl.DataFrame) -> None:
        if not self.complete or positions.height == 0:
            return
        thin = _thin(positions)
        self.parts.append(thin)
        self.rows += thin.height
        if self.rows > TRACK_ROWS_MAX:
            self.parts, self.complete = [], False

    def of(self, mmsi: list[int], inputs: list[Input], chunk_bytes: int) -> pl.DataFrame:
        wanted = pl.Series(mmsi, dtype=pl.Int64).implode()
        if self.complete:
            parts = [p.filter(pl.col("mmsi").is_in(wanted)) for p in self.parts]
        else:
            parts = [_thin(c.positions.filter(pl.col("mmsi").is_in(wanted))) for c in chunks(inputs, chunk_bytes)]
        if not parts:
            return pl.DataFrame(schema={"mmsi": pl.Int64(), "t": pl.Datetime("us", "UTC"), "lat": pl.Float64(),
                                        "lon": pl.Float64()})  # fmt: skip
        return pl.concat(parts).unique(["mmsi", "t"], keep="first").sort("mmsi", "t")


def thin_tracks(positions: pl.DataFrame) -> pl.DataFrame:
    """The report's tracks: one position per vessel and ``TRACK_BIN``, in (mmsi, t) order."""
    return _thin(positions).sort("mmsi", "t")


def _thin(positions: pl.DataFrame) -> pl.DataFrame:
    return (
        positions.select("mmsi", "t", "lat", "lon")
        .filter(pl.col("lat").is_not_nan() & pl.col("lon").is_not_nan() & pl.col("t").is_not_null())
        .group_by("mmsi", pl.col("t").dt.truncate(TRACK_BIN).alias("bin"))
        .agg(pl.all().first())
        .drop("bin")
    )
