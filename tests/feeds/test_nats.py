"""Bus URLs and where a relay cuts a delivery: never inside a multi-part AIS message."""

from __future__ import annotations

import pytest

from feeds.nats import bus_address, one_per_consumer, subject_token, whole_messages
from feeds.sources import FeedError

ONE = b"\\s:A,c:1*00\\!AIVDM,1,1,,A,15M67FC000G?ufbE`FepT@3n00Sa,0*5C\n"
P1 = b"!AIVDM,2,1,3,B,55P5TL01VIaAL@7WKO@mBplU@<PDhh000000001S;AJ::4A80?4i@E53,0*3E\n"
P2 = b"!AIVDM,2,2,3,B,1@0000000000000,2*55\n"


@pytest.mark.parametrize(("data", "cut"), [
    (ONE + P1 + P2, len(ONE + P1 + P2)),
    (ONE + P1, len(ONE)),
    (ONE + P1 + P2[:10], len(ONE)),
    (ONE + ONE[:20], len(ONE)),
    (P1, 0),
    (b"", 0),
    (b"garbage\n" + P1, len(b"garbage\n")),
])  # fmt: skip
def test_a_delivery_is_cut_after_its_last_whole_message(data: bytes, cut: int) -> None:
    assert whole_messages(data) == cut


def test_a_run_of_first_parts_longer_than_any_message_is_cut_anyway() -> None:
    data = P1 * 12
    assert whole_messages(data) == len(data)  # more unfinished parts than a message can have: broken, sent as is


def test_bus_urls() -> None:
    a = bus_address("nats://10.0.0.5:4223/SHORE?durable=standby")
    assert (a.servers, a.stream, a.durable) == (("nats://10.0.0.5:4223",), "SHORE", "standby")
    assert bus_address("nats://bus").stream == "AIS"
    for bad in (
        "nats:///AIS",
        "nats://bus:99999/AIS",
        "nats://bus/A.B",
        "tcp://bus:4222/AIS",
        "nats://h1:4222,/AIS",
        "nats://h1:4222,h2:x/AIS",
    ):
        with pytest.raises(FeedError, match="nats://"):
            bus_address(bad)
    assert subject_token("tcp://10.0.0.1:5631") == "10_0_0_1_5631"
    assert subject_token("nats://h1:4222,h2:4222") == "h1_4222_h2_4222"
    assert subject_token("Hai Phong.1") == "Hai_Phong_1"


def test_a_cluster_s_servers_in_one_url_or_in_repeated_feeds() -> None:
    a = bus_address("nats://h1:4222,h2,10.0.0.7:4223/AIS?durable=e1")
    assert (a.servers, a.stream, a.durable) == (("nats://h1:4222", "nats://h2:4222", "nats://10.0.0.7:4223"), "AIS",
                                                "e1")  # fmt: skip
    assert bus_address(a.url) == a
    merged = one_per_consumer(["nats://h1/AIS", "nats://h2:4223/AIS", "nats://h1/OTHER", "nats://h3/AIS?durable=x",
                               "nats://h2:4223,h4/AIS"])  # fmt: skip
    assert merged == ["nats://h1:4222,h2:4223,h4:4222/AIS?durable=seawatch-engine", "nats://h1/OTHER",
                      "nats://h3/AIS?durable=x"]  # fmt: skip
