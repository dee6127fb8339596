"""Decoding: a :class:`feeds.framing.MessageBatch` -> the Positions, Statics and Events tables of DESIGN.md.

Every type is decoded by Numba kernels straight from the payload buffer: the common ones by
:mod:`engine.decode_kernel` into the three tables; the rarer ones (:data:`engine.decode_rare.RARE_TYPES`) keep
their header (type, MMSI, time, source) and raw payload as events and, when ``details`` is asked for, are decoded
by :mod:`engine.decode_rare` into one typed table per layout variant (``Decoded.messages``, joined to the events
by ``seq``) and into the events' ``fields`` column: pyais's ``asdict(enum_as_int=True)`` as JSON, made from those
typed columns. No message goes through pyais.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import polars as pl

from engine import decode_kernel as dk
from engine import decode_rare as dr
from feeds.framing import Framer, MessageBatch

DECODE_REJECTS = ("short_message", "unknown_type")
NUMBA_EVENT_TYPES = (4, 9, 11, 14, 21)
TEXT_WIDTH = 162  # a type 14 text fills at most 968 bits (161 characters)
NAME_WIDTH = 20

# type 27 is sent by both classes, so its class is unknown
_AIS_CLASS = pl.Series("ais_class", [{1: "A", 2: "A", 3: "A", 18: "B", 19: "B"}.get(t) for t in range(64)], pl.String)
_CHANNELS = pl.Series("channel", [chr(c) if 32 < c < 127 else None for c in range(256)], pl.String)


@dataclass
class Decoded:
    """The three tables of one batch, and the counts behind them."""

    positions: pl.DataFrame
    statics: pl.DataFrame
    events: pl.DataFrame
    types: Counter[int] = field(default_factory=Counter)  # messages decoded, by type
    rejects: Counter[str] = field(default_factory=Counter)  # messages refused at decoding, by reason
    # the rarer types' typed tables (with details), by layout variant: ``seq``, ``t``, then pyais's fields
    messages: dict[str, pl.DataFrame] = field(default_factory=dict)


def six_bit(payload: np.ndarray) -> np.ndarray:
    """Armored payload characters -> their six-bit values (framing has already refused other characters)."""
    six = np.empty_like(payload)
    if payload.shape[0]:  # an empty batch loads no kernel from the cache (a small file's start-up)
        dk.six_bit(payload, six)
    return six


def timestamps(seconds: np.ndarray, idx: np.ndarray | None = None, name: str = "t") -> pl.Series:
    """Unix seconds (NaN = unknown) of rows ``idx`` -> UTC timestamps in microseconds, null where unknown."""
    if idx is None:
        idx = np.arange(seconds.shape[0])
    us = np.empty(idx.shape[0], np.int64)
    if idx.shape[0]:
        dk.micros(seconds, idx, us)
    unknown = us == dk.NO_TIME
    s = pl.Series(name, us)
    return (s.set(pl.Series(unknown), None) if unknown.any() else s).cast(pl.Datetime("us", "UTC"))


def _strings(name: str, matrix: np.ndarray, null_empty: bool = True) -> pl.Series:
    width = matrix.shape[1]
    raw = np.ascontiguousarray(matrix).view(f"S{width}").ravel()
    s = pl.Series(name, raw).cast(pl.String)
    return s.set(s.str.len_bytes() == 0, None) if null_empty else s


def _opt_int(name: str, values: np.ndarray, dtype: type[pl.DataType]) -> pl.Series:
    """Negative values are "not available" (null); a column without any is not masked at all."""
    missing = values < 0
    s = pl.Series(name, values)
    return (s.set(pl.Series(missing), None) if missing.any() else s).cast(dtype)


def _sources(batch: MessageBatch, idx: np.ndarray) -> pl.Series:
    if len(batch.sources) <= 1:  # no input named its receiving station
        return pl.repeat(None, idx.shape[0], dtype=pl.String, eager=True).alias("source")
    return pl.Series("source", [None, *batch.sources[1:]], pl.String).gather(batch.source[idx])


Column = Callable[[], pl.Series]


def _shared(batch: MessageBatch, idx: np.ndarray, msg_type: np.ndarray) -> dict[str, Column]:
    """The columns every table has, from the framer's batch: time, type, station, channel, line and order."""
    return {
        "t": lambda: timestamps(batch.time, idx),
        "msg_type": lambda: pl.Series("msg_type", msg_type[idx], pl.Int8),
        "source": lambda: _sources(batch, idx),
        "channel": lambda: _CHANNELS.gather(batch.channel[idx]),
        "line": lambda: pl.Series("line", batch.line[idx]),  # input line of the message's first sentence
        "seq": lambda: pl.Series("seq", batch.seq[idx]),  # the message's place in the framer's output: its arrival
    }


def _table(columns: dict[str, Column], wanted: Collection[str] | None) -> pl.DataFrame:
    """The columns ``wanted`` (all when None), in their order, each built only when wanted."""
    return pl.DataFrame([make() for name, make in columns.items() if wanted is None or name in wanted])


def _positions(six: np.ndarray, batch: MessageBatch, nbits: np.ndarray, mt: np.ndarray, idx: np.ndarray,
               wanted: Collection[str] | None) -> pl.DataFrame:  # fmt: skip
    n = idx.shape[0]
    lat, lon, sog, cog, heading, rot = (np.empty(n) for _ in range(6))
    mmsi = np.empty(n, np.int64)
    rot_raw = np.empty(n, np.int16)
    nav = np.empty(n, np.int8)
    acc = np.empty(n, np.int8)
    raim = np.empty(n, np.int8)
    second = np.empty(n, np.int8)
    if n:
        dk.positions(six, batch.start, nbits, mt, idx, mmsi, lat, lon, sog, cog, heading, rot, rot_raw, nav, acc,
                     raim, second)  # fmt: skip
    shared = _shared(batch, idx, mt)
    return _table(
        {
            "mmsi": lambda: pl.Series("mmsi", mmsi),
            "t": shared["t"],
            "lat": lambda: pl.Series("lat", lat),
            "lon": lambda: pl.Series("lon", lon),
            "sog": lambda: pl.Series("sog", sog),
            "cog": lambda: pl.Series("cog", cog),
            "heading": lambda: pl.Series("heading", heading),
            "rot": lambda: pl.Series("rot", rot),
            "rot_raw": lambda: pl.Series("rot_raw", rot_raw),
            "nav_status": lambda: _opt_int("nav_status", nav, pl.Int8),
            "msg_type": shared["msg_type"],
            "ais_class": lambda: _AIS_CLASS.gather(mt[idx]),
            "accuracy": lambda: pl.Series("accuracy", acc.astype(bool)),
            "raim": lambda: pl.Series("raim", raim.astype(bool)),
            "second": lambda: _opt_int("second", second, pl.Int8),
            **{name: shared[name] for name in ("source", "channel", "line", "seq")},
        },
        wanted,
    )


def _statics(six: np.ndarray, batch: MessageBatch, nbits: np.ndarray, mt: np.ndarray, idx: np.ndarray,
             wanted: Collection[str] | None) -> pl.DataFrame:  # fmt: skip
    n = idx.shape[0]
    mmsi = np.empty(n, np.int64)
    part = np.empty(n, np.int8)
    imo = np.empty(n, np.int64)
    callsign = np.zeros((n, 7), np.uint8)
    name = np.zeros((n, NAME_WIDTH), np.uint8)
    ship_type = np.empty(n, np.int16)
    dims = np.empty((n, 4), np.int16)
    draught = np.empty(n)
    destination = np.zeros((n, NAME_WIDTH), np.uint8)
    eta = np.empty((n, 4), np.int8)
    version = np.empty(n, np.int8)
    epfd = np.empty(n, np.int8)
    vendor = np.zeros((n, 3), np.uint8)
    mothership = np.empty(n, np.int64)
    if n:
        dk.statics(six, batch.start, nbits, mt, idx, mmsi, part, imo, callsign, name, ship_type, dims, draught,
                   destination, eta, version, epfd, vendor, mothership)  # fmt: skip
    shared = _shared(batch, idx, mt)
    return _table(
        {
            "mmsi": lambda: pl.Series("mmsi", mmsi),
            "t": shared["t"],
            "msg_type": shared["msg_type"],
            "part": lambda: _opt_int("part", part, pl.Int8),
            "imo": lambda: _opt_int("imo", imo, pl.Int64),
            "callsign": lambda: _strings("callsign", callsign),
            "name": lambda: _strings("name", name),
            "ship_type": lambda: _opt_int("ship_type", ship_type, pl.Int16),
            "to_bow": lambda: _opt_int("to_bow", dims[:, 0], pl.Int16),
            "to_stern": lambda: _opt_int("to_stern", dims[:, 1], pl.Int16),
            "to_port": lambda: _opt_int("to_port", dims[:, 2], pl.Int16),
            "to_starboard": lambda: _opt_int("to_starboard", dims[:, 3], pl.Int16),
            "draught": lambda: pl.Series("draught", draught).fill_nan(None),
            "destination": lambda: _strings("destination", destination),
            "eta_month": lambda: _opt_int("eta_month", eta[:, 0], pl.Int8),
            "eta_day": lambda: _opt_int("eta_day", eta[:, 1], pl.Int8),
            "eta_hour": lambda: _opt_int("eta_hour", eta[:, 2], pl.Int8),
            "eta_minute": lambda: _opt_int("eta_minute", eta[:, 3], pl.Int8),
            "ais_version": lambda: _opt_int("ais_version", version, pl.Int8),
            "epfd": lambda: _opt_int("epfd", epfd, pl.Int8),
            "vendor_id": lambda: _strings("vendor_id", vendor),
            "mothership_mmsi": lambda: _opt_int("mothership_mmsi", mothership, pl.Int64),
            **{name: shared[name] for name in ("source", "channel", "line", "seq")},
        },
        wanted,
    )


def _events(six: np.ndarray, batch: MessageBatch, nbits: np.ndarray, mt: np.ndarray, idx: np.ndarray) -> pl.DataFrame:
    n = idx.shape[0]
    mmsi = np.empty(n, np.int64)
    lat, lon, sog, cog, station_time = (np.empty(n) for _ in range(5))
    altitude = np.empty(n, np.int16)
    acc, raim, second, aid_type, off_pos, virtual = (np.empty(n, np.int8) for _ in range(6))
    types = mt[idx]
    has_text = (types == 14) | (types == 21)
    # rows of text for the texts only (~12 % of a simulated week's events: the base stations' reports have none)
    text_row = np.full(n, -1, np.int64)
    text_row[has_text] = np.arange(np.count_nonzero(has_text))
    text = np.zeros((np.count_nonzero(has_text), TEXT_WIDTH), np.uint8)
    if n:
        dk.events(six, batch.start, nbits, mt, idx, mmsi, lat, lon, sog, cog, altitude, acc, raim, second,
                  station_time, aid_type, off_pos, virtual, text_row, text)  # fmt: skip
    shared = {name: make() for name, make in _shared(batch, idx, mt).items()}
    st = timestamps(station_time, name="station_time")
    other = ~np.isin(types, NUMBA_EVENT_TYPES)  # the raw payload is kept where pyais has the fields
    return pl.DataFrame(
        [
            pl.Series("mmsi", mmsi),
            shared["t"],
            shared["msg_type"],
            pl.Series("lat", lat),
            pl.Series("lon", lon),
            pl.Series("sog", sog),
            pl.Series("cog", cog),
            _opt_int("altitude", altitude, pl.Int16),
            _opt_int("accuracy", acc, pl.Boolean),
            _opt_int("raim", raim, pl.Boolean),
            _opt_int("second", second, pl.Int8),
            st,
            _opt_int("aid_type", aid_type, pl.Int8),
            _opt_int("off_position", off_pos, pl.Boolean),
            _opt_int("virtual_aid", virtual, pl.Boolean),
            _scatter("text", _strings("text", text), has_text),
            _scatter("payload", _strings("payload", _payloads(batch, idx[other]), null_empty=False), other),
            pl.Series("fill", batch.fill[idx], pl.Int8),
            *(shared[name] for name in ("source", "channel", "line", "seq")),
        ]
    )


def _scatter(name: str, values: pl.Series, mask: np.ndarray) -> pl.Series:
    """``values`` at the rows where ``mask`` holds, null elsewhere."""
    if values.len() == mask.shape[0]:
        return values.alias(name)
    out = pl.repeat(None, mask.shape[0], dtype=values.dtype, eager=True).alias(name)
    return out.scatter(np.flatnonzero(mask), values)


def _payloads(batch: MessageBatch, idx: np.ndarray) -> np.ndarray:
    width = int(batch.length[idx].max()) if idx.shape[0] else 1
    out = np.zeros((idx.shape[0], width), np.uint8)
    if idx.shape[0]:
        dk.gather_text(batch.payload, batch.start, batch.length, idx, out)
    return out


def _details(six: np.ndarray, batch: MessageBatch, nbits: np.ndarray, mt: np.ndarray, ev_idx: np.ndarray,
             events: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:  # fmt: skip
    """The events with their ``fields`` JSON, and the rarer types' typed tables."""
    rare = np.flatnonzero(np.isin(mt[ev_idx], dr.RARE_TYPES))
    if not rare.shape[0]:  # nothing to decode: the rarer types' kernel is not loaded
        return events.with_columns(pl.lit(None, pl.String).alias("fields")), {}
    variant, vals, blob = dr.decode_fields(six, batch.start, nbits, mt, ev_idx[rare])
    is_rare = np.zeros(ev_idx.shape[0], bool)
    is_rare[rare] = True
    tables, json = dr.rare_tables(variant, vals, blob)
    fields = _scatter("fields", json, is_rare)
    # seq and t of every variant's rows gathered at once, then cut (a gather each is a polars query each)
    rows = [rows for rows, _ in tables.values()]
    keys = events.select("seq", "t")[rare[np.concatenate(rows)] if rows else []]
    messages, at = {}, 0
    for name, (rows_v, table) in tables.items():
        own = keys.slice(at, rows_v.shape[0])
        messages[name] = table.insert_column(0, own["t"]).insert_column(0, own["seq"])
        at += rows_v.shape[0]
    return events.with_columns(fields), messages


def decode(
    batch: MessageBatch, *, details: bool = True, columns: Mapping[str, Collection[str]] | None = None
) -> Decoded:
    """Decode every message of ``batch``. With ``details``, the rarer types are decoded too (``fields`` and
    ``Decoded.messages``); without, ``fields`` is null.
    ``columns`` names, for "positions" and "statics", the columns to build (every one of a table not named): a
    backtest builds only what the engine and the features read.

    Float values that are "not available" (lat 91, lon 181, speed 102.3, course 360, heading 511, no rate of
    turn) are NaN, as DESIGN.md's data contract says; integer and text fields that are absent are null.
    """
    n = len(batch)
    six = six_bit(batch.payload)
    mt = np.empty(n, np.int64)
    nbits = np.empty(n, np.int64)
    kind = np.empty(n, np.int8)
    if n:
        dk.classify(six, batch.start, batch.length, batch.fill, mt, nbits, kind)
    pos_idx = np.flatnonzero(kind == dk.K_POSITION)
    sta_idx = np.flatnonzero((kind == dk.K_STATIC) | ((kind == dk.K_POSITION) & (mt == 19)))
    ev_idx = np.flatnonzero(kind == dk.K_EVENT)
    wanted = columns or {}
    positions = _positions(six, batch, nbits, mt, pos_idx, wanted.get("positions"))
    statics = _statics(six, batch, nbits, mt, sta_idx, wanted.get("statics"))
    events = _events(six, batch, nbits, mt, ev_idx)
    messages: dict[str, pl.DataFrame] = {}
    if details:
        events, messages = _details(six, batch, nbits, mt, ev_idx, events)
    else:
        events = events.with_columns(pl.lit(None, pl.String).alias("fields"))
    ok = kind <= dk.K_EVENT
    by_type = np.bincount(mt[ok], minlength=28)
    types = Counter({t: int(c) for t, c in enumerate(by_type.tolist()) if c})
    rejects = Counter(
        {
            "short_message": int(np.count_nonzero(kind == dk.K_SHORT)),
            "unknown_type": int(np.count_nonzero(kind == dk.K_UNKNOWN)),
        }
    )
    return Decoded(positions, statics, events, types, rejects, messages)


@cache  # decoding nothing still builds every table; callers wanting the schemas ask often
def empty_tables() -> Decoded:
    """Empty Positions, Statics and Events tables in the decoder's schemas (shared: do not mutate)."""
    return decode_bytes(b"", details=False)


def decode_bytes(data: bytes, *, details: bool = True, keep_bad_checksums: bool = False) -> Decoded:
    """Frame and decode a whole NMEA text held in memory (tests, small files)."""
    framer = Framer(keep_bad_checksums=keep_bad_checksums)
    return decode(framer.feed(data, final=True), details=details)
