"""Numba kernel that frames raw NMEA bytes into AIS messages.

One pass over a buffer of whole lines. Each sentence record (a line may hold more than one, tag block and
sentence repeated) ends in exactly one outcome counter: a single-part message, a part of a multi-part message,
a skipped line (blank, comment, other NMEA, Gatehouse wrapper) or a reject with its reason. Multi-part
messages are assembled in a bounded table of pending slots that lives in arrays owned by the caller, so
assembly continues across buffers (see :class:`feeds.framing.Framer`). A byte range framed on its own, in any
thread (:mod:`feeds.framing_ranges`), defers its parts instead: :mod:`feeds.ranges_kernel` puts them through the
table later, range after range in input order, and merges the messages they complete among the range's own.
"""

from __future__ import annotations

import numpy as np

from feeds.jit import kernel
from feeds.nmea_fields import (
    BACKSLASH,
    COMMA,
    STAR,
    escaped_eol,
    fnv,
    hexval,
    parse_pghp_time,
    parse_prefix_time,
    parse_uint,
    unix_seconds,
)

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
    "line_too_long",  # a line past the framer's max_line bytes (a feed that never sends a newline): dropped whole
)
O_MESSAGE, O_PART, O_BLANK, O_COMMENT, O_OTHER, O_WRAPPER, O_NOT_NMEA, O_BAD_CHECKSUM = range(8)
O_MALFORMED, O_BAD_CHAR, O_BAD_FILL, O_EMPTY, O_TOO_LONG, O_BAD_FRAGMENT, O_ORPHAN, O_LINE_TOO_LONG = range(8, 16)

# Notes: things worth counting that do not decide the outcome of a record.
NOTES = ("tagblock_checksum_mismatch", "tagblock_without_checksum", "checksum_kept")
N_TAG_CHECKSUM, N_TAG_NO_CHECKSUM, N_CHECKSUM_KEPT = range(3)

MAX_PARTS = 9  # the fragment count is one digit
PART_CAP = 128  # bytes of payload one part may carry (NMEA caps a sentence at 82 characters)


# Deferred parts (``frame(defer=True)``, framing a byte range on its own): each part of a multi-part message is kept
# as a row of ``part_i`` (these columns), ``part_h`` (group id and source hashes) and ``part_t`` (its time), its
# payload left in the output buffer, for :func:`feeds.ranges_kernel.assemble` to put together in input order with
# the framer's state.
P_REC, P_LINE, P_OFF, P_LEN, P_COUNT, P_NUM, P_SEQ, P_CHAN, P_FILL = range(9)
P_COLUMNS = 9
# What a range tells about the Gatehouse wrapper ($PGHP) state it would hand on and take in: ``info`` slots.
I_FIRST_KIND, I_FIRST_INDEX, I_FIRST_TAKES, I_ANY_AIS, I_ANY_WRAPPER, I_PARTS = range(6)
FIRST_NONE, FIRST_REJECTED, FIRST_MESSAGE, FIRST_PART = range(4)  # what the range's first AIS sentence became
INFO_SIZE = 6


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
def _emit_complete(  # a pending slot whose parts are all in, written out as message row ``nm``
    slot, count, st_pool, st_plen, st_fill, st_time, st_src, st_chan, st_line,
    out_pay, pay, nm, m_start, m_len, m_fill, m_time, m_src, m_chan, m_line, m_parts,
):  # fmt: skip
    """The payload of ``slot``'s ``count`` parts joined at ``out_pay[pay:]`` and its row ``nm`` of ``m_*`` filled
    in; returns where the next payload goes."""
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
    return pay


@kernel
def _open_slot(  # the pending table is a struct of arrays
    st_used, st_group, st_src, st_chan, st_seq, st_count, st_mask, st_age, st_time, st_line, st_fill, st_hwm,
    counts, rec, max_age, gid, src, chan_key, seq, count, num, cur_line,
):  # fmt: skip
    """The pending slot this part belongs to, opened if needed; stale slots expire on the way.

    ``gid`` is the tag-block group id (0 when the part is keyed by source, channel and sequence id instead).
    A repeated part evicts the broken message that holds it; a full table evicts its oldest message.
    """
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
        if gid != 0:
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
            if hwm < st_used.shape[0]:
                free = hwm
                st_hwm[0] = hwm + 1
            else:
                oldest = 0
                for k in range(st_used.shape[0]):
                    if st_age[k] < st_age[oldest]:
                        oldest = k
                _evict(oldest, st_used, st_mask, counts)
                free = oldest
        slot = free
        st_used[slot] = True
        st_group[slot] = gid
        st_src[slot] = src
        st_chan[slot] = chan_key
        st_seq[slot] = seq
        st_count[slot] = count
        st_mask[slot] = 0
        st_age[slot] = rec
        st_time[slot] = np.nan
        st_line[slot] = cur_line
        st_fill[slot] = 0
    return slot


@kernel
def frame(  # noqa: C901 - one pass, one loop, by design
    buf,
    n,
    keep_bad,
    max_line,
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
    defer,
    m_rec,
    part_i,
    part_h,
    part_t,
    info,
):
    """Frame buf[:n] (whole lines). Returns (messages, payload bytes used, sources seen, lines, records).

    With ``defer``, the parts of multi-part messages are not assembled but written to ``part_i``/``part_h``/
    ``part_t`` (``info[I_PARTS]`` of them), each message's record to ``m_rec``, and ``info`` says how this range
    met the $PGHP wrapper state (see :mod:`feeds.framing_ranges`); the pending table is not touched."""
    nm = 0
    pay = 0
    ns = 0
    recent = np.zeros(16, np.uint64)  # sources recorded lately, by hash: a feed has few stations, named again and again
    rec = rec0
    line = line0
    p = 0
    n_parts = 0
    info[I_FIRST_KIND] = FIRST_NONE
    info[I_ANY_AIS] = 0
    info[I_ANY_WRAPPER] = 0
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
        too_long = q - p > max_line
        p = q + 1
        if too_long:  # as the framer drops a line cut across chunks that grew past max_line: stream = batch
            counts[O_LINE_TOO_LONG] += 1
            rec += 1
            continue
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
            prefix_time, k = parse_prefix_time(buf, s, le)
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
            if buf[s] == BACKSLASH and escaped_eol(buf, s, le) > 0:
                s += escaped_eol(buf, s, le)  # a line ending written out as text ("\\r\\n", "\\x0a")
                rec -= 1
                continue
            if buf[s] == BACKSLASH:
                i = s + 1
                f0 = i
                cs = 0
                star = -1
                ok = True
                while i < le and buf[i] != BACKSLASH:
                    c = buf[i]
                    if star < 0:
                        if c == STAR:
                            star = i
                        else:
                            cs ^= c
                    i += 1
                if i >= le:
                    counts[O_MALFORMED] += 1
                    break
                fields_end = star if star >= 0 else i
                if star >= 0:
                    if star + 3 != i or hexval(buf[star + 1]) < 0 or hexval(buf[star + 2]) < 0:
                        ok = False
                    elif hexval(buf[star + 1]) * 16 + hexval(buf[star + 2]) != cs:
                        notes[N_TAG_CHECKSUM] += 1
                else:
                    notes[N_TAG_NO_CHECKSUM] += 1
                # fields "k:v" separated by commas
                j = f0
                while ok and j < fields_end:
                    fe = j
                    while fe < fields_end and buf[fe] != COMMA:
                        fe += 1
                    if fe - j >= 2 and buf[j + 1] == 58:  # ':'
                        key = buf[j]
                        if key == 99:  # c: unix time (s or ms)
                            v = parse_uint(buf, j + 2, fe)
                            if v >= 0:
                                tag_time = unix_seconds(v)
                        elif key == 115:  # s: source station
                            if fe > j + 2:
                                src = fnv(buf, j + 2, fe)
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
                                g_part = parse_uint(buf, j + 2, d1)
                                g_total = parse_uint(buf, d1 + 1, d2)
                                if 1 <= g_part <= g_total <= MAX_PARTS and d2 + 1 < fe:
                                    gid = fnv(buf, d2 + 1, fe)
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
            # One pass to the '*' finds the checksum, the commas after the address (count, number, sequence id,
            # channel, payload, fill) and validates and copies the payload (the fifth field) to the output; these
            # loops see nearly every byte of the input. A part of a multi-part message is moved from the output
            # to its pending slot below; what a sentence that is not AIS leaves there is overwritten.
            star = -1
            cs = 0
            i = s + 1
            commas = 0
            c2 = c3 = c4 = c5 = c6 = -1
            w = pay
            bad = False
            while i < le:  # the address and the fields before the payload
                c = buf[i]
                if c == STAR:
                    break
                cs ^= c
                if c == COMMA:
                    commas += 1
                    if commas == 2:
                        c2 = i
                    elif commas == 3:
                        c3 = i
                    elif commas == 4:
                        c4 = i
                    elif commas == 5:
                        c5 = i
                        i += 1
                        break
                i += 1
            if commas == 5:
                while i < le:  # the payload, most of the bytes: a loop of its own, without the comma count
                    c = buf[i]
                    if c == COMMA or c == STAR:  # noqa: PLR1714, SIM109 - two compares, no tuple, in the hot loop
                        break
                    cs ^= c
                    if c < 48 or c > 119 or (87 < c < 96):
                        bad = True
                    out_pay[w] = c
                    w += 1
                    i += 1
                while i < le:  # the fill bits and anything after them, to the '*'
                    c = buf[i]
                    if c == STAR:
                        break
                    cs ^= c
                    if c == COMMA:
                        commas += 1
                        if commas == 6:
                            c6 = i
                    i += 1
            if i < le:
                star = i
            if star < 0 or star + 3 > le:
                counts[O_MALFORMED] += 1
                break
            h1 = hexval(buf[star + 1])
            h2 = hexval(buf[star + 2])
            nxt = star + 3
            if h1 < 0 or h2 < 0 or (nxt < le and buf[nxt] != COMMA and buf[nxt] != BACKSLASH and buf[nxt] != 33):
                counts[O_MALFORMED] += 1
                break
            good_cs = h1 * 16 + h2 == cs
            # trailing fields after the checksum: unix time (s or ms) and USCG station "r..."
            trail_time = np.nan
            while nxt < le and buf[nxt] == COMMA:
                fs = nxt + 1
                fe = fs
                while fe < le and buf[fe] != COMMA and buf[fe] != BACKSLASH:
                    fe += 1
                if np.isnan(trail_time) and (fe - fs == 10 or fe - fs == 13):
                    v = parse_uint(buf, fs, fe)
                    if v >= 0:
                        trail_time = unix_seconds(v)
                if src == 0 and fe - fs >= 2 and buf[fs] == 114:  # 'r' + station id (may be 10 long, like a time)
                    src = fnv(buf, fs + 1, fe)
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
                and buf[s + 6] == COMMA
            )
            is_pghp = (
                c0 == 36
                and ln >= 6
                and buf[s + 1] == 80
                and buf[s + 2] == 71
                and buf[s + 3] == 72
                and buf[s + 4] == 80
                and buf[s + 5] == COMMA
            )
            s = rest
            if is_pghp:
                if good_cs:
                    st_pghp[0] = parse_pghp_time(buf, star - ln, star)
                    info[I_ANY_WRAPPER] = 1
                    counts[O_WRAPPER] += 1
                else:
                    counts[O_BAD_CHECKSUM] += 1
                continue
            if not is_ais:
                counts[O_OTHER] += 1
                continue
            wrapper_time = st_pghp[0]
            st_pghp[0] = np.nan
            first = info[I_ANY_AIS] == 0  # the range's first AIS sentence: a wrapper pending before the range times it
            if first:
                info[I_ANY_AIS] = 1
                info[I_FIRST_KIND] = FIRST_REJECTED
                info[I_FIRST_TAKES] = np.isnan(tag_time) and info[I_ANY_WRAPPER] == 0  # a wrapper handed in
            if not good_cs:
                if not keep_bad:
                    counts[O_BAD_CHECKSUM] += 1
                    continue
                notes[N_CHECKSUM_KEPT] += 1
            c1 = star - ln + 6  # the comma after "!AIVDM"
            if commas != 6:
                counts[O_MALFORMED] += 1
                continue
            count = parse_uint(buf, c1 + 1, c2)
            num = parse_uint(buf, c2 + 1, c3)
            seq = parse_uint(buf, c3 + 1, c4) if c4 > c3 + 1 else -1
            chan = buf[c4 + 1] if c5 == c4 + 2 else 0
            ps = c5 + 1
            pe = c6
            fill = parse_uint(buf, c6 + 1, star)
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
            if src != 0 and recent[src & np.uint64(15)] != src and ns < r_src_hash.shape[0]:
                recent[src & np.uint64(15)] = src
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
                if defer:
                    m_rec[nm] = rec
                if first:
                    info[I_FIRST_KIND] = FIRST_MESSAGE
                    info[I_FIRST_INDEX] = nm
                nm += 1
                pay += plen
                counts[O_MESSAGE] += 1
                continue
            if plen > PART_CAP:
                counts[O_TOO_LONG] += 1
                continue
            key = gid if gid != 0 and g_total == count else np.uint64(0)  # by tag-block group, else by sequence id
            chan_key = np.int64(chan)
            if defer:  # assembled later, in input order, with the framer's state
                part_i[n_parts, P_REC] = rec
                part_i[n_parts, P_LINE] = cur_line
                part_i[n_parts, P_OFF] = pay
                part_i[n_parts, P_LEN] = plen
                part_i[n_parts, P_COUNT] = count
                part_i[n_parts, P_NUM] = num
                part_i[n_parts, P_SEQ] = seq
                part_i[n_parts, P_CHAN] = chan
                part_i[n_parts, P_FILL] = fill
                part_h[n_parts, 0] = key
                part_h[n_parts, 1] = src
                part_t[n_parts] = t
                if first:
                    info[I_FIRST_KIND] = FIRST_PART
                    info[I_FIRST_INDEX] = n_parts
                n_parts += 1
                pay += plen
                continue
            # find the pending slot of this message, expiring stale slots on the way (as ranges_kernel.assemble does)
            slot = _open_slot(
                st_used, st_group, st_src, st_chan, st_seq, st_count, st_mask, st_age, st_time, st_line, st_fill,
                st_hwm, counts, rec, max_age, key, src, chan_key, seq, count, num, cur_line,
            )  # fmt: skip
            st_pool[slot, num - 1, :plen] = out_pay[pay : pay + plen]
            st_plen[slot, num - 1] = plen
            st_mask[slot] |= 1 << num
            if np.isnan(st_time[slot]):
                st_time[slot] = t
            if st_src[slot] == 0:
                st_src[slot] = src
            if num == count:
                st_fill[slot] = fill
            if st_mask[slot] == ((1 << (count + 1)) - 1) ^ 1:
                pay = _emit_complete(
                    slot, count, st_pool, st_plen, st_fill, st_time, st_src, st_chan, st_line,
                    out_pay, pay, nm, m_start, m_len, m_fill, m_time, m_src, m_chan, m_line, m_parts,
                )  # fmt: skip
                nm += 1
                counts[O_PART] += count
                st_used[slot] = False
                st_mask[slot] = 0
    info[I_PARTS] = n_parts
    return nm, pay, ns, line - line0, rec - rec0


@kernel
def first_newline(buf):
    """Index of the first line feed in ``buf``, or -1."""
    for i in range(buf.shape[0]):
        if buf[i] == 10:
            return i
    return -1


@kernel
def last_newline(buf):
    """Index of the last line feed in ``buf``, or -1."""
    for i in range(buf.shape[0] - 1, -1, -1):
        if buf[i] == 10:
            return i
    return -1


@kernel
def flush_pending(st_used, st_mask, st_hwm, counts):
    """End of input: every pending part is an orphan."""
    for k in range(st_hwm[0]):
        if st_used[k]:
            _evict(k, st_used, st_mask, counts)
    st_hwm[0] = 0
