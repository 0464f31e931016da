"""The SDK's behaviour is the same whichever producer library sends: kafka-python (the default) or librdkafka.

On the real secured session broker: where an event lands (topic, key, wire format, offset), a batch's order and
rejections, a refused write naming the principal, the topic and WRITE, a refused login that fails only its own
district's events, an unreachable broker failing fast with its address. Nothing here measures speed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr

from hub import naming
from hub.errors import PublishError
from hub.kafka_clients import ProducerClient
from hub.principals import district_principal
from hub.publishing.publisher import Ack, Publisher, Rejected
from hub.registry.client import RegistryClient
from hub.serde import AvroDeserializer
from hub.settings import HubSettings, load_settings
from hub.validation import validate_event
from tests.conftest import free_port
from tests.factories import DROP, kafka_env, valid_event_doc
from tests.test_publisher import _read  # one reader of a published record for both suites

Login = Callable[[str], HubSettings]
CLIENTS: tuple[ProducerClient, ...] = ("kafka-python", "confluent")

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def settings(topics: HubSettings, registry: str) -> HubSettings:
    return topics.model_copy(update={"schema_registry_url": registry})


@pytest.mark.parametrize("client", CLIENTS)
def test_a_batch_lands_in_order_with_keys_and_wire_format(
    settings: HubSettings, registry_client: RegistryClient, client: ProducerClient
) -> None:
    docs = [valid_event_doc("VisitMade"), valid_event_doc("CaseOpened"), valid_event_doc("VisitMade")]
    docs.insert(1, valid_event_doc("VisitMade", duration_minutes=-5))
    with Publisher(settings, registry_client, client=client) as pub:
        results = pub.publish_many(docs)
        single = pub.publish(valid_event_doc("CaseClosed"))
    assert [type(r) for r in results] == [Ack, Rejected, Ack, Ack]
    bad = results[1]
    assert isinstance(bad, Rejected) and bad.index == 1 and bad.phase == "validation"
    assert "duration_minutes" in [f for f, _ in bad.errors]
    assert single.topic == "raw.gd.shenzhen-nanshan.case-closed" and single.offset >= 0
    for doc, ack in zip([docs[0], docs[2], docs[3]], [results[0], results[2], results[3]], strict=True):
        assert isinstance(ack, Ack) and ack.event_id == doc["event_id"]
        validated = validate_event(doc)
        assert ack.topic == naming.raw_topic("GD", "shenzhen-nanshan", doc["type"])
        key, value = _read(settings, ack)
        assert key == validated.key.encode()
        assert value[0] == 0
        assert int.from_bytes(value[1:5], "big") == registry_client.get_latest(naming.subject_for(ack.topic)).id
        assert AvroDeserializer(registry_client)(value) == validated.record


@pytest.mark.parametrize("client", CLIENTS)
def test_a_write_the_acls_refuse_names_principal_topic_and_write(
    settings: HubSettings, registry_client: RegistryClient, login_as: Login, client: ProducerClient
) -> None:
    nanshan = login_as(district_principal("GD", "shenzhen-nanshan")).model_copy(
        update={"schema_registry_url": settings.schema_registry_url}
    )
    tianhe = valid_event_doc("VisitMade", district="guangzhou-tianhe", station=DROP)
    own = valid_event_doc("VisitMade")
    with Publisher(nanshan, registry_client, timeout_s=10.0, client=client) as pub:
        refused, ok = pub.publish_many([tianhe, own])
    assert isinstance(ok, Ack)
    assert isinstance(refused, Rejected) and refused.phase == "publish"
    for part in ("User:district.gd.shenzhen-nanshan", "WRITE", "raw.gd.guangzhou-tianhe.visit-made"):
        assert part in refused.message, refused.message


@pytest.mark.parametrize("client", CLIENTS)
def test_a_refused_login_fails_only_its_own_districts_events(
    settings: HubSettings, registry_client: RegistryClient, login_as: Login, client: ProducerClient
) -> None:
    def logins(region: str, district: str) -> HubSettings:
        own = login_as(district_principal(region, district))
        if district == "guangzhou-tianhe":
            return own.model_copy(update={"kafka_sasl_password": SecretStr("not-the-password")})
        return own

    tianhe = {"district": "guangzhou-tianhe", "station": DROP}
    docs = [valid_event_doc("VisitMade", **tianhe), valid_event_doc("VisitMade")]
    docs.append(valid_event_doc("VisitMade", **tianhe))
    with Publisher(settings, registry_client, timeout_s=5.0, logins=logins, client=client) as pub:
        first, nanshan, second = pub.publish_many(docs)
    assert isinstance(nanshan, Ack) and nanshan.topic == "raw.gd.shenzhen-nanshan.visit-made"
    for refused in (first, second):
        assert isinstance(refused, Rejected) and refused.phase == "publish"
        assert "User:district.gd.guangzhou-tianhe" in refused.message and "not-the-password" not in refused.message


@pytest.mark.parametrize("client", CLIENTS)
def test_an_unreachable_broker_fails_fast_naming_it(registry_client: RegistryClient, client: ProducerClient) -> None:
    port = free_port()
    dead = load_settings(env_file=None, bootstrap_servers=f"127.0.0.1:{port}", request_timeout_s=2.0)
    with pytest.raises(PublishError) as info, Publisher(dead, registry_client, client=client) as pub:
        pub.publish(valid_event_doc("CaseOpened"))
    assert f"127.0.0.1:{port}" in str(info.value)


@pytest.mark.parametrize("client", CLIENTS)
def test_a_topic_that_does_not_exist_is_named(
    settings: HubSettings, registry_client: RegistryClient, client: ProducerClient
) -> None:
    """kafka-python finds no metadata at send, librdkafka fails the delivery: either way the topic is named."""
    doc = valid_event_doc("VisitMade")
    missing = "raw.gd.shenzhen-nanshan.no-such-event"  # every real topic exists in the session layout
    with Publisher(settings, registry_client, timeout_s=3.0, client=client) as pub:
        route = pub._route(validate_event(doc))
        pub._routes[("GD", "shenzhen-nanshan", "VisitMade")] = dataclasses.replace(route, topic=missing)
        (result,) = pub.publish_many([doc])
    assert isinstance(result, Rejected) and result.phase == "publish"
    assert missing in result.message and "hub topics apply" in result.message


@pytest.mark.parametrize("client", CLIENTS)
def test_hub_publish_sends_a_file_with_either_client(
    settings: HubSettings, registry: str, tmp_path: Path, client: ProducerClient
) -> None:
    docs = [valid_event_doc("ServiceDelivered") for _ in range(3)]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")}
    env.update(kafka_env(settings), HUB_SCHEMA_REGISTRY_URL=registry, HUB_DATA_DIR=str(settings.data_dir))
    hub = str(Path(sys.executable).with_name("hub"))
    proc = subprocess.run(
        [hub, "publish", str(path), "--kafka-client", client], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "published 3, rejected 0" in proc.stderr


def test_hub_publish_names_the_clients_it_knows(settings: HubSettings, registry: str, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(valid_event_doc("ServiceDelivered")) + "\n", encoding="utf-8")
    hub = str(Path(sys.executable).with_name("hub"))
    proc = subprocess.run(
        [hub, "publish", str(path), "--kafka-client", "java"], capture_output=True, text=True, check=False
    )
    assert proc.returncode != 0
    assert "kafka-python" in proc.stderr and "confluent" in proc.stderr
