"""A flow named by its clusters (``--from cn --to hk``), turned into everything its replicator needs.

The topology (:mod:`hub.jurisdictions`) says which flows exist and how to
reach each cluster; each side logs in as the flow's principal
(``replicator.<source>-<target>``, :func:`hub.credentials.as_principal`); the
source cluster's declared layout is what the flow's pattern is matched against;
the transfer records are signed with the SOURCE jurisdiction's key. Reads the
topology, the agreements and the signing key (creating it once); opens nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

from hub import topology as layout
from hub.credentials import as_principal
from hub.jurisdictions import cluster_settings, load_topology, scope
from hub.orgunits import org_units
from hub.process import ProcessFiles, StatusFile
from hub.replication.engine import Replicator, Tuning
from hub.replication.flow import FlowSpec
from hub.settings import HubSettings
from hub.transfers.signing import SigningKey, load_or_create, signing_key_path


@dataclass(frozen=True)
class FlowSetup:
    flow: FlowSpec
    source: HubSettings
    """The source cluster's settings, logged in as the flow's principal."""
    target: HubSettings
    """The target cluster's settings, logged in as the flow's principal."""
    declared: Mapping[str, Mapping[str, str]]
    """The source cluster's declared topics and their settings."""
    aliases: frozenset[str]

    def signing_key(self) -> SigningKey:
        """The source jurisdiction's transfer-signing key (created once, mode 600)."""
        return load_or_create(signing_key_path(self.source))

    def replicator(
        self, *, tuning: Tuning | None = None, status: StatusFile | None = None, stop: threading.Event | None = None
    ) -> Replicator:
        """The flow's engine, signing with the source's key (``status``: where it reports, if anywhere)."""
        return Replicator(
            self.flow,
            self.source,
            self.target,
            declared=self.declared,
            aliases=self.aliases,
            signing_key=self.signing_key(),
            tuning=tuning or Tuning(),
            status=status,
            stop=stop,
        )


def setup(settings: HubSettings, source: str, target: str, topics: str | None = None) -> FlowSetup:
    """The flow ``source -> target`` of the topology, copying ``topics`` (a regex) or the flow's own topics."""
    topology = load_topology(settings)
    declared_flow = topology.flow(source, target)
    flow = FlowSpec.of(source, target, topics or declared_flow.pattern, declared_flow.principal)
    source_settings = cluster_settings(settings, topology, source)
    target_settings = cluster_settings(settings, topology, target)
    own_layout = layout.expand(source_settings, org_units(), scope(topology, source))
    declared = {s.name: dict(s.config) for s in own_layout}
    return FlowSetup(
        flow,
        as_principal(source_settings, flow.principal),
        as_principal(target_settings, flow.principal),
        declared,
        topology.aliases,
    )


def files(target: HubSettings, flow: FlowSpec) -> ProcessFiles:
    """Pid, status and log files of a flow's replicator: ``<target data dir>/replication/<flow>/``."""
    return ProcessFiles(target.data_dir.resolve() / "replication" / flow.name, "replicator")


__all__ = ["FlowSetup", "files", "setup"]
