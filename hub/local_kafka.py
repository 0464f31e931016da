"""The local single-node Apache Kafka (KRaft) used for development, demo and tests.

The official jars are resolved by Maven from the checked-in pom
(``hub/data/kafka/pom.xml``); the broker runs as a detached JVM with its data,
logs and pid file under ``<data_dir>/kafka``.

Guarantees: the storage is formatted once per data folder, with a cluster id
made as Kafka's own ``Uuid.randomUuid()`` makes one (never starting with ``-``),
and passed as ``--cluster-id=<id>`` so that no id can be read as an option;
starting a running broker is a no-op; a broker that does not answer in time is
stopped again and its pid file removed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from hub.errors import BrokerError, ConfigError
from hub.kafka_admin import cluster_info, wait_for_metadata
from hub.process import cmdline_has, read_pid_file, spawn, terminate
from hub.settings import HubSettings

MIN_JAVA = 17
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0


def pom_path() -> Path:
    return Path(str(resources.files("hub.data").joinpath("kafka/pom.xml")))


def kafka_version() -> str:
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom_path().read_text(encoding="utf-8"))
    if not match:
        raise ConfigError(f"{pom_path()}: no <kafka.version> property")
    return match.group(1)


@dataclass(frozen=True)
class BrokerPaths:
    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def config(self) -> Path:
        return self.root / "server.properties"

    @property
    def log4j(self) -> Path:
        return self.root / "log4j2.properties"

    @property
    def pid(self) -> Path:
        return self.root / "kafka.pid"

    @property
    def classpath(self) -> Path:
        return self.root / "classpath.txt"

    @property
    def stdout(self) -> Path:
        return self.logs / "kafka.out"


def paths(settings: HubSettings) -> BrokerPaths:
    return BrokerPaths(settings.data_dir.resolve() / "kafka")


# --- prerequisites -------------------------------------------------------


def java_major(version_output: str) -> int | None:
    """Parse the major version from ``java -version`` output."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def check_java() -> str:
    java = shutil.which("java")
    if java is None:
        hint = "install a JDK (e.g. apt-get install openjdk-17-jre-headless)"
        raise ConfigError(f"Java {MIN_JAVA}+ is needed for the local Kafka broker: {hint}")
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    major = java_major(out.stderr + out.stdout)
    if major is None or major < MIN_JAVA:
        found = major or "unknown"
        raise ConfigError(f"Java {MIN_JAVA}+ is needed for the local Kafka broker, found {found}: install a newer JDK")
    return java


def resolve_classpath(settings: HubSettings, *, quiet: bool = True) -> str:
    """Resolve the broker's runtime classpath with Maven, cached per pom digest."""
    p = paths(settings)
    pom = pom_path()
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:16]
    stamp = p.classpath.with_suffix(".sha")
    if p.classpath.is_file() and stamp.is_file() and stamp.read_text().strip() == digest:
        cp = p.classpath.read_text().strip()
        if all(Path(j).is_file() for j in cp.split(os.pathsep)):
            return cp
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ConfigError("Maven 3.8+ is needed to fetch the Kafka jars: install it (e.g. apt-get install maven)")
    p.root.mkdir(parents=True, exist_ok=True)
    cmd = [
        mvn,
        "-B",
        "-f",
        str(pom),
        "dependency:build-classpath",
        "-Dmdep.includeScope=runtime",
        f"-Dmdep.outputFile={p.classpath}",
    ]
    if quiet:
        cmd.insert(2, "-q")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise BrokerError(f"Maven could not resolve the Kafka jars from {pom}:\n{tail}")
    stamp.write_text(digest)
    return p.classpath.read_text().strip()


# --- process bookkeeping -------------------------------------------------


def running_pid(settings: HubSettings) -> int | None:
    """Pid of the broker this data dir owns, or None. Removes a stale pid file."""
    p = paths(settings)
    return read_pid_file(p.pid, lambda pid: cmdline_has(pid, "kafka.Kafka", str(p.config)))


def _write_config(settings: HubSettings, p: BrokerPaths) -> None:
    host = "127.0.0.1"
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{host}:{settings.kafka_controller_port}",
        "listeners": f"PLAINTEXT://{host}:{settings.kafka_port},CONTROLLER://{host}:{settings.kafka_controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{settings.kafka_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(p.data),
        "num.partitions": "1",
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "10",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "log.flush.interval.messages": "9223372036854775807",
    }
    p.config.write_text("".join(f"{k}={v}\n" for k, v in props.items()), encoding="utf-8")
    p.log4j.write_text(
        "\n".join(
            [
                "status = warn",
                "appender.file.type = RollingFile",
                "appender.file.name = FILE",
                f"appender.file.fileName = {p.logs}/server.log",
                f"appender.file.filePattern = {p.logs}/server.log.%i",
                "appender.file.layout.type = PatternLayout",
                "appender.file.layout.pattern = [%d] %p %m (%c)%n",
                "appender.file.policies.type = Policies",
                "appender.file.policies.size.type = SizeBasedTriggeringPolicy",
                "appender.file.policies.size.size = 20MB",
                "appender.file.strategy.type = DefaultRolloverStrategy",
                "appender.file.strategy.max = 3",
                "rootLogger.level = INFO",
                "rootLogger.appenderRef.file.ref = FILE",
                "",
            ]
        ),
        encoding="utf-8",
    )


# --- storage -------------------------------------------------------------

#: Kafka's reserved ids (``Uuid.ZERO_UUID`` and ``Uuid.METADATA_TOPIC_ID``), never handed out.
_RESERVED_IDS: frozenset[bytes] = frozenset({bytes(16), bytes(15) + b"\x01"})


def _uuid4_bytes() -> bytes:
    return uuid.uuid4().bytes


def new_cluster_id(random_bytes: Callable[[], bytes] = _uuid4_bytes) -> str:
    """A cluster id as Kafka's ``Uuid.randomUuid()`` makes one.

    The URL-safe base64 of 16 random bytes, without padding (22 characters). Like
    Kafka, it draws again when the id is reserved or starts with ``-``: about one
    draw in 64 does, and command-line tools would read such an id as an option.
    """
    while True:
        raw = random_bytes()
        text = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
        if raw not in _RESERVED_IDS and not text.startswith("-"):
            return text


def stored_cluster_id(settings: HubSettings) -> str | None:
    """The cluster id the data folder was formatted with, or None if it is not formatted."""
    meta = paths(settings).data / "meta.properties"
    if not meta.is_file():
        return None
    for line in meta.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "cluster.id":
            return value.strip()
    return None


def _prepare(settings: HubSettings) -> tuple[str, str, BrokerPaths]:
    """Java, the classpath and the folders and config files of the data folder's broker."""
    java = check_java()
    cp = resolve_classpath(settings)
    p = paths(settings)
    for d in (p.data, p.logs):
        d.mkdir(parents=True, exist_ok=True)
    _write_config(settings, p)
    return java, cp, p


def _format(java: str, cp: str, p: BrokerPaths, cluster_id: str | None) -> bool:
    if (p.data / "meta.properties").is_file():
        return False
    proc = subprocess.run(
        [
            java,
            f"-Dlog4j2.configurationFile={p.log4j}",
            "-cp",
            cp,
            "kafka.tools.StorageTool",
            "format",
            # one argument with '=': an id is never taken for an option, whatever it starts with
            f"--cluster-id={cluster_id or new_cluster_id()}",
            f"--config={p.config}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BrokerError(f"formatting Kafka storage in {p.data} failed: {(proc.stdout + proc.stderr).strip()[-800:]}")
    return True


def format_storage(settings: HubSettings, *, cluster_id: str | None = None) -> bool:
    """Format the data folder's storage unless it already is; returns whether it formatted.

    ``cluster_id`` defaults to a fresh :func:`new_cluster_id`. ``start`` calls this.
    """
    return _format(*_prepare(settings), cluster_id)


@dataclass(frozen=True)
class StartResult:
    pid: int
    started: bool  # False when a broker was already running
    bootstrap: str


def start(settings: HubSettings, *, timeout_s: float = START_TIMEOUT_S) -> StartResult:
    """Start the local broker and wait for metadata. A running broker is a no-op."""
    p = paths(settings)
    bootstrap = f"127.0.0.1:{settings.kafka_port}"
    pid = running_pid(settings)
    if pid is not None:
        wait_for_metadata([bootstrap], timeout_s, alive=lambda: running_pid(settings) == pid)
        return StartResult(pid, False, bootstrap)
    java, cp, _ = _prepare(settings)
    _format(java, cp, p, None)
    proc = spawn(
        [
            java,
            f"-Xmx{settings.kafka_heap}",
            "-Xms256m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={p.log4j}",
            f"-Dkafka.logs.dir={p.logs}",
            "-cp",
            cp,
            "kafka.Kafka",
            str(p.config),
        ],
        log=p.stdout,
        env=os.environ,
        cwd=p.root,
    )
    p.pid.write_text(str(proc.pid))
    try:
        wait_for_metadata([bootstrap], timeout_s, alive=lambda: proc.poll() is None)
    except BrokerError as exc:
        terminate(proc.pid, STOP_TIMEOUT_S)
        p.pid.unlink(missing_ok=True)
        raise BrokerError(f"{exc}; see {p.logs / 'server.log'} and {p.stdout}") from exc
    return StartResult(proc.pid, True, bootstrap)


def stop(settings: HubSettings, *, timeout_s: float = STOP_TIMEOUT_S) -> bool | None:
    """Stop the broker. Returns None if none was running, else whether it stopped cleanly."""
    pid = running_pid(settings)
    if pid is None:
        return None
    graceful = terminate(pid, timeout_s)
    paths(settings).pid.unlink(missing_ok=True)
    return graceful


@dataclass(frozen=True)
class Status:
    pid: int | None
    answering: bool
    bootstrap: str
    detail: str


def status(settings: HubSettings) -> Status:
    pid = running_pid(settings)
    bootstrap = f"127.0.0.1:{settings.kafka_port}"
    try:
        info = cluster_info([bootstrap], timeout_s=3.0)
        return Status(pid, True, bootstrap, f"cluster {info.get('cluster_id')}")
    except BrokerError as exc:
        return Status(pid, False, bootstrap, str(exc))
