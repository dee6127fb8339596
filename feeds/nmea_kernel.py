"""Numba kernel that frames raw NMEA bytes into AIS messages.

One pass over a buffer of whole lines. Each sentence record (a line may hold more than one, tag block and
sentence repeated) ends in exactly one outcome counter: a single-part message, a part of a multi-part message,
a skipped line (blank, comment, other NMEA, Gatehouse wrapper) or a reject with its reason. Multi-part
messages are assembled in a bounded table of pending slots that lives in arrays owned by the caller, so
assembly continues across buffers (see :class:`feeds.framing.Framer`).
"""

from __future__ import annotations

import numpy as np

from feeds.jit import kernel

# Outcome counters: the index is the code used inside the kernel, the name is what users see.
OUTCOMES = (
    "message",  # a single-part AIS sentence, a message on its own
    "part",  # a part of a multi-part message that was completed
    "blank",
    "comment",
    "other_nmea",  # a valid-looking NMEA sentence that is not AIS (GPS, $BSALR, ...)
    "wrapper",  # $PGHP Gatehouse wrapper: its time applies to the next AIS sentence
    "not_nmea",  # anything else (JSON, text, truncated garbage)
    "bad_checksum",
    "malformed",  # wrong number or kind of fields, missing checksum, broken tag block
    "bad_payload_char",
    "bad_fill",
    "empty_payload",
    "payload_too_long",
    "bad_fragment",  # fragment number/count out of range
    "orphan_part",  # a part whose message never completed (expired, evicted, duplicated, end of input)
)
O_MESSAGE, O_PART, O_BLANK, O_COMMENT, O_OTHER, O_WRAPPER, O_NOT_NMEA, O_BAD_CHECKSUM = range(8)
O_MALFORMED, O_BAD_CHAR, O_BAD_FILL, O_EMPTY, O_TOO_LONG, O_BAD_FRAGMENT, O_ORPHAN = range(8, 15)

# Notes: things worth counting that do not decide the outcome of a record.
NOTES = ("tagblock_checksum_mismatch", "tagblock_without_checksum", "checksum_kept")
N_TAG_CHECKSUM, N_TAG_NO_CHECKSUM, N_CHECKSUM_KEPT = range(3)

MAX_PARTS = 9  # the fragment count is one digit
PART_CAP = 128  # bytes of payload one part may carry (NMEA caps a sentence at 82 characters)

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
MS_THRESHOLD = 1e11  # unix times above this are milliseconds (1e11 s is the year 5138)
T_MAX = 7289654400.0  # 2201-01-01: like epoch_seconds, no time after the year 2200 is believed

_BS = 92  # backslash
_STAR = 42
_COMMA = 44


@kernel
def _fnv(buf, s, e):
    h = FNV_OFFSET
    for i in range(s, e):
        h = (h ^ np.uint64(buf[i])) * FNV_PRIME
    if h == 0:
        h = np.uint64(1)  # 0 means "no source"
    return h


@kernel
def _next_comma(buf, i, e):
    """Index of the first comma in buf[i:e], or e."""
    while i < e and buf[i] != _COMMA:
        i += 1
    return i


@kernel
def _hexval(c):
    if 48 <= c <= 57:
        return c - 48
    if 65 <= c <= 70:
        return c - 55
    if 97 <= c <= 102:
        return c - 87
    return -1


@kernel
def _uint(buf, s, e):
    """Digits in buf[s:e] as an integer; -1 when empty or not all digits (or absurdly long)."""
    if e <= s or e - s > 18:
        return -1
    v = 0
    for i in range(s, e):
        c = buf[i]
        if c < 48 or c > 57:
            return -1
        v = v * 10 + (int(c) - 48)  # int(): uint8 arithmetic would wrap without the JIT (NUMBA_DISABLE_JIT=1)
    return v


@kernel
def _days_from_civil(y, m, d):
    # Howard Hinnant's algorithm: days since 1970-01-01 of a proleptic Gregorian date.
    y = y - 1 if m <= 2 else y
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@kernel
def epoch_seconds(y, mo, d, h, mi, s):
    if mo < 1 or mo > 12 or d < 1 or d > 31 or h > 23 or mi > 59 or s > 60 or y < 1970 or y > 2200:
        return np.nan
    return float(_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s)


@kernel
def _unix(v):
    """Unix seconds, or milliseconds above MS_THRESHOLD, as seconds; NaN outside 1970..2200 (a garbled time)."""
    if v > MS_THRESHOLD:
        v = v / 1000.0
    if v < 0.0 or v >= T_MAX:
        return np.nan
    return float(v)


@kernel
def _is_sep(c):
    return c == 32 or c == 9 or c == _COMMA or c == 59  # space, tab, comma, semicolon


@kernel
def _prefix_time(buf, s, e):
    """A unix-time or ISO-8601 prefix at buf[s:]: (time, index after the separator) or (nan, -1)."""
    if s + 10 <= e and buf[s + 4] == 45 and buf[s + 7] == 45:  # YYYY-MM-DD
        y = _uint(buf, s, s + 4)
        mo = _uint(buf, s + 5, s + 7)
        d = _uint(buf, s + 8, s + 10)
        i = s + 10
        h = 0
        mi = 0
        sec = 0
        frac = 0.0
        if i + 9 <= e and (buf[i] == 84 or buf[i] == 32) and buf[i + 3] == 58 and buf[i + 6] == 58:
            h = _uint(buf, i + 1, i + 3)
            mi = _uint(buf, i + 4, i + 6)
            sec = _uint(buf, i + 7, i + 9)
            i += 9
            if i < e and buf[i] == 46:  # fraction of a second
                i += 1
                scale = 0.1
                while i < e and 48 <= buf[i] <= 57:
                    frac += (buf[i] - 48) * scale
                    scale *= 0.1
                    i += 1
        if y < 0 or mo < 0 or d < 0 or h < 0 or mi < 0 or sec < 0:
            return np.nan, -1
        if i < e and buf[i] == 90:  # Z
            i += 1
        elif i + 6 <= e and buf[i] == 43 and buf[i + 1] == 48 and buf[i + 2] == 48:  # +00:00
            i += 6
        t = epoch_seconds(y, mo, d, h, mi, sec)
        if np.isnan(t) or i >= e or not _is_sep(buf[i]):
            return np.nan, -1
        while i < e and _is_sep(buf[i]):
            i += 1
        return t + frac, i
    # unix seconds (or milliseconds), optionally with a fraction
    i = s
    v = 0.0
    while i < e and 48 <= buf[i] <= 57:
        v = v * 10.0 + (buf[i] - 48)
        i += 1
    if i - s < 9:
        return np.nan, -1
    if i < e and buf[i] == 46:
        i += 1
        scale = 0.1
        while i < e and 48 <= buf[i] <= 57:
            v += (buf[i] - 48) * scale
            scale *= 0.1
            i += 1
    if i >= e or not _is_sep(buf[i]):
        return np.nan, -1
    while i < e and _is_sep(buf[i]):
        i += 1
    return _unix(v), i


@kernel
def _pghp_time(buf, s, star):
    """Time of a $PGHP,1,yyyy,mm,dd,hh,mi,ss,ms,... sentence; nan when not of that form."""
    vals = np.full(8, -1, np.int64)
    k = 0
    f0 = s + 6  # after "$PGHP,"
    i = f0
    while i <= star and k < 8:
        if i == star or buf[i] == _COMMA:
            vals[k] = _uint(buf, f0, i)
            k += 1
            f0 = i + 1
        i += 1
    if k < 8 or vals[0] != 1 or vals[7] > 999:
        return np.nan
    for j in range(1, 8):
        if vals[j] < 0:
            return np.nan
    t = epoch_seconds(vals[1], vals[2], vals[3], vals[4], vals[5], vals[6])
    return t + vals[7] / 1000.0


@kernel
def _escaped_eol(buf, s, e):
    """Length of a line ending spelled out as text at buf[s] ("\\r", "\\n", "\\x0d", "\\x0a"), else 0."""
    if s + 1 < e and (buf[s + 1] == 114 or buf[s + 1] == 110):
        return 2
    if s + 3 < e and buf[s + 1] == 120 and buf[s + 2] == 48 and (buf[s + 3] == 100 or buf[s + 3] == 97):
        return 4
    return 0


@kernel
def _evict(slot, st_used, st_mask, counts):
    m = st_mask[slot]
    n = 0
    while m:
        n += m & 1
        m >>= 1
    counts[O_ORPHAN] += n
    st_used[slot] = False
    st_mask[slot] = 0


@kernel
def frame(  # noqa: C901 - one pass, one loop, by design
    buf,
    n,
    keep_bad,
    line0,
    rec0,
    max_age,
    feed_time,
    st_used,
    st_group,
    st_src,
    st_chan,
    st_seq,
    st_count,
    st_mask,
    st_age,
    st_time,
    st_line,
    st_fill,
    st_plen,
    st_pool,
    st_hwm,
    st_pghp,
    out_pay,
    m_start,
    m_len,
    m_fill,
    m_time,
    m_src,
    m_chan,
    m_line,
    m_parts,
    r_src_hash,
    r_src_off,
    r_src_len,
    counts,
    notes,
):
    """Frame buf[:n] (whole lines). Returns (messages, payload bytes used, sources seen, lines, records)."""
    n_slots = st_used.shape[0]
    nm = 0
    pay = 0
    ns = 0
    rec = rec0
    line = line0
    p = 0
    while p < n:
        q = p
        while q < n and buf[q] != 10:
            q += 1
        le = q
        while le > p and (buf[le - 1] == 13 or buf[le - 1] == 32 or buf[le - 1] == 9):
            le -= 1
        s = p
        while s < le and (buf[s] == 32 or buf[s] == 9):
            s += 1
        cur_line = line
        line += 1
        p = q + 1
        if s >= le:
            counts[O_BLANK] += 1
            rec += 1
            continue
        if buf[s] == 35:  # '#'
            counts[O_COMMENT] += 1
            rec += 1
            continue
        prefix_time = np.nan
        if 48 <= buf[s] <= 57:
            prefix_time, k = _prefix_time(buf, s, le)
            if k < 0:
                counts[O_NOT_NMEA] += 1
                rec += 1
                continue
            s = k
        # one or more records on this line
        while s < le:
            rec += 1
            tag_time = np.nan
            src = np.uint64(0)
            src_off = 0
            src_len = 0
            gid = np.uint64(0)
            g_part = 0
            g_total = 0
            if buf[s] == _BS and _escaped_eol(buf, s, le) > 0:
                s += _escaped_eol(buf, s, le)  # a line ending written out as text ("\\r\\n", "\\x0a")
                rec -= 1
                continue
            if buf[s] == _BS:
                i = s + 1
                f0 = i
                cs = 0
                star = -1
                ok = True
                while i < le and buf[i] != _BS:
                    c = buf[i]
                    if star < 0:
                        if c == _STAR:
                            star = i
                        else:
                            cs ^= c
                    i += 1
                if i >= le:
                    counts[O_MALFORMED] += 1
                    break
                fields_end = star if star >= 0 else i
                if star >= 0:
                    if star + 3 != i or _hexval(buf[star + 1]) < 0 or _hexval(buf[star + 2]) < 0:
                        ok = False
                    elif _hexval(buf[star + 1]) * 16 + _hexval(buf[star + 2]) != cs:
                        notes[N_TAG_CHECKSUM] += 1
                else:
                    notes[N_TAG_NO_CHECKSUM] += 1
                # fields "k:v" separated by commas
                j = f0
                while ok and j < fields_end:
                    fe = j
                    while fe < fields_end and buf[fe] != _COMMA:
                        fe += 1
                    if fe - j >= 2 and buf[j + 1] == 58:  # ':'
                        key = buf[j]
                        if key == 99:  # c: unix time (s or ms)
                            v = _uint(buf, j + 2, fe)
                            if v >= 0:
                                tag_time = _unix(v)
                        elif key == 115:  # s: source station
                            if fe > j + 2:
                                src = _fnv(buf, j + 2, fe)
                                src_off = j + 2
                                src_len = fe - j - 2
                        elif key == 103:  # g: part-total-group id
                            d1 = j + 2
                            while d1 < fe and buf[d1] != 45:
                                d1 += 1
                            d2 = d1 + 1
                            while d2 < fe and buf[d2] != 45:
                                d2 += 1
                            if d2 < fe:
                                g_part = _uint(buf, j + 2, d1)
                                g_total = _uint(buf, d1 + 1, d2)
                                if 1 <= g_part <= g_total <= MAX_PARTS and d2 + 1 < fe:
                                    gid = _fnv(buf, d2 + 1, fe)
                    elif fe > j:
                        ok = False
                    j = fe + 1
                if not ok:
                    counts[O_MALFORMED] += 1
                    break
                s = i + 1
                if s >= le:
                    counts[O_MALFORMED] += 1  # a tag block with no sentence
                    break
            c0 = buf[s]
            if c0 != 33 and c0 != 36:  # '!' or '$'
                counts[O_NOT_NMEA] += 1
                break
            # the sentence runs to '*hh'
            star = -1
            cs = 0
            i = s + 1
            # one comparison per byte: this loop sees nearly every byte of the input
            while i < le and buf[i] != _STAR:
                cs ^= buf[i]
                i += 1
            if i < le:
                star = i
            if star < 0 or star + 3 > le:
                counts[O_MALFORMED] += 1
                break
            h1 = _hexval(buf[star + 1])
            h2 = _hexval(buf[star + 2])
            nxt = star + 3
            if h1 < 0 or h2 < 0 or (nxt < le and buf[nxt] != _COMMA and buf[nxt] != _BS and buf[nxt] != 33):
                counts[O_MALFORMED] += 1
                break
            good_cs = h1 * 16 + h2 == cs
            # trailing fields after the checksum: unix time (s or ms) and USCG station "r..."
            trail_time = np.nan
            while nxt < le and buf[nxt] == _COMMA:
                fs = nxt + 1
                fe = fs
                while fe < le and buf[fe] != _COMMA and buf[fe] != _BS:
                    fe += 1
                if np.isnan(trail_time) and (fe - fs == 10 or fe - fs == 13):
                    v = _uint(buf, fs, fe)
                    if v >= 0:
                        trail_time = _unix(v)
                if src == 0 and fe - fs >= 2 and buf[fs] == 114:  # 'r' + station id (may be 10 long, like a time)
                    src = _fnv(buf, fs + 1, fe)
                    src_off = fs + 1
                    src_len = fe - fs - 1
                nxt = fe
            rest = nxt
            ln = star - s
            is_ais = (
                ln >= 7
                and buf[s + 3] == 86  # V
                and buf[s + 4] == 68  # D
                and (buf[s + 5] == 77 or buf[s + 5] == 79)  # M or O
                and buf[s + 6] == _COMMA
            )
            is_pghp = (
                c0 == 36
                and ln >= 6
                and buf[s + 1] == 80
                and buf[s + 2] == 71
                and buf[s + 3] == 72
                and buf[s + 4] == 80
                and buf[s + 5] == _COMMA
            )
            s = rest
            if is_pghp:
                if good_cs:
                    st_pghp[0] = _pghp_time(buf, star - ln, star)
                    counts[O_WRAPPER] += 1
                else:
                    counts[O_BAD_CHECKSUM] += 1
                continue
            if not is_ais:
                counts[O_OTHER] += 1
                continue
            wrapper_time = st_pghp[0]
            st_pghp[0] = np.nan
            if not good_cs:
                if not keep_bad:
                    counts[O_BAD_CHECKSUM] += 1
                    continue
                notes[N_CHECKSUM_KEPT] += 1
            # fields: count, number, sequence id, channel, payload, fill (the six commas after the address)
            c1 = star - ln + 6
            c2 = _next_comma(buf, c1 + 1, star)
            c3 = _next_comma(buf, c2 + 1, star)
            c4 = _next_comma(buf, c3 + 1, star)
            c5 = _next_comma(buf, c4 + 1, star)
            # the payload is validated and copied to the output in the same pass that finds its end; a part
            # of a multi-part message is moved from there to its pending slot below
            k = c5 + 1
            w = pay
            bad = False
            while k < star:
                c = buf[k]
                if c == _COMMA:
                    break
                if c < 48 or c > 119 or (87 < c < 96):
                    bad = True
                out_pay[w] = c
                w += 1
                k += 1
            c6 = k
            if c6 >= star or _next_comma(buf, c6 + 1, star) < star:
                counts[O_MALFORMED] += 1
                continue
            count = _uint(buf, c1 + 1, c2)
            num = _uint(buf, c2 + 1, c3)
            seq = _uint(buf, c3 + 1, c4) if c4 > c3 + 1 else -1
            chan = buf[c4 + 1] if c5 == c4 + 2 else 0
            ps = c5 + 1
            pe = c6
            fill = _uint(buf, c6 + 1, star)
            if count < 0 or num < 0 or (c4 > c3 + 1 and seq < 0) or c5 > c4 + 2:
                counts[O_MALFORMED] += 1
                continue
            if count < 1 or count > MAX_PARTS or num < 1 or num > count:
                counts[O_BAD_FRAGMENT] += 1
                continue
            if fill < 0 or fill > 5:
                counts[O_BAD_FILL] += 1
                continue
            if pe <= ps:
                counts[O_EMPTY] += 1
                continue
            if bad:
                counts[O_BAD_CHAR] += 1
                continue
            # time: tag block, then Gatehouse wrapper, then line prefix, then trailing field, then feed clock
            t = tag_time
            if np.isnan(t):
                t = wrapper_time
            if np.isnan(t):
                t = prefix_time
            if np.isnan(t):
                t = trail_time
            if np.isnan(t):
                t = feed_time
            if src != 0 and ns < r_src_hash.shape[0]:
                r_src_hash[ns] = src
                r_src_off[ns] = src_off
                r_src_len[ns] = src_len
                ns += 1
            plen = pe - ps
            if count == 1:
                m_start[nm] = pay
                m_len[nm] = plen
                m_fill[nm] = fill
                m_time[nm] = t
                m_src[nm] = src
                m_chan[nm] = chan
                m_line[nm] = cur_line
                m_parts[nm] = 1
                nm += 1
                pay += plen
                counts[O_MESSAGE] += 1
                continue
            if plen > PART_CAP:
                counts[O_TOO_LONG] += 1
                continue
            # multi-part: find the pending slot of this message, expiring stale slots on the way
            use_group = gid != 0 and g_total == count
            chan_key = np.int64(chan)
            slot = -1
            free = -1
            hwm = st_hwm[0]
            for k in range(hwm):
                if not st_used[k]:
                    if free < 0:
                        free = k
                    continue
                if rec - st_age[k] > max_age:
                    _evict(k, st_used, st_mask, counts)
                    if free < 0:
                        free = k
                    continue
                if slot >= 0 or st_count[k] != count:
                    continue
                if use_group:
                    if st_group[k] == gid and st_chan[k] == chan_key and st_seq[k] == seq:
                        slot = k
                elif (
                    st_group[k] == 0
                    and st_chan[k] == chan_key
                    and st_seq[k] == seq
                    and (st_src[k] == src or src == 0 or st_src[k] == 0)
                ):
                    slot = k
            if slot >= 0 and (st_mask[slot] >> num) & 1:
                _evict(slot, st_used, st_mask, counts)  # a repeated part: the earlier message is broken
                if free < 0 or slot < free:
                    free = slot
                slot = -1
            if slot < 0:
                if free < 0:
                    if hwm < n_slots:
                        free = hwm
                        st_hwm[0] = hwm + 1
                    else:
                        oldest = 0
                        for k in range(n_slots):
                            if st_age[k] < st_age[oldest]:
                                oldest = k
                        _evict(oldest, st_used, st_mask, counts)
                        free = oldest
                slot = free
                st_used[slot] = True
                st_group[slot] = gid if use_group else np.uint64(0)
                st_src[slot] = src
                st_chan[slot] = chan_key
                st_seq[slot] = seq
                st_count[slot] = count
                st_mask[slot] = 0
                st_age[slot] = rec
                st_time[slot] = np.nan
                st_line[slot] = cur_line
                st_fill[slot] = 0
            st_pool[slot, num - 1, :plen] = out_pay[pay : pay + plen]
            st_plen[slot, num - 1] = plen
            st_mask[slot] |= 1 << num
            if np.isnan(st_time[slot]):
                st_time[slot] = t
            if st_src[slot] == 0:
                st_src[slot] = src
            if num == count:
                st_fill[slot] = fill
            full = ((1 << (count + 1)) - 1) ^ 1
            if st_mask[slot] == full:
                m_start[nm] = pay
                for k in range(count):
                    kl = st_plen[slot, k]
                    out_pay[pay : pay + kl] = st_pool[slot, k, :kl]
                    pay += kl
                m_len[nm] = pay - m_start[nm]
                m_fill[nm] = st_fill[slot]
                m_time[nm] = st_time[slot]
                m_src[nm] = st_src[slot]
                m_chan[nm] = st_chan[slot] & 0xFF
                m_line[nm] = st_line[slot]
                m_parts[nm] = count
                nm += 1
                counts[O_PART] += count
                st_used[slot] = False
                st_mask[slot] = 0
    return nm, pay, ns, line - line0, rec - rec0


@kernel
def flush_pending(st_used, st_mask, st_hwm, counts):
    """End of input: every pending part is an orphan."""
    for k in range(st_hwm[0]):
        if st_used[k]:
            _evict(k, st_used, st_mask, counts)
    st_hwm[0] = 0
