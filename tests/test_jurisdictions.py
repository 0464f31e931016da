"""The topology of jurisdictions (pure): homes, flows derived from the zones and agreements, cluster settings."""

from __future__ import annotations

import copy
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub import acl_plan, naming, topology
from hub.agreements.loading import default_agreements_dir, load_agreements
from hub.agreements.model import Agreement
from hub.errors import ConfigError
from hub.jurisdictions import (
    cluster_settings,
    default_topology_file,
    derive_flows,
    load_topology,
    parse_topology,
    scope,
)
from hub.orgunits import org_units
from hub.principals import Kind, declared_principals
from hub.settings import load_settings


@pytest.fixture(scope="module")
def agreements() -> dict[str, Agreement]:
    return load_agreements(default_agreements_dir())


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(default_topology_file().read_text(encoding="utf-8"))
    return loaded


def test_the_shipped_topology_homes_every_region_once(doc: dict[str, Any], agreements: dict[str, Agreement]) -> None:
    topo = parse_topology(doc, org_units(), agreements.values())
    assert topo.names == ("cn", "hk", "mo")
    assert {r: topo.home_of(r) for r in ("GD", "JS", "FJ", "HK", "MO")} == {
        "GD": "cn",
        "JS": "cn",
        "FJ": "cn",
        "HK": "hk",
        "MO": "mo",
    }


def test_flows_follow_from_the_zones_gba_both_ways_and_mainland_never(
    doc: dict[str, Any], agreements: dict[str, Agreement]
) -> None:
    topo = parse_topology(doc, org_units(), agreements.values())
    assert [(f.source, f.target, f.zones) for f in topo.flows] == [
        ("cn", "hk", ("gba",)),
        ("cn", "mo", ("gba",)),
        ("hk", "cn", ("gba",)),
        ("hk", "mo", ("gba",)),
        ("mo", "cn", ("gba",)),
        ("mo", "hk", ("gba",)),
    ]
    for f in topo.flows:
        assert f.prefixes == ("shared.gba.",)
        assert f.principal == f"replicator.{f.source}-{f.target}"
        assert f.target_prefixes() == (f"{f.source}.shared.gba.",)


def test_an_agreement_that_stops_sending_to_a_zone_stops_its_flows(
    doc: dict[str, Any], agreements: dict[str, Agreement]
) -> None:
    without_mo_gba = [a if a.source_region != "MO" else replace(a, zones=()) for a in agreements.values()]
    topo = parse_topology(doc, org_units(), without_mo_gba)
    assert {(f.source, f.target) for f in topo.flows} == {("cn", "hk"), ("cn", "mo"), ("hk", "cn"), ("hk", "mo")}


def test_a_cluster_homing_gd_alone_makes_mainland_a_replicated_zone(
    doc: dict[str, Any], agreements: dict[str, Agreement]
) -> None:
    split = copy.deepcopy(doc)
    split["jurisdictions"]["cn"]["regions"] = ["GD"]
    split["jurisdictions"]["js"] = {
        "jurisdiction": "mainland",
        "regions": ["JS", "FJ"],
        "local": {"kafka_port": 9492, "controller_port": 9493, "internal_port": 9494, "registry_port": 8481},
    }
    topo = parse_topology(split, org_units(), agreements.values())
    assert ("cn", "js", ("mainland",)) in [(f.source, f.target, f.zones) for f in topo.flows]
    assert all(f.source != "js" or f.zones == ("mainland",) for f in topo.flows)
    assert derive_flows(topo, org_units(), agreements.values()) == topo.flows


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: (
                d["jurisdictions"]["hk"].pop("jurisdiction") and d["jurisdictions"]["hk"].update(regions=["HK", "GD"])
            ),
            "region GD is homed twice",
        ),
        (lambda d: d["jurisdictions"]["mo"].update(regions=[]), "regions must be a non-empty list"),
        (lambda d: d["jurisdictions"].pop("mo"), "region MO of the org units is homed in no cluster"),
        (lambda d: d["jurisdictions"]["hk"].update(regions=["XX"]), "XX is not a region of the org units"),
        (lambda d: d["jurisdictions"]["hk"].update(jurisdiction="macao"), "belongs to jurisdiction 'hong-kong'"),
        (lambda d: d["jurisdictions"]["hk"]["local"].update(kafka_port=9192), "port 9192 of hk.local.kafka_port"),
        (lambda d: d["jurisdictions"]["hk"]["local"].pop("registry_port"), "hk.local.registry_port is missing"),
        (lambda d: d["jurisdictions"]["hk"].update(colour="red"), "unknown key 'colour'"),
        (lambda d: d.update(version=2), "version: 1"),
        (lambda d: d["jurisdictions"].update({"Bad-Name": d["jurisdictions"].pop("mo")}), "a cluster name is"),
    ],
)
def test_a_bad_topology_is_one_line_naming_the_entry(doc: dict[str, Any], edit: Any, message: str) -> None:
    bad = copy.deepcopy(doc)
    edit(bad)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        parse_topology(bad, org_units())


def test_each_cluster_gets_its_own_folder_ports_registry_and_database(tmp_path: Path) -> None:
    base = load_settings(env_file=None, data_dir=tmp_path)
    topo = load_topology(base)
    hk = cluster_settings(base, topo, "hk")
    cn = cluster_settings(hk, topo, "cn")  # from another cluster's settings: the same stack root
    assert hk.data_dir == tmp_path / "clusters" / "hk" and cn.data_dir == tmp_path / "clusters" / "cn"
    assert (hk.bootstrap_servers, hk.schema_registry_url) == ("127.0.0.1:9292", "http://127.0.0.1:8281")
    assert hk.database_url == f"sqlite:///{tmp_path / 'clusters' / 'hk' / 'hub.db'}"
    assert hk.kafka_heap == "384m" and (hk.cluster, cn.cluster) == ("hk", "cn")
    assert cluster_settings(hk, topo, "hk") is hk
    with pytest.raises(ConfigError, match="unknown cluster 'tw' \\(the topology declares cn, hk, mo\\)"):
        cluster_settings(base, topo, "tw")


def test_a_shared_database_url_without_one_per_cluster_is_refused(tmp_path: Path) -> None:
    base = load_settings(env_file=None, data_dir=tmp_path, database_url="postgresql://hub@db/hub")
    with pytest.raises(ConfigError, match="each jurisdiction projects into its own database"):
        cluster_settings(base, load_topology(base), "mo")


def test_a_cluster_declares_only_what_it_homes(agreements: dict[str, Agreement], tmp_path: Path) -> None:
    topo = load_topology(load_settings(env_file=None, data_dir=tmp_path))
    hk = declared_principals(org_units(), agreements, scope(topo, "hk"))
    by_kind: dict[Kind, set[str]] = {}
    for p in hk:
        by_kind.setdefault(p.kind, set()).add(p.name)
    assert all(name.startswith("district.hk.") for name in by_kind[Kind.DISTRICT])
    assert by_kind[Kind.GATEWAY] == {"gateway.hk"}
    assert by_kind[Kind.PARTNER] == {"partner.hk"}
    assert by_kind[Kind.PROJECTION] == {"projection.gba"}
    assert by_kind[Kind.REPLICATOR] == {"replicator.hk-cn", "replicator.hk-mo", "replicator.cn-hk", "replicator.mo-hk"}


def test_the_plan_of_a_cluster_keeps_raw_and_mainland_from_replicators_and_partners(
    agreements: dict[str, Agreement], tmp_path: Path
) -> None:
    topo = load_topology(load_settings(env_file=None, data_dir=tmp_path))
    for name in topo.names:
        entries = acl_plan.plan(org_units(), agreements, scope(topo, name))
        for e in entries:
            who = e.principal.removeprefix("User:")
            if e.permission is acl_plan.Permission.ALLOW and not who.startswith(("district.", "gateway.", "ingest")):
                assert "raw." not in e.name, e
            outside = who.startswith("replicator.") or name != "cn"
            if outside and e.resource_type is acl_plan.ResourceType.TOPIC:
                assert "mainland" not in e.name, e
        replicators = {e.principal for e in entries if "replicator." in e.principal}
        denies = {(e.principal, e.name) for e in entries if e.permission is acl_plan.Permission.DENY}
        assert all((r, "raw.") in denies for r in replicators)


def test_each_cluster_holds_only_its_own_raw_topics_and_the_copies_its_flows_write(tmp_path: Path) -> None:
    base = load_settings(env_file=None, data_dir=tmp_path)
    topo = load_topology(base)
    for name in topo.names:
        names = [s.name for s in topology.expand(base, org_units(), scope(topo, name))]
        homed = {r.lower() for r in topo.get(name).regions}
        assert {n.split(".")[1] for n in names if n.startswith("raw.")} == homed
        aliases = topo.aliases
        copies = {naming.split_remote(n, aliases)[0] for n in names} - {None}
        assert copies == {f.source for f in topo.flows_into(name)}
        assert (name != "cn") == (not any("mainland" in n for n in names))
        assert naming.TRANSFERS_TOPIC in names and naming.REPLICATION_OFFSETS_TOPIC in names


def test_the_topology_is_read_again_when_its_file_changes(tmp_path: Path, doc: dict[str, Any]) -> None:
    path = tmp_path / "topology.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    settings = load_settings(env_file=None, data_dir=tmp_path, topology_file=path)
    first = load_topology(settings)
    assert load_topology(settings) is first  # unchanged files: read once
    changed = copy.deepcopy(doc)
    changed["jurisdictions"]["hk"]["local"]["kafka_port"] = 9999
    path.write_text(yaml.safe_dump(changed), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert load_topology(settings).get("hk").local.kafka_port == 9999


def test_a_missing_topology_file_is_one_line(tmp_path: Path) -> None:
    settings = load_settings(env_file=None, data_dir=tmp_path, topology_file=tmp_path / "nowhere.yaml")
    with pytest.raises(ConfigError, match=r"cannot read the topology .*nowhere\.yaml"):
        load_topology(settings)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"version: 1\njurisdictions: [unclosed\n", r"not YAML: line \d+: "),
        (b"version: 1\n\xff\xfe jurisdictions\n", r"not UTF-8 text"),
        (b"version: 1\njurisdictions: {}\nextra: 1\n", r"unknown key 'extra'"),
        (b"version: true\njurisdictions: {}\n", r"version: 1"),
        (b"version: 1\njurisdictions:\n  cn: {regions: [GD], name: 5}\n", r"jurisdictions\.cn\.name must be text"),
    ],
    ids=["yaml", "utf-8", "unknown-key", "version", "type"],
)
def test_a_malformed_topology_file_is_one_line_naming_the_file(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "topology.yaml"
    path.write_bytes(content)
    settings = load_settings(env_file=None, data_dir=tmp_path, topology_file=path)
    with pytest.raises(ConfigError) as caught:
        load_topology(settings)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and re.search(expected, message), message
