"""The jurisdictions of the hub, one Kafka cluster each, and the replication flows between them.

``topology.yaml`` declares the clusters (``cn``, ``hk``, ``mo``), which regions
each one homes, and how to reach it. The flows are never listed: they follow
from the zones and the agreements. A zone whose writers and members live in
several clusters is replicated from every cluster that writes it to every
other member cluster, one :class:`Flow` per direction, and only its
``shared.<zone>.`` topics. A zone whose regions all live in one cluster
(``mainland``) is never replicated.

Guarantees:

- every region of the org units is homed in exactly one cluster, and a
  cluster homes only regions of one org-units jurisdiction (else
  :class:`~hub.errors.ConfigError`, naming the entry);
- :func:`derive_flows` is pure and its order stable; a flow never carries a
  ``raw.`` prefix, nor a copy (``<alias>.shared...``): copies are not
  replicated onwards, so there are no cycles;
- :func:`cluster_settings` gives each cluster its own data folder, ports,
  registry and database, and is idempotent (the settings of ``hk`` asked for
  ``hk`` come back unchanged, so child processes keep what they inherit).

Only :func:`load_topology` reads files; everything else is values in, values out.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from hub import naming
from hub.agreements.model import Agreement
from hub.errors import ConfigError
from hub.orgunits import OrgUnits
from hub.principals import ClusterScope, replicator_principal
from hub.settings import HubSettings
from hub.zones import ZONE_REGIONS, ZONES, zones_for

STACK_HEAP: Final = "384m"
"""Heap of each local cluster of a stack unless HUB_KAFKA_HEAP says otherwise: three fit a small machine."""
_NAME = re.compile(r"^[a-z][a-z0-9]{0,15}$")
_KEYS: Final = frozenset(
    {"name", "jurisdiction", "regions", "local", "bootstrap_servers", "schema_registry_url", "database_url"}
)
_LOCAL_PORTS: Final = ("kafka_port", "controller_port", "internal_port", "registry_port")


@dataclass(frozen=True)
class LocalPorts:
    """Where ``hub stack up`` runs the cluster on this machine."""

    kafka_port: int
    controller_port: int
    internal_port: int
    registry_port: int
    tls_port: int | None = None


@dataclass(frozen=True)
class Jurisdiction:
    name: str
    title: str
    jurisdiction: str
    regions: frozenset[str]
    local: LocalPorts
    bootstrap_servers: str = ""
    schema_registry_url: str = ""
    database_url: str = ""


@dataclass(frozen=True)
class Flow:
    """One direction of replication: the ``shared.<zone>.`` topics of ``zones``, from ``source`` to ``target``."""

    source: str
    target: str
    zones: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.source}-{self.target}"

    @property
    def principal(self) -> str:
        """The Kafka principal the flow logs in as, on both clusters; also its transactional id."""
        return replicator_principal(self.source, self.target)

    @property
    def prefixes(self) -> tuple[str, ...]:
        return tuple(naming.shared_prefix(z) for z in self.zones)

    @property
    def pattern(self) -> str:
        """Regex of the source topics the flow copies (local shared topics of its zones only)."""
        return "|".join(naming.shared_pattern(z) for z in self.zones)

    def target_prefixes(self) -> tuple[str, ...]:
        return tuple(naming.remote_topic(self.source, p) for p in self.prefixes)


@dataclass(frozen=True)
class Topology:
    jurisdictions: Mapping[str, Jurisdiction]
    flows: tuple[Flow, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.jurisdictions)

    @property
    def aliases(self) -> frozenset[str]:
        return frozenset(self.jurisdictions)

    def get(self, name: str) -> Jurisdiction:
        try:
            return self.jurisdictions[name]
        except KeyError:
            known = ", ".join(self.jurisdictions) or "none"
            raise ConfigError(f"unknown cluster {name!r} (the topology declares {known})") from None

    def home_of(self, region: str) -> str:
        for j in self.jurisdictions.values():
            if region.upper() in j.regions:
                return j.name
        raise ConfigError(f"region {region} is homed in no cluster of the topology")

    def flow(self, source: str, target: str) -> Flow:
        self.get(source), self.get(target)
        for f in self.flows:
            if (f.source, f.target) == (source, target):
                return f
        have = ", ".join(f"{f.source}->{f.target}" for f in self.flows) or "none"
        raise ConfigError(f"no replication flow from {source} to {target} (the agreements give: {have})")

    def flows_into(self, name: str) -> tuple[Flow, ...]:
        return tuple(f for f in self.flows if f.target == name)

    def flows_from(self, name: str) -> tuple[Flow, ...]:
        return tuple(f for f in self.flows if f.source == name)

    def zones_of(self, name: str) -> tuple[str, ...]:
        """Zones with a member region homed in ``name``: the shared topics that exist on that cluster."""
        regions = self.get(name).regions
        return tuple(z for z in ZONES if ZONE_REGIONS[z] & regions)


# -- parsing (pure) ------------------------------------------------------------------------------------
def _port(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ConfigError(f"topology: {where} must be a port number (1-65535), got {value!r}")
    return value


def _jurisdiction(name: str, doc: Any, units: OrgUnits) -> Jurisdiction:
    where = f"jurisdictions.{name if name.isprintable() else repr(name)}"
    for text in ("name", "jurisdiction", "bootstrap_servers", "schema_registry_url", "database_url"):
        if isinstance(doc, dict) and doc.get(text) is not None and not isinstance(doc[text], str):
            raise ConfigError(f"topology: {where}.{text} must be text")
    if not _NAME.fullmatch(name):
        raise ConfigError(f"topology: {where}: a cluster name is 1-16 lowercase letters and digits, letter first")
    if not isinstance(doc, dict):
        raise ConfigError(f"topology: {where} must be a mapping")
    unknown = set(doc) - _KEYS
    if unknown:
        raise ConfigError(f"topology: {where}: unknown key {sorted(unknown)[0]!r}")
    regions = doc.get("regions")
    if not isinstance(regions, list) or not regions or not all(isinstance(r, str) for r in regions):
        raise ConfigError(f"topology: {where}.regions must be a non-empty list of region codes")
    codes = frozenset(r.upper() for r in regions)
    jurisdiction = doc.get("jurisdiction")
    for code in sorted(codes):
        info = units.regions.get(code)
        if info is None:
            shown = code if code.isprintable() else repr(code)
            raise ConfigError(f"topology: {where}.regions: {shown} is not a region of the org units")
        if jurisdiction is not None and info.get("jurisdiction") != jurisdiction:
            raise ConfigError(
                f"topology: {where}.regions: {code} belongs to jurisdiction {info.get('jurisdiction')!r} "
                f"in the org units, not {jurisdiction!r}"
            )
    local = doc.get("local") or {}
    if not isinstance(local, dict) or set(local) - {*_LOCAL_PORTS, "tls_port"}:
        raise ConfigError(f"topology: {where}.local takes {', '.join(_LOCAL_PORTS)} and tls_port")
    missing = [k for k in _LOCAL_PORTS if k not in local]
    if missing:
        raise ConfigError(f"topology: {where}.local.{missing[0]} is missing")
    ports = LocalPorts(
        **{k: _port(local[k], f"{where}.local.{k}") for k in _LOCAL_PORTS},
        tls_port=None if local.get("tls_port") is None else _port(local["tls_port"], f"{where}.local.tls_port"),
    )
    return Jurisdiction(
        name=name,
        title=str(doc.get("name") or name),
        jurisdiction=str(jurisdiction or ""),
        regions=codes,
        local=ports,
        bootstrap_servers=str(doc.get("bootstrap_servers") or ""),
        schema_registry_url=str(doc.get("schema_registry_url") or ""),
        database_url=str(doc.get("database_url") or ""),
    )


def parse_topology(doc: Any, units: OrgUnits, agreements: Iterable[Agreement] = ()) -> Topology:
    """The topology of a parsed ``topology.yaml``, its flows derived from ``agreements``."""
    if not isinstance(doc, dict) or type(doc.get("version")) is not int or doc["version"] != 1:
        raise ConfigError("topology: expected a mapping with 'version: 1'")
    unknown = sorted(str(k) for k in set(doc) - {"version", "jurisdictions"})
    if unknown:
        raise ConfigError(f"topology: unknown key {unknown[0]!r}")
    entries = doc.get("jurisdictions")
    if not isinstance(entries, dict) or not entries:
        raise ConfigError("topology: 'jurisdictions' must map cluster names to their declarations")
    found = {name: _jurisdiction(str(name), body, units) for name, body in entries.items()}
    homes: dict[str, str] = {}
    for j in found.values():
        for code in sorted(j.regions):
            if code in homes:
                raise ConfigError(f"topology: region {code} is homed twice ({homes[code]} and {j.name})")
            homes[code] = j.name
    unhomed = sorted(set(units.regions) - set(homes))
    if unhomed:
        raise ConfigError(f"topology: region {unhomed[0]} of the org units is homed in no cluster")
    seen: dict[int, str] = {}
    for j in found.values():
        for field, port in vars(j.local).items():
            if port is None:
                continue
            if port in seen:
                raise ConfigError(f"topology: port {port} of {j.name}.local.{field} is also {seen[port]}")
            seen[port] = f"{j.name}.local.{field}"
    topology = Topology(found)
    return Topology(found, derive_flows(topology, units, agreements))


def writers(topology: Topology, units: OrgUnits, agreements: Iterable[Agreement], zone: str) -> tuple[str, ...]:
    """Clusters whose gateway may write ``zone``: a district homed there enters it and its agreement sends there."""
    sends = {a.source_region: set(a.zones) for a in agreements}
    out = {
        topology.home_of(d.region)
        for d in units.districts.values()
        if zone in zones_for(d) and zone in sends.get(d.region, set())
    }
    return tuple(n for n in topology.names if n in out)


def derive_flows(topology: Topology, units: OrgUnits, agreements: Iterable[Agreement]) -> tuple[Flow, ...]:
    """One flow per (writer cluster, other member cluster) of every zone; zones merged per direction."""
    pool = list(agreements)
    by_direction: dict[tuple[str, str], list[str]] = {}
    for zone in ZONES:
        members = [n for n in topology.names if ZONE_REGIONS[zone] & topology.get(n).regions]
        for source in writers(topology, units, pool, zone):
            for target in members:
                if target != source:
                    by_direction.setdefault((source, target), []).append(zone)
    order = {n: i for i, n in enumerate(topology.names)}
    return tuple(
        Flow(s, t, tuple(zones))
        for (s, t), zones in sorted(by_direction.items(), key=lambda kv: (order[kv[0][0]], order[kv[0][1]]))
    )


def scope(topology: Topology, name: str) -> ClusterScope:
    """What cluster ``name`` homes, for the principals and the ACL plan of that cluster."""
    j = topology.get(name)
    sources: dict[str, list[str]] = {}
    for f in topology.flows_into(name):
        for zone in f.zones:
            sources.setdefault(zone, []).append(f.source)
    return ClusterScope(
        cluster=name,
        regions=j.regions,
        zones=topology.zones_of(name),
        sources={z: tuple(s) for z, s in sources.items()},
        outgoing=tuple((f.source, f.target, f.zones) for f in topology.flows_from(name)),
        incoming=tuple((f.source, f.target, f.zones) for f in topology.flows_into(name)),
    )


# -- the settings of one cluster (pure) ------------------------------------------------------------------
def stack_root(settings: HubSettings) -> Path:
    """The folder that holds every local cluster's data (``<root>/clusters/<name>``)."""
    return settings.stack_dir if settings.stack_dir is not None else settings.data_dir


def cluster_settings(base: HubSettings, topology: Topology, name: str) -> HubSettings:
    """The settings of cluster ``name``: its data folder, ports, bootstrap servers, registry and database.

    Everything else (agreements, secrets, timeouts, an explicit login) is ``base``'s, so pass settings
    that are not logged in yet (log in after, :func:`hub.credentials.as_principal`): another cluster's
    local password would not open this one. Settings that are already ``name``'s come back unchanged.
    """
    j = topology.get(name)
    if base.cluster == name:
        return base
    root = stack_root(base)
    values = {field: getattr(base, field) for field in HubSettings.model_fields}
    derived_db = base.database_url == f"sqlite:///{base.data_dir / 'hub.db'}"
    derived_tokens = base.tokens_file == base.data_dir / "tokens.json"
    values.update(
        cluster=name,
        stack_dir=root,
        data_dir=root / "clusters" / name,
        kafka_port=j.local.kafka_port,
        kafka_controller_port=j.local.controller_port,
        kafka_internal_port=j.local.internal_port,
        kafka_tls_port=j.local.tls_port,
        kafka_heap=base.kafka_heap if "kafka_heap" in base.model_fields_set else STACK_HEAP,
        bootstrap_servers=j.bootstrap_servers,
        schema_registry_url=j.schema_registry_url or f"http://127.0.0.1:{j.local.registry_port}",
        database_url=j.database_url if j.database_url or derived_db else "",
        tokens_file=None if derived_tokens else base.tokens_file,
    )
    if not j.database_url and not derived_db:
        raise ConfigError(
            f"cluster {name}: database_url is set for the hub ({base.database_url.split('@')[-1]}) but the topology "
            f"gives none for {name}: each jurisdiction projects into its own database"
        )
    return HubSettings(**values)


def all_cluster_settings(base: HubSettings, topology: Topology) -> dict[str, HubSettings]:
    return {n: cluster_settings(base, topology, n) for n in topology.names}


# -- the file (I/O) --------------------------------------------------------------------------------------
def default_topology_file() -> Path:
    """The shipped topology: ``_topology.yaml`` in the installed package, else the repository's ``topology.yaml``."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "_topology.yaml", package.parent / "topology.yaml"):
        if candidate.is_file():
            return candidate
    return package.parent / "topology.yaml"


def scope_of(settings: HubSettings) -> ClusterScope | None:
    """The scope of the cluster the settings are for; None for the single-cluster hub."""
    return scope(load_topology(settings), settings.cluster) if settings.cluster else None


def homed_regions(settings: HubSettings) -> frozenset[str] | None:
    """The regions the settings' cluster homes; None for the single-cluster hub (every region)."""
    return load_topology(settings).get(settings.cluster).regions if settings.cluster else None


def held_zones(settings: HubSettings) -> tuple[str, ...] | None:
    """The zones the settings' cluster holds; None for the single-cluster hub (every zone)."""
    return load_topology(settings).zones_of(settings.cluster) if settings.cluster else None


def load_topology(settings: HubSettings) -> Topology:
    """Read ``settings.topology_file`` (or the shipped one) with the org units and the agreements.

    Read once per process while the files stay unchanged (their modification times are the cache
    key): components ask for their cluster's zones and regions on every poll.
    """
    from hub.agreements.loading import agreement_files, agreements_dir

    path = settings.topology_file or default_topology_file()
    folder = agreements_dir(settings.agreements_dir)
    try:
        stamp = (path.stat().st_mtime_ns, *(f.stat().st_mtime_ns for f in agreement_files(folder)))
    except OSError as exc:
        raise ConfigError(f"cannot read the topology {path}: {exc.strerror}") from exc
    return _loaded(path, folder, stamp)


@functools.lru_cache(maxsize=16)
def _loaded(path: Path, folder: Path, stamp: tuple[int, ...]) -> Topology:
    from hub.agreements.loading import load_agreements
    from hub.orgunits import org_units

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the topology {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"the topology {path} is not UTF-8 text (byte {exc.start})") from exc
    except yaml.YAMLError as exc:  # one line: where and what, not PyYAML's multi-line report
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        what = getattr(exc, "problem", None) or " ".join(str(exc).split())
        raise ConfigError(f"the topology {path} is not YAML: {where}{what}") from exc
    try:
        topology = parse_topology(doc, org_units(), load_agreements(folder).values())
    except ConfigError as exc:  # name the file: "topology: ..." -> "<path>: ..."
        raise ConfigError(f"{path}: {str(exc).removeprefix('topology: ')}") from exc
    return topology


__all__ = [
    "Flow",
    "Jurisdiction",
    "LocalPorts",
    "Topology",
    "all_cluster_settings",
    "cluster_settings",
    "default_topology_file",
    "derive_flows",
    "held_zones",
    "homed_regions",
    "load_topology",
    "parse_topology",
    "scope",
    "scope_of",
    "stack_root",
    "writers",
]
