"""One replication flow: which cluster to which, which topics, under which principal. Pure: no I/O.

Guarantees:

- a flow copies only local shared topics (``shared.<zone>.<event>``) of its
  source: :func:`replicable` refuses anything else - a raw topic, a hub topic
  (``hub.transfers``, ``_schemas``) or a copy from a third cluster
  (``<alias>.shared...``), so flows never form cycles;
- :func:`candidates` takes the names from both the source's declared layout and
  the broker's listing, so a topic the principal may not even see (a declared
  ``raw.`` topic matched by a too-wide pattern) is still asked for explicitly
  and refused by the broker, never silently missed;
- the target name of a topic is MirrorMaker 2's ``<source>.<topic>``
  (:func:`hub.naming.remote_topic`), its subject TopicNameStrategy's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from hub import naming
from hub.errors import ConfigError, ReplicationError
from hub.principals import replicator_principal
from hub.transfers.record import flow_of

SOURCE_LOG_SUFFIX: Final = ".source-log"


@dataclass(frozen=True)
class FlowSpec:
    """``source`` -> ``target`` (cluster aliases), the topics matching ``topics`` (a full-match regex)."""

    source: str
    target: str
    topics: str
    principal: str

    def __post_init__(self) -> None:
        for what, alias in (("source", self.source), ("target", self.target)):
            try:
                naming.remote_topic(alias, "x")
            except ValueError as exc:
                raise ConfigError(f"flow {what}: {exc}") from None
        if self.source == self.target:
            raise ConfigError(f"a flow needs two clusters, got {self.source} -> {self.target}")
        try:
            re.compile(self.topics)
        except re.error as exc:
            raise ConfigError(f"flow {self.name}: --topics is not a regular expression: {exc}") from None

    @classmethod
    def of(cls, source: str, target: str, topics: str, principal: str | None = None) -> FlowSpec:
        """A flow whose principal is ``replicator.<source>-<target>`` unless given."""
        return cls(source, target, topics, principal or replicator_principal(source, target))

    @property
    def name(self) -> str:
        """``cn-hk``: the key of the flow's positions in ``hub.replication.offsets``."""
        return f"{self.source}-{self.target}"

    @property
    def chain(self) -> str:
        """``cn->hk``: the flow's hash chain in ``hub.transfers`` (:func:`hub.transfers.record.flow_of`)."""
        return flow_of(self.source, self.target)

    @property
    def transactional_id(self) -> str:
        """Of the target producer: the principal itself, so a restarted replicator fences its zombie."""
        return self.principal

    @property
    def source_log_transactional_id(self) -> str:
        """Of the producer that appends the flow's transfer records to the source's ``hub.transfers``."""
        return f"{self.principal}{SOURCE_LOG_SUFFIX}"

    def target_topic(self, topic: str) -> str:
        """``shared.gba.case-opened`` -> ``cn.shared.gba.case-opened``."""
        return naming.remote_topic(self.source, topic)

    def target_subject(self, topic: str) -> str:
        """The target registry's subject of a source topic's values: ``cn.shared.gba.case-opened-value``."""
        return naming.subject_for(self.target_topic(topic))

    def matches(self, topic: str) -> bool:
        return re.fullmatch(self.topics, topic) is not None


def candidates(flow: FlowSpec, declared: Iterable[str], listed: Iterable[str]) -> list[str]:
    """Every name the flow's pattern matches among the declared and the listed topics, sorted."""
    return sorted({t for t in (*declared, *listed) if flow.matches(t)})


def replicable(flow: FlowSpec, topic: str, aliases: Iterable[str]) -> None:
    """Raise :class:`ReplicationError` unless ``topic`` is a local shared topic the flow may copy."""
    known = frozenset(aliases) | {flow.source, flow.target}
    alias, _ = naming.split_remote(topic, known)
    if alias is not None:
        raise ReplicationError(
            f"flow {flow.name}: {topic} is a copy from cluster {alias}; copies are never replicated onwards"
        )
    try:
        naming.parse_shared_topic(topic)
    except ValueError:
        raise ReplicationError(
            f"flow {flow.name}: {topic} matches --topics {flow.topics!r} but is not a shared topic "
            "(shared.<zone>.<event>); a flow copies nothing else"
        ) from None


__all__ = ["SOURCE_LOG_SUFFIX", "FlowSpec", "candidates", "replicable"]
