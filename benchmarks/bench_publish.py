"""Publish rate: SDK and HTTP ingest against a raw kafka-python baseline, in one run.

    .venv/bin/python benchmarks/bench_publish.py [--events 20000] [--batch 500]

Starts its own broker and registry (temp dir, free ports). The same Nanshan
demo events go through three paths; ratios are against the baseline measured
in the same run, because the machine is noisy:
- baseline: kafka-python producer (same settings) sending pre-encoded bytes;
- SDK: ``Publisher.publish_many`` from JSON-form dicts (validate + encode + send);
- HTTP: ``POST /v1/events`` batches to ``hub ingest serve`` (a separate process).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._stack import free_port, local_stack
from demo import stream as demo_data
from hub import tokens
from hub.kafka_clients import new_producer
from hub.publishing.publisher import Publisher
from hub.registry.client import RegistryClient
from hub.validation import validate_event


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()

    docs = list(
        itertools.islice((d for d in demo_data.generate(7) if d["district"] == "shenzhen-nanshan"), args.events)
    )
    n = len(docs)
    with local_stack("hub-bench-publish-") as settings:
        registry = RegistryClient(settings.schema_registry_url)
        with Publisher(settings, registry) as pub:
            encoded = [pub.encode(validate_event(d)) for d in docs]  # also registers every subject once

        producer = new_producer(settings, client_id="hub-bench-baseline", timeout_s=30.0)
        t = time.perf_counter()
        for topic, key, value in encoded:
            producer.send(topic, key=key, value=value)
        producer.flush()
        baseline = n / (time.perf_counter() - t)
        producer.close()

        with Publisher(settings, registry) as pub:
            t = time.perf_counter()
            for i in range(0, n, args.batch):
                results = pub.publish_many(docs[i : i + args.batch])
                assert all(hasattr(r, "offset") for r in results)
            sdk = n / (time.perf_counter() - t)

        token, entry = tokens.issue("publisher", district="shenzhen-nanshan", name="bench")
        tokens_file = settings.data_dir / "tokens.json"
        tokens.add_token(tokens_file, entry)
        port = free_port()
        # no login given: the server logs in as the `ingest` principal from the stack's local logins
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        env.update(
            HUB_BOOTSTRAP_SERVERS=settings.bootstrap_servers,
            HUB_SCHEMA_REGISTRY_URL=settings.schema_registry_url,
            HUB_DATA_DIR=str(settings.data_dir),
        )
        hub = str(Path(sys.executable).with_name("hub"))
        server = subprocess.Popen(
            [
                *(hub, "ingest", "serve", "--port", str(port), "--tokens-file", str(tokens_file)),
                *("--log-level", "warning", "--requests-per-second", "100000", "--burst", "100000"),
            ],
            env=env,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
                for _ in range(100):
                    try:
                        client.get("/healthz")
                        break
                    except httpx.TransportError:
                        time.sleep(0.2)
                bodies = [json.dumps(docs[i : i + args.batch]).encode() for i in range(0, n, args.batch)]
                client.post("/v1/events", content=bodies[0], headers={"Content-Type": "application/json"})  # warm-up
                t = time.perf_counter()
                for body in bodies:
                    resp = client.post("/v1/events", content=body, headers={"Content-Type": "application/json"})
                    assert resp.status_code == 202, resp.text[:300]
                http = n / (time.perf_counter() - t)
        finally:
            server.terminate()
            server.wait(30)

    print(f"machine: {platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"events: {n} Nanshan demo events, batches of {args.batch}")
    print("| path | events/s | vs baseline |")
    print("| --- | ---: | ---: |")
    rows = (
        ("kafka-python, pre-encoded (baseline)", baseline),
        ("SDK publish_many", sdk),
        ("HTTP POST /v1/events", http),
    )
    for name, rate in rows:
        print(f"| {name} | {rate:,.0f} | {rate / baseline:.2f} |")


if __name__ == "__main__":
    main()
