"""Numba kernels that join byte ranges framed on their own (:mod:`feeds.framing_ranges`): the parts each range
deferred go through the framer's pending table in input order (:func:`assemble`, as :func:`feeds.nmea_kernel.frame`
puts them), and the messages they complete are merged among the range's own (:func:`interleave`)."""

from __future__ import annotations

import numpy as np

from feeds.jit import kernel
from feeds.nmea_kernel import (
    O_PART,
    P_CHAN,
    P_COUNT,
    P_FILL,
    P_LEN,
    P_LINE,
    P_NUM,
    P_OFF,
    P_REC,
    P_SEQ,
    _emit_complete,
    _open_slot,
)


@kernel
def assemble(  # the deferred parts of one range, then the framer's pending table, then the completed messages
    part_i, part_h, part_t, n_parts, rec0, line0, part_pay, max_age,
    st_used, st_group, st_src, st_chan, st_seq, st_count, st_mask, st_age, st_time, st_line, st_fill, st_plen,
    st_pool, st_hwm, counts, out_pay, m_start, m_len, m_fill, m_time, m_src, m_chan, m_line, m_parts, m_rec,
):  # fmt: skip
    """The parts :func:`frame` deferred (records and lines counted from rec0 and line0), in input order, through
    the pending table as :func:`frame` puts them; each message completed is written to out_pay and row ``m_*``,
    with the record that completed it in ``m_rec``. Returns (messages, payload bytes)."""
    nm = 0
    pay = 0
    for j in range(n_parts):  # each part as frame() puts it in the pending table (the same lines, in the same order)
        rec = part_i[j, P_REC] + rec0
        count = part_i[j, P_COUNT]
        num = part_i[j, P_NUM]
        plen = part_i[j, P_LEN]
        slot = _open_slot(
            st_used, st_group, st_src, st_chan, st_seq, st_count, st_mask, st_age, st_time, st_line, st_fill, st_hwm,
            counts, rec, max_age, part_h[j, 0], part_h[j, 1], part_i[j, P_CHAN], part_i[j, P_SEQ], count, num,
            part_i[j, P_LINE] + line0,
        )  # fmt: skip
        off = part_i[j, P_OFF]
        st_pool[slot, num - 1, :plen] = part_pay[off : off + plen]
        st_plen[slot, num - 1] = plen
        st_mask[slot] |= 1 << num
        if np.isnan(st_time[slot]):
            st_time[slot] = part_t[j]
        if st_src[slot] == 0:
            st_src[slot] = part_h[j, 1]
        if num == count:
            st_fill[slot] = part_i[j, P_FILL]
        if st_mask[slot] == ((1 << (count + 1)) - 1) ^ 1:
            pay = _emit_complete(
                slot, count, st_pool, st_plen, st_fill, st_time, st_src, st_chan, st_line,
                out_pay, pay, nm, m_start, m_len, m_fill, m_time, m_src, m_chan, m_line, m_parts,
            )  # fmt: skip
            m_rec[nm] = rec
            nm += 1
            counts[O_PART] += count
            st_used[slot] = False
            st_mask[slot] = 0
    return nm, pay


@kernel
def interleave(  # a range's own messages, then those its parts completed, then where the merged rows go
    m_rec, rec0, line0, m_start, m_len, m_fill, m_time, m_src, m_chan, m_line, m_parts,
    a_rec, na, a_start, a_len, a_fill, a_time, a_src, a_chan, a_line, a_parts,
    o_start, o_len, o_fill, o_time, o_src, o_chan, o_line, o_parts,
):  # fmt: skip
    """The range's messages (records and lines counted from rec0 and line0) and the ``na`` messages its parts
    completed (records and lines already counted in full), merged in the order of the records that completed them
    (one record completes at most one message)."""
    i = 0
    j = 0
    for k in range(m_rec.shape[0] + na):
        if j < na and (i >= m_rec.shape[0] or a_rec[j] < m_rec[i] + rec0):
            o_start[k] = a_start[j]
            o_len[k] = a_len[j]
            o_fill[k] = a_fill[j]
            o_time[k] = a_time[j]
            o_src[k] = a_src[j]
            o_chan[k] = a_chan[j]
            o_line[k] = a_line[j]
            o_parts[k] = a_parts[j]
            j += 1
        else:
            o_start[k] = m_start[i]
            o_len[k] = m_len[i]
            o_fill[k] = m_fill[i]
            o_time[k] = m_time[i]
            o_src[k] = m_src[i]
            o_chan[k] = m_chan[i]
            o_line[k] = m_line[i] + line0
            o_parts[k] = m_parts[i]
            i += 1
