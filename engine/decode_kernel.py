"""Numba kernels that decode armored AIS payloads straight into columns.

Bit layouts follow ITU-R M.1371-5 (as tabulated in gpsd's AIVDM/AIVDO protocol decoding). Values are made
bit-identical to pyais where pyais is right: coordinates use the integer rounding pyais uses
(``((10 * raw + 3) // 6) / 1e6`` equals ``round(raw / 600000, 6)``), speeds and courses divide by ten.
"""

from __future__ import annotations

import numpy as np

from feeds.jit import kernel
from feeds.nmea_fields import epoch_seconds

# what a message becomes
K_POSITION, K_STATIC, K_EVENT, K_SHORT, K_UNKNOWN = 0, 1, 2, 3, 4

# fewest bits a message of each type must carry to be decoded (every output field present); a shorter one
# is rejected as "short_message". Index = message type. Types without a Numba decoder need only the MMSI.
MIN_BITS = np.array(
    [
        0,  # 0 does not exist
        149, 149, 149,  # 1-3 position report class A: through RAIM
        149,  # 4 base station report: through RAIM
        422,  # 5 static and voyage: through destination (the DTE bit and spare are often cut)
        38, 38, 38,  # 6-8 binary messages (pyais)
        148,  # 9 SAR aircraft: through RAIM
        38,  # 10 (pyais)
        149,  # 11 UTC/date response: laid out as type 4, decoded with it
        38, 38,  # 12-13 (pyais)
        40,  # 14 safety broadcast: header (the text may be empty)
        38, 38, 38,  # 15-17 (pyais)
        148,  # 18 class B position: through RAIM
        306,  # 19 extended class B: through RAIM
        38,  # 20 (pyais)
        270,  # 21 aid to navigation: through the virtual-aid flag (bit 269)
        38, 38,  # 22-23 (pyais)
        40,  # 24 static data report: checked per part below
        38, 38,  # 25-26 (pyais)
        95,  # 27 long-range position: through the GNSS flag
    ],
    np.int64,
)
MIN_BITS_24A = 160
MIN_BITS_24B = 162

LATLON_SCALE = 600000  # 1/10000 minute
LATLON27_SCALE = 600  # 1/10 minute
LAT_NA = 91
LON_NA = 181
SOG_NA = 1023
COG_NA = 3600
HEADING_NA = 511
ROT_NA = -128
ROT_NO_INDICATOR = 127
SOG27_NA = 63
COG27_NA = 511
ROT_SCALE = 4.733  # ROT_AIS = 4.733 * sqrt(ROT deg/min)
AUXILIARY_PREFIX = 98  # MMSI 98XXXYYYY: craft associated with a parent ship (24B carries the mothership)


@kernel
def six_bit(payload, out):
    """Armored payload characters -> six-bit values ('0'..'W' -> 0..39, '`'..'w' -> 40..63)."""
    for i in range(payload.shape[0]):
        c = payload[i] - 48
        out[i] = c - 8 if c > 40 else c


NO_TIME = np.iinfo(np.int64).min  # numpy's NaT


@kernel
def micros(seconds, idx, out):
    """Unix seconds of messages idx (NaN = unknown) -> int64 microseconds, NaT where unknown."""
    for r in range(idx.shape[0]):
        v = seconds[idx[r]]
        out[r] = NO_TIME if np.isnan(v) else np.int64(np.rint(v * 1e6))


@kernel
def gather_text(payload, start, length, idx, out):
    """The armored payloads of messages idx into the rows of ``out`` (zero padded)."""
    width = out.shape[1]
    for r in range(idx.shape[0]):
        m = idx[r]
        n = min(length[m], width)
        s = start[m]
        for k in range(n):
            out[r, k] = payload[s + k]


@kernel
def _u(six, s, b, w):
    """Unsigned integer of ``w`` <= 30 bits at bit ``b`` of the message whose six-bit values start at six[s].

    The (at most six) characters that hold the field are packed into one integer, then shifted and masked:
    no per-bit loop, no branch on the field's alignment.
    """
    ci = b // 6
    off = b - ci * 6
    nch = (off + w + 5) // 6
    v = np.int64(0)
    for k in range(nch):
        v = (v << 6) | np.int64(six[s + ci + k])
    return (v >> (nch * 6 - off - w)) & ((1 << w) - 1)


@kernel
def _i(six, s, b, w):
    v = _u(six, s, b, w)
    if v >= (1 << (w - 1)):
        v -= 1 << w
    return v


@kernel
def _text(six, s, b, nchars, nbits, out, row, col, lstrip=True):
    """Six-bit text into out[row, col:], trimmed as pyais trims (trailing '@', then surrounding spaces).

    Characters past the end of the message are not read. Without ``lstrip`` leading spaces stay (a text that
    continues another, like the type 21 name extension). Returns the trimmed length.
    """
    n = min(nchars, (nbits - b) // 6) if nbits > b else 0
    ci = s + b // 6
    off = b % 6
    for k in range(n):
        # a character straddles at most two six-bit symbols
        if off == 0:
            v = np.int64(six[ci + k])
        else:
            v = ((np.int64(six[ci + k]) << off) | (np.int64(six[ci + k + 1]) >> (6 - off))) & 63
        out[row, col + k] = v + 64 if v < 32 else v
    end = n
    while end > 0 and out[row, col + end - 1] == 64:
        end -= 1
    first = 0
    while lstrip and first < end and out[row, col + first] == 32:
        first += 1
    while end > first and out[row, col + end - 1] == 32:
        end -= 1
    ln = end - first
    for k in range(ln):
        out[row, col + k] = out[row, col + first + k]
    for k in range(ln, nchars):
        out[row, col + k] = 0
    return ln


@kernel
def _deg(raw, mul):
    # round(raw * mul / 6e6, 6) with integers only, as pyais does: 1/600000 degree (mul 10) gives
    # ((10 * raw + 3) // 6) / 1e6, 1/600 degree (mul 10000) gives ((10000 * raw + 3) // 6) / 1e6
    return ((mul * raw + 3) // 6) / 1e6


@kernel
def classify(six, start, length, fill, msg_type, nbits, kind):
    """Message type, bit count and what each message becomes (see K_*)."""
    for m in range(start.shape[0]):
        nb = length[m] * 6 - fill[m]
        nbits[m] = nb
        if nb < 6:
            msg_type[m] = 0
            kind[m] = K_SHORT
            continue
        t = _u(six, start[m], 0, 6)
        msg_type[m] = t
        if t < 1 or t > 27:
            kind[m] = K_UNKNOWN
            continue
        part = _u(six, start[m], 38, 2) if t == 24 and nb >= 40 else -1
        need = MIN_BITS[t]
        if part == 0:
            need = MIN_BITS_24A
        elif part == 1:
            need = MIN_BITS_24B
        if nb < need:
            kind[m] = K_SHORT
        elif t == 1 or t == 2 or t == 3 or t == 18 or t == 19 or t == 27:
            kind[m] = K_POSITION
        elif t == 5 or part == 0 or part == 1:
            kind[m] = K_STATIC
        else:  # also type 24 parts 2 and 3, which M.1371 leaves undefined: kept as a header only
            kind[m] = K_EVENT


@kernel
def _latlon(six, s, b_lon, b_lat, w_lon, w_lat, mul):
    rlon = _i(six, s, b_lon, w_lon)
    rlat = _i(six, s, b_lat, w_lat)
    lon = _deg(rlon, mul)
    lat = _deg(rlat, mul)
    if lat < -90.0 or lat > 90.0:  # 91 is "not available"; anything else past the pole is invalid
        lat = np.nan
    if lon < -180.0 or lon > 180.0:  # 181 is "not available"
        lon = np.nan
    return lat, lon


@kernel
def positions(
    six,
    start,
    nbits,
    msg_type,
    idx,
    mmsi,
    lat,
    lon,
    sog,
    cog,
    heading,
    rot,
    rot_raw,
    nav_status,
    accuracy,
    raim,
    second,
):
    """Types 1, 2, 3, 18, 19, 27 -> the Positions columns (row r from message idx[r])."""
    for r in range(idx.shape[0]):
        m = idx[r]
        s = start[m]
        t = msg_type[m]
        mmsi[r] = _u(six, s, 8, 30)
        if t <= 3:
            nav_status[r] = _u(six, s, 38, 4)
            rr = _i(six, s, 42, 8)
            rot_raw[r] = rr
            if rr in (ROT_NA, ROT_NO_INDICATOR, -ROT_NO_INDICATOR):
                rot[r] = np.nan
            elif rr == 0:
                rot[r] = 0.0
            else:
                v = np.rint((rr / ROT_SCALE) ** 2)
                rot[r] = v if rr > 0 else -v
            sp = _u(six, s, 50, 10)
            accuracy[r] = _u(six, s, 60, 1)
            lat[r], lon[r] = _latlon(six, s, 61, 89, 28, 27, 10)
            co = _u(six, s, 116, 12)
            hd = _u(six, s, 128, 9)
            second[r] = _u(six, s, 137, 6)
            raim[r] = _u(six, s, 148, 1)
        elif t == 27:
            nav_status[r] = _u(six, s, 40, 4)
            rot_raw[r] = ROT_NA
            rot[r] = np.nan
            accuracy[r] = _u(six, s, 38, 1)
            raim[r] = _u(six, s, 39, 1)
            lat[r], lon[r] = _latlon(six, s, 44, 62, 18, 17, 10000)
            sp27 = _u(six, s, 79, 6)
            co27 = _u(six, s, 85, 9)
            sog[r] = np.nan if sp27 == SOG27_NA else float(sp27)
            cog[r] = np.nan if co27 >= 360 else float(co27)
            heading[r] = np.nan
            second[r] = -1
            continue
        else:  # 18 and 19 share the layout up to the second
            nav_status[r] = -1
            rot_raw[r] = ROT_NA
            rot[r] = np.nan
            sp = _u(six, s, 46, 10)
            accuracy[r] = _u(six, s, 56, 1)
            lat[r], lon[r] = _latlon(six, s, 57, 85, 28, 27, 10)
            co = _u(six, s, 112, 12)
            hd = _u(six, s, 124, 9)
            second[r] = _u(six, s, 133, 6)
            raim[r] = _u(six, s, 147 if t == 18 else 305, 1)
        sog[r] = np.nan if sp == SOG_NA else sp / 10.0
        cog[r] = np.nan if co >= COG_NA else co / 10.0
        heading[r] = np.nan if hd >= 360 else float(hd)


@kernel
def statics(
    six,
    start,
    nbits,
    msg_type,
    idx,
    mmsi,
    part,
    imo,
    callsign,
    name,
    ship_type,
    dims,
    draught,
    destination,
    eta,
    ais_version,
    epfd,
    vendor_id,
    mothership,
):
    """Types 5, 24 (and the static half of 19) -> the Statics columns. Missing values are -1 / NaN.

    The text matrices must come zeroed: rows without a text are left untouched.
    """
    for r in range(idx.shape[0]):
        m = idx[r]
        s = start[m]
        nb = nbits[m]
        t = msg_type[m]
        mm = _u(six, s, 8, 30)
        mmsi[r] = mm
        part[r] = -1
        imo[r] = -1
        ship_type[r] = -1
        for k in range(4):
            dims[r, k] = -1
            eta[r, k] = -1
        draught[r] = np.nan
        ais_version[r] = -1
        epfd[r] = -1
        mothership[r] = -1
        if t == 5:
            ais_version[r] = _u(six, s, 38, 2)
            imo[r] = _u(six, s, 40, 30)
            _text(six, s, 70, 7, nb, callsign, r, 0)
            _text(six, s, 112, 20, nb, name, r, 0)
            ship_type[r] = _u(six, s, 232, 8)
            dims[r, 0] = _u(six, s, 240, 9)
            dims[r, 1] = _u(six, s, 249, 9)
            dims[r, 2] = _u(six, s, 258, 6)
            dims[r, 3] = _u(six, s, 264, 6)
            epfd[r] = _u(six, s, 270, 4)
            eta[r, 0] = _u(six, s, 274, 4)
            eta[r, 1] = _u(six, s, 278, 5)
            eta[r, 2] = _u(six, s, 283, 5)
            eta[r, 3] = _u(six, s, 288, 6)
            draught[r] = _u(six, s, 294, 8) / 10.0
            _text(six, s, 302, 20, nb, destination, r, 0)
        elif t == 19:
            _text(six, s, 143, 20, nb, name, r, 0)
            ship_type[r] = _u(six, s, 263, 8)
            dims[r, 0] = _u(six, s, 271, 9)
            dims[r, 1] = _u(six, s, 280, 9)
            dims[r, 2] = _u(six, s, 289, 6)
            dims[r, 3] = _u(six, s, 295, 6)
            epfd[r] = _u(six, s, 301, 4)
        else:  # 24
            pn = _u(six, s, 38, 2)
            part[r] = pn
            if pn == 0:
                _text(six, s, 40, 20, nb, name, r, 0)
            else:
                ship_type[r] = _u(six, s, 40, 8)
                _text(six, s, 48, 3, nb, vendor_id, r, 0)
                _text(six, s, 90, 7, nb, callsign, r, 0)
                if mm // 10000000 == AUXILIARY_PREFIX:
                    mothership[r] = _u(six, s, 132, 30)
                else:
                    dims[r, 0] = _u(six, s, 132, 9)
                    dims[r, 1] = _u(six, s, 141, 9)
                    dims[r, 2] = _u(six, s, 150, 6)
                    dims[r, 3] = _u(six, s, 156, 6)


@kernel
def events(
    six,
    start,
    nbits,
    msg_type,
    idx,
    mmsi,
    lat,
    lon,
    sog,
    cog,
    altitude,
    accuracy,
    raim,
    second,
    station_time,
    aid_type,
    off_position,
    virtual_aid,
    text_row,
    text,
):
    """Types 4, 9, 14, 21 and the header of every other type -> the Events columns; the text of a type 14 or 21 goes
    to row ``text_row[r]`` of ``text`` (which has rows for those messages only)."""
    for r in range(idx.shape[0]):
        m = idx[r]
        s = start[m]
        nb = nbits[m]
        t = msg_type[m]
        mmsi[r] = _u(six, s, 8, 30)
        lat[r] = np.nan
        lon[r] = np.nan
        sog[r] = np.nan
        cog[r] = np.nan
        altitude[r] = -1
        accuracy[r] = -1
        raim[r] = -1
        second[r] = -1
        station_time[r] = np.nan
        aid_type[r] = -1
        off_position[r] = -1
        virtual_aid[r] = -1
        if t == 4 or t == 11:
            y = _u(six, s, 38, 14)
            mo = _u(six, s, 52, 4)
            d = _u(six, s, 56, 5)
            h = _u(six, s, 61, 5)
            mi = _u(six, s, 66, 6)
            se = _u(six, s, 72, 6)
            if 1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and se < 60 and y > 0:
                station_time[r] = epoch_seconds(y, mo, d, h, mi, se)
            accuracy[r] = _u(six, s, 78, 1)
            lat[r], lon[r] = _latlon(six, s, 79, 107, 28, 27, 10)
            raim[r] = _u(six, s, 148, 1)
        elif t == 9:
            altitude[r] = _u(six, s, 38, 12)
            sp = _u(six, s, 50, 10)
            sog[r] = np.nan if sp == SOG_NA else float(sp)
            accuracy[r] = _u(six, s, 60, 1)
            lat[r], lon[r] = _latlon(six, s, 61, 89, 28, 27, 10)
            co = _u(six, s, 116, 12)
            cog[r] = np.nan if co >= COG_NA else co / 10.0
            second[r] = _u(six, s, 128, 6)
            raim[r] = _u(six, s, 147, 1)
        elif t == 14:
            _text(six, s, 40, min((nb - 40) // 6, text.shape[1]), nb, text, text_row[r], 0)
        elif t == 21:
            aid_type[r] = _u(six, s, 38, 5)
            n1 = _text(six, s, 43, 20, nb, text, text_row[r], 0)
            if nb > 272 and n1 == 20:  # name extension: up to 14 more characters, spaces after the name kept
                _text(six, s, 272, min((nb - 272) // 6, 14), nb, text, text_row[r], 20, False)
            accuracy[r] = _u(six, s, 163, 1)
            lat[r], lon[r] = _latlon(six, s, 164, 192, 28, 27, 10)
            second[r] = _u(six, s, 253, 6)
            off_position[r] = _u(six, s, 259, 1)
            raim[r] = _u(six, s, 268, 1)
            virtual_aid[r] = _u(six, s, 269, 1)
