"""``wss://stream.aisstream.io/v0/stream``: aisstream.io JSON over a websocket, as Positions and Statics rows.

aisstream sends decoded messages, not NMEA: each is an object with ``MessageType``, ``MetaData`` (``MMSI``,
``latitude``, ``longitude``, ``time_utc``, ``ShipName``) and ``Message`` holding one body named by the type
(https://aisstream.io/documentation). The bodies are turned into the decoder's columns (engine/decode.py), with the
same "not available" rules, so the engine cannot tell them from decoded NMEA. The API key comes from the
environment (``SEAWATCH_AISSTREAM_KEY``) and is sent, with the bounding boxes, in the subscription message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import polars as pl
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from feeds.sources import Backoff, Clock, FeedCounters, FeedError, Records

log = logging.getLogger(__name__)

KEY_ENV = "SEAWATCH_AISSTREAM_KEY"
WORLD = (((-90.0, -180.0), (90.0, 180.0)),)  # aisstream boxes are [[lat, lon], [lat, lon]] corners
BATCH_DELAY = 0.1  # seconds of messages gathered into one delivery after the first arrives
MAX_MESSAGES = 10_000  # messages in one delivery at most
OPEN_TIMEOUT = 10.0  # seconds for the websocket handshake
ROT_SCALE = 4.733  # ROT_AIS = 4.733 * sqrt(ROT deg/min) (ITU-R M.1371), as engine/decode_kernel.py
ROT_NA = -128
AUXILIARY_PREFIX = 98  # MMSI 98XXXYYYY: craft of a parent ship; its type 24B carries no dimensions

POSITIONS_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.Int64(),
    "t": pl.Datetime("us", "UTC"),
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "sog": pl.Float64(),
    "cog": pl.Float64(),
    "heading": pl.Float64(),
    "rot": pl.Float64(),
    "rot_raw": pl.Int16(),
    "nav_status": pl.Int8(),
    "msg_type": pl.Int8(),
    "ais_class": pl.String(),
    "accuracy": pl.Boolean(),
    "raim": pl.Boolean(),
    "second": pl.Int8(),
    "source": pl.String(),
    "channel": pl.String(),
    "line": pl.Int64(),
    "seq": pl.Int64(),
}
STATICS_SCHEMA: dict[str, pl.DataType] = {
    "mmsi": pl.Int64(),
    "t": pl.Datetime("us", "UTC"),
    "msg_type": pl.Int8(),
    "part": pl.Int8(),
    "imo": pl.Int64(),
    "callsign": pl.String(),
    "name": pl.String(),
    "ship_type": pl.Int16(),
    "to_bow": pl.Int16(),
    "to_stern": pl.Int16(),
    "to_port": pl.Int16(),
    "to_starboard": pl.Int16(),
    "draught": pl.Float64(),
    "destination": pl.String(),
    "eta_month": pl.Int8(),
    "eta_day": pl.Int8(),
    "eta_hour": pl.Int8(),
    "eta_minute": pl.Int8(),
    "ais_version": pl.Int8(),
    "epfd": pl.Int8(),
    "vendor_id": pl.String(),
    "mothership_mmsi": pl.Int64(),
    "source": pl.String(),
    "channel": pl.String(),
    "line": pl.Int64(),
    "seq": pl.Int64(),
}
POSITION_TYPES = (
    "PositionReport",
    "StandardClassBPositionReport",
    "ExtendedClassBPositionReport",
    "LongRangeAisBroadcastMessage",
)
STATIC_TYPES = ("ShipStaticData", "StaticDataReport", "ExtendedClassBPositionReport")
_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?\s*(?:([+-])(\d\d):?(\d\d)|Z)?")
_Row = dict[str, Any]


def parse_time_utc(text: str) -> float:
    """aisstream's ``time_utc`` ("2022-12-29 18:22:32.318353 +0000 UTC") -> unix seconds; NaN if unreadable."""
    m = _TIME.match(text.strip())
    if m is None:
        return math.nan
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    frac, sign, oh, om = m.group(7), m.group(8), m.group(9), m.group(10)
    try:
        base = datetime(y, mo, d, h, mi, s, tzinfo=UTC).timestamp()
    except ValueError:
        return math.nan
    if frac:
        base += int(frac[:6].ljust(6, "0")) / 1e6
    if sign:
        base -= (1 if sign == "+" else -1) * (int(oh) * 3600 + int(om) * 60)
    return base


def _text(v: object) -> str | None:
    if not isinstance(v, str):
        return None
    s = v.rstrip(" @")
    return s or None


def _num(v: object, na: float, limit: float = math.inf) -> float:
    """A float field, NaN when it is the "not available" value ``na`` or at/above ``limit``."""
    if v is None or isinstance(v, bool) or not isinstance(v, int | float):
        return math.nan
    x = float(v)
    return math.nan if x == na or x >= limit else x


def _latlon(body: Mapping[str, Any]) -> tuple[float, float]:
    lat, lon = _num(body.get("Latitude"), 91.0), _num(body.get("Longitude"), 181.0)
    if not -90.0 <= lat <= 90.0:
        lat = math.nan
    if not -180.0 <= lon <= 180.0:
        lon = math.nan
    return lat, lon


def _int(v: object) -> int | None:
    return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _rot(raw: int | None) -> tuple[float, int]:
    if raw is None or raw in (ROT_NA, 127, -127):  # -128 not available, +-127 turning without a turn indicator
        return math.nan, ROT_NA if raw is None else raw
    if raw == 0:
        return 0.0, 0
    v = float(round((raw / ROT_SCALE) ** 2))
    return (v if raw > 0 else -v), raw


def _position(kind: str, body: Mapping[str, Any], mmsi: int, msg_type: int) -> _Row:
    lat, lon = _latlon(body)
    row: _Row = {
        "mmsi": mmsi,
        "lat": lat,
        "lon": lon,
        "msg_type": msg_type,
        "accuracy": bool(body.get("PositionAccuracy", False)),
        "raim": bool(body.get("Raim", False)),
    }
    if kind == "LongRangeAisBroadcastMessage":
        row.update(
            sog=_num(body.get("Sog"), 63.0),
            cog=_num(body.get("Cog"), 511.0, 360.0),
            heading=math.nan,
            rot=math.nan,
            rot_raw=ROT_NA,
            nav_status=_int(body.get("NavigationalStatus")),
            ais_class=None,
            second=None,
        )
        return row
    row.update(
        sog=_num(body.get("Sog"), 102.3, 102.25),
        cog=_num(body.get("Cog"), 360.0, 360.0),
        heading=_num(body.get("TrueHeading"), 511.0, 360.0),
        second=_int(body.get("Timestamp")),
    )
    if kind == "PositionReport":
        rot, rot_raw = _rot(_int(body.get("RateOfTurn")))
        row.update(rot=rot, rot_raw=rot_raw, nav_status=_int(body.get("NavigationalStatus")), ais_class="A")
    else:
        row.update(rot=math.nan, rot_raw=ROT_NA, nav_status=None, ais_class="B")
    return row


def _static(kind: str, body: Mapping[str, Any], mmsi: int, msg_type: int) -> _Row:
    row: _Row = {"mmsi": mmsi, "msg_type": msg_type}
    dims = body.get("Dimension")
    if kind == "StaticDataReport":
        part_b = bool(body.get("PartNumber", False))
        row["part"] = int(part_b)
        if not part_b:
            row["name"] = _text((body.get("ReportA") or {}).get("Name"))
            return row
        rep = body.get("ReportB") or {}
        row.update(
            ship_type=_int(rep.get("ShipType")),
            vendor_id=_text(rep.get("VenderIDName")),
            callsign=_text(rep.get("CallSign")),
        )
        dims = None if mmsi // 10_000_000 == AUXILIARY_PREFIX else rep.get("Dimension")
    elif kind == "ShipStaticData":
        eta = body.get("Eta") or {}
        row.update(
            imo=_int(body.get("ImoNumber")),
            callsign=_text(body.get("CallSign")),
            name=_text(body.get("Name")),
            ship_type=_int(body.get("Type")),
            draught=_num(body.get("MaximumStaticDraught"), math.nan),
            destination=_text(body.get("Destination")),
            eta_month=_int(eta.get("Month")),
            eta_day=_int(eta.get("Day")),
            eta_hour=_int(eta.get("Hour")),
            eta_minute=_int(eta.get("Minute")),
            ais_version=_int(body.get("AisVersion")),
            epfd=_int(body.get("FixType")),
        )
    else:  # ExtendedClassBPositionReport: its static half
        row.update(name=_text(body.get("Name")), ship_type=_int(body.get("Type")), epfd=_int(body.get("FixType")))
    if isinstance(dims, Mapping):
        row.update(
            to_bow=_int(dims.get("A")),
            to_stern=_int(dims.get("B")),
            to_port=_int(dims.get("C")),
            to_starboard=_int(dims.get("D")),
        )
    return row


def _rows(raw: str | bytes, received: float) -> tuple[list[_Row], list[_Row], str | None]:
    """One aisstream message -> (position rows, static rows, reject reason or None)."""
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return [], [], "not_json"
    if not isinstance(obj, dict):
        return [], [], "not_json"
    if "error" in obj:
        return [], [], "server_error"
    kind, meta, message = obj.get("MessageType"), obj.get("MetaData"), obj.get("Message")
    body = message.get(kind) if isinstance(message, dict) and isinstance(kind, str) else None
    if not isinstance(body, dict):
        return [], [], "no_message"
    if kind not in POSITION_TYPES and kind not in STATIC_TYPES:
        return [], [], "unsupported_type"
    meta = meta if isinstance(meta, dict) else {}
    mmsi = _int(body.get("UserID"))
    mmsi = mmsi if mmsi is not None else _int(meta.get("MMSI"))
    msg_type = _int(body.get("MessageID"))
    if mmsi is None or msg_type is None:
        return [], [], "no_mmsi_or_type"
    t = parse_time_utc(meta["time_utc"]) if isinstance(meta.get("time_utc"), str) else math.nan
    t = received if math.isnan(t) else t
    pos = [_position(kind, body, mmsi, msg_type)] if kind in POSITION_TYPES else []
    sta = [_static(kind, body, mmsi, msg_type)] if kind in STATIC_TYPES else []
    for row in (*pos, *sta):
        row["t"] = round(t * 1e6)
    return pos, sta, None


def _table(rows: list[_Row], schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    cols: dict[str, list[Any]] = {name: [r.get(name) for r in rows] for name in schema}
    raw_schema = {name: (pl.Int64() if name == "t" else dtype) for name, dtype in schema.items()}
    df = pl.DataFrame(cols, schema=raw_schema)
    return df.with_columns(pl.col("t").cast(pl.Datetime("us", "UTC")))


def to_records(messages: Sequence[str | bytes], received: float, first_line: int = 0) -> Records:
    """aisstream messages -> :class:`Records` in the decoder's columns; bad messages are counted and skipped.

    ``line`` and ``seq`` are the message's index in the feed (``first_line`` + its place here).
    """
    positions: list[_Row] = []
    statics: list[_Row] = []
    rejects: Counter[str] = Counter()
    accepted = 0
    for k, raw in enumerate(messages):
        try:
            pos, sta, reason = _rows(raw, received)
        except (AttributeError, TypeError, ValueError, OverflowError):  # a field of the wrong shape or value
            pos, sta, reason = [], [], "bad_field"
        if reason is not None:
            rejects[reason] += 1
            continue
        accepted += 1
        for row in (*pos, *sta):
            row["line"] = row["seq"] = first_line + k
        positions.extend(pos)
        statics.extend(sta)
    return Records(
        positions=_table(positions, POSITIONS_SCHEMA),
        statics=_table(statics, STATICS_SCHEMA),
        received=received,
        messages=accepted,
        rejects=dict(rejects),
    )


Boxes = Sequence[Sequence[Sequence[float]]]


class AisStreamSource:
    """Subscribes to an aisstream.io-style websocket and delivers its messages as :class:`Records`.

    Reconnects with backoff like the TCP source; a connection silent for ``silence`` seconds is dropped. Messages
    arriving within ``batch_delay`` of the first are delivered together.
    """

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None,
        boxes: Boxes = WORLD,
        mmsi: Sequence[str] = (),
        message_types: Sequence[str] = (),
        silence: float = 60.0,
        backoff: Backoff | None = None,
        clock: Clock = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        batch_delay: float = BATCH_DELAY,
        max_messages: int = MAX_MESSAGES,
    ) -> None:
        self.url = url
        self.address = urlsplit(url)._replace(query="", fragment="").geturl()  # the query holds our options only
        self.api_key = api_key
        self.boxes = boxes
        self.mmsi = list(mmsi)
        self.message_types = list(message_types)
        self.silence = silence
        self.backoff = backoff if backoff is not None else Backoff()
        self.clock = clock
        self.sleep = sleep
        self.batch_delay = batch_delay
        self.max_messages = max_messages
        self.counters = FeedCounters(url)
        self._ws: ClientConnection | None = None
        self._lost = False
        self._closed = False
        self._line = 0

    @classmethod
    def from_url(
        cls, url: str, *, silence: float = 60.0, clock: Clock = time.time, environ: Mapping[str, str] = os.environ
    ) -> AisStreamSource:
        """``wss://host/path[?box=lat1,lon1,lat2,lon2&box=...&mmsi=...]``; the key from ``SEAWATCH_AISSTREAM_KEY``.

        The query is stripped from the address connected to. ``ws://`` (no TLS) is for local test servers.
        """
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        key = environ.get(KEY_ENV) or None
        if key is None and parts.scheme == "wss":
            raise FeedError(f"{url}: no API key; set {KEY_ENV} to your aisstream.io key (free at aisstream.io)")
        boxes: list[tuple[tuple[float, float], tuple[float, float]]] = []
        for box in query.get("box", []):
            try:
                lat1, lon1, lat2, lon2 = (float(x) for x in box.split(","))
            except ValueError:
                raise FeedError(
                    f"{url}: box={box!r} is not lat1,lon1,lat2,lon2; write e.g. box=17,105,22,110"
                ) from None
            boxes.append(((lat1, lon1), (lat2, lon2)))
        mmsi = [m for v in query.get("mmsi", []) for m in v.split(",") if m]
        return cls(url, api_key=key, boxes=boxes or WORLD, mmsi=mmsi, silence=silence, clock=clock)

    def subscription(self) -> dict[str, object]:
        """The first message sent after connecting (aisstream closes connections that do not send it in 3 s)."""
        sub: dict[str, object] = {
            "APIKey": self.api_key or "",
            "BoundingBoxes": [[list(c) for c in b] for b in self.boxes],
        }
        if self.mmsi:
            sub["FiltersShipMMSI"] = self.mmsi
        if self.message_types:
            sub["FilterMessageTypes"] = self.message_types
        return sub

    async def next_batch(self) -> Records | None:
        while not self._closed:
            if self._ws is None and not await self._connect():
                continue
            assert self._ws is not None
            try:
                first = await (asyncio.wait_for(self._ws.recv(), self.silence) if self.silence > 0 else self._ws.recv())
            except TimeoutError:
                self.counters.silences += 1
                log.warning(
                    "%s: no message for %.0f s; reconnecting (check the bounding boxes cover busy waters)",
                    self.url,
                    self.silence,
                )
                await self._drop()
                continue
            except (ConnectionClosed, OSError) as exc:
                self._log_closed(exc)
                await self._drop()
                continue
            received = self.clock()
            messages = [first]
            try:
                async with asyncio.timeout(self.batch_delay):
                    while len(messages) < self.max_messages:
                        messages.append(await self._ws.recv())
            except TimeoutError:
                pass
            except (ConnectionClosed, OSError) as exc:
                self._log_closed(exc)
                await self._drop()
            self.backoff.reset()
            self.counters.bytes += sum(len(m) for m in messages)
            records = to_records(messages, received, self._line)
            self._line += len(messages)
            if records.rejects.get("server_error"):
                log.error(
                    "%s: the server sent an error: %s (check %s and the subscription)",
                    self.url,
                    _error_text(messages),
                    KEY_ENV,
                )
            return records
        return None

    async def close(self) -> None:
        self._closed = True
        await self._drop()

    def _log_closed(self, exc: BaseException) -> None:
        if not self._closed:
            log.warning("%s: connection closed (%s); reconnecting", self.url, exc)

    async def _connect(self) -> bool:
        if self._lost:
            await self.sleep(self.backoff.next_delay())
        if self._closed:
            return False
        try:
            ws = await connect(self.address, open_timeout=OPEN_TIMEOUT)
            await ws.send(json.dumps(self.subscription()))
        except (OSError, TimeoutError, WebSocketException) as exc:
            self.counters.connect_failures += 1
            self._lost = True
            log.warning(
                "%s: cannot connect or subscribe (%s); retrying with backoff (check the address, the network, and %s)",
                self.url,
                str(exc) or "timed out",
                KEY_ENV,
            )
            return False
        if self.counters.connects:
            self.counters.reconnects += 1
        self.counters.connects += 1
        self._ws = ws
        return True

    async def _drop(self) -> None:
        ws, self._ws = self._ws, None
        self._lost = True
        if ws is not None:
            await ws.close()


def _error_text(messages: Sequence[str | bytes]) -> str:
    for raw in messages:
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(obj, dict) and "error" in obj:
            return str(obj["error"])
    return "?"
