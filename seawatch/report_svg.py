"""A small SVG toolkit for the report's figures: a canvas, plot panels with their axes, markers, legends, and
a one-colour PNG for raster layers (land).

Why not matplotlib: the report has a dozen small figures, and matplotlib spent ~0.5 s on each (ticks, text
layout, transforms, a second draw for the tight box) where writing the few hundred elements directly takes
milliseconds. Units are points (as matplotlib's SVG: 72 to the inch), so the figures keep their size on the page.
Text from the data is XML-escaped here, once, in :func:`text`; it is never read as markup or math.

Ids inside a canvas are written as ``@@name``; :meth:`Canvas.svg` prefixes them with the figure's name, so that
figures on one page never share an id.
"""

from __future__ import annotations

import base64
import html
import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

FONT = 'font-family="DejaVu Sans,Verdana,Arial,sans-serif"'
CHAR_EM = 0.62  # mean advance of a character in em (DejaVu Sans, mixed text): to leave room for labels
TICK_LEN = 3.5  # pt, matplotlib's default
AXIS_COLOUR = "#222222"
Ticks = Sequence[float] | np.ndarray
MARKER_SCALE = 1.15  # matplotlib's markers, with their edge, look this much larger than their nominal size


def f1(v: float) -> str:
    """A coordinate to one decimal (a tenth of a point is below what a screen shows)."""
    s = f"{v:.1f}"
    return s[:-2] if s.endswith(".0") else s


def text_width(label: str, size: float) -> float:
    return len(label) * size * CHAR_EM


def text(x: float, y: float, label: str, size: float = 9.0, anchor: str = "start", *, colour: str = AXIS_COLOUR,
         bold: bool = False, rotate: float = 0.0, baseline: str = "") -> str:  # fmt: skip
    """A text element; ``label`` is escaped. ``baseline`` "middle" or "hanging" moves it off the alphabetic line."""
    extra = ' font-weight="bold"' if bold else ""
    extra += f' transform="rotate({f1(rotate)} {f1(x)} {f1(y)})"' if rotate else ""
    extra += f' dominant-baseline="{baseline}"' if baseline else ""
    extra += f' text-anchor="{anchor}"' if anchor != "start" else ""
    fill = f' fill="{colour}"' if colour != AXIS_COLOUR else ""
    return f'<text x="{f1(x)}" y="{f1(y)}" font-size="{f1(size)}"{fill}{extra}>{html.escape(label)}</text>'


def polyline_path(x: np.ndarray, y: np.ndarray) -> str:
    """Path data through the points; a NaN breaks the line."""
    out, pen = [], False
    for a, b in zip(x.tolist(), y.tolist(), strict=True):
        if a != a or b != b:
            pen = False
            continue
        out.append(f"{'L' if pen else 'M'}{f1(a)} {f1(b)}")
        pen = True
    return "".join(out)


# ---------------------------------------------------------------- markers

MARKER_SIDES = {"v": (3, 180.0), "^": (3, 0.0), "<": (3, -90.0), ">": (3, 90.0), "s": (4, 45.0), "D": (4, 0.0),
                "p": (5, 0.0), "h": (6, 0.0)}  # fmt: skip


def marker_path(marker: str, size: float) -> str:
    """Path data of a marker ``size`` pt across, centred on 0, 0 (matplotlib's shapes, near enough)."""
    r = size / 2 * MARKER_SCALE
    if marker == "o":
        return f"M{f1(-r)} 0a{f1(r)} {f1(r)} 0 1 0 {f1(2 * r)} 0a{f1(r)} {f1(r)} 0 1 0 {f1(-2 * r)} 0z"
    if marker == "*":
        angles = np.radians(np.arange(10) * 36.0)
        radii = np.where(np.arange(10) % 2 == 0, r * 1.15, r * 0.45)
        return _polygon(radii * np.sin(angles), -radii * np.cos(angles))
    if marker in ("X", "P"):  # a thick cross, upright (P) or turned (X)
        a, b = r, r / 3
        xs = np.array([-b, b, b, a, a, b, b, -b, -b, -a, -a, -b])
        ys = np.array([-a, -a, -b, -b, b, b, a, a, b, b, -b, -b])
        if marker == "X":
            c = math.sqrt(0.5)
            xs, ys = c * (xs - ys), c * (xs + ys)
        return _polygon(xs, ys)
    sides, turn = MARKER_SIDES.get(marker, (4, 45.0))
    radius = r * (1.0 if sides != 4 else 1.3 if marker == "s" else 1.1)
    angles = np.radians(turn + np.arange(sides) * 360.0 / sides)
    return _polygon(radius * np.sin(angles), -radius * np.cos(angles))


def _polygon(xs: np.ndarray, ys: np.ndarray) -> str:
    return "M" + "L".join(f"{x:.2f} {y:.2f}" for x, y in zip(xs.tolist(), ys.tolist(), strict=True)) + "z"


# ---------------------------------------------------------------- canvas and panels


@dataclass
class Canvas:
    """One figure: elements in drawing order, definitions (markers, clip paths) apart."""

    width: float
    height: float
    parts: list[str] = field(default_factory=list)
    defs: dict[str, str] = field(default_factory=dict)

    def add(self, *elements: str) -> None:
        self.parts.extend(elements)

    def define(self, key: str, element: str) -> str:
        """Add a definition once (``element`` carries ``id="@@key"``); its reference ``#@@key``."""
        self.defs.setdefault(key, element)
        return f"#@@{key}"

    def marker(self, marker: str, size: float) -> str:
        key = f"m{'os^v<>DXPph*'.find(marker) + 1}-{f1(size).replace('.', '_')}"
        return self.define(key, f'<path id="@@{key}" d="{marker_path(marker, size)}"/>')

    def svg(self, name: str) -> str:
        prefix = "".join(c if c.isalnum() or c in "_-" else "_" for c in name) + "-"
        defs = f"<defs>{''.join(self.defs.values())}</defs>" if self.defs else ""
        body = (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{f1(self.width)}pt" height="{f1(self.height)}pt" '
            f'viewBox="0 0 {f1(self.width)} {f1(self.height)}" {FONT} font-size="9" data-figure="{name}">'
            f'<rect width="100%" height="100%" fill="white"/>{defs}\n' + "\n".join(self.parts) + "\n</svg>"
        )
        return body.replace("@@", prefix)


@dataclass(frozen=True)
class Panel:
    """A plot area on the canvas (``x0``, ``y0`` its top left, in pt) and the data ranges it shows."""

    x0: float
    y0: float
    w: float
    h: float
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    ylog: bool = False

    def px(self, x: np.ndarray | float) -> np.ndarray:
        lo, hi = self.xlim
        return self.x0 + (np.asarray(x, np.float64) - lo) / (hi - lo) * self.w

    def py(self, y: np.ndarray | float) -> np.ndarray:
        lo, hi = self.ylim
        v = np.asarray(y, np.float64)
        if self.ylog:
            v, lo, hi = np.log10(np.maximum(v, 1e-300)), math.log10(lo), math.log10(hi)
        return self.y0 + self.h - (v - lo) / (hi - lo) * self.h

    @property
    def box(self) -> str:
        return f'x="{f1(self.x0)}" y="{f1(self.y0)}" width="{f1(self.w)}" height="{f1(self.h)}"'

    def clip(self, canvas: Canvas, key: str) -> str:
        """A clip path to the panel; the attribute that applies it."""
        canvas.define(key, f'<clipPath id="@@{key}"><rect {self.box}/></clipPath>')
        return f'clip-path="url(#@@{key})"'


def nice_ticks(lo: float, hi: float, most: int = 7) -> np.ndarray:
    """Round tick values in [lo, hi], at most ``most`` of them (steps of 1, 2, 2.5 or 5 times a power of ten)."""
    span = max(hi - lo, 1e-12)
    base = 10.0 ** math.floor(math.log10(span / most))
    step = next(base * m for m in (1.0, 2.0, 2.5, 5.0, 10.0) if span / (base * m) <= most)
    first = math.ceil(lo / step - 1e-9) * step
    return np.arange(first, hi + step * 1e-9, step).round(10)


def tick_labels(ticks: np.ndarray) -> list[str]:
    """Labels with as many decimals as the step needs, and no more."""
    if ticks.size < 2:
        return [f"{t:g}" for t in ticks]
    step = float(np.min(np.diff(ticks)))
    digits = max(0, -math.floor(math.log10(step) + 1e-9))
    if round(step * 10**digits, 6) % 1:
        digits += 1
    return [f"{t:.{digits}f}" for t in ticks]


def axes(canvas: Canvas, p: Panel, *, xticks: Ticks, xlabels: Sequence[str], yticks: Ticks,
         ylabels: Sequence[str], xlabel: str = "", ylabel: str = "", frame: bool = False, size: float = 9.0,
         xrotate: float = 0.0, yminor: Ticks = ()) -> None:  # fmt: skip
    """Left and bottom spines (all four with ``frame``), outward ticks with their labels, the axis labels."""
    x1, y1 = p.x0 + p.w, p.y0 + p.h
    spines = f"M{f1(p.x0)} {f1(p.y0)}V{f1(y1)}H{f1(x1)}" + (f"V{f1(p.y0)}H{f1(p.x0)}" if frame else "")
    ticks = []
    for x in p.px(np.asarray(xticks, np.float64)).tolist():
        ticks.append(f"M{f1(x)} {f1(y1)}v{TICK_LEN}")
    for y in p.py(np.asarray(yticks, np.float64)).tolist():
        ticks.append(f"M{f1(p.x0)} {f1(y)}h{-TICK_LEN}")
    for y in p.py(np.asarray(yminor, np.float64)).tolist():
        ticks.append(f"M{f1(p.x0)} {f1(y)}h-2")
    canvas.add(f'<path d="{spines}" fill="none" stroke="{AXIS_COLOUR}" stroke-width="0.8"/>',
               f'<path d="{"".join(ticks)}" stroke="{AXIS_COLOUR}" stroke-width="0.8"/>')  # fmt: skip
    labels = []
    for x, label in zip(p.px(np.asarray(xticks, np.float64)).tolist(), xlabels, strict=True):
        if xrotate:
            labels.append(text(x + 2, y1 + TICK_LEN + 4, label, size, "end", rotate=-xrotate, baseline="hanging"))
        else:
            labels.append(text(x, y1 + TICK_LEN + 2, label, size, "middle", baseline="hanging"))
    for y, label in zip(p.py(np.asarray(yticks, np.float64)).tolist(), ylabels, strict=True):
        labels.append(text(p.x0 - TICK_LEN - 2, y, label, size, "end", baseline="middle"))
    canvas.add(*labels)
    widest = max((text_width(s, size) for s in ylabels), default=0.0)
    if xlabel:
        below = y1 + TICK_LEN + 4 + size + (max((text_width(s, size) for s in xlabels), default=0) * 0.5 if xrotate
                                            else 0) + 4  # fmt: skip
        canvas.add(text(p.x0 + p.w / 2, below, xlabel, size, "middle", baseline="hanging"))
    if ylabel:
        left = p.x0 - TICK_LEN - 6 - widest
        canvas.add(text(left, p.y0 + p.h / 2, ylabel, size, "middle", rotate=-90.0))


# ---------------------------------------------------------------- legends


@dataclass(frozen=True)
class Entry:
    """One legend line: its handle (SVG drawn around 0, 0 and 20 pt wide) and its label."""

    handle: str
    label: str


def marker_entry(canvas: Canvas, marker: str, colour: str, label: str, *, edge: str = "#222222",
                 size: float = 6.0) -> Entry:  # fmt: skip
    href = canvas.marker(marker, size)
    style = f'fill="{colour}" stroke="{edge}" stroke-width="0.5"'
    return Entry(f'<use href="{href}" x="10" y="0" {style}/>', label)


def line_entry(colour: str, label: str, width: float = 1.0, dash: str = "") -> Entry:
    dashes = f' stroke-dasharray="{dash}"' if dash else ""
    return Entry(f'<path d="M0 0h20" stroke="{colour}" stroke-width="{width}"{dashes}/>', label)


def patch_entry(colour: str, label: str, opacity: float = 1.0, edge: str = "") -> Entry:
    stroke = f' stroke="{edge}"' if edge else ""
    return Entry(f'<rect x="2" y="-4" width="16" height="8" fill="{colour}" fill-opacity="{opacity}"{stroke}/>', label)


def legend_width(entries: Sequence[Entry], title: str = "", size: float = 8.0, ncols: int = 1) -> float:
    widest = max((text_width(e.label, size) for e in entries), default=0.0)
    return max(ncols * (26 + widest + 14), text_width(title, size) + 8)


def legend(canvas: Canvas, x: float, y: float, entries: Sequence[Entry], *, title: str = "", size: float = 8.0,
           ncols: int = 1) -> float:  # fmt: skip
    """The legend with its top left at ``x``, ``y`` (no frame); its bottom."""
    row = size * 1.75
    parts = []
    if title:
        parts.append(text(x + legend_width(entries, title, size, ncols) / 2, y + size, title, size + 1, "middle"))
        y += row
    per_col = math.ceil(len(entries) / max(ncols, 1))
    col_w = legend_width(entries, "", size, 1)
    for i, e in enumerate(entries):
        cx, cy = x + (i // per_col) * col_w, y + (i % per_col) * row + row / 2
        parts.append(f'<g transform="translate({f1(cx)} {f1(cy)})">{e.handle}</g>')
        parts.append(text(cx + 26, cy, e.label, size, baseline="middle"))
    canvas.add(*parts)
    return y + min(per_col, len(entries)) * row


# ---------------------------------------------------------------- raster


def mask_png(mask: np.ndarray, colour: str) -> str:
    """A boolean grid (first row on top) as a data URI: a two-colour PNG, ``colour`` where True, clear elsewhere."""
    rows = np.packbits(mask.astype(np.uint8), axis=1)
    raw = np.concatenate([np.zeros((rows.shape[0], 1), np.uint8), rows], axis=1).tobytes()  # filter 0 per row
    rgb = bytes.fromhex(colour.lstrip("#"))
    height, width = mask.shape
    png = b"\x89PNG\r\n\x1a\n" + b"".join(
        _chunk(kind, data)
        for kind, data in (
            (b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 3, 0, 0, 0)),  # 1 bit, palette
            (b"PLTE", b"\x00\x00\x00" + rgb),
            (b"tRNS", b"\x00\xff"),  # entry 0 clear, entry 1 opaque
            (b"IDAT", zlib.compress(raw, 6)),
            (b"IEND", b""),
        )
    )
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
