"""The gateway: carries raw district events across the boundary into the shared zones.

Modules, from pure to adapters:

- :mod:`hub.gateway.crossing` — one raw record in, shared records and an audit record (or a
  dead letter) out (pure);
- :mod:`hub.gateway.status` — served regions, group id, counters and the status file (pure);
- :mod:`hub.gateway.worker` — start-up (agreements, keys, schema ids, raw topics) and the per-batch
  function (cross, deliver) run by the stream-runner (:mod:`hub.stream_runner`) over the raw topics;
- :mod:`hub.gateway.launcher` — running ``python -m hub.gateway`` as a managed background process;
- :mod:`hub.gateway.commands` — ``hub gateway run|start|stop|status|counts``;
- :mod:`hub.gateway.audit_counts` — what crossed, read back from ``hub.audit`` (for the demo and operators).

Nothing is imported here so that the pure modules stay free of Kafka and faust.
"""
