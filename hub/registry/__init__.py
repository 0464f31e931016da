"""The hub's schema registry: Confluent-compatible REST API over a compacted Kafka topic.

Modules, from pure to adapters:

- :mod:`hub.registry.compat` — compatibility levels and Avro schema parsing (pure);
- :mod:`hub.registry.state` — the registry's in-memory state and its record format (pure);
- :mod:`hub.registry.store` — persistence of that state in the ``_schemas`` topic (Kafka);
- :mod:`hub.registry.server` — the REST API (FastAPI);
- :mod:`hub.registry.client` — a client for this or any Confluent-compatible registry (httpx);
- :mod:`hub.registry.launcher` — running the server, in the foreground or as a managed process.

Nothing is imported here so that the pure modules stay free of Kafka and HTTP.
"""
