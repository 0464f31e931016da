"""The gateway's counters, status file and served-region naming (no broker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.dlq import DeadLetter
from hub.errors import ConfigError
from hub.gateway.crossing import Crossed, OutputRecord, RawRecord, Refused
from hub.gateway.status import Stats, Status, group_id, read_status, served_regions
from hub.process import StatusFile
from hub.stream_runner.status import state_line


def test_no_region_means_all_five_in_a_stable_order() -> None:
    assert served_regions(None) == ("GD", "HK", "MO", "JS", "FJ")
    assert served_regions(["fj", "GD", "gd"]) == ("GD", "FJ")


def test_an_unknown_region_names_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"TW.*GD, HK, MO, JS, FJ"):
        served_regions(["GD", "TW"])


def test_a_gateway_of_a_cluster_serves_what_it_homes_and_refuses_a_region_homed_elsewhere() -> None:
    assert served_regions(None, {"GD", "JS", "FJ"}) == ("GD", "JS", "FJ")
    assert served_regions(["gd"], {"GD", "JS", "FJ"}) == ("GD",)
    with pytest.raises(ConfigError, match=r"HK is not homed in this cluster \(it homes FJ, GD, JS\)"):
        served_regions(["GD", "HK"], {"GD", "JS", "FJ"})


def test_the_group_id_does_not_depend_on_the_order_of_regions() -> None:
    assert group_id(["HK", "GD"]) == group_id(["GD", "HK"]) == "hub-gateway-gd-hk"
    assert group_id(served_regions(None)) == "hub-gateway-fj-gd-hk-js-mo"


def _crossed(zones: tuple[str, ...]) -> Crossed:
    src = RawRecord("raw.gd.shenzhen-nanshan.case-opened", 0, 1, b"k", b"v")
    audit = OutputRecord("hub.audit", b"e", b"a")
    return Crossed(src, "e", "CaseOpened", "GD", zones, (), audit)


def _refused(topic: str, stage: str) -> Refused:
    src = RawRecord(topic, 0, 2, None, b"x")
    letter = DeadLetter.now(
        consumer="gateway",
        stage=stage,
        reason="r",
        source_topic=topic,
        source_partition=0,
        source_offset=2,
        original_key=None,
        original_value=b"x",
    )
    return Refused(src, letter)


def test_stats_count_shared_records_per_zone_and_dead_letters_per_stage_and_region() -> None:
    stats = Stats()
    stats.add([_crossed(("gba", "mainland")), _crossed(("gba",)), _crossed(())], cross_s=0.5, deliver_s=0.25)
    stats.add([_refused("raw.hk.hk-sha-tin.visit-made", "decode"), _refused("raw.hk.hk-sha-tin.visit-made", "policy")])
    assert stats.crossed == {"gba": 2, "mainland": 1}
    assert (stats.withheld, stats.events, stats.batches) == (1, 5, 2)
    assert stats.dead == {"decode": 1, "policy": 1}
    assert stats.dead_by_region == {"HK": 2}
    doc = stats.to_json()
    assert doc["crossed"] == {"gba": 2, "mainland": 1} and doc["cross_seconds"] == 0.5
    assert "gba=2, mainland=1" in stats.summary() and "decode=1, policy=1" in stats.summary()


def test_the_status_file_round_trips_and_a_broken_one_reads_as_none(tmp_path: Path) -> None:
    path = tmp_path / "gw" / "status.json"
    status = Status(pid=42, group_id="hub-gateway-gd", regions=["GD"], topics=30, ready=True, assigned=30)
    StatusFile(path).write(status.__dict__)
    found = read_status(path)
    assert found is not None
    assert (found.pid, found.ready, found.assigned, found.regions) == (42, True, 30, ["GD"])
    assert found.updated_at
    assert list(path.parent.iterdir()) == [path]
    path.write_text("{not json")
    assert read_status(path) is None
    assert read_status(tmp_path / "missing.json") is None


def test_the_state_line_says_whether_it_runs_and_consumes() -> None:
    status = Status(pid=42, group_id="hub-gateway-gd", regions=["GD"], topics=30)
    assert state_line("gateway", "hub-gateway-gd", None, None) == "gateway hub-gateway-gd is not running"
    assert state_line("gateway", "hub-gateway-gd", 42, None).endswith("running (pid 42), not consuming yet")
    assert state_line("gateway", "hub-gateway-gd", 42, status).endswith("(pid 42), not consuming yet: 0 partitions")
    status.ready, status.assigned = True, 30
    assert state_line("gateway", "hub-gateway-gd", 42, status).endswith("(pid 42), consuming: 30 partitions")
