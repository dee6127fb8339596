"""The SVG toolkit under the report's figures: escaped text, round ticks, closed markers, a PNG that decodes to
the mask it was given, ids prefixed per figure."""

from __future__ import annotations

import base64
import struct
import xml.etree.ElementTree as ET
import zlib

import numpy as np
import pytest

from seawatch import report_figures as rf
from seawatch import report_svg as sv


def decode_mask_png(uri: str) -> np.ndarray:
    """A 1-bit palette PNG back to a boolean grid (a reader of just what :func:`mask_png` writes)."""
    data = base64.b64decode(uri.removeprefix("data:image/png;base64,"))
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, dict[bytes, bytes]()
    while pos < len(data):
        (size,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + size]
        (crc,) = struct.unpack(">I", data[pos + 8 + size : pos + 12 + size])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + size
    width, height, depth, colour_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour_type) == (1, 3) and chunks[b"tRNS"] == b"\x00\xff"
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(height, -1)
    assert (raw[:, 0] == 0).all()  # no filter
    return np.unpackbits(raw[:, 1:], axis=1)[:, :width].astype(bool)


@pytest.mark.parametrize("shape", [(1, 1), (3, 9), (17, 8), (40, 123)])
def test_the_land_png_decodes_to_its_mask(shape: tuple[int, int]) -> None:
    mask = np.random.default_rng(shape[1]).random(shape) > 0.5
    uri = sv.mask_png(mask, "#d8d2c0")
    assert np.array_equal(decode_mask_png(uri), mask)


def test_text_from_the_air_is_escaped_not_markup() -> None:
    element = sv.text(1, 2, 'a <b> & "c" $x^2$')
    assert ET.fromstring(element).text == 'a <b> & "c" $x^2$'


def test_ticks_are_round_and_inside() -> None:
    for lo, hi in ((0.0, 1.04), (105.6, 109.1), (20.7, 20.98), (0.0, 6.3), (-3.2, 2.2)):
        ticks = sv.nice_ticks(lo, hi)
        assert 2 <= ticks.size <= 8 and ticks.min() >= lo - 1e-9 and ticks.max() <= hi + 1e-9
        labels = sv.tick_labels(ticks)
        assert len(set(labels)) == len(labels)  # enough decimals to tell them apart
        assert [float(s) for s in labels] == pytest.approx(ticks.tolist())
    assert sv.tick_labels(np.array([20.8, 20.85, 20.9])) == ["20.80", "20.85", "20.90"]


def test_every_kind_has_a_closed_marker() -> None:
    for colour, marker in [*rf.KIND_STYLE.values(), ("#000000", "o")]:
        d = sv.marker_path(marker, 6.0)
        assert d.startswith("M") and d.endswith("z") and colour.startswith("#")
    assert len({m for _, m in rf.KIND_STYLE.values()}) == len(rf.KIND_STYLE)  # markers tell the kinds apart


def test_ids_are_prefixed_with_the_figure_name() -> None:
    c = sv.Canvas(100, 50)
    p = sv.Panel(10, 10, 80, 30, (0, 1), (0, 1))
    href = c.marker("D", 6)
    c.add(f'<g {p.clip(c, "frame")}><use href="{href}" x="5" y="5"/></g>')
    root = ET.fromstring(c.svg("track-574000001"))
    ids = [el.attrib["id"] for el in root.iter() if "id" in el.attrib]
    assert ids and all(i.startswith("track-574000001-") for i in ids)
    assert "@@" not in c.svg("x")
