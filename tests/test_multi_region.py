"""Three jurisdictions, three real secured clusters: raw data stays home, shared.gba crosses exactly once.

On the session's region stack (``cn``, ``hk``, ``mo``; tests/fixtures/clusters.py) each district publishes
to its home cluster as itself, each jurisdiction's gateway crosses locally, the six replicators copy
``shared.gba.*`` (and nothing else) both ways, and each jurisdiction's projection worker reads its local
shared topics plus the copies. Everything is started through the README's commands (``hub --cluster NAME
gateway start``, ``hub replicate start --from S --to T``, ``hub --cluster NAME projections start``).

The raw events of ``cn`` carry canary personal data (names that exist nowhere else); a byte scan of every
record of every topic on ``hk`` and ``mo`` - committed or not - must find none of them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine

from hub import naming
from hub.credentials import district_logins
from hub.errors import KafkaAuthError
from hub.kafka_reader import KafkaReader
from hub.publishing.publisher import Ack, Publisher
from hub.registry.client import RegistryClient
from hub.serde import AvroDeserializer
from hub.settings import ENV_PREFIX, HubSettings
from hub.tokens import TokenSet, issue, write_tokens
from projections.report_queries import ReportService
from tests.conftest import free_port
from tests.factories import valid_event_doc
from tests.fixtures.clusters import RegionStack
from tests.partner_events import TYPES
from tests.shared_events import HK, MO, TINGHU

HUB = str(Path(sys.executable).with_name("hub"))
SHENZHEN: dict[str, Any] = {}
#: place -> (home cluster, the zones its events enter)
PLACES: dict[str, tuple[dict[str, Any], str, tuple[str, ...]]] = {
    "SZ": (SHENZHEN, "cn", ("gba", "mainland")),
    "JS": (TINGHU, "cn", ("mainland",)),
    "HK": (HK, "hk", ("gba",)),
    "MO": (MO, "mo", ("gba",)),
}
PER_TYPE = 2


def _hub(stack: RegionStack, environ: dict[str, str], *args: str, timeout: float = 240) -> str:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(ENV_PREFIX)} | environ | stack.env()
    done = subprocess.run([HUB, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"hub {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@dataclass
class World:
    stack: RegionStack
    published: dict[str, list[dict[str, Any]]]  # cluster -> the raw documents its districts published
    canaries: dict[str, str]  # canary value -> the cluster whose raw topics hold it

    def ids(self, zone: str, home: str | None = None) -> set[str]:
        return {
            d["event_id"]
            for cluster, docs in self.published.items()
            if home is None or cluster == home
            for d in docs
            if zone in _zones_of(d)
        }


def _zones_of(doc: dict[str, Any]) -> tuple[str, ...]:
    for place, _home, zones in PLACES.values():
        if doc["region"] == place.get("region", "GD"):
            return zones
    raise AssertionError(doc)


def _documents(place: dict[str, Any], marker: str) -> list[dict[str, Any]]:
    docs = []
    for event_type in TYPES:
        for _ in range(PER_TYPE):
            extra: dict[str, Any] = dict(place)
            if event_type in ("DonationReceived",):
                extra["currency"] = {"HK": "HKD", "MO": "MOP"}.get(place.get("region", "GD"), "CNY")
            if event_type == "CaseOpened":
                extra["client_name"] = f"Canary {marker} {uuid.uuid4().hex[:10]}"
            docs.append(valid_event_doc(event_type, **extra))
    return docs


def _publish(settings: HubSettings, docs: list[dict[str, Any]]) -> None:
    with (
        RegistryClient(settings.schema_registry_url) as registry,
        Publisher(settings, registry, logins=district_logins(settings)) as pub,
    ):
        results = pub.publish_many(docs)
    refused = [r for r in results if not isinstance(r, Ack)]
    assert not refused, refused[:3]


def read_all(settings: HubSettings, topics: list[str], *, committed: bool = True) -> list[Any]:
    """Every record of ``topics`` (read_committed unless ``committed`` is False: then aborted ones too)."""
    with KafkaReader(settings, client_id="multi-region-test", read_committed=committed) as reader:
        tps = reader.partitions(topics)
        ends = {tp: n for tp, n in reader.end_offsets(tps).items() if n > 0}
        begins = reader.beginning_offsets(list(ends))
        reader.assign({tp: begins[tp] for tp in ends})
        out: list[Any] = []
        deadline = time.monotonic() + 90
        while any(reader.position(tp) < n for tp, n in ends.items()):
            assert time.monotonic() < deadline, "could not read the topics to their end"
            out.extend(reader.poll())
        return out


def copied_ids(world: World, target: str, source: str) -> Counter[str]:
    """Event ids in ``<source>.shared.gba.*`` on ``target``, decoded with ``target``'s registry alone."""
    admin = world.stack.admin(target)
    with KafkaReader(admin, client_id="multi-region-test") as reader:
        topics = sorted(t for t in reader.topics() if t.startswith(naming.remote_topic(source, "shared.gba.")))
    decode = AvroDeserializer(RegistryClient(admin.schema_registry_url))
    return Counter(str(decode(r.value)["event_id"]) for r in read_all(admin, topics))


def _wait_for(what: str, done: Any, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1.0)


@pytest.fixture(scope="module")
def world(region_stack: RegionStack, gateway_keys: dict[str, str]) -> Iterator[World]:
    stack = region_stack
    marker = uuid.uuid4().hex[:8]
    published: dict[str, list[dict[str, Any]]] = {n: [] for n in stack.topology.names}
    for place, home, _zones in PLACES.values():
        published[home] += _documents(place, marker)
    for name, docs in published.items():
        _publish(stack.clusters[name], docs)
    canaries = {d["client_name"]: n for n, docs in published.items() for d in docs if "client_name" in d}
    started: list[tuple[str, ...]] = []
    try:
        for name in stack.topology.names:
            _hub(stack, gateway_keys, "--cluster", name, "gateway", "start")
            started.append(("--cluster", name, "gateway", "stop"))
        for flow in stack.topology.flows:
            _hub(stack, {}, "replicate", "start", "--from", flow.source, "--to", flow.target)
            started.append(("replicate", "stop", "--from", flow.source, "--to", flow.target))
        w = World(stack, published, canaries)
        for flow in stack.topology.flows:
            want = w.ids("gba", home=flow.source)
            _wait_for(f"{flow.name} to copy", lambda f=flow, ids=want: set(copied_ids(w, f.target, f.source)) >= ids)
        for name in stack.topology.names:
            _hub(stack, {}, "--cluster", name, "project", "start")
            started.append(("--cluster", name, "project", "stop"))
            _hub(stack, {}, "--cluster", name, "projections", "wait", "--timeout", "180")
        yield w
    finally:
        for args in reversed(started):
            subprocess.run([HUB, *args], env={**os.environ, **stack.env()}, capture_output=True, timeout=120)


def test_hk_and_mo_hold_no_raw_topic_of_another_jurisdiction_and_nothing_of_mainland(world: World) -> None:
    aliases = world.stack.topology.aliases
    for name in ("hk", "mo"):
        with KafkaReader(world.stack.admin(name), client_id="multi-region-test") as reader:
            topics = reader.topics()
        own = f"raw.{name}."
        assert {t for t in topics if t.startswith("raw.") and not t.startswith(own)} == set()
        for topic in topics:
            source, upstream = naming.split_remote(topic, aliases)
            assert not upstream.startswith("shared.mainland."), topic
            assert source is None or upstream.startswith("shared.gba."), topic
        assert any(t.startswith("cn.shared.gba.") for t in topics)


def test_a_byte_scan_of_every_topic_on_hk_and_mo_finds_none_of_cns_canary_pii(world: World) -> None:
    cn_canaries = [c.encode() for c, home in world.canaries.items() if home == "cn"]
    assert cn_canaries
    # the scan can see a canary: cn's own raw topics hold them
    cn = world.stack.admin("cn")
    with KafkaReader(cn, client_id="multi-region-test") as reader:
        cn_raw = sorted(t for t in reader.topics() if t.startswith("raw.gd."))
    assert any(c in (r.value or b"") for r in read_all(cn, cn_raw) for c in cn_canaries)
    for name in ("hk", "mo"):
        admin = world.stack.admin(name)
        with KafkaReader(admin, client_id="multi-region-test") as reader:
            topics = sorted(reader.topics())
        scanned = 0
        for record in read_all(admin, topics, committed=False):
            blob = b"".join([record.key or b"", record.value or b"", *(v or b"" for _k, v in record.headers or [])])
            scanned += 1
            found = [c for c in cn_canaries if c in blob]
            assert not found, f"{name}: {record.topic}[{record.partition}]@{record.offset} holds {found[0]!r}"
        assert scanned > 0


def test_every_gba_event_lands_on_every_other_gba_cluster_exactly_once(world: World) -> None:
    ours = {d["event_id"] for docs in world.published.values() for d in docs}
    for flow in world.stack.topology.flows:
        copied = copied_ids(world, flow.target, flow.source)  # other tests of the stack copy their own events too
        want = world.ids("gba", home=flow.source)
        assert set(copied) & ours == want, flow.name  # all of the source's gba events, none of its mainland ones
        assert {i: copied[i] for i in want} == dict.fromkeys(want, 1), f"{flow.name}: copied more than once"


def test_the_gba_report_is_the_same_in_every_jurisdiction_and_mainland_exists_only_in_cn(world: World) -> None:
    reports = {}
    for name, settings in world.stack.clusters.items():
        engine = create_engine(settings.database_url)
        try:
            service = ReportService(engine, reporting_currency=settings.reporting_currency)
            reports[name] = service.report("gba", "2026")
        finally:
            engine.dispose()
    assert reports["hk"] == reports["cn"] == reports["mo"]
    out = _hub(
        world.stack, {}, "--cluster", "cn", "report", "--zone", "mainland", "--period", "2026", "--format", "csv"
    )
    assert "JS" in out
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(ENV_PREFIX)} | world.stack.env()
    refused = subprocess.run(
        [HUB, "--cluster", "hk", "report", "--zone", "mainland", "--period", "2026"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode != 0 and "mainland" in refused.stderr and "Traceback" not in refused.stderr


def test_the_transfer_log_verifies_on_both_sides_of_every_flow(world: World) -> None:
    for name in world.stack.topology.names:
        out = _hub(world.stack, {}, "audit", "verify", "--cluster", name)  # exit 0: no problem
        flows = [f for f in world.stack.topology.flows if name in (f.source, f.target)]
        for flow in flows:
            assert f"{flow.source}->{flow.target}: " in out and "OK" in out, out
        assert "landed data not checked" not in out, out


def test_a_partner_reads_the_copies_on_its_own_cluster_and_is_refused_raw(world: World) -> None:
    partner = world.stack.login("hk", "partner.hk")
    with KafkaReader(partner, client_id="partner.hk.multi-region-test") as reader:
        visible = reader.topics()
    assert any(t.startswith("cn.shared.gba.") for t in visible)
    assert not any(t.startswith("raw.") for t in visible)
    copies = sorted(t for t in visible if t.startswith("cn.shared.gba."))
    assert len(read_all(partner, copies)) >= len(world.ids("gba", home="cn"))
    raw = naming.raw_topic("HK", HK["district"], "CaseOpened")  # on hk, beside the copies
    with (
        KafkaReader(partner, client_id="partner.hk.multi-region-test") as reader,
        pytest.raises(KafkaAuthError, match=r"denied User:partner\.hk READ on topic raw\.hk\."),
    ):
        reader.end_offsets([(raw, 0)])


def test_hub_status_of_a_cluster_shows_its_flows_with_what_they_copied_and_their_lag(world: World) -> None:
    out = _hub(world.stack, {"COLUMNS": "200"}, "--cluster", "hk", "status")
    for flow in world.stack.topology.flows:
        if "hk" in (flow.source, flow.target):
            line = next((ln for ln in out.splitlines() if f"{flow.source} → {flow.target}" in ln), "")
            assert "pid" in line and "12" in line, out  # running, 12 gba events of each source copied


def _serve_api(stack: RegionStack, cluster: str, tokens: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(ENV_PREFIX)} | stack.env()
    return subprocess.Popen(
        [HUB, "--cluster", cluster, "api", "serve", "--port", str(port), "--tokens-file", str(tokens)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_each_jurisdiction_serves_its_own_dashboard_and_the_gba_view_is_the_same_in_hk_and_cn(
    world: World, tmp_path: Path
) -> None:
    token, entry = issue("analyst")
    tokens = tmp_path / "tokens.json"
    write_tokens(tokens, TokenSet((entry,)))
    ports = {"cn": free_port(), "hk": free_port()}
    servers = {name: _serve_api(world.stack, name, tokens, port) for name, port in ports.items()}
    docs: dict[str, dict[str, Any]] = {}
    try:
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            for name, port in ports.items():
                base = f"http://127.0.0.1:{port}"
                _wait_for(f"the query API of {name}", lambda b=base, n=name: _answers(b, servers[n]), 120)
                page = http.get(f"{base}/dashboard")
                assert page.status_code == 200 and "echarts.min.js" in page.text
                response = http.get(f"{base}/v1/dashboard/gba", params={"period": "2026"})
                assert response.status_code == 200, response.text
                docs[name] = response.json()
            refused = http.get(f"http://127.0.0.1:{ports['hk']}/v1/dashboard/mainland", params={"period": "2026"})
            assert refused.status_code == 404 and "mainland" in refused.json()["error"]["message"]
    finally:
        for server in servers.values():
            server.terminate()
            server.wait(timeout=30)
    assert docs["hk"]["zones"] == ["gba"] and docs["cn"]["zones"] == ["gba", "mainland"]
    same = ("period", "years", "scope", "places", "tiles", "comparison", "trend", "donors", "outcomes", "fx")
    for key in same:
        assert docs["hk"][key] == docs["cn"][key], key
    assert docs["cn"]["tiles"][0]["value"] or docs["cn"]["tiles"][0]["flag"]  # figures, not an empty board
    for name, doc in docs.items():  # each API measured its own projection's lag from its own cluster
        assert doc["freshness"]["offsets_behind"] is not None, f"{name}: the lag was not measured"


def _answers(base: str, server: subprocess.Popen[str]) -> bool:
    if server.poll() is not None:
        raise AssertionError(
            f"the query API exited {server.returncode}: {server.stderr.read() if server.stderr else ''}"
        )
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
