"""docker-compose.yml: validated by ``docker compose config -q`` where Compose exists,
and always by its structure (there is no Docker engine on the CI machine)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import yaml

from hub import local_kafka

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"


def _compose_available() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    return subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0


def test_compose_structure() -> None:
    doc = yaml.safe_load(COMPOSE.read_text())
    services = doc["services"]
    kafka = services["kafka"]
    image, _, tag = kafka["image"].partition(":")
    assert image == "apache/kafka"
    assert tag == local_kafka.kafka_version(), "compose and the local broker should run the same Kafka"
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["postgres"]["image"].startswith("postgres:")
    for name in ("kafka", "postgres"):
        assert "healthcheck" in services[name], name
        mounts = services[name]["volumes"]
        assert any(m.split(":")[0] in doc["volumes"] for m in mounts), f"{name} needs a named volume"
    for name, svc in services.items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            assert cond["condition"] in ("service_healthy", "service_completed_successfully", "service_started")
        env = svc.get("environment") or {}
        for key in env:
            if key.startswith("HUB_"):
                assert re.fullmatch(r"HUB_[A-Z_]+", key)


def test_compose_config_validates_where_compose_exists() -> None:
    if not _compose_available():
        # No Compose plugin here: the structural test above is the check.
        return
    proc = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_compose_runs_the_hubs_services() -> None:
    doc = yaml.safe_load(COMPOSE.read_text())
    services = doc["services"]
    expected = {"topics", "registry", "gateway", "projections", "ingest", "api"}
    assert expected <= set(services)
    for name in expected:
        assert services[name]["command"][0] == "hub", name
        assert services[name]["environment"]["HUB_BOOTSTRAP_SERVERS"] == "kafka:9092", name
    assert services["gateway"]["environment"]["HUB_SECRETS_FILE"].startswith("/run/secrets/")
    assert services["projections"]["environment"]["HUB_DATABASE_URL"].startswith("postgresql+psycopg://")


def test_the_image_copies_every_package_and_data_folder_the_wheel_needs() -> None:
    """A package missing from the image makes ``hub`` (``cli:main``) fail in every service."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        wheel = tomllib.load(f)["tool"]["hatch"]["build"]["targets"]["wheel"]
    copied = {m.group(1) for m in re.finditer(r"^COPY\s+(\S+)\s+\./", (ROOT / "Dockerfile").read_text(), re.M)}
    needed = set(wheel["packages"]) | set(wheel["force-include"])
    assert needed <= copied, f"the Dockerfile does not copy {sorted(needed - copied)}"
    assert "cli" in wheel["packages"]


def test_every_service_command_is_a_command_of_the_hub() -> None:
    """The services start ``hub <command>``: each must parse (``--help`` stops before anything runs)."""
    from typer.testing import CliRunner

    from cli.main import app

    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for name, svc in services.items():
        command = svc.get("command")
        if not command or command[0] != "hub":
            continue
        result = CliRunner().invoke(app, [*command[1:], "--help"])
        assert result.exit_code == 0, f"{name}: {' '.join(command)}: {result.output}"
        assert "Usage:" in result.output, name
