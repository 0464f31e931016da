"""The local single-node Apache Kafka (KRaft) used for development, demo and tests.

The official jars are resolved by Maven from the checked-in pom
(``hub/data/kafka/pom.xml``); the broker runs as a detached JVM with its data,
logs and pid file under ``<data_dir>/kafka``.

Secured by default. A secured broker has:

- SASL/SCRAM-SHA-512 on the client listener (``kafka_port``) and on a separate
  inter-broker listener (``kafka_internal_port``, principal ``broker``);
- SASL/PLAIN on the controller listener (SCRAM does not work between KRaft
  controllers), principal ``controller``; ``admin``, ``broker`` and
  ``controller`` are the only super users, never ``User:ANONYMOUS``;
- the ``StandardAuthorizer`` with ``allow.everyone.if.no.acl.found=false``:
  a principal may do only what an ACL allows (``hub kafka acls apply``);
- with ``kafka_tls_port`` set, a SASL_SSL client listener whose certificate the
  development CA of :mod:`hub.dev_ca` signs;
- SCRAM credentials for ``admin``, ``broker`` and every declared principal
  (:func:`hub.principals.declared_principals`), bootstrapped when the storage is
  formatted (``--add-scram``); their passwords are generated into the data
  folder's secrets (:mod:`hub.credentials`), and ``server.properties``, which
  holds the controller's and the broker's, is mode 600.

``insecure=True`` formats a plaintext broker instead (quick experiments only).
A data folder keeps the mode it was formatted with: asking for the other one is
refused.

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
from typing import Final

from hub import credentials, dev_ca, kafka_acls, kafka_users
from hub.acl_plan import AclDiff
from hub.credentials import Credentials
from hub.errors import BrokerError, ConfigError, KafkaAuthError
from hub.kafka_admin import cluster_info, wait_for_metadata
from hub.principals import ADMIN, BROKER, CONTROLLER, SUPER_USERS
from hub.process import cmdline_has, read_pid_file, spawn, terminate
from hub.settings import HubSettings

SECURED: Final = "sasl-scram"
INSECURE: Final = "plaintext"
SCRAM: Final = "SCRAM-SHA-512"

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

    @property
    def mode(self) -> Path:
        """The security mode the storage was formatted with (:data:`SECURED` or :data:`INSECURE`)."""
        return self.root / "security-mode"


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
    """Resolve the broker's runtime classpath with Maven, cached per pom digest (once for a whole stack)."""
    p = paths(settings) if settings.stack_dir is None else BrokerPaths(settings.stack_dir.resolve() / "kafka")
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


def server_properties(
    settings: HubSettings, p: BrokerPaths, logins: Credentials | None, ca: dev_ca.DevCa | None
) -> dict[str, str]:
    """The broker's configuration: secured when ``logins`` are given (with TLS when ``ca`` is), else plaintext."""
    host = "127.0.0.1"
    ctrl = settings.kafka_controller_port
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{host}:{ctrl}",
        "controller.listener.names": "CONTROLLER",
    }
    if logins is None:
        props |= {
            "listeners": f"PLAINTEXT://{host}:{settings.kafka_port},CONTROLLER://{host}:{ctrl}",
            "advertised.listeners": f"PLAINTEXT://{host}:{settings.kafka_port}",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        }
    else:
        listeners = {
            "CLIENT": (settings.kafka_port, "SASL_PLAINTEXT"),
            "INTERNAL": (settings.kafka_internal_port, "SASL_PLAINTEXT"),
        }
        if ca is not None and settings.kafka_tls_port is not None:
            listeners["TLS"] = (settings.kafka_tls_port, "SASL_SSL")
        advertised = ",".join(
            f"{n}://{'localhost' if n == 'TLS' else host}:{port}" for n, (port, _) in listeners.items()
        )
        protocols = {"CONTROLLER": "SASL_PLAINTEXT", **{n: proto for n, (_, proto) in listeners.items()}}
        controller_pw = logins.password(CONTROLLER)
        props |= {
            "listeners": ",".join(
                [*(f"{n}://{host}:{port}" for n, (port, _) in listeners.items()), f"CONTROLLER://{host}:{ctrl}"]
            ),
            "advertised.listeners": advertised,
            "inter.broker.listener.name": "INTERNAL",
            "listener.security.protocol.map": ",".join(f"{n}:{proto}" for n, proto in protocols.items()),
            "sasl.enabled.mechanisms": SCRAM,
            "sasl.mechanism.inter.broker.protocol": SCRAM,
            "sasl.mechanism.controller.protocol": "PLAIN",
            "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.controller.plain.sasl.jaas.config": (
                "org.apache.kafka.common.security.plain.PlainLoginModule required "
                f'username="{CONTROLLER}" password="{controller_pw}" user_{CONTROLLER}="{controller_pw}";'
            ),
            "listener.name.internal.scram-sha-512.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required "
                f'username="{BROKER}" password="{logins.password(BROKER)}";'
            ),
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            "super.users": ";".join(f"User:{name}" for name in SUPER_USERS),
        }
        for name in listeners:
            if name != "INTERNAL":
                jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
                props[f"listener.name.{name.lower()}.scram-sha-512.sasl.jaas.config"] = jaas
        if "TLS" in listeners and ca is not None:
            props |= {
                "listener.name.tls.ssl.keystore.type": "PEM",
                "listener.name.tls.ssl.keystore.location": str(ca.broker_keystore),
                "listener.name.tls.ssl.client.auth": "none",
            }
    props |= {
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
        "log.cleaner.dedupe.buffer.size": str(4 * 1024 * 1024),
    }
    if settings.cluster:
        # one of several clusters side by side on one machine (hub stack up): single threads suffice
        props |= {"num.network.threads": "1", "num.io.threads": "1", "background.threads": "2"}
    return props


def _write_config(settings: HubSettings, p: BrokerPaths, logins: Credentials | None, ca: dev_ca.DevCa | None) -> None:
    props = server_properties(settings, p, logins, ca)
    fd = os.open(p.config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # it holds the controller's and the broker's passwords
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("".join(f"{k}={v}\n" for k, v in props.items()))
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


def stored_mode(settings: HubSettings) -> str | None:
    """The security mode the data folder's storage was formatted with, or None if it is not formatted."""
    p = paths(settings)
    if not (p.data / "meta.properties").is_file():
        return None
    return p.mode.read_text(encoding="utf-8").strip() if p.mode.is_file() else INSECURE


def _logins(settings: HubSettings) -> Credentials:
    """The local passwords, with one generated for every super user and declared principal still missing."""
    current = credentials.read(settings) or Credentials({})
    wanted = current.with_users(kafka_users.declared_names(settings))
    if wanted != current:
        credentials.write(settings, wanted)
    return wanted


def admin_settings(settings: HubSettings, logins: Credentials | None = None) -> HubSettings:
    """Settings that reach the local broker as :data:`~hub.principals.ADMIN` (plaintext if it is insecure)."""
    local = settings.model_copy(update={"bootstrap_servers": f"127.0.0.1:{settings.kafka_port}"})
    logins = logins or credentials.read(settings)
    if logins is None:
        return local.model_copy(
            update={"kafka_security_protocol": "PLAINTEXT", "kafka_sasl_username": "", "kafka_sasl_password_file": None}
        )
    return credentials.login(local.model_copy(update={"kafka_security_protocol": None}), ADMIN, logins.password(ADMIN))


@dataclass(frozen=True)
class _Prepared:
    java: str
    classpath: str
    paths: BrokerPaths
    mode: str
    logins: Credentials | None


def _prepare(settings: HubSettings, *, insecure: bool = False) -> _Prepared:
    """Java, the classpath, the passwords and the config files of the data folder's broker."""
    wanted = INSECURE if insecure else SECURED
    mode = stored_mode(settings) or wanted
    if mode != wanted:
        hint = "drop --insecure" if mode == SECURED else "add --insecure (or use a new data folder to secure it)"
        raise ConfigError(f"the broker in {paths(settings).root} was formatted {mode}, not {wanted}: {hint}")
    java = check_java()
    cp = resolve_classpath(settings)
    p = paths(settings)
    for d in (p.data, p.logs):
        d.mkdir(parents=True, exist_ok=True)
    logins = _logins(settings) if mode == SECURED else None
    ca = None
    if logins is not None and settings.kafka_tls_port is not None:
        ca = dev_ca.ensure(credentials.secrets_dir(settings) / "ca")
    _write_config(settings, p, logins, ca)
    return _Prepared(java, cp, p, mode, logins)


def _scram_users(logins: Credentials | None) -> dict[str, str]:
    """Every local login but the controller's, which is PLAIN on the controller listener only."""
    return {name: pw for name, pw in (logins.passwords if logins else {}).items() if name != CONTROLLER}


def _format(prep: _Prepared, cluster_id: str | None) -> bool:
    p = prep.paths
    if (p.data / "meta.properties").is_file():
        return False
    scram = [
        f"--add-scram={SCRAM}=[name={name},password={password}]"
        for name, password in sorted(_scram_users(prep.logins).items())
    ]
    # the passwords go in an argument file (mode 600), never on a command line that `ps` shows
    args_file = credentials.secrets_dir_of(p.root.parent) / "format.args"
    if scram:
        args_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(args_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("".join(f"{arg}\n" for arg in scram))
    try:
        proc = subprocess.run(
            [
                prep.java,
                f"-Dlog4j2.configurationFile={p.log4j}",
                "-cp",
                prep.classpath,
                "kafka.tools.StorageTool",
                "format",
                # one argument with '=': an id is never taken for an option, whatever it starts with
                f"--cluster-id={cluster_id or new_cluster_id()}",
                f"--config={p.config}",
                *([f"@{args_file}"] if scram else []),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        args_file.unlink(missing_ok=True)
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr).strip()
        for password in prep.logins.passwords.values() if prep.logins else ():
            out = out.replace(password, credentials.masked(password))
        raise BrokerError(f"formatting Kafka storage in {p.data} failed: {out[-800:]}")
    p.mode.write_text(prep.mode + "\n", encoding="utf-8")
    return True


def format_storage(settings: HubSettings, *, cluster_id: str | None = None, insecure: bool = False) -> bool:
    """Format the data folder's storage unless it already is; returns whether it formatted.

    ``cluster_id`` defaults to a fresh :func:`new_cluster_id`. ``start`` calls this.
    """
    return _format(_prepare(settings, insecure=insecure), cluster_id)


@dataclass(frozen=True)
class StartResult:
    pid: int
    started: bool  # False when a broker was already running
    bootstrap: str
    secured: bool = True
    users_created: tuple[str, ...] = ()
    acls: AclDiff | None = None  # what start changed in the ACLs (None: not applied)


def start(settings: HubSettings, *, timeout_s: float = START_TIMEOUT_S, insecure: bool = False) -> StartResult:
    """Start the local broker and wait for metadata; a running broker is a no-op.

    A secured broker then has every declared principal as a SCRAM user (those added to the declarations
    since the storage was formatted are created through the Admin API) and exactly the ACLs the
    declarations call for (``hub kafka acls apply`` does the same for a running broker).
    """
    p = paths(settings)
    bootstrap = f"127.0.0.1:{settings.kafka_port}"
    pid = running_pid(settings)
    if pid is not None:
        admin = admin_settings(settings)
        wait_for_metadata(admin, timeout_s, alive=lambda: running_pid(settings) == pid)
        return StartResult(pid, False, bootstrap, secured=credentials.read(settings) is not None)
    prep = _prepare(settings, insecure=insecure)
    _format(prep, None)
    proc = spawn(
        [
            prep.java,
            f"-Xmx{settings.kafka_heap}",
            "-Xms256m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={p.log4j}",
            f"-Dkafka.logs.dir={p.logs}",
            "-cp",
            prep.classpath,
            "kafka.Kafka",
            str(p.config),
        ],
        log=p.stdout,
        env=os.environ,
        cwd=p.root,
    )
    p.pid.write_text(str(proc.pid))
    admin = admin_settings(settings, prep.logins)
    try:
        wait_for_metadata(admin, timeout_s, alive=lambda: proc.poll() is None)
        created = kafka_users.ensure(admin, _scram_users(prep.logins)) if prep.logins else []
        acls = _apply_acls(settings, admin) if prep.logins else None
    except (BrokerError, KafkaAuthError) as exc:
        terminate(proc.pid, STOP_TIMEOUT_S)
        p.pid.unlink(missing_ok=True)
        raise BrokerError(f"{exc}; see {p.logs / 'server.log'} and {p.stdout}") from exc
    return StartResult(proc.pid, True, bootstrap, prep.logins is not None, tuple(created), acls)


def _apply_acls(settings: HubSettings, admin: HubSettings) -> AclDiff:
    """Make the broker's ACLs the plan of the declarations (:func:`hub.acl_plan.plan`)."""
    return kafka_acls.apply(admin, kafka_acls.declared_plan(settings))


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
        info = cluster_info(admin_settings(settings), timeout_s=3.0)
        mode = stored_mode(settings) or "not formatted here"
        return Status(pid, True, bootstrap, f"cluster {info.get('cluster_id')}, {mode}")
    except (BrokerError, KafkaAuthError) as exc:
        return Status(pid, False, bootstrap, str(exc))
