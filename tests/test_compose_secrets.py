"""deploy/compose/make-secrets.sh writes every secret docker-compose.yml mounts, in a form its reader takes.

The script runs for real (it needs bash and openssl) into a temporary folder, owned by the user running
the tests (``--owner``): compose would have it owned by uid 1000, the containers' user.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509.oid import ExtendedKeyUsageOID
from sqlalchemy.engine import make_url

from hub.agreements import load_agreements
from hub.agreements.keys import load_key, read_secrets_file
from hub.agreements.loading import agreements_dir
from hub.settings import load_settings
from tests.test_compose import BROKER_PROPERTIES, KAFKA_USERS, MAKE_SECRETS, compose, secret_targets, services

PASSWORD = re.compile(r"[A-Za-z0-9._~-]{12,}")
"""What deploy/compose/kafka/start.sh accepts (it puts passwords in JAAS quotes and in --add-scram)."""


def make_secrets(folder: Path) -> subprocess.CompletedProcess[str]:
    owner = f"{os.getuid()}:{os.getgid()}"
    return subprocess.run(
        ["bash", str(MAKE_SECRETS), "--owner", owner, str(folder)], capture_output=True, text=True, check=False
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def secrets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("compose") / "secrets"
    proc = make_secrets(folder)
    assert proc.returncode == 0, proc.stderr
    return folder


def compose_file(secrets_dir: Path, secret: str) -> Path:
    """Where the generated file of the compose secret ``secret`` is (compose names it ./secrets/...)."""
    path: str = compose()["secrets"][secret]["file"]
    return secrets_dir / path.removeprefix("./secrets/")


def test_every_secret_compose_mounts_is_written_mode_600_in_folders_of_mode_700(secrets_dir: Path) -> None:
    for name in compose()["secrets"]:
        path = compose_file(secrets_dir, name)
        assert path.is_file(), f"make-secrets.sh does not write {name} ({path})"
    for path in secrets_dir.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: mode {mode:o}"
    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700


def test_the_output_names_no_secret(tmp_path: Path) -> None:
    proc = make_secrets(tmp_path / "secrets")
    assert proc.returncode == 0, proc.stderr
    for path in (tmp_path / "secrets" / "kafka").iterdir():
        assert path.read_text().strip() not in proc.stdout + proc.stderr


def test_a_second_run_keeps_every_file_and_fills_in_only_what_is_missing(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    assert make_secrets(folder).returncode == 0
    first = snapshot(folder)
    assert make_secrets(folder).returncode == 0
    assert snapshot(folder) == first
    (folder / "kafka" / "ingest").unlink()
    assert make_secrets(folder).returncode == 0
    again = snapshot(folder)
    assert again.keys() == first.keys()
    assert {k for k in first if first[k] != again[k]} == {"kafka/ingest"}


def test_every_kafka_password_is_one_the_hub_and_the_broker_script_take(secrets_dir: Path) -> None:
    kafka = services()["kafka"]
    users = {target.removeprefix(KAFKA_USERS): src for src, target in secret_targets(kafka) if KAFKA_USERS in target}
    assert sorted(p.name for p in (secrets_dir / "kafka").iterdir()) == sorted(users), "one file per Kafka user"
    seen = set()
    for user, secret in users.items():
        path = compose_file(secrets_dir, secret)
        assert path.name == user, f"the secret {secret} of {user} is in {path.name}"
        settings = load_settings(env_file=None, kafka_sasl_username=user, kafka_sasl_password_file=path)
        password = settings.kafka_sasl_password.get_secret_value()
        assert PASSWORD.fullmatch(password), user
        seen.add(password)
    assert len(seen) == len(users), "every user has its own password"


def test_the_agreement_keys_file_has_a_key_for_every_agreement(secrets_dir: Path) -> None:
    path = compose_file(secrets_dir, "agreement-keys")
    values = read_secrets_file(path)  # refuses a file others may read
    agreements = list(load_agreements(agreements_dir(None)).values())
    assert agreements
    assert sorted(values) == sorted(a.key_variable for a in agreements)
    keys = {load_key(a, {}, path) for a in agreements}
    assert len(keys) == len(agreements), "every agreement has its own key"


def test_the_pgpass_file_holds_the_database_password_for_the_url_the_services_use(secrets_dir: Path) -> None:
    found = services()
    password = compose_file(secrets_dir, "postgres-password").read_text().strip()
    assert PASSWORD.fullmatch(password)
    url = make_url(found["projections"]["environment"]["HUB_DATABASE_URL"])
    assert url.password is None
    pg = found["postgres"]["environment"]
    assert (url.username, url.database) == (pg["POSTGRES_USER"], pg["POSTGRES_DB"])
    line = compose_file(secrets_dir, "pgpass").read_text()
    assert line == f"{url.host}:{url.port}:{url.database}:{url.username}:{password}\n"
    for name in ("projections", "api"):
        env = found[name]["environment"]
        assert env["PGPASSFILE"] in {t for s, t in secret_targets(found[name]) if s == "pgpass"}, name


def test_the_broker_keystore_is_a_pkcs8_key_then_a_certificate_for_the_advertised_names(secrets_dir: Path) -> None:
    pem = compose_file(secrets_dir, "kafka-tls-keystore").read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----"), "Kafka's PEM keystore reads an unencrypted PKCS#8 key"
    key = load_pem_private_key(pem, password=None)
    chain = x509.load_pem_x509_certificates(pem)
    ca = x509.load_pem_x509_certificate((secrets_dir / "tls" / "ca.pem").read_bytes())
    assert len(chain) == 2 and chain[1] == ca
    cert = chain[0]
    assert cert.public_key() == key.public_key()
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    hosts = set(names.get_values_for_type(x509.DNSName)) | {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    advertised = re.search(r"^advertised\.listeners=.*TLS://([^:,]+):", BROKER_PROPERTIES.read_text(), re.M)
    assert advertised
    assert {advertised.group(1), "127.0.0.1", "kafka"} <= hosts
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usage
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert isinstance(key, ec.EllipticCurvePrivateKey)


def test_it_refuses_an_owner_that_is_not_a_uid_and_gid(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["bash", str(MAKE_SECRETS), "--owner", "hub", str(tmp_path / "s")], capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert "--owner is UID:GID" in proc.stderr
    assert not (tmp_path / "s").exists()
