"""The gateway: carries raw district events across the boundary into the shared zones.

Modules, from pure to adapters:

- :mod:`hub.gateway.crossing` — one raw record in, shared records and an audit record (or a
  dead letter) out (pure);
- :mod:`hub.gateway.status` — served regions, group id, counters and the status file (pure);
- :mod:`hub.gateway.app` — the faust worker that runs the crossing over the raw topics;
- :mod:`hub.gateway.launcher` — running it as a managed background process (pid file, readiness);
- :mod:`hub.gateway.audit_counts` — what crossed, read back from ``hub.audit`` (for the demo and operators).

Nothing is imported here so that the pure module stays free of Kafka and faust.
"""
