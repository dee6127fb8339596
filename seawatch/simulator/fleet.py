"""Who sails: vessel roles, their identities (MMSI, name, call sign, IMO, type, size) and their speeds.

Ship type codes and MMSI structure follow ITU-R M.1371 and M.585 (MID = the first three digits, allocated by
the ITU: 574 Viet Nam, 412-414 China, ...). Speeds and sizes are typical of the traffic of the Gulf of Tonkin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# role -> (AIS ship types, class A share, length m (lo, hi), draught m (lo, hi), cruise speed kn (lo, hi))
ROLES: dict[str, tuple[tuple[int, ...], float, tuple[int, int], tuple[float, float], tuple[float, float]]] = {
    "container": ((70, 71, 79), 1.0, (140, 300), (8.0, 13.5), (14.0, 19.0)),
    "cargo": ((70, 79), 1.0, (80, 190), (5.5, 9.5), (10.0, 13.5)),
    "bulk": ((70,), 1.0, (150, 230), (8.0, 12.5), (10.5, 13.0)),
    "tanker": ((80, 81, 82, 83, 84), 1.0, (60, 250), (4.5, 12.0), (10.0, 14.0)),
    "small_tanker": ((80, 81, 82), 1.0, (35, 75), (2.8, 4.8), (7.0, 10.0)),
    "ferry": ((60, 69), 1.0, (25, 60), (1.8, 3.0), (15.0, 26.0)),
    "tug": ((52,), 0.8, (22, 35), (3.0, 4.5), (8.0, 11.0)),
    "fishing": ((30,), 0.12, (12, 32), (1.5, 3.5), (7.0, 9.5)),
    "sart": ((0,), 1.0, (0, 0), (0.0, 0.0), (0.0, 0.0)),
    "pilot": ((50,), 1.0, (14, 22), (1.2, 2.0), (16.0, 22.0)),
    "bunker": ((80, 81, 82), 1.0, (30, 65), (2.5, 4.2), (6.0, 8.5)),  # harbour bunker barges (self-propelled)
}
# flags (MID) by where the vessel comes from; foreign merchant flags weighted like regional traffic
# fmt: off
MIDS = {
    "VN": (574,),
    "CN": (412, 413, 414),
    "FOREIGN": (351, 352, 353, 354, 355, 356, 357, 370, 371, 372, 373, 636, 538, 477, 563, 564, 565, 566, 440, 431,
                567, 525, 215, 229, 248, 249, 256, 209, 240, 241),
}
CALLSIGN_PREFIX = {574: "3W", 412: "BR", 413: "BQ", 414: "BS", 477: "VR", 563: "9V", 564: "9V", 565: "9V",
                   566: "9V", 636: "A8", 538: "V7", 440: "DS", 431: "JD", 567: "HS", 525: "PK"}
MERCHANT_PREFIX = ("EVER", "WAN HAI", "SITC", "KMTC", "HAIAN", "VIMC", "PACIFIC", "GREEN", "OCEAN", "GOLDEN",
                   "STAR", "SEA", "ORIENT", "NAVIOS", "GLORY", "HONG", "JIN", "XIN", "TRUONG", "VINASHIP")
MERCHANT_WORD = ("PEARL", "BRIGHT", "FORTUNE", "HARMONY", "LOTUS", "DRAGON", "PHOENIX", "VICTORY", "GRACE", "UNITY",
                 "SPIRIT", "WISDOM", "BLOSSOM", "HORIZON", "DIAMOND", "EMERALD", "SUNRISE", "ATLAS", "ORCHID")
VN_FISHING_PROVINCE = ("HP", "QN", "TH", "NA", "TB", "ND", "HT")  # Hai Phong, Quang Ninh, Thanh Hoa, Nghe An, ...
CN_FISHING_PREFIX = ("BEI HAI YU", "GUI FANG YU", "GUI BEI YU", "QIONG DONG FANG YU", "GUI QIN YU")
DESTINATIONS = {"VN": ("VNHPH", "HAIPHONG", "LACH HUYEN", "CAI LAN", "CAM PHA", "VN HPH"),
                "CN": ("CNFAN", "FANGCHENG", "BEIHAI", "CNBHY", "QINZHOU", "YANGPU"),
                "FOREIGN": ("HAIPHONG", "SINGAPORE", "HONG KONG", "ZHANJIANG", "DA NANG")}
# fmt: on


@dataclass(frozen=True)
class Vessel:
    """One identity as the vessel broadcasts it (several may share an MMSI: conflicts, changes)."""

    mmsi: int
    name: str
    callsign: str
    imo: int  # 0 when none (small craft, class B)
    ship_type: int
    ais_class: str  # "A" or "B"
    length: int
    beam: int
    draught: float
    role: str
    flag: str
    destination: str = ""
    injected: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def static_fields(self, draught: float | None = None) -> dict[str, Any]:
        """The fields of a type 5 (class A) message, for pyais's encoder."""
        bow = int(self.length * 0.8)
        port = self.beam // 2
        return {
            "type": 5,
            "mmsi": self.mmsi,
            "ais_version": 2,
            "imo": self.imo,
            "callsign": self.callsign,
            "shipname": self.name,
            "ship_type": self.ship_type,
            "to_bow": bow,
            "to_stern": self.length - bow,
            "to_port": port,
            "to_starboard": self.beam - port,
            "epfd": 1,
            "month": 6,
            "day": 3,
            "hour": 12,
            "minute": 0,
            "draught": round(self.draught if draught is None else draught, 1),
            "destination": self.destination,
            "dte": 0,
        }

    def class_b_fields(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The two parts of a type 24 (class B static data report): A (name) and B (type, call sign, size)."""
        bow = int(self.length * 0.8)
        port = self.beam // 2
        part_a = {"type": 24, "mmsi": self.mmsi, "partno": 0, "shipname": self.name}
        part_b = {
            "type": 24,
            "mmsi": self.mmsi,
            "partno": 1,
            "ship_type": self.ship_type,
            "vendorid": "SWS",
            "model": 1,
            "serial": self.mmsi % 1_000_000,
            "callsign": self.callsign,
            "to_bow": bow,
            "to_stern": self.length - bow,
            "to_port": port,
            "to_starboard": self.beam - port,
        }
        if self.mmsi // 10_000_000 == 98:  # 98XXXYYYY reads as an auxiliary craft: part B carries a mothership
            part_b = {k: v for k, v in part_b.items() if not k.startswith("to_")} | {"mothership_mmsi": 0}
        return part_a, part_b


class Registry:
    """Hands out unique MMSIs, IMO numbers and names, deterministically from one generator."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.used_mmsi: set[int] = set()
        self.used_names: set[str] = set()

    def mmsi(self, flag: str, prefix: int | None = None) -> int:
        while True:
            mid = int(self.rng.choice(MIDS[flag])) if prefix is None else prefix
            mmsi = mid * 1_000_000 + int(self.rng.integers(0, 1_000_000))
            if mmsi not in self.used_mmsi:
                self.used_mmsi.add(mmsi)
                return mmsi

    def imo(self) -> int:
        """A number with a valid IMO check digit (weights 7..2 on the first six digits)."""
        digits = [int(d) for d in str(int(self.rng.integers(900_000, 999_999)))]
        check = sum(d * w for d, w in zip(digits, range(7, 1, -1), strict=True)) % 10
        return int("".join(map(str, digits)) + str(check))

    def callsign(self, mmsi: int) -> str:
        prefix = CALLSIGN_PREFIX.get(mmsi // 1_000_000, "H" + chr(65 + int(self.rng.integers(0, 26))))
        letters = "".join(chr(65 + int(c)) for c in self.rng.integers(0, 26, 6 - len(prefix)))
        return prefix + letters

    def name(self, role: str, flag: str) -> str:
        for _ in range(1000):
            r = self.rng
            if role == "fishing" and flag == "VN":
                name = f"{r.choice(VN_FISHING_PROVINCE)} {r.integers(90000, 99999)} TS"
            elif role == "fishing":
                name = f"{r.choice(CN_FISHING_PREFIX)} {r.integers(10000, 99999)}"
            elif role == "tug":
                name = f"{r.choice(('HAI PHONG', 'TAN CANG', 'VIPCO', 'BEI GANG'))} TUG {r.integers(1, 60):02d}"
            elif role == "ferry":
                name = f"{r.choice(('CAT BA', 'BACH LONG VI', 'BEI BU WAN', 'HAI AN'))} EXPRESS {r.integers(1, 30)}"
            elif role == "pilot":
                name = f"{r.choice(('HAI PHONG', 'QUANG NINH', 'VN'))} PILOT {r.integers(1, 40):02d}"
            elif role in ("small_tanker", "bunker"):
                name = (
                    f"{r.choice(('PETRO', 'HAI LINH', 'MINH TUAN', 'THANH DAT', 'NAM VIET'))} {r.integers(1, 99):02d}"
                )
            else:
                name = f"{r.choice(MERCHANT_PREFIX)} {r.choice(MERCHANT_WORD)}"
                if r.random() < 0.5:
                    name += f" {r.integers(1, 30)}"
            if name not in self.used_names and len(name) <= 20:
                self.used_names.add(name)
                return name
        raise RuntimeError("the name generator ran out of names")  # pragma: no cover

    def vessel(self, role: str, flag: str, injected: bool = False, mmsi: int | None = None) -> Vessel:
        types, class_a, length, draught, _ = ROLES[role]
        r = self.rng
        ais_class = "A" if r.random() < class_a else "B"
        mmsi = self.mmsi(flag) if mmsi is None else mmsi
        size = int(r.integers(length[0], length[1] + 1))
        return Vessel(
            mmsi=mmsi,
            name=self.name(role, flag),
            callsign=self.callsign(mmsi),
            imo=self.imo() if ais_class == "A" and role not in ("fishing", "tug", "pilot", "bunker") else 0,
            ship_type=int(r.choice(types)),
            ais_class=ais_class,
            length=size,
            beam=max(4, int(size * r.uniform(0.14, 0.18))),
            draught=round(float(r.uniform(*draught)), 1),
            role=role,
            flag=flag,
            destination=str(r.choice(DESTINATIONS[flag])) if role not in ("fishing", "tug", "pilot", "bunker") else "",
            injected=injected,
        )


def cruise_speed(role: str, rng: np.random.Generator) -> float:
    lo, hi = ROLES[role][4]
    return float(rng.uniform(lo, hi))
