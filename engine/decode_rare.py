"""The rarer message types (6, 7, 8, 10, 12, 13, 15, 16, 17, 20, 22, 23, 25, 26) decoded in Numba.

Column layout: one typed table per layout variant of :data:`engine.decode_layouts.VARIANTS` (``"6Default"``,
``"8Dac1Fid31"`` meteorological/hydrological, ``"8Dac1Fid22"`` area notice, ``"25AddressedStructured"``, ...),
holding ``seq`` and ``t`` (to join the Events row of the message) then pyais's fields in pyais's order: integers
Int64, floats Float64 (scaled as pyais scales them), flags Boolean, texts String, binary payloads (``data``,
``area_data``, ...) String hex. Enum fields keep the raw code sent (as the Statics do); pyais's enums map codes
they do not name to a default, and only the ``fields`` JSON does that, to stay pyais's. A field that starts past
the end of the message is null; one cut by the end holds the bits that are there (both as pyais does).

One kernel, :func:`fields`, runs every variant from the plan arrays made of the layouts (:func:`plan`): it picks
each message's variant as pyais does (DAC/FI, the addressed/structured flags, the length of a type 16, ...) and
writes every field's raw integer into a row of ``vals`` and every text and byte string into ``blob``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import numpy as np
import polars as pl

from engine.decode_layouts import ENUMS, VARIANTS
from feeds.jit import kernel

RARE_TYPES = (6, 7, 8, 10, 12, 13, 15, 16, 17, 20, 22, 23, 25, 26)
KINDS = "uiUIbsx"
K_U, K_I, K_FU, K_FI, K_B, K_S, K_X = range(len(KINDS))
NONE = np.iinfo(np.int64).min  # the field starts past the end of the message
NO_VARIANT = -1
HEX = np.frombuffer(b"0123456789abcdef", np.uint8)
# slots of Plan.special: the variants chosen by a rule other than (type) or (type, DAC, FI)
S_6_16A, S_8_DEFAULT, S_16A, S_16AB, S_22_ADDRESSED, S_22_BROADCAST, S_25, S_26 = 0, 1, 2, 3, 4, 5, 6, 10
SPECIAL_SIZE = 14
TYPE6_SHORT_BITS = 72  # pyais: a type 6 of at most 72 bits with DAC 1 FI 16 at bit 40 is the short 16A form
TYPE16_ONE_STATION_BITS = 96  # M.1371: 96 bits assign one station, 144 two
APP = re.compile(r"(\d+)Dac(\d+)Fid(\d+)B?")  # 6Dac1Fid16B: the addressed form of persons on board


@dataclass(frozen=True)
class Field:
    name: str
    first: int
    width: int
    kind: int
    conv: str


@dataclass(frozen=True)
class Plan:
    """The layouts as arrays for the kernel, and as fields for the wrapper."""

    names: tuple[str, ...]  # variant names
    fields: tuple[tuple[Field, ...], ...]  # per variant
    v_first: np.ndarray  # per variant: its first field in the flat arrays
    v_count: np.ndarray
    f_first: np.ndarray  # per field
    f_width: np.ndarray
    f_kind: np.ndarray
    f_slot: np.ndarray  # texts and bytes: where in the blob row (else -1)
    default: np.ndarray  # per message type: its variant (NO_VARIANT: not one of ours)
    app: np.ndarray  # rows (type, DAC, FI, variant) of the application variants of types 6 and 8
    special: np.ndarray
    width: int  # fields of the widest variant
    blob: int  # blob bytes of the widest variant


def _parse(spec: str) -> tuple[Field, ...]:
    out = []
    for item in spec.split():
        name, rest = item.split("@")
        first, width, kind, *conv = rest.split(":")
        out.append(Field(name, int(first), int(width), KINDS.index(kind), conv[0] if conv else ""))
    return tuple(out)


def _slot_width(f: Field) -> int:
    if f.kind == K_S:
        return -(-f.width // 6)
    return 2 * -(-f.width // 8) if f.kind == K_X else 0


@cache
def plan() -> Plan:
    """The plan arrays of :data:`VARIANTS` (built once, on first use)."""
    names = tuple(v[0] for v in VARIANTS)
    fields = tuple(_parse(v[2]) for v in VARIANTS)
    flat = [f for fs in fields for f in fs]
    slots, blob = [], 0
    for fs in fields:
        at = 0
        for f in fs:
            slots.append(at if _slot_width(f) else -1)
            at += _slot_width(f)
        blob = max(blob, at)
    default = np.full(28, NO_VARIANT, np.int64)
    app, special = [], np.full(SPECIAL_SIZE, NO_VARIANT, np.int64)
    named = {
        "6Dac1Fid16A": S_6_16A, "8Default": S_8_DEFAULT, "16DestinationA": S_16A, "16DestinationAB": S_16AB,
        "22Addressed": S_22_ADDRESSED, "22Broadcast": S_22_BROADCAST,
        **{f"{t}{a}{s}": base + 2 * ai + si for t, base in ((25, S_25), (26, S_26))
           for ai, a in enumerate(("Broadcast", "Addressed")) for si, s in enumerate(("Unstructured", "Structured"))},
    }  # fmt: skip
    for v, (name, t, _) in enumerate(VARIANTS):
        m = APP.fullmatch(name)
        if name == "6Dac1Fid16A":
            pass  # chosen by its length only
        elif m:
            app.append((t, int(m[2]), int(m[3]), v))
        elif name.endswith("Dac1Fid21NonWmo"):
            app.append((t, 1, 21, v))
        elif name == f"{t}" or name == f"{t}Default":
            default[t] = v
        if name in named:
            special[named[name]] = v
    return Plan(
        names=names,
        fields=fields,
        v_first=np.cumsum([0, *(len(fs) for fs in fields[:-1])]).astype(np.int64),
        v_count=np.array([len(fs) for fs in fields], np.int64),
        f_first=np.array([f.first for f in flat], np.int64),
        f_width=np.array([f.width for f in flat], np.int64),
        f_kind=np.array([f.kind for f in flat], np.int64),
        f_slot=np.array(slots, np.int64),
        default=default,
        app=np.array(app, np.int64).reshape(-1, 4),
        special=special,
        width=max(len(fs) for fs in fields),
        blob=max(blob, 1),
    )


@kernel
def _get(six, s, nb, b, w):
    """pyais's ``get``: the unsigned ``w`` bits at bit ``b`` of a message of ``nb`` bits; when the message ends
    inside the field, only the bits that are there (not shifted); 0 when it ends before."""
    if w <= 0 or b >= nb:
        return np.int64(0)
    left = min(w, nb - b)
    v = np.int64(0)
    while left > 0:
        ci = b // 6
        off = b - ci * 6
        take = min(6 - off, left)
        v = (v << take) | ((np.int64(six[s + ci]) >> (6 - off - take)) & ((1 << take) - 1))
        b += take
        left -= take
    return v


@kernel
def _variant(six, s, nb, t, default, app, special):
    """The layout pyais picks for a message of type ``t``."""
    if t == 6 or t == 8:
        first = 72 if t == 6 else 40
        dac = _get(six, s, nb, first, 10)
        fid = _get(six, s, nb, first + 10, 6)
        if t == 6 and nb <= TYPE6_SHORT_BITS:  # pyais then reads DAC/FI where the short form has them, for any DAC/FI
            dac = _get(six, s, nb, 40, 10)
            fid = _get(six, s, nb, 50, 6)
            if dac == 1 and fid == 16:
                return special[S_6_16A]
        if t == 8 and dac == 1 and fid == 21 and _get(six, s, nb, 56, 1) == 1:
            return special[S_8_DEFAULT]  # the WMO form of the weather report: pyais keeps it as bytes
        for k in range(app.shape[0]):
            if app[k, 0] == t and app[k, 1] == dac and app[k, 2] == fid:
                return app[k, 3]
        return default[t]
    if t == 16:
        return special[S_16AB] if nb > TYPE16_ONE_STATION_BITS else special[S_16A]
    if t == 22:
        return special[S_22_ADDRESSED] if _get(six, s, nb, 139, 1) else special[S_22_BROADCAST]
    if t == 25 or t == 26:
        base = S_25 if t == 25 else S_26
        return special[base + 2 * _get(six, s, nb, 38, 1) + _get(six, s, nb, 39, 1)]
    return default[t]


@kernel
def _text(six, s, nb, b, w, blob, r, slot):
    """pyais's ``get_str``: six-bit characters (the last one cut by the end holds its bits), '@' trimmed on the
    right, then spaces on both sides, into blob[r, slot:]; returns the length."""
    n = 0
    for i in range(b, b + w, 6):
        v = _get(six, s, nb, i, 6)
        blob[r, slot + n] = v + 64 if v < 32 else v
        n += 1
    end = n
    while end > 0 and blob[r, slot + end - 1] == 64:
        end -= 1
    first = 0
    while first < end and blob[r, slot + first] == 32:
        first += 1
    while end > first and blob[r, slot + end - 1] == 32:
        end -= 1
    for k in range(end - first):
        blob[r, slot + k] = blob[r, slot + first + k]
    for k in range(end - first, n):
        blob[r, slot + k] = 0
    return end - first


@kernel
def _hex(six, s, nb, b, w, blob, r, slot, hexdigits):
    """pyais's ``get_bytes`` as hex: the bits there are of the field, the last byte padded with zeros on the
    right; returns the number of hex digits."""
    left = min(w, nb - b)
    nbytes = (left + 7) // 8
    for j in range(nbytes):
        take = min(8, left - 8 * j)
        v = _get(six, s, nb, b + 8 * j, take) << (8 - take)
        blob[r, slot + 2 * j] = hexdigits[v >> 4]
        blob[r, slot + 2 * j + 1] = hexdigits[v & 15]
    return 2 * nbytes


@kernel
def fields(six, start, nbits, msg_type, idx, default, app, special, v_first, v_count, f_first, f_width, f_kind,
           f_slot, hexdigits, variant, vals, blob):  # fmt: skip
    """Messages idx -> their variant, every field's raw value (NONE past the end; a text's or bytes' length)
    in vals[r, k] and the texts and hex bytes in blob (which must come zeroed)."""
    for r in range(idx.shape[0]):
        m = idx[r]
        s = start[m]
        nb = nbits[m]
        v = _variant(six, s, nb, msg_type[m], default, app, special)
        variant[r] = v
        if v < 0:
            continue
        for k in range(v_count[v]):
            f = v_first[v] + k
            b = f_first[f]
            w = f_width[f]
            kind = f_kind[f]
            if b >= nb:
                vals[r, k] = NONE
            elif kind == K_S:
                vals[r, k] = _text(six, s, nb, b, w, blob, r, f_slot[f])
            elif kind == K_X:
                vals[r, k] = _hex(six, s, nb, b, w, blob, r, f_slot[f], hexdigits)
            else:
                x = _get(six, s, nb, b, w)
                if kind in (K_I, K_FI):
                    avail = min(w, nb - b)
                    if x >= (1 << (avail - 1)):
                        x -= 1 << avail
                vals[r, k] = x


def decode_fields(six: np.ndarray, start: np.ndarray, nbits: np.ndarray, msg_type: np.ndarray,
                  idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Run :func:`fields` on messages ``idx``: (variant, vals, blob)."""
    p = plan()
    n = idx.shape[0]
    variant = np.empty(n, np.int64)
    vals = np.empty((n, p.width), np.int64)
    blob = np.zeros((n, p.blob), np.uint8)
    fields(six, start, nbits, msg_type, idx, p.default, p.app, p.special, p.v_first, p.v_count, p.f_first,
           p.f_width, p.f_kind, p.f_slot, HEX, variant, vals, blob)  # fmt: skip
    return variant, vals, blob


# ---- columns -----------------------------------------------------------------------------------------------

_SCALE = {"10th": 10.0, "100th": 100.0}
_OFFSET_SCALE = {"airtemp": (600, 10.0), "dewpt": (200, 10.0), "wl": (100, 10.0), "wl31": (1000, 100.0)}
_DEG = {"deg": 10, "deg600": 10000, "deg60000": 100}  # round(raw / unit, 6) as ((mul * raw + 3) // 6) / 1e6
_PRESSURE = {"p800": 800, "p799": 799}


def _values(f: Field, x: np.ndarray, json: bool) -> np.ndarray:
    """A number field's values from its raw integers (0 where missing), scaled as pyais scales them (``json``:
    enums as pyais maps them): int64 or float64."""
    if f.conv in _DEG:
        return ((_DEG[f.conv] * x + 3) // 6) / 1e6
    if f.conv in _SCALE:
        return x / _SCALE[f.conv]
    if f.conv in _OFFSET_SCALE:  # round(raw * 0.1 - 60, 1) is (raw - 600) / 10 for every raw value
        offset, scale = _OFFSET_SCALE[f.conv]
        return (x - offset) / scale
    if f.conv in _PRESSURE:
        return x + _PRESSURE[f.conv]
    if f.conv.startswith("enum") and json:
        return np.asarray(ENUMS[f.conv[4:]], np.int64)[x]
    if f.kind in (K_FU, K_FI):
        return x.astype(np.float64)
    return x


class _Flat:
    """Columns of one kind laid end to end, made into one polars Series at the end and cut into the columns: a
    chunk's rarer messages hold hundreds of short columns (~30 variants x their fields), and a Series each costs
    ~30 us of Python (and a polars query each to set its nulls); a slice of one costs ~2 us."""

    def __init__(self) -> None:
        self.values: list[np.ndarray] = []
        self.missing: list[np.ndarray] = []
        self.at = 0
        self.made: pl.Series | None = None

    def add(self, values: np.ndarray, missing: np.ndarray) -> _Place:
        self.values.append(values)
        self.missing.append(missing)
        self.at += values.shape[0]
        return self, self.at - values.shape[0], values.shape[0]

    def _series(self) -> pl.Series:
        return pl.Series("", np.concatenate(self.values))

    def cut(self, at: int, n: int, name: str) -> pl.Series:
        """Rows ``at:at + n`` of the column, named ``name`` (null where missing)."""
        if self.made is None:
            s, missing = self._series(), np.concatenate(self.missing)
            self.made = s.set(pl.Series(missing), None) if missing.any() else s
        return self.made.slice(at, n).alias(name)


class _Texts(_Flat):
    """Text and hex fields (blob slots of any width) as one zero-padded byte matrix: numpy's bytes strings drop
    the trailing zeros, so each value is what its own slot gives."""

    def _series(self) -> pl.Series:
        width = max(v.shape[1] for v in self.values)
        matrix = np.zeros((self.at, width), np.uint8)
        at = 0
        for v in self.values:
            matrix[at : at + v.shape[0], : v.shape[1]] = v
            at += v.shape[0]
        return pl.Series("", matrix.view(f"S{width}").ravel()).cast(pl.String)


_Place = tuple[_Flat, int, int]  # a column's rows in a flat one


def rare_tables(variant: np.ndarray, vals: np.ndarray,
                blob: np.ndarray) -> tuple[dict[str, tuple[np.ndarray, pl.DataFrame]], pl.Series]:  # fmt: skip
    """From :func:`decode_fields`'s output: each variant present -> (its rows, the typed table of its fields); and
    pyais's ``asdict(enum_as_int=True)`` of each message as JSON (null where no variant): the same keys, in the same
    order, and the same values (numbers may be written differently: 2e-6, 2e-06), made from the typed columns with
    pyais's enum mapping in place of the raw codes."""
    p = plan()
    ints, floats, flags, texts = _Flat(), _Flat(), _Flat(), _Texts()
    variants = []  # (variant, rows, [(field, its typed column, its JSON column if not the same)])
    for v in np.unique(variant[variant >= 0]).tolist():
        rows = np.flatnonzero(variant == v)
        first = int(p.v_first[v])
        sub_vals, sub_blob = vals[rows], blob[rows]
        columns: list[tuple[str, _Place, _Place | None]] = []
        for k, f in enumerate(p.fields[v]):
            raw = sub_vals[:, k]
            missing = raw == NONE
            enum = None
            if f.kind in (K_S, K_X):
                slot = int(p.f_slot[first + k])
                typed = texts.add(sub_blob[:, slot : slot + _slot_width(f)], missing)
            elif f.kind == K_B:
                typed = flags.add(raw != 0, missing)
            else:
                x = np.where(missing, 0, raw)
                values = _values(f, x, json=False)
                typed = (floats if values.dtype.kind == "f" else ints).add(values, missing)
                if f.conv.startswith("enum"):
                    enum = ints.add(_values(f, x, json=True), missing)
            columns.append((f.name, typed, enum))
        variants.append((v, rows, columns))

    tables, encoded = {}, []
    for v, rows, columns in variants:
        typed_columns = [flat.cut(at, n, name) for name, (flat, at, n), _ in columns]
        tables[p.names[v]] = (rows, pl.DataFrame(typed_columns))
        as_json = [s if enum is None else enum[0].cut(enum[1], enum[2], s.name)
                   for s, (_, _, enum) in zip(typed_columns, columns, strict=True)]  # fmt: skip
        encoded.append(pl.DataFrame(as_json).select(pl.struct(pl.all()).struct.json_encode()).to_series())
    n_json = sum(s.len() for s in encoded)
    where = np.full(variant.shape[0], n_json, np.int64)  # the null after the JSON of every variant
    if variants:
        where[np.concatenate([rows for _, rows, _ in variants])] = np.arange(n_json)
    json = pl.concat([*encoded, pl.Series([None], dtype=pl.String)])
    return tables, json.gather(where).alias("fields")


def variant_tables(variant: np.ndarray, vals: np.ndarray,
                   blob: np.ndarray) -> dict[str, tuple[np.ndarray, pl.DataFrame]]:  # fmt: skip
    """Each variant present -> (its rows, the typed table of its fields): :func:`rare_tables`' first half."""
    return rare_tables(variant, vals, blob)[0]


def fields_json(variant: np.ndarray, vals: np.ndarray, blob: np.ndarray) -> pl.Series:
    """Each message as pyais's JSON: :func:`rare_tables`' second half."""
    return rare_tables(variant, vals, blob)[1]
