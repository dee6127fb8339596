"""Where a vessel can be now (its reach over water, engine/geo/reach.py) and which risky vessels a patrol can meet.

Intercepts run in straight lines on the plane tangent at the patrol's start (not round the land: a run that
crosses land is flagged, ``crosses_land``), from the feed's clock: the newest fix in the store, so that a
replayed archive answers as it did live.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import numpy as np
import polars as pl
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from api.deps import SettingsDep, StoreDep, Viewer, unprocessable
from api.routes.map import _land as land_index
from api.routes.vessels import MMSIPath
from api.schemas import InterceptList, InterceptTarget, TrackPoint
from api.store import Store, VesselFilter
from api.store.base import utcnow
from engine.geo import fleet_reach as fr
from engine.geo import reach as rc
from engine.geo.land import LandIndex

router = APIRouter(tags=["vessels"])

MAX_REACH_HOURS = 48.0  # 48 h at 40 kn is a 3,600 km radius: half an ocean, the grid's cells ~18 km
OWN_SPEED_HOURS = 72.0  # the vessel's own top speed is read from this much of its track before the last fix
# The defaults of the hours, the patrol's speed and hours and how stale a fix may be and still be met on its course
# are settings (api/settings.py: SEAWATCH_REACH_HOURS, _PATROL_SPEED_KN, _PATROL_WITHIN_H, _DEAD_RECKON_H)
DEAD_RECKON_WORDS = "a fix older than this (hours before the patrol leaves) is met by its reach, not on its course"
MOVING_KN = 0.5  # slower than this is at rest (drifting at anchor), whatever its course says
PATROL_MAX_KN = 60.0
INTERCEPT_HOURS_MAX = 72.0
INTERCEPT_VESSELS_MAX = 2_000  # high and critical vessels read at most: a watch floor's whole list
RISKY_BANDS = ("high", "critical")
GEOJSON = "application/geo+json"
# vessels in one GET /reach: their grids take ~0.1 ms each, but their polygons ~1.4 ms and reading each vessel
# ~0.4 ms (benchmarks/bench_reach.py: 500 took 1.4 s), so 200 answer in about half a second: the dark vessels on a
# watch floor's screen
FLEET_REACH_MAX = 200
FLEET_METHOD = (f"shortest paths over water on a grid of {fr.FLEET_CELLS_PER_RADIUS} cells from the fix to the edge "
                "(16 directions, GLOBE land mask), at most 2.7 % longer than straight in open water")  # fmt: skip


def last_fix(store: Store, mmsi: int, vessel: dict[str, Any], fixes: dict[int, dict[str, Any]]) -> TrackPoint | None:
    """The vessel's newest stored track point, else the position its snapshot holds (no speed or course)."""
    fix = fixes.get(mmsi)
    if fix is not None:
        return TrackPoint.model_validate(fix)
    if vessel.get("lat") is None or vessel.get("lon") is None or vessel.get("last_seen") is None:
        return None
    return TrackPoint(t=vessel["last_seen"], lat=vessel["lat"], lon=vessel["lon"], sog=None, cog=None)


def top_speeds(store: Store, vessels: list[tuple[dict[str, Any], TrackPoint]]) -> dict[int, tuple[float, str]]:
    """The speed to draw each vessel's reach at (and why), from its ship type and its speeds reported in the
    OWN_SPEED_HOURS before its fix (rc.observed_top_speed's quantile, over all of them at once): one read of the
    store for all of them."""
    if not vessels:
        return {}
    since = min(fix.t for _, fix in vessels) - timedelta(hours=OWN_SPEED_HOURS)
    fixed = pl.DataFrame({"mmsi": [v["mmsi"] for v, _ in vessels], "fix_t": [fix.t for _, fix in vessels]},
                         schema={"mmsi": pl.Int64, "fix_t": pl.Datetime("us", "UTC")})  # fmt: skip
    own = dict(
        store.speeds_since(fixed["mmsi"].to_list(), since)
        .join(fixed, on="mmsi")
        .filter(
            pl.col("t").is_between(pl.col("fix_t") - timedelta(hours=OWN_SPEED_HOURS), pl.col("fix_t")),
            pl.col("sog").is_between(0, rc.IMPOSSIBLE_KN),
            pl.col("sog").is_not_nan(),
        )  # fmt: skip
        .group_by("mmsi")
        .agg(pl.col("sog").quantile(rc.OBSERVED_QUANTILE, interpolation="linear"))
        .iter_rows()
    )
    return {v["mmsi"]: rc.top_speed_of(v.get("ship_type"), own.get(v["mmsi"])) for v, _ in vessels}


@router.get("/vessels/{mmsi}/reach", responses={200: {"content": {GEOJSON: {}}}, 404: {"description": "no such "
            "vessel, or no position stored"}})  # fmt: skip
def get_reach(
    _: Viewer,
    request: Request,
    store: StoreDep,
    mmsi: MMSIPath,
    settings: SettingsDep,
    hours: Annotated[
        float | None,
        Query(
            gt=0, le=MAX_REACH_HOURS, description="hours after its last fix; SEAWATCH_REACH_HOURS (6) when not given"
        ),
    ] = None,
) -> JSONResponse:
    """The sea the vessel can have reached ``hours`` after its last fix, going round the land (GLOBE), at the
    higher of its class's top speed and its own observed one: for a dark vessel, where to look. A GeoJSON
    FeatureCollection: the reach (a MultiPolygon, with the speed used and why) and the last fix (a Point)."""
    vessel = store.vessel(mmsi)
    if vessel is None:
        raise HTTPException(404, f"no vessel {mmsi} in the store")
    fix = last_fix(store, mmsi, vessel, store.latest_fixes([mmsi]))
    if fix is None:
        raise HTTPException(404, f"no position of vessel {mmsi} in the store")
    hours = settings.reach_hours if hours is None else hours
    speed, why = top_speeds(store, [(vessel, fix)])[mmsi]
    if abs(fix.lat) > rc.MAX_LAT:
        raise HTTPException(422, f"vessel {mmsi}'s last fix lies at latitude {fix.lat}: reaches are drawn up to "
                            f"+-{rc.MAX_LAT:g} degrees (the grid's steps shrink to nothing at the pole)")  # fmt: skip
    # the fleet's kernel at the single reach's resolution: the same reach, ~4x faster than rc.reach's heap
    one = fr.fleet_reach(land_index(request), np.array([fix.lat]), np.array([fix.lon]), hours, speed,
                         cells_per_radius=rc.CELLS_PER_RADIUS)  # fmt: skip
    r = one.one(0)
    props = {"kind": "reach", "mmsi": mmsi, "hours": hours, "speed_kn": round(speed, 2), "speed_why": why,
             "last_fix_t": fix.t.isoformat(), "at": (fix.t + timedelta(hours=hours)).isoformat(),
             "method": "shortest paths over water on a grid (16 directions, GLOBE land mask), at most 2.7 % longer "
             "than straight in open water"}  # fmt: skip
    fix_props = {"kind": "last_fix", "mmsi": mmsi, "t": fix.t.isoformat(), "sog": fix.sog, "cog": fix.cog}
    point = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [fix.lon, fix.lat]},
        "properties": fix_props,
    }
    body = {"type": "FeatureCollection", "features": [rc.reach_feature(r, props), point]}
    return JSONResponse(body, media_type=GEOJSON)


@router.get("/reach", responses={200: {"content": {GEOJSON: {}}}})
def get_fleet_reach(
    _: Viewer,
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    mmsi: Annotated[
        list[Annotated[int, Field(ge=0, le=999_999_999)]],
        Query(
            min_length=1,
            max_length=FLEET_REACH_MAX,
            description="the vessels (repeat the parameter), e.g. the dark ones on the map",
        ),
    ],
    hours: Annotated[
        float | None,
        Query(
            gt=0,
            le=MAX_REACH_HOURS,
            description="hours after each one's last fix; SEAWATCH_REACH_HOURS (6) when not given",
        ),
    ] = None,
) -> JSONResponse:
    """The reaches of many vessels at once (engine/geo/fleet_reach.py): as GET /vessels/{mmsi}/reach draws each,
    on a coarser grid (FLEET_CELLS_PER_RADIUS cells from the fix to the edge, not 200). A GeoJSON
    FeatureCollection of one reach a vessel, in the order asked; ``missing``: the vessels unknown, without a
    position or beyond +-85 degrees of latitude."""
    hours = settings.reach_hours if hours is None else hours
    wanted = list(dict.fromkeys(mmsi))
    fixes = store.latest_fixes(wanted)
    located = []
    for m in wanted:
        vessel = store.vessel(m)
        fix = last_fix(store, m, vessel, fixes) if vessel is not None else None
        if vessel is not None and fix is not None and abs(fix.lat) <= rc.MAX_LAT:  # beyond: no grid, missing
            located.append((vessel, fix))
    tops = top_speeds(store, located)
    lat = [fix.lat for _, fix in located]
    speeds = [tops[v["mmsi"]][0] for v, _ in located]
    fleet = fr.fleet_reach(land_index(request), np.array(lat), np.array([fix.lon for _, fix in located]), hours,
                           np.array(speeds))  # fmt: skip
    features = []
    for k, (v, fix) in enumerate(located):
        speed, why = tops[v["mmsi"]]
        props = {"kind": "reach", "mmsi": v["mmsi"], "hours": hours, "speed_kn": round(speed, 2), "speed_why": why,
                 "last_fix_t": fix.t.isoformat(), "at": (fix.t + timedelta(hours=hours)).isoformat(),
                 "method": FLEET_METHOD}  # fmt: skip
        features.append(rc.reach_feature(fleet.one(k), props))
    found = {v["mmsi"] for v, _ in located}
    body = {"type": "FeatureCollection", "features": features, "missing": [m for m in wanted if m not in found]}
    return JSONResponse(body, media_type=GEOJSON)


def parse_point(text: str) -> tuple[float, float]:
    try:
        lat, lon = (float(v) for v in text.split(","))
    except ValueError:
        raise unprocessable("from", "give the patrol's start as LAT,LON in degrees, e.g. 20.85,106.7") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise unprocessable("from", "latitude must lie in -90..90 and longitude in -180..180")
    return lat, lon


@router.get("/intercept", response_model=InterceptList)
def intercept(
    _: Viewer,
    request: Request,
    store: StoreDep,
    start: Annotated[str, Query(alias="from", max_length=60, description="the patrol's start: LAT,LON")],
    settings: SettingsDep,
    speed_kn: Annotated[
        float | None,
        Query(gt=0, le=PATROL_MAX_KN, description="the patrol's speed; SEAWATCH_PATROL_SPEED_KN (25) when not given"),
    ] = None,
    within_h: Annotated[
        float | None,
        Query(
            gt=0,
            le=INTERCEPT_HOURS_MAX,
            description="meetings within this many hours; SEAWATCH_PATROL_WITHIN_H (4) when not given",
        ),
    ] = None,
    dead_reckon_h: Annotated[
        float | None, Query(ge=0, le=24, description=DEAD_RECKON_WORDS + "; SEAWATCH_DEAD_RECKON_H (2) when not given")
    ] = None,
) -> InterceptList:
    """The high and critical vessels a patrol leaving ``from`` at ``speed_kn`` can meet within ``within_h``
    hours, earliest first, with the meeting time and point. A vessel heard within ``dead_reckon_h`` with a
    speed and course is met on its last course and speed (the interception quadratic); a staler one, or one
    without a course, at the nearest edge of where it can have gone by then (its top speed, as the reach): the
    earliest it can be met. Straight runs, not round the land: a run across land is flagged (``crosses_land``)."""
    lat0, lon0 = parse_point(start)
    speed_kn = settings.patrol_speed_kn if speed_kn is None else speed_kn
    within_h = settings.patrol_within_h if within_h is None else within_h
    dead_reckon_h = settings.dead_reckon_h if dead_reckon_h is None else dead_reckon_h
    now = store.latest_seen()
    if now is None:  # nothing heard yet: nothing to meet
        return InterceptList(start_lat=lat0, start_lon=lon0, speed_kn=speed_kn, within_h=within_h,
                             start_at=utcnow(), items=[], out_of_reach=0)  # fmt: skip
    land = land_index(request)
    vessels, _total = store.vessels_page(VesselFilter(bands=RISKY_BANDS), page_size=INTERCEPT_VESSELS_MAX)
    fixes = store.latest_fixes([v["mmsi"] for v in vessels])
    located = [(v, fix) for v in vessels if (fix := last_fix(store, v["mmsi"], v, fixes)) is not None]
    tops = top_speeds(store, [(v, fix) for v, fix in located if not _on_course(fix, now, dead_reckon_h)])
    # all the meeting times at once (numpy); the answer's targets, run over land and words, only for those met
    # in time: the same answer as meeting each vessel in turn, most of the route's Python left out
    hours = meet_hours_all(located, tops, lat0, lon0, speed_kn, now, dead_reckon_h)
    near = np.flatnonzero(hours <= within_h + 1e-3)  # a hair over (_meet rounds to 0.001 h): its own time decides
    items = []
    for k in near:
        v, fix = located[k]
        target = _meet(land, v, fix, lat0, lon0, speed_kn, now, dead_reckon_h, tops.get(v["mmsi"]))
        if target is not None and target.meet_hours <= within_h:
            items.append(target)
    items.sort(key=lambda t: (t.meet_hours, t.mmsi))
    return InterceptList(start_lat=lat0, start_lon=lon0, speed_kn=speed_kn, within_h=within_h,
                         start_at=now, items=items, out_of_reach=len(located) - len(items))  # fmt: skip


def meet_hours_all(located: list[tuple[dict[str, Any], TrackPoint]], tops: dict[int, tuple[float, str]],
                   lat0: float, lon0: float, patrol_kn: float, now: datetime,
                   dead_reckon_h: float) -> np.ndarray:  # fmt: skip
    """:func:`_meet`'s meeting time (hours; inf: never) of every vessel at once: on its course by
    rc.meet_hours_many, else at its reach's nearest edge."""
    n = len(located)
    fix_lat = np.array([fix.lat for _, fix in located], np.float64)
    fix_lon = np.array([fix.lon for _, fix in located], np.float64)
    age_h = np.maximum(np.array([(now - fix.t).total_seconds() / 3600 for _, fix in located], np.float64), 0.0)
    on_course = np.array([_on_course(fix, now, dead_reckon_h) for _, fix in located], np.bool_)
    sog = np.array([fix.sog if fix.sog is not None else np.nan for _, fix in located], np.float64)
    cog = np.radians(np.array([fix.cog or 0.0 for _, fix in located], np.float64))
    top = np.array([tops[v["mmsi"]][0] if v["mmsi"] in tops else np.nan for v, _ in located], np.float64)
    d_lon = (fix_lon - lon0 + 180.0) % 360.0 - 180.0  # rc.to_local_km, over all of them
    east, north = d_lon * rc.KM_PER_DEG * math.cos(math.radians(lat0)), (fix_lat - lat0) * rc.KM_PER_DEG
    moving = np.where(sog >= MOVING_KN, sog, 0.0)
    vx, vy = moving * np.sin(cog), moving * np.cos(cog)
    course_t = rc.meet_hours_many(east + vx * rc.KM_PER_NM * age_h, north + vy * rc.KM_PER_NM * age_h, vx, vy,
                                  patrol_kn)  # fmt: skip
    gap = np.hypot(east, north)
    reach_t = np.maximum(gap - top * rc.KM_PER_NM * age_h, 0.0) / ((patrol_kn + top) * rc.KM_PER_NM)
    out = np.where(on_course, course_t, reach_t) if n else np.zeros(0)
    return np.where(np.isnan(out), np.inf, out)


def _course_known(fix: TrackPoint) -> bool:
    return fix.sog is not None and (fix.cog is not None or fix.sog < MOVING_KN)


def _on_course(fix: TrackPoint, now: datetime, dead_reckon_h: float) -> bool:
    """Whether the vessel is met on its last course and speed (heard recently enough, with a plausible speed and
    a course), not at its reach."""
    age_h = max((now - fix.t).total_seconds() / 3600, 0.0)
    return age_h <= dead_reckon_h and _course_known(fix) and fix.sog is not None and 0 <= fix.sog <= rc.IMPOSSIBLE_KN


def _meet(land: LandIndex, v: dict[str, Any], fix: TrackPoint, lat0: float, lon0: float, patrol_kn: float,
          now: datetime, dead_reckon_h: float, top: tuple[float, str] | None) -> InterceptTarget | None:  # fmt: skip
    age_h = max((now - fix.t).total_seconds() / 3600, 0.0)
    east, north = rc.to_local_km(lat0, lon0, fix.lat, fix.lon)
    known = _course_known(fix)
    if _on_course(fix, now, dead_reckon_h) and fix.sog is not None:
        sog = fix.sog if fix.sog >= MOVING_KN else 0.0
        course = math.radians(fix.cog or 0.0)
        vx, vy = sog * math.sin(course), sog * math.cos(course)
        east += vx * rc.KM_PER_NM * age_h  # where it is when the patrol leaves
        north += vy * rc.KM_PER_NM * age_h
        t = rc.meet_hours(east, north, vx, vy, patrol_kn)
        if t is None:
            return None
        meet_e, meet_n = east + vx * rc.KM_PER_NM * t, north + vy * rc.KM_PER_NM * t
        model: Literal["course", "reach"] = "course"
        why = (f"on its last course {fix.cog or 0:.0f}° at {sog:.1f} kn, heard {age_h:.1f} h before the patrol "
               "leaves")  # fmt: skip
    else:
        assert top is not None  # top_speeds holds every vessel not met on its course
        top_kn, speed_why = top
        gap_km = math.hypot(east, north)
        head_km = top_kn * rc.KM_PER_NM * age_h  # how far it can be from its fix when the patrol leaves
        t = rc.meet_reach_hours(gap_km, head_km, patrol_kn, top_kn)
        run = patrol_kn * rc.KM_PER_NM * t
        meet_e, meet_n = (east * run / gap_km, north * run / gap_km) if gap_km > 0 else (0.0, 0.0)
        model = "reach"
        stale = "no course or speed reported" if not known else f"heard {age_h:.1f} h before the patrol leaves"
        why = (f"{stale}: met at the nearest edge of where it can have gone (straight lines), at {top_kn:.1f} kn, "
               f"{speed_why}")  # fmt: skip
    meet_lat, meet_lon = rc.from_local_km(lat0, lon0, meet_e, meet_n)
    return InterceptTarget(
        mmsi=v["mmsi"], name=v.get("name"), band=v.get("band"), score=v.get("score"), last_fix=fix, model=model,
        why=why, meet_hours=round(t, 3), meet_at=now + timedelta(hours=t), meet_lat=round(meet_lat, 5),
        meet_lon=round(meet_lon, 5), patrol_km=round(math.hypot(meet_e, meet_n), 3),
        crosses_land=rc.run_crosses_land(land, lat0, lon0, meet_lat, meet_lon),
    )  # fmt: skip
