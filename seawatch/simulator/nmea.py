"""NMEA 0183 output: AIS payloads, NMEA 4.10 tag blocks (``s:`` station, ``c:`` unix time, ``g:`` sentence group)
and checksums.

Position reports (types 1, 2, 3 and 18: nearly all the volume) and base station reports (type 4) are packed by a
vectorised six-bit packer that writes the same bits as pyais's encoder (a test compares them field by field);
static and voyage data (types 5 and 24), safety texts (type 14) and aids to navigation (type 21) go through
:func:`pyais.encode_dict`, cached, since a vessel repeats the same static message all day (the payload is cached,
the channel and sequence id are put in afterwards).
"""

from __future__ import annotations

from functools import lru_cache, reduce
from operator import xor
from typing import Any

import numpy as np
import pyais

HEX = np.frombuffer(b"0123456789ABCDEF", np.uint8)
# ITU-R M.1371 message 1-3 and 18 layouts: (field, bits), named as pyais names them
# fmt: off
TYPE1 = (("msg_type", 6), ("repeat", 2), ("mmsi", 30), ("status", 4), ("turn", 8), ("speed", 10), ("accuracy", 1),
         ("lon", 28), ("lat", 27), ("course", 12), ("heading", 9), ("second", 6), ("maneuver", 2), ("spare_1", 3),
         ("raim", 1), ("radio", 19))
TYPE18 = (("msg_type", 6), ("repeat", 2), ("mmsi", 30), ("reserved_1", 8), ("speed", 10), ("accuracy", 1),
          ("lon", 28), ("lat", 27), ("course", 12), ("heading", 9), ("second", 6), ("reserved_2", 2), ("cs", 1),
          ("display", 1), ("dsc", 1), ("band", 1), ("msg22", 1), ("assigned", 1), ("raim", 1), ("radio", 20))
TYPE4 = (("msg_type", 6), ("repeat", 2), ("mmsi", 30), ("year", 14), ("month", 4), ("day", 5), ("hour", 5),
         ("minute", 6), ("second", 6), ("accuracy", 1), ("lon", 28), ("lat", 27), ("epfd", 4), ("spare_1", 10),
         ("raim", 1), ("radio", 19))
# fmt: on
EPFD_SURVEYED = 7  # a base station's position is surveyed (M.1371 Table 48)
CS_RADIO = 393222  # the communication state most class B/CS units send (fixed "CS" pattern)


def position_fields(cols: dict[str, np.ndarray], epoch: float) -> dict[str, np.ndarray]:
    """Report columns (t seconds from ``epoch``, lat, lon, sog, cog, heading NaN = n/a, ...) -> raw field values."""
    n = cols["t"].shape[0]

    def raw(values: np.ndarray, scale: float, missing: int) -> np.ndarray:
        out = np.rint(np.nan_to_num(values, nan=0.0) * scale).astype(np.int64)
        return np.where(np.isnan(values), missing, out)

    return {
        "msg_type": cols["msg_type"].astype(np.int64),
        "repeat": np.zeros(n, np.int64),
        "mmsi": cols["mmsi"].astype(np.int64),
        "status": cols["status"].astype(np.int64),
        "turn": cols["rot"].astype(np.int64),
        "speed": raw(np.minimum(cols["sog"], 102.2), 10, 1023),
        "accuracy": (~cols["class_b"]).astype(np.int64),
        "lon": raw(cols["lon"], 600000, 181 * 600000),
        "lat": raw(cols["lat"], 600000, 91 * 600000),
        "course": raw(cols["cog"], 10, 3600),
        "heading": raw(cols["heading"], 1, 511),
        "second": (np.floor(epoch + cols["t"]) % 60).astype(np.int64),
        "maneuver": np.zeros(n, np.int64),
        "spare_1": np.zeros(n, np.int64),
        "raim": np.zeros(n, np.int64),
        "radio": np.where(cols["class_b"], CS_RADIO, 0).astype(np.int64),
        "reserved_1": np.zeros(n, np.int64),
        "reserved_2": np.zeros(n, np.int64),
        "cs": np.ones(n, np.int64),
        "display": np.zeros(n, np.int64),
        "dsc": np.ones(n, np.int64),
        "band": np.ones(n, np.int64),
        "msg22": np.ones(n, np.int64),
        "assigned": np.zeros(n, np.int64),
    }


def base_station_fields(mmsi: int, lat: float, lon: float, unix: np.ndarray) -> dict[str, np.ndarray]:
    """Type 4 field values of one base station at the given unix times (its UTC clock and surveyed position)."""
    n = unix.shape[0]
    when = unix.astype("datetime64[s]")
    years = when.astype("datetime64[Y]")
    months = when.astype("datetime64[M]")
    days = when.astype("datetime64[D]")
    secs = (when - days).astype(np.int64)

    def const(v: int) -> np.ndarray:
        return np.full(n, v, np.int64)

    return {
        "msg_type": const(4),
        "repeat": const(0),
        "mmsi": const(mmsi),
        "year": years.astype(np.int64) + 1970,
        "month": (months - years).astype(np.int64) + 1,
        "day": (days - months).astype(np.int64) + 1,
        "hour": secs // 3600,
        "minute": secs // 60 % 60,
        "second": secs % 60,
        "accuracy": const(1),
        "lon": const(int(round(lon * 600000))),
        "lat": const(int(round(lat * 600000))),
        "epfd": const(EPFD_SURVEYED),
        "spare_1": const(0),
        "raim": const(0),
        "radio": const(0),
    }


def pack(fields: dict[str, np.ndarray], layout: tuple[tuple[str, int], ...]) -> np.ndarray:
    """Field values -> armored six-bit payload characters, one row per message (168 bits: 28 characters)."""
    n = next(iter(fields.values())).shape[0]
    total = sum(w for _, w in layout)
    bits = np.empty((n, total), np.uint8)
    pos = 0
    for name, width in layout:
        v = fields[name].astype(np.int64) & ((1 << width) - 1)
        bits[:, pos : pos + width] = (v[:, None] >> np.arange(width - 1, -1, -1)) & 1
        pos += width
    six = bits.reshape(n, total // 6, 6).astype(np.int64) @ np.array([32, 16, 8, 4, 2, 1])
    return np.where(six < 40, six + 48, six + 56).astype(np.uint8)


def _xor(matrix: np.ndarray) -> np.ndarray:
    return np.bitwise_xor.reduce(matrix, axis=1) if matrix.shape[1] else np.zeros(matrix.shape[0], np.uint8)


def _const(text: bytes, n: int) -> np.ndarray:
    return np.broadcast_to(np.frombuffer(text, np.uint8), (n, len(text)))


def _hex2(cs: np.ndarray) -> np.ndarray:
    return np.column_stack([HEX[cs >> 4], HEX[cs & 15]])


def position_lines(payload: np.ndarray, unix: np.ndarray, station: bytes, channel: np.ndarray) -> list[bytes]:
    """One-sentence lines ``\\s:STATION,c:UNIX*hh\\!AIVDM,1,1,,CH,PAYLOAD,0*hh`` for one station, vectorised."""
    n = payload.shape[0]
    if n == 0:
        return []
    u = unix.astype(np.int64)
    width = len(str(int(u.max())))
    if len(str(int(u.min()))) != width:
        raise ValueError("position_lines needs unix times of one width (years 2001-2286)")
    dig = ((u[:, None] // 10 ** np.arange(width - 1, -1, -1)) % 10 + 48).astype(np.uint8)
    tag_head = b"s:" + station + b",c:"
    cs_tag = np.bitwise_xor.reduce(np.frombuffer(tag_head, np.uint8)) ^ _xor(dig)
    ch = np.where(channel, ord("B"), ord("A")).astype(np.uint8)[:, None]
    body_head, body_tail = b"AIVDM,1,1,,", b",0"
    cs_body = np.bitwise_xor.reduce(np.frombuffer(body_head + b"," + body_tail, np.uint8)) ^ ch[:, 0] ^ _xor(payload)
    parts = [
        _const(b"\\" + tag_head, n),
        dig,
        _const(b"*", n),
        _hex2(cs_tag.astype(np.uint8)),
        _const(b"\\!" + body_head, n),
        ch,
        _const(b",", n),
        payload,
        _const(body_tail + b"*", n),
        _hex2(cs_body.astype(np.uint8)),
        _const(b"\n", n),
    ]
    lines = np.ascontiguousarray(np.concatenate(parts, axis=1))
    return list(lines.view(f"S{lines.shape[1]}").ravel().tolist())


def tag_block(station: str, unix: int, group: str | None = None) -> str:
    body = (f"g:{group}," if group else "") + f"s:{station},c:{unix}"
    cs = 0
    for c in body.encode("ascii"):
        cs ^= c
    return f"\\{body}*{cs:02X}\\"


@lru_cache(maxsize=65536)
def _encode(items: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, ...], ...]:
    """pyais's sentences of a message, split into their fields (channel and sequence id set by the caller)."""
    sentences = pyais.encode_dict(dict(items), talker_id="AI", sentence_type="VDM", radio_channel="A", seq_id=0)
    return tuple(tuple(s.split("*")[0].split(",")) for s in sentences)


@lru_cache(maxsize=65536)
def _sentences(items: tuple[tuple[str, Any], ...], channel: str, seq: int) -> tuple[str, ...]:
    out = []
    for parts in _encode(items):
        body = ",".join((*parts[:3], str(seq) if parts[1] != "1" else "", channel, *parts[5:]))
        out.append(f"{body}*{reduce(xor, body[1:].encode('ascii'), 0):02X}")
    return tuple(out)


def message_lines(fields: dict[str, Any], station: str, unix: int, channel: str, seq: int, group: int) -> bytes:
    """A message encoded by pyais, each sentence behind its tag block (``g:`` groups the parts of a long one)."""
    sentences = _sentences(tuple(sorted(fields.items())), channel, seq)
    if len(sentences) == 1:
        return (tag_block(station, unix) + sentences[0] + "\n").encode("ascii")
    total = len(sentences)
    return "".join(
        tag_block(station, unix, f"{i}-{total}-{group}") + s + "\n" for i, s in enumerate(sentences, start=1)
    ).encode("ascii")
