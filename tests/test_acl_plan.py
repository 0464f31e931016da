"""The ACL plan: a reviewed snapshot of the shipped declarations, and least-privilege properties of any plan.

The snapshot (``tests/snapshots/acl-plan.txt``) is the table ``hub kafka acls plan`` prints for the shipped
org units and agreements. A change to it is a change to who may read personal data: review the new table line
by line, then write it with ``.venv/bin/python -m tests.test_acl_plan``.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub import naming
from hub.acl_plan import (
    AclEntry,
    Operation,
    PatternType,
    Permission,
    ResourceType,
    diff,
    ordered,
    plan,
    render_table,
)
from hub.agreements import Agreement, default_agreements_dir, load_agreements
from hub.catalogue import EVENT_TYPES
from hub.orgunits import OrgUnits, org_units, parse_org_units
from hub.principals import SUPER_USERS, Kind, Principal, declared_principals, kafka_principal
from hub.zones import ZONE_REGIONS, zones_for

Deployment = tuple[OrgUnits, list[Agreement]]
SNAPSHOT = Path(__file__).parent / "snapshots" / "acl-plan.txt"
SHIPPED_AGREEMENTS = load_agreements(default_agreements_dir())


def shipped_table() -> str:
    return render_table(plan(org_units(), SHIPPED_AGREEMENTS))


# -- the reviewed snapshot ---------------------------------------------------------------------------
def test_the_plan_of_the_shipped_declarations_is_the_reviewed_snapshot() -> None:
    assert shipped_table() == SNAPSHOT.read_text(encoding="utf-8"), (
        "the ACL plan changed: review it, then write it with `.venv/bin/python -m tests.test_acl_plan`"
    )


def test_the_snapshot_has_one_line_per_entry() -> None:
    entries = plan(org_units(), SHIPPED_AGREEMENTS)
    lines = SNAPSHOT.read_text(encoding="utf-8").splitlines()
    assert lines[0].split() == ["principal", "permission", "operation", "resource", "pattern", "name"]
    assert len(lines) == 1 + len(entries)
    # 31 districts x 2, ingest 31 x 2, gateways 19 + 15 + 9 + 9, projections 6 + 8 + 6, partners 6 + 8 + 6 + 6 + 6,
    # registry 5 + 1.
    assert len(entries) == 62 + 62 + 52 + 20 + 32 + 6


def test_hub_kafka_acls_plan_prints_the_snapshot_table_and_json(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")} | {"HUB_DATA_DIR": str(tmp_path)}
    hub = str(Path(sys.executable).with_name("hub"))

    def run(*args: str) -> str:
        proc = subprocess.run(
            [hub, "kafka", "acls", "plan", *args], capture_output=True, text=True, env=env, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    table = run().splitlines()
    assert table[:-1] == SNAPSHOT.read_text(encoding="utf-8").splitlines()
    assert table[-1].startswith(f"{len(plan(org_units(), SHIPPED_AGREEMENTS))} entries for 45 principals")
    assert json.loads(run("--json")) == [e.to_json() for e in plan(org_units(), SHIPPED_AGREEMENTS)]


# -- what a generated deployment looks like ------------------------------------------------------------
_CODES = st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,5})?", fullmatch=True)


@st.composite
def org_unit_docs(draw: st.DrawFn) -> OrgUnits:
    """Some of the shipped regions (their own jurisdictions), each with a few generated districts."""
    shipped = org_units()
    regions = draw(st.lists(st.sampled_from(sorted(shipped.regions)), min_size=1, unique=True))
    codes = draw(st.lists(_CODES, min_size=1, max_size=12, unique=True))
    districts = [
        {
            "code": code,
            "region": draw(st.sampled_from(regions)),
            "city": "x",
            "in_gba": draw(st.booleans()),
            "name_en": code,
        }
        for code in codes
    ]
    return parse_org_units({"regions": {r: shipped.regions[r] for r in regions}, "districts": districts})


def agreement_sets() -> st.SearchStrategy[list[Agreement]]:
    return st.lists(st.sampled_from(list(SHIPPED_AGREEMENTS.values())), unique_by=lambda a: a.id)


def deployments() -> st.SearchStrategy[Deployment]:
    return st.tuples(st.one_of(st.just(org_units()), org_unit_docs()), agreement_sets())


def entries_of(entries: Iterable[AclEntry], principal: Principal) -> list[AclEntry]:
    return [e for e in entries if e.principal == principal.kafka]


def granted(deployment: Deployment, *kinds: Kind) -> list[tuple[Principal, list[AclEntry]]]:
    """Each declared principal of ``kinds`` (all kinds if none) with its planned entries."""
    entries = plan(*deployment)
    declared = declared_principals(*deployment)
    return [(p, entries_of(entries, p)) for p in declared if not kinds or p.kind in kinds]


def overlaps(entry: AclEntry, prefix: str) -> bool:
    """Whether ``entry``'s pattern names some topic that starts with ``prefix``."""
    if entry.pattern_type is PatternType.LITERAL:
        return entry.name.startswith(prefix)
    return entry.name.startswith(prefix) or prefix.startswith(entry.name)


def allows(entry: AclEntry, operation: Operation) -> bool:
    return entry.permission is Permission.ALLOW and entry.operation in (operation, Operation.ALL)


PROPERTY = settings(max_examples=60, deadline=None)
NOT_RAW = (Kind.PARTNER, Kind.PROJECTION, Kind.REGISTRY)
"""The kinds the contract keeps away from raw data (every kind but district, ingest and gateway)."""


# -- least privilege -----------------------------------------------------------------------------------
@PROPERTY
@given(deployments())
def test_no_partner_projection_or_registry_is_allowed_anything_on_raw(deployment: Deployment) -> None:
    for p, mine in granted(deployment):
        if p.kind in (Kind.DISTRICT, Kind.INGEST, Kind.GATEWAY):
            # A DENY beats every ALLOW: the principals that handle raw data must have none.
            assert not [e for e in mine if e.permission is Permission.DENY], p.name
            continue
        assert p.kind in NOT_RAW, f"{p.kind} is a new kind: say whether it may handle raw data"
        assert not [
            e
            for e in mine
            if e.permission is Permission.ALLOW and e.resource_type is ResourceType.TOPIC and overlaps(e, "raw.")
        ], p.name
        deny = AclEntry(p.kafka, ResourceType.TOPIC, PatternType.PREFIXED, "raw.", Operation.ALL, Permission.DENY)
        assert deny in mine, p.name


@PROPERTY
@given(deployments())
def test_each_district_writes_only_its_own_prefix(deployment: Deployment) -> None:
    units = deployment[0]
    districts = granted(deployment, Kind.DISTRICT)
    assert len(districts) == len(units.districts)
    for p, mine in districts:
        assert p.district is not None
        own = naming.raw_prefix(p.regions[0], p.district)
        assert {(e.operation, e.pattern_type, e.name) for e in mine} == {
            (Operation.WRITE, PatternType.PREFIXED, own),
            (Operation.DESCRIBE, PatternType.PREFIXED, own),
        }
        others = [d for d in units.districts.values() if d.code != p.district]
        for other in others:
            topic = naming.raw_topic(other.region, other.code, EVENT_TYPES[0])
            assert not any(allows(e, Operation.WRITE) and overlaps(e, topic) for e in mine)


@PROPERTY
@given(deployments())
def test_ingest_writes_every_raw_district_prefix_and_reads_none(deployment: Deployment) -> None:
    [(_, mine)] = granted(deployment, Kind.INGEST)
    assert {e.name for e in mine} == {naming.raw_prefix(d.region, d.code) for d in deployment[0].districts.values()}
    assert {e.operation for e in mine} == {Operation.WRITE, Operation.DESCRIBE}


def test_hong_kong_partner_never_reaches_shared_mainland() -> None:
    hk = kafka_principal("partner.hk")
    mine = [e for e in plan(org_units(), SHIPPED_AGREEMENTS) if e.principal == hk]
    assert not [e for e in mine if overlaps(e, naming.shared_prefix("mainland"))]
    assert [e.name for e in mine if allows(e, Operation.READ) and e.resource_type is ResourceType.TOPIC] == [
        naming.shared_prefix("gba")
    ]


@PROPERTY
@given(agreement_sets())
def test_a_partner_reads_exactly_its_entitled_zones(agreements: list[Agreement]) -> None:
    for p, mine in granted((org_units(), agreements), Kind.PARTNER):
        read = {e.name for e in mine if allows(e, Operation.READ) and e.resource_type is ResourceType.TOPIC}
        assert read == {naming.shared_prefix(z) for z in p.zones}, p.name
        assert "mainland" not in p.zones or p.partner not in ("hk", "mo")


@PROPERTY
@given(deployments())
def test_projections_write_nothing_shared(deployment: Deployment) -> None:
    projections = granted(deployment, Kind.PROJECTION)
    assert projections
    for p, mine in projections:
        assert not [
            e
            for e in mine
            if overlaps(e, "shared.")
            and (
                allows(e, Operation.WRITE)
                or e.operation in (Operation.CREATE, Operation.DELETE, Operation.ALTER, Operation.ALTER_CONFIGS)
            )
        ], p.name
        written = {e.name for e in mine if allows(e, Operation.WRITE)}
        assert written == {naming.DLQ_TOPIC}, p.name


@PROPERTY
@given(deployments())
def test_every_deny_is_all_on_the_raw_prefix(deployment: Deployment) -> None:
    denies = [e for e in plan(*deployment) if e.permission is Permission.DENY]
    assert denies
    assert {(e.resource_type, e.pattern_type, e.name, e.operation, e.host) for e in denies} == {
        (ResourceType.TOPIC, PatternType.PREFIXED, "raw.", Operation.ALL, "*")
    }


@PROPERTY
@given(deployments())
def test_gateways_read_only_their_regions_raw_and_their_group(deployment: Deployment) -> None:
    for p, mine in granted(deployment, Kind.GATEWAY):
        read_topics = {e.name for e in mine if allows(e, Operation.READ) and e.resource_type is ResourceType.TOPIC}
        assert read_topics == {naming.raw_prefix(r) for r in p.regions}
        written = {e.name for e in mine if allows(e, Operation.WRITE)}
        assert written == {naming.shared_prefix(z) for z in p.zones} | {naming.AUDIT_TOPIC, naming.DLQ_TOPIC}
        groups = [e for e in mine if e.resource_type is ResourceType.GROUP]
        assert [(g.pattern_type, g.name) for g in groups] == [
            (PatternType.LITERAL, "hub-gateway-" + "-".join(sorted(r.lower() for r in p.regions)))
        ]


@PROPERTY
@given(deployments())
def test_a_gateway_writes_every_zone_a_crossing_may_give_and_no_other(deployment: Deployment) -> None:
    units, agreements = deployment
    for p, mine in granted(deployment, Kind.GATEWAY):
        shared = [e for e in mine if allows(e, Operation.WRITE) and overlaps(e, "shared.")]
        assert all(e.pattern_type is PatternType.PREFIXED and e.name.count(".") == 2 for e in shared), p.name
        written = {naming.parse_shared_topic(e.name + "x").zone for e in shared}
        # Every zone a crossing of a served district can give (the agreement's zones the district may enter) ...
        crossed = {
            zone
            for a in agreements
            if a.source_region in p.regions
            for d in units.districts.values()
            if d.region == a.source_region
            for zone in a.zones
            if zone in zones_for(d)
        }
        assert written == crossed, p.name
        # ... and never a zone that none of its regions belongs to (HK and MO stay out of mainland).
        assert all(set(p.regions) & ZONE_REGIONS[zone] for zone in written), p.name


def test_the_hong_kong_and_macao_gateways_cannot_write_shared_mainland() -> None:
    for name in ("gateway.hk", "gateway.mo"):
        mine = [e for e in plan(org_units(), SHIPPED_AGREEMENTS) if e.principal == kafka_principal(name)]
        assert not [e for e in mine if overlaps(e, naming.shared_prefix("mainland"))], name
        assert [e.name for e in mine if allows(e, Operation.WRITE) and overlaps(e, "shared.")] == ["shared.gba."]


@PROPERTY
@given(deployments())
def test_only_declared_principals_and_never_a_super_user(deployment: Deployment) -> None:
    declared = {p.kafka for p in declared_principals(*deployment)}
    named = {e.principal for e in plan(*deployment)}
    assert named == declared
    assert not named & {kafka_principal(s) for s in SUPER_USERS}


# -- determinism and the diff ----------------------------------------------------------------------------
@PROPERTY
@given(deployments(), st.randoms(use_true_random=False))
def test_plan_is_deterministic_and_sorted(deployment: Deployment, rnd: random.Random) -> None:
    units, agreements = deployment
    first = plan(units, agreements)
    shuffled_districts = list(units.districts.items())
    rnd.shuffle(shuffled_districts)
    shuffled_agreements = list(agreements)
    rnd.shuffle(shuffled_agreements)
    again = plan(OrgUnits(regions=units.regions, districts=dict(shuffled_districts)), shuffled_agreements)
    assert again == first
    assert list(first) == sorted(first, key=AclEntry.sort_key)
    assert len(set(first)) == len(first)
    assert render_table(again) == render_table(first)


@PROPERTY
@given(deployments(), deployments())
def test_diff_makes_current_equal_wanted(current_deployment: Deployment, wanted_deployment: Deployment) -> None:
    current, wanted = plan(*current_deployment), plan(*wanted_deployment)
    d = diff(current, wanted)
    assert ordered((set(current) - set(d.removed)) | set(d.added)) == wanted
    assert not set(d.added) & set(current)
    assert set(d.removed) <= set(current) and not set(d.removed) & set(wanted)
    assert diff(wanted, wanted).empty
    assert diff(current, wanted).summary() == f"{len(d.added)} added, {len(d.removed)} removed"


def test_an_unknown_principals_acl_is_removed() -> None:
    wanted = plan(org_units(), SHIPPED_AGREEMENTS)
    stray = AclEntry("User:mallory", ResourceType.TOPIC, PatternType.PREFIXED, "raw.", Operation.READ, Permission.ALLOW)
    d = diff((*wanted, stray), wanted)
    assert d.added == () and d.removed == (stray,)
    assert str(stray) == "ALLOW User:mallory READ on TOPIC PREFIXED raw."


@pytest.mark.parametrize("kind", [Kind.DISTRICT, Kind.PARTNER])
def test_a_principal_without_its_scope_is_refused_rather_than_widened(kind: Kind) -> None:
    from hub.acl_plan import grants

    with pytest.raises(ValueError, match="no district or partner id"):
        list(grants(Principal("x", kind, regions=("GD",)), org_units()))


if __name__ == "__main__":
    SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
    SNAPSHOT.write_text(shipped_table(), encoding="utf-8")
    print(f"wrote {SNAPSHOT}: review every changed line before committing it")
