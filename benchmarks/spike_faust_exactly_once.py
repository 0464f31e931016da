"""Spike: does faust-streaming's ``processing_guarantee="exactly_once"`` give exactly-once output here?

Reproduces the evidence behind docs/gateway.md ("Exactly once?"). Starts a
throwaway Kafka broker (the hub's local KRaft broker, free ports, temporary
data directory), creates a source topic (1 partition) and an output topic (3
partitions, like ``shared.*``), publishes N unique values, runs a minimal faust
app that copies source to output (``stream.take_events`` batches, every send
awaited) under the chosen guarantee, SIGKILLs it K times mid-stream, restarts
it, and counts with a ``read_committed`` consumer how many values are missing
or duplicated in the output. It also asks faust which transactional producer an
output send would use.

    .venv/bin/python benchmarks/spike_faust_exactly_once.py --guarantee exactly_once --events 20000 --kills 3

Not a test: it reports what it sees.
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

APP = "spike_app"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def app_main() -> None:
    """The faust app (run in a child process): copy SRC to OUT, print where a send would go once."""
    import faust

    env = os.environ
    app = faust.App(
        env["SPIKE_APP_ID"],
        broker=f"kafka://{env['SPIKE_BOOTSTRAP']}",
        store="memory://",
        web_enabled=False,
        processing_guarantee=env["SPIKE_GUARANTEE"],
        topic_allow_declare=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_commit_every=500,
        broker_commit_interval=1.0,
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
        datadir=env["SPIKE_DATADIR"],
    )
    source = app.topic(env["SPIKE_SRC"], key_serializer="raw", value_serializer="raw")
    out = app.topic(env["SPIKE_OUT"], key_serializer="raw", value_serializer="raw")
    probed = False

    @app.agent(source)
    async def copy(stream: Any) -> None:
        nonlocal probed
        async for batch in stream.take_events(200, within=0.5):
            if not probed:
                probed = True
                partition = app.consumer.key_partition(env["SPIKE_OUT"], batch[0].message.key)
                producers = list(getattr(app.producer, "_transaction_producers", {}))
                print(f"PROBE key_partition(output)={partition!r} transactional producers={producers}", flush=True)
            futures = [await out.send(key=e.message.key, value=e.message.value) for e in batch]
            for f in futures:
                await f

    sys.argv = [sys.argv[0], "worker", "-l", "warn"]
    app.main()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--guarantee", choices=["exactly_once", "at_least_once"], default="exactly_once")
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--kills", type=int, default=3)
    args = parser.parse_args()

    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import NewTopic

    from hub import local_kafka
    from hub.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="hub-spike-eos-") as tmp:
        port = free_port()
        settings = load_settings(
            env_file=None,
            data_dir=Path(tmp),
            kafka_port=port,
            kafka_controller_port=free_port(),
            kafka_internal_port=free_port(),
            bootstrap_servers=f"127.0.0.1:{port}",
            kafka_heap="768m",
        )
        local_kafka.start(settings, insecure=True)  # a spike of faust's transactions: its clients log in as nobody
        try:
            boot = settings.bootstrap_servers
            tag = uuid.uuid4().hex[:8]
            src, out = f"spike.src.{tag}", f"spike.out.{tag}"
            admin = KafkaAdminClient(bootstrap_servers=boot)
            admin.create_topics([NewTopic(src, 1, 1), NewTopic(out, 3, 1)])
            admin.close()
            producer = KafkaProducer(bootstrap_servers=boot, acks="all", enable_idempotence=True, linger_ms=20)
            ids = [str(uuid.uuid4()) for _ in range(args.events)]
            for i, value in enumerate(ids):
                producer.send(src, key=f"k{i % 101}".encode(), value=value.encode())
            producer.flush()
            producer.close()

            env = dict(os.environ)
            env.update(
                SPIKE_BOOTSTRAP=boot,
                SPIKE_GUARANTEE=args.guarantee,
                SPIKE_SRC=src,
                SPIKE_OUT=out,
                SPIKE_APP_ID=f"spike-{args.guarantee}-{tag}",
                SPIKE_DATADIR=str(Path(tmp) / "faust"),
            )
            log = Path(tmp) / "app.log"

            def start() -> subprocess.Popen[bytes]:
                with log.open("ab") as fh:
                    return subprocess.Popen(
                        [sys.executable, __file__, APP], env=env, stdout=fh, stderr=subprocess.STDOUT
                    )

            consumer = KafkaConsumer(bootstrap_servers=boot, isolation_level="read_committed", enable_auto_commit=False)
            tps = [TopicPartition(out, p) for p in range(3)]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            seen: collections.Counter[str] = collections.Counter()

            def drain() -> None:
                for records in consumer.poll(timeout_ms=200, max_records=500).values():
                    for r in records:
                        seen[r.value.decode()] += 1

            t0 = time.monotonic()
            proc = start()
            for k in range(args.kills):
                target = args.events * (k + 1) // (args.kills + 2)
                deadline = time.monotonic() + 120
                while sum(seen.values()) < target and time.monotonic() < deadline and proc.poll() is None:
                    drain()
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                print(f"{time.monotonic() - t0:5.1f}s SIGKILL {k + 1} after {sum(seen.values())} output records")
                proc = start()
            deadline = time.monotonic() + 180
            while len(seen) < len(ids) and time.monotonic() < deadline and proc.poll() is None:
                drain()
            end = time.monotonic() + 5
            while time.monotonic() < end:
                drain()
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
            consumer.close()
            probes = sorted({line for line in log.read_text(errors="replace").splitlines() if "PROBE" in line})
            for line in probes[:1]:
                print(line[line.index("PROBE") :])
            duplicates = sum(n - 1 for n in seen.values() if n > 1)
            missing = len(set(ids) - set(seen))
            print(
                f"guarantee={args.guarantee} events={args.events} kills={args.kills}: "
                f"distinct={len(seen)} missing={missing} duplicates={duplicates} (read_committed)"
            )
        finally:
            local_kafka.stop(settings)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == APP:
        app_main()
    else:
        main()
