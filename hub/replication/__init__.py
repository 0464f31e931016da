"""The hub's own replicator: one flow copies a jurisdiction's ``shared.<zone>.`` topics to another cluster.

One :class:`~hub.replication.flow.FlowSpec` is one direction (``cn -> hk``). The
flow reads the source with ``read_committed``, writes each record to
``<source>.<topic>`` on the target under a Kafka transaction that also holds
the source positions reached (``hub.replication.offsets``) and one signed
transfer record per copied partition (``hub.transfers``), and rewrites every
schema id into the target registry's. See ``docs/replication.md``.

Pure: :mod:`~hub.replication.flow`, :mod:`~hub.replication.positions`,
:mod:`~hub.replication.schema_ids`, :mod:`~hub.replication.batch`,
:mod:`~hub.replication.progress`. Adapters: :mod:`~hub.replication.registries`
(the two registries), :mod:`~hub.replication.source` and
:mod:`~hub.replication.target` and :mod:`~hub.replication.transactions`
(kafka-python). :mod:`~hub.replication.engine` composes them.
"""
