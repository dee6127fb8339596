"""``seawatch simulate``'s feed: every line decodes (ours and pyais), tag blocks and checksums are valid, lines
are in time order, our six-bit packer writes what pyais's encoder writes, the same seed gives the same bytes,
a day of 300 vessels takes well under a minute, and the command writes its files."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pyais
import pytest
from pyais.stream import ByteStream

from feeds.framing import Framer
from seawatch.cli import main
from seawatch.simulator.config import SimConfig
from seawatch.simulator.nmea import TYPE1, TYPE4, TYPE18, base_station_fields, message_lines, pack
from seawatch.simulator.scenario import KINDS, simulate

TAG = re.compile(
    rb"^\\((?:g:(\d)-(\d)-(\d+),)?s:([A-Za-z0-9_-]+),c:(\d{10}))\*([0-9A-F]{2})\\(!AIVDM,[^*]*)\*([0-9A-F]{2})$"
)


def xor(data: bytes) -> int:
    cs = 0
    for c in data:
        cs ^= c
    return cs


def test_every_line_decodes_with_our_decoder(day):
    feed = day.scenario.feed
    framer = Framer()
    framer.feed(feed, final=True)
    counts = {k: v for k, v in framer.counts.items() if v}
    assert set(counts) == {"message", "part"}  # no reject, no orphan, no tag-block checksum mismatch
    assert counts["message"] + counts["part"] == feed.count(b"\n")
    assert day.decoded.types == day.scenario.types
    assert sum(day.decoded.rejects.values()) == 0
    assert set(day.decoded.types) == {1, 4, 5, 14, 18, 21, 24}


def test_every_line_decodes_with_pyais(short):
    lines = short.scenario.feed.splitlines()
    types: Counter[int] = Counter()
    for msg in ByteStream(lines):
        decoded = msg.decode()
        types[decoded.msg_type] += 1
        assert msg.tag_block is not None
    assert types == short.scenario.types


def test_tag_blocks_and_checksums_are_valid_and_lines_in_time_order(short):
    stations = set(short.scenario.world.coverage.ids)
    times = []
    groups: dict[bytes, list[int]] = {}
    for line in short.scenario.feed.splitlines():
        m = TAG.match(line)
        assert m, line
        tag, tag_cs, sentence, cs = m.group(1), m.group(7), m.group(8), m.group(9)
        assert int(tag_cs, 16) == xor(tag) and int(cs, 16) == xor(sentence[1:])
        assert m.group(5).decode() in stations
        times.append(int(m.group(6)))
        if tag.startswith(b"g:"):
            assert int(m.group(3)) == 2
            groups.setdefault(m.group(4), []).append(int(m.group(2)))
    assert times == sorted(times)
    assert times[0] >= short.scenario.cfg.epoch and times[-1] < short.scenario.cfg.epoch + short.scenario.cfg.seconds
    assert groups and all(sorted(parts) == [1, 2] for parts in groups.values())  # type 5 comes in two parts


@pytest.mark.parametrize(("msg_type", "layout"), [(1, TYPE1), (3, TYPE1), (18, TYPE18)])
def test_our_packer_writes_what_pyais_encodes(msg_type, layout):
    rng = np.random.default_rng(msg_type)
    n = 300
    raw = {name: rng.integers(0, 1 << width, n) for name, width in layout}
    raw["msg_type"] = np.full(n, msg_type)
    raw["lon"] = rng.integers(-180 * 600000, 180 * 600000, n)
    raw["lat"] = rng.integers(-90 * 600000, 90 * 600000, n)
    raw["speed"] = rng.integers(0, 1024, n)
    raw["course"] = rng.integers(0, 3601, n)
    raw["heading"] = rng.choice([0, 90, 359, 511], n)
    if msg_type != 18:
        # pyais takes the turn in degrees a minute, whole ones: raw values that survive that round trip
        whole = [pyais.messages.from_turn(d) for d in range(0, 708)]
        raw["turn"] = rng.choice([-128, -127, 127, *whole, *(-w for w in whole)], n)
        raw["status"] = rng.integers(0, 16, n)
        raw["spare_1"] = np.zeros(n, np.int64)  # pyais takes spare bits as bytes: we send zeros
    ours = pack(raw, layout)
    for i in range(n):
        fields = {k: int(v[i]) for k, v in raw.items() if k != "spare_1"}
        fields.update(
            type=msg_type,
            lon=fields["lon"] / 600000,
            lat=fields["lat"] / 600000,
            speed=fields["speed"] / 10,
            course=fields["course"] / 10,
        )
        if msg_type != 18:
            fields["turn"] = pyais.messages.to_turn(fields["turn"])
        payload = pyais.encode_dict(fields, talker_id="AI", sentence_type="VDM")[0].split(",")[5]
        assert ours[i].tobytes().decode() == payload, fields


def test_base_station_reports_are_what_pyais_encodes():
    unix = np.array([1717200000, 1717245296, 1735689599, 1709164800])  # midnight, mid-day, new year's eve, 29 Feb
    ours = pack(base_station_fields(5741234, 20.661, 106.821, unix), TYPE4)
    for i, u in enumerate(unix):
        fields = {k: int(v[i]) for k, v in base_station_fields(5741234, 20.661, 106.821, unix).items()}
        fields.update(type=4, lon=fields["lon"] / 600000, lat=fields["lat"] / 600000)
        fields.pop("spare_1")
        payload = pyais.encode_dict(fields, talker_id="AI", sentence_type="VDM")[0].split(",")[5]
        assert ours[i].tobytes().decode() == payload
        decoded = pyais.decode(pyais.encode_dict(fields, talker_id="AI", sentence_type="VDM")[0]).asdict()
        when = np.datetime64(int(u), "s").astype(object)
        got = tuple(decoded[k] for k in ("year", "month", "day", "hour", "minute", "second"))
        assert got == (when.year, when.month, when.day, when.hour, when.minute, when.second)


@pytest.mark.parametrize("fields", [
    {"type": 14, "mmsi": 970123456, "text": "SART TEST"},
    {"type": 21, "mmsi": 995741234, "aid_type": 29, "name": "HAI PHONG FAIRWAY 3", "lon": 106.9, "lat": 20.7},
    {"type": 5, "mmsi": 574123456, "shipname": "HAIAN PEARL", "callsign": "3WABCD", "destination": "HAIPHONG"},
])  # fmt: skip
def test_cached_messages_are_what_pyais_encodes_on_each_channel_and_sequence(fields):
    for channel, seq in (("A", 0), ("B", 3), ("A", 9)):
        ours = message_lines(fields, "HP01", 1717200000, channel, seq, 7).decode().splitlines()
        theirs = pyais.encode_dict(fields, talker_id="AI", sentence_type="VDM", radio_channel=channel, seq_id=seq)
        assert [line.split("\\")[-1] for line in ours] == theirs


def test_the_same_seed_gives_the_same_bytes_and_another_seed_does_not(short):
    cfg = short.scenario.cfg
    again = simulate(cfg)
    assert again.feed == short.scenario.feed
    assert again.labels == short.scenario.labels
    other = simulate(SimConfig(hours=cfg.hours, vessels=cfg.vessels, seed=cfg.seed + 1))
    assert other.feed != short.scenario.feed


def test_a_day_of_300_vessels_takes_under_a_minute(day):
    assert day.scenario.cfg.vessels == 300 and day.scenario.cfg.hours == 24
    assert day.seconds < 60
    assert len(day.scenario.voyages) >= 295  # background + injected actors (some injections share a vessel)
    assert day.decoded.positions["mmsi"].n_unique() > 250


def test_the_command_writes_the_scenario(tmp_path, capsys):
    out = tmp_path / "scenario"
    code = main(["simulate", "--hours", "3", "--vessels", "40", "--seed", "5", "--out", str(out)])
    captured = capsys.readouterr()
    assert (code, captured.err) == (0, "")
    for name in ("feed.nmea", "labels.csv", "vessels.csv", "zones.geojson", "outages.csv"):
        assert (out / name).stat().st_size > 0, name
    assert "simulated 3 h in gulf-of-tonkin" in captured.out and "labels: ais_gap" in captured.out
    header = (out / "labels.csv").read_text().splitlines()[0]
    assert header == "label_id,kind,mmsi,other_mmsi,start,end,lat,lon,detail"
    assert (out / "vessels.csv").read_text().startswith("mmsi,role,type,class,name,")
    kinds = {line.split(",")[1] for line in (out / "labels.csv").read_text().splitlines()[1:]}
    assert kinds == set(KINDS)


def test_the_command_refuses_bad_settings_in_one_line(tmp_path, capsys):
    assert main(["simulate", "--hours", "2", "--out", str(tmp_path), "--region", "atlantis"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("seawatch simulate: atlantis: no such region pack") and err.count("\n") == 1
    assert main(["simulate", "--hours", "0", "--out", str(tmp_path)]) == 2
    assert "hours must be above 0" in capsys.readouterr().err
