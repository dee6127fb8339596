"""The sea-lane network of a region pack: lanes joined at named nodes, shortest routes, dense smoothed paths.

Lanes are drawn at sea in the pack, and every vessel that sails from node to node follows them, offset to
starboard by part of the lane's width (so that traffic in opposite directions keeps apart), with corners
rounded by :func:`geometry.smooth_path`.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from engine.geo.regions import RegionPack
from seawatch.simulator.geometry import offset, path_length_km, smooth_path

PATH_STEP_KM = 0.4  # spacing of the dense path: short enough that courses change smoothly between reports


@dataclass(frozen=True)
class Hop:
    lane: int
    forward: bool
    src: str
    dst: str


class LaneNetwork:
    def __init__(self, pack: RegionPack):
        self.pack = pack
        lanes = pack.lanes
        self.names = lanes.names
        self.traffic = [tuple(p.get("traffic", ())) for p in lanes.props]
        self.width = np.array([float(p.get("width_km", 1.0)) for p in lanes.props])
        self.speed = np.array([float(p.get("speed_kn", 99.0)) for p in lanes.props])
        self.ends = [
            (str(p.get("from", f"{n}:start")), str(p.get("to", f"{n}:end")))
            for n, p in zip(lanes.names, lanes.props, strict=True)
        ]
        self.dense = [smooth_path(*lanes.part(i), step_km=PATH_STEP_KM) for i in range(len(lanes))]
        self.length = np.array([path_length_km(*d)[-1] for d in self.dense])
        self.adj: dict[str, list[Hop]] = {}
        for i, (a, b) in enumerate(self.ends):
            self.adj.setdefault(a, []).append(Hop(i, True, a, b))
            self.adj.setdefault(b, []).append(Hop(i, False, b, a))

    def nodes(self, role: str) -> list[str]:
        """Nodes touched by a lane that ``role`` uses, sorted (for deterministic choices)."""
        return sorted({n for i, e in enumerate(self.ends) if role in self.traffic[i] for n in e})

    def sea_nodes(self, role: str) -> list[str]:
        return [n for n in self.nodes(role) if n.startswith("sea:")]

    def route(self, src: str, dst: str, role: str) -> list[Hop] | None:
        """Shortest route over the lanes that ``role`` uses (Dijkstra on lane length)."""
        best = {src: 0.0}
        prev: dict[str, Hop] = {}
        heap = [(0.0, src)]
        while heap:
            d, node = heapq.heappop(heap)
            if node == dst:
                break
            if d > best.get(node, np.inf):
                continue
            for hop in self.adj.get(node, []):
                if role not in self.traffic[hop.lane]:
                    continue
                nd = d + float(self.length[hop.lane])
                if nd < best.get(hop.dst, np.inf):
                    best[hop.dst] = nd
                    prev[hop.dst] = hop
                    heapq.heappush(heap, (nd, hop.dst))
        if dst not in prev and src != dst:
            return None
        hops: list[Hop] = []
        node = dst
        while node != src:
            hops.append(prev[node])
            node = prev[node].src
        return hops[::-1]

    def hop_path(self, hop: Hop, side: float) -> tuple[np.ndarray, np.ndarray]:
        """The dense path of one hop, ``side`` (0..1) of the half-width to starboard."""
        lat, lon = self.dense[hop.lane]
        if not hop.forward:
            lat, lon = lat[::-1], lon[::-1]
        return offset(lat, lon, side * self.width[hop.lane] / 2)

    def node_position(self, node: str) -> tuple[float, float]:
        for hop in self.adj[node]:
            lat, lon = self.dense[hop.lane]
            return (float(lat[0]), float(lon[0])) if hop.forward else (float(lat[-1]), float(lon[-1]))
        raise KeyError(node)  # pragma: no cover

    def place_kind(self, node: str) -> str | None:
        """The kind of the pack place named like ``node`` (port, terminal, anchorage, pilot), if any."""
        places = self.pack.places
        return str(places.kinds[places.index(node)]) if node in places.names else None

    def points(self, role: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Every dense point of the lanes (that ``role`` uses), for picking places at sea."""
        idx = [i for i in range(len(self.dense)) if role is None or role in self.traffic[i]]
        return (np.concatenate([self.dense[i][0] for i in idx]), np.concatenate([self.dense[i][1] for i in idx]))
