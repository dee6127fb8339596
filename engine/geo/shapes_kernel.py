"""Numba kernels for zones and borders: point in polygon (with holes) and distance from points to polylines.

Polygons are tested in the plane of longitude and latitude, as GeoJSON draws them (edges are straight in
degrees), with the even-odd rule over all rings of a polygon, so holes need no special case. An edge counts
for a point when it spans the point's latitude half-open (``(y1 > y) != (y2 > y)``): a point on an edge or
vertex is inside for some edges and outside for others, but always the same for the same input.

Distances to polylines are exact on the sphere: each segment is the great-circle arc between its vertices,
and the nearest point is either the foot of the perpendicular on the arc or an end of the arc.
"""

from __future__ import annotations

import numpy as np

from feeds.jit import kernel

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius, as engine.geo.land
MIN_NORMAL = 1e-12  # |a x b| below this (6 micrometres on the Earth) makes a segment a point


@kernel
def _crossings(x, y, ex1, ey1, ex2, ey2, edges, lo, hi):
    """Parity of the edges edges[lo:hi] crossed by the ray from (x, y) towards +x."""
    inside = False
    for k in range(lo, hi):
        e = edges[k]
        y1 = ey1[e]
        y2 = ey2[e]
        if (y1 > y) != (y2 > y):
            x1 = ex1[e]
            xint = x1 + (y - y1) * (ex2[e] - x1) / (y2 - y1)
            if x < xint:
                inside = not inside
    return inside


@kernel
def box_x(x, y, miny, maxy, minx, maxx):
    """``x`` moved by 360 degrees into [minx, maxx] if that puts (x, y) in the box, else NaN (also for NaN)."""
    if not (y >= miny and y <= maxy):
        return np.nan
    if x < minx and x + 360.0 <= maxx:  # a polygon drawn across the antimeridian (longitudes past 180)
        x += 360.0
    elif x > maxx and x - 360.0 >= minx:
        x -= 360.0
    if x >= minx and x <= maxx:
        return x
    return np.nan


@kernel
def in_polygon(x, y, p, bbox, ex1, ey1, ex2, ey2, slab_first, slab_edge_start, slab_edges):
    """Whether (x = lon, y = lat) lies in polygon ``p`` (bounding box first, then its latitude slab)."""
    bx = box_x(x, y, bbox[p, 1], bbox[p, 3], bbox[p, 0], bbox[p, 2])
    if np.isnan(bx):
        return False
    return _in_slab(bx, y, p, bbox, ex1, ey1, ex2, ey2, slab_first, slab_edge_start, slab_edges)


@kernel
def _in_slab(x, y, p, bbox, ex1, ey1, ex2, ey2, slab_first, slab_edge_start, slab_edges):
    s0 = slab_first[p]
    s = _slab(y, bbox[p, 1], bbox[p, 3], slab_first[p + 1] - s0)
    return _crossings(x, y, ex1, ey1, ex2, ey2, slab_edges, slab_edge_start[s0 + s], slab_edge_start[s0 + s + 1])


@kernel
def _slab(y, miny, maxy, n_slabs):
    """The latitude slab of ``y`` among ``n_slabs`` equal slabs of [miny, maxy] (monotone in y)."""
    if maxy <= miny:
        return 0
    s = int((y - miny) / (maxy - miny) * n_slabs)
    return min(max(s, 0), n_slabs - 1)


@kernel
def slab_counts(ey1, ey2, edge_poly, bbox, slab_first, counts):
    """How many edges touch each slab (an edge is listed in every slab its latitude range meets)."""
    for e in range(ey1.shape[0]):
        p = edge_poly[e]
        n = slab_first[p + 1] - slab_first[p]
        a = _slab(min(ey1[e], ey2[e]), bbox[p, 1], bbox[p, 3], n)
        b = _slab(max(ey1[e], ey2[e]), bbox[p, 1], bbox[p, 3], n)
        for s in range(a, b + 1):
            counts[slab_first[p] + s] += 1


@kernel
def slab_fill(ey1, ey2, edge_poly, bbox, slab_first, slab_edge_start, slab_edges):
    fill = slab_edge_start[:-1].copy()
    for e in range(ey1.shape[0]):
        p = edge_poly[e]
        n = slab_first[p + 1] - slab_first[p]
        a = _slab(min(ey1[e], ey2[e]), bbox[p, 1], bbox[p, 3], n)
        b = _slab(max(ey1[e], ey2[e]), bbox[p, 1], bbox[p, 3], n)
        for s in range(a, b + 1):
            k = slab_first[p] + s
            slab_edges[fill[k]] = e
            fill[k] += 1


@kernel
def contains_many(bbox, ex1, ey1, ex2, ey2, slab_first, slab_edge_start, slab_edges, lat, lon, out):
    """out[i, p]: whether point i lies in polygon p. (The box test stays in this loop: a call that passes
    every array costs more than the test.)"""
    for i in range(lat.shape[0]):
        for p in range(bbox.shape[0]):
            x = box_x(lon[i], lat[i], bbox[p, 1], bbox[p, 3], bbox[p, 0], bbox[p, 2])
            if not np.isnan(x):
                out[i, p] = _in_slab(x, lat[i], p, bbox, ex1, ey1, ex2, ey2, slab_first, slab_edge_start,
                                     slab_edges)  # fmt: skip


@kernel
def first_polygon_many(bbox, ex1, ey1, ex2, ey2, slab_first, slab_edge_start, slab_edges, lat, lon, out):
    """out[i]: the first polygon that holds point i, or -1."""
    for i in range(lat.shape[0]):
        out[i] = -1
        for p in range(bbox.shape[0]):
            x = box_x(lon[i], lat[i], bbox[p, 1], bbox[p, 3], bbox[p, 0], bbox[p, 2])
            if not np.isnan(x) and _in_slab(x, lat[i], p, bbox, ex1, ey1, ex2, ey2, slab_first, slab_edge_start,
                                            slab_edges):  # fmt: skip
                out[i] = p
                break


@kernel
def unit_vector(lat, lon):
    la = np.radians(lat)
    lo = np.radians(lon)
    c = np.cos(la)
    return c * np.cos(lo), c * np.sin(lo), np.sin(la)


@kernel
def segment_chord2(px, py, pz, seg, k):
    """Squared chord from p to the nearest point of great-circle arc k. ``seg`` rows hold a, b, the unit
    normal n = a x b / |a x b|, n x a and b x n (15 numbers), and a flag: 1 when the arc has a normal."""
    ax, ay, az = seg[k, 0], seg[k, 1], seg[k, 2]
    bx, by, bz = seg[k, 3], seg[k, 4], seg[k, 5]
    da = (px - ax) ** 2 + (py - ay) ** 2 + (pz - az) ** 2
    db = (px - bx) ** 2 + (py - by) ** 2 + (pz - bz) ** 2
    best = min(da, db)
    if seg[k, 15] > 0.0:
        # p projects inside the arc when it lies on b's side of a and on a's side of b
        after_a = px * seg[k, 9] + py * seg[k, 10] + pz * seg[k, 11]
        before_b = px * seg[k, 12] + py * seg[k, 13] + pz * seg[k, 14]
        if after_a >= 0.0 and before_b >= 0.0:
            s = px * seg[k, 6] + py * seg[k, 7] + pz * seg[k, 8]  # sine of the cross-track angle
            c = np.sqrt(max(1.0 - s * s, 0.0))
            best = min(best, 2.0 * s * s / (1.0 + c))  # 2 - 2 cos, without cancellation
    return best


@kernel
def polyline_km_many(seg, lat, lon, out):
    """out[i]: great-circle distance in km from point i to the nearest arc of ``seg`` (NaN for NaN)."""
    for i in range(lat.shape[0]):
        if not (np.isfinite(lat[i]) and np.isfinite(lon[i])):
            out[i] = np.nan
            continue
        px, py, pz = unit_vector(lat[i], lon[i])
        best = np.inf
        for k in range(seg.shape[0]):
            best = min(best, segment_chord2(px, py, pz, seg, k))
        out[i] = 2.0 * EARTH_RADIUS_KM * np.arcsin(min(np.sqrt(best) / 2.0, 1.0))


@kernel
def segment_table(lat, lon, part_start, seg):
    """The rows of ``seg`` (see segment_chord2) for every consecutive pair of vertices within each part."""
    k = 0
    for part in range(part_start.shape[0] - 1):
        for v in range(part_start[part], part_start[part + 1] - 1):
            ax, ay, az = unit_vector(lat[v], lon[v])
            bx, by, bz = unit_vector(lat[v + 1], lon[v + 1])
            nx = ay * bz - az * by
            ny = az * bx - ax * bz
            nz = ax * by - ay * bx
            norm = np.sqrt(nx * nx + ny * ny + nz * nz)
            seg[k, 0], seg[k, 1], seg[k, 2] = ax, ay, az
            seg[k, 3], seg[k, 4], seg[k, 5] = bx, by, bz
            if norm > MIN_NORMAL:
                nx /= norm
                ny /= norm
                nz /= norm
                seg[k, 6], seg[k, 7], seg[k, 8] = nx, ny, nz
                seg[k, 9], seg[k, 10], seg[k, 11] = ny * az - nz * ay, nz * ax - nx * az, nx * ay - ny * ax
                seg[k, 12], seg[k, 13], seg[k, 14] = by * nz - bz * ny, bz * nx - bx * nz, bx * ny - by * nx
                seg[k, 15] = 1.0
            else:  # a zero-length (or antipodal) segment: only its ends count
                seg[k, 6:15] = 0.0
                seg[k, 15] = 0.0
            k += 1
