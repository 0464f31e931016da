"""The Confluent REST API of the running registry process, through plain HTTP."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.kafka

CT = "application/vnd.schemaregistry.v1+json"


def schema(*fields: str, name: str = "A") -> str:
    return json.dumps({"type": "record", "name": name, "fields": [{"name": n, "type": "string"} for n in fields]})


def with_optional(base: str, field: str) -> str:
    doc = json.loads(base)
    doc["fields"].append({"name": field, "type": ["null", "string"], "default": None})
    return json.dumps(doc)


def compact(text: str) -> str:
    return json.dumps(json.loads(text), separators=(",", ":"))


@pytest.fixture
def http(registry: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=registry, headers={"Content-Type": CT}, timeout=30) as client:
        yield client


@pytest.fixture
def subject() -> str:
    return f"raw.gd.test-{uuid.uuid4().hex[:8]}.case-opened-value"


def post(http: httpx.Client, path: str, body: Any, **params: str) -> httpx.Response:
    return http.post(path, content=json.dumps(body), params=params)


def assert_error(resp: httpx.Response, status: int, code: int, *needles: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == CT
    body = resp.json()
    assert set(body) == {"error_code", "message"} and body["error_code"] == code, body
    for needle in needles:
        assert needle in body["message"], body


def test_register_read_back_and_lookup(http: httpx.Client, subject: str) -> None:
    # a record name of its own: identical schema text under another test's subject would share its id
    unique = f"R{uuid.uuid4().hex[:8]}"
    v1, v2 = schema("case_id", name=unique), with_optional(schema("case_id", name=unique), "note")
    first = post(http, f"/subjects/{subject}/versions", {"schema": v1})
    assert first.status_code == 200 and first.headers["content-type"] == CT
    id1 = first.json()["id"]
    assert post(
        http, f"/subjects/{subject}/versions", {"schema": v1, "schemaType": "AVRO", "references": []}
    ).json() == {"id": id1}
    id2 = post(http, f"/subjects/{subject}/versions", {"schema": v2}).json()["id"]
    assert id2 > id1

    assert subject in http.get("/subjects").json()
    assert http.get(f"/subjects/{subject}/versions").json() == [1, 2]
    latest = http.get(f"/subjects/{subject}/versions/latest")
    assert latest.headers["content-type"] == CT
    assert latest.json() == {"subject": subject, "id": id2, "version": 2, "schema": compact(v2)}
    assert http.get(f"/subjects/{subject}/versions/1").json()["id"] == id1
    raw = http.get(f"/subjects/{subject}/versions/1/schema")
    assert raw.headers["content-type"] == CT and raw.json() == json.loads(v1)
    assert http.get(f"/schemas/ids/{id1}").json() == {"schema": compact(v1)}
    assert http.get(f"/schemas/ids/{id2}/versions").json() == [{"subject": subject, "version": 2}]
    assert http.get(f"/schemas/ids/{id2}/subjects").json() == [subject]
    found = post(http, f"/subjects/{subject}", {"schema": json.dumps(json.loads(v1), indent=4)})
    assert found.json() == {"subject": subject, "id": id1, "version": 1, "schema": compact(v1)}
    assert http.get("/schemas/types").json() == ["AVRO"]


def test_the_same_schema_under_another_subject_reuses_its_id(http: httpx.Client, subject: str) -> None:
    text = schema("case_id", "district", name=f"T{uuid.uuid4().hex[:8]}")
    one = post(http, f"/subjects/{subject}/versions", {"schema": text}).json()["id"]
    other = subject.replace("-value", "-copy-value")
    assert post(http, f"/subjects/{other}/versions", {"schema": text}).json()["id"] == one
    assert http.get(f"/subjects/{other}/versions/latest").json()["version"] == 1


def test_not_found_errors(http: httpx.Client, subject: str) -> None:
    assert_error(http.get(f"/subjects/{subject}/versions"), 404, 40401, f"Subject '{subject}' not found")
    assert_error(http.get(f"/subjects/{subject}/versions/latest"), 404, 40401)
    post(http, f"/subjects/{subject}/versions", {"schema": schema("case_id")})
    assert_error(http.get(f"/subjects/{subject}/versions/9"), 404, 40402, "Version 9")
    assert_error(http.get("/schemas/ids/987654321"), 404, 40403, "Schema not found")
    assert_error(http.get("/schemas/ids/abc"), 404, 40403)
    assert_error(post(http, f"/subjects/{subject}", {"schema": schema("other")}), 404, 40403)
    assert_error(http.get("/no/such/route"), 404, 404)


@pytest.mark.parametrize("version", ["0", "abc", "2147483648", "-2"])
def test_invalid_versions_are_42202(http: httpx.Client, subject: str, version: str) -> None:
    post(http, f"/subjects/{subject}/versions", {"schema": schema("case_id")})
    assert_error(http.get(f"/subjects/{subject}/versions/{version}"), 422, 42202, f"'{version}'")


def test_invalid_avro_is_422_with_the_reason(http: httpx.Client, subject: str) -> None:
    bad_default = '{"type":"record","name":"A","fields":[{"name":"n","type":"int","default":"many"}]}'
    assert_error(post(http, f"/subjects/{subject}/versions", {"schema": bad_default}), 422, 42201, "many")
    unknown = '{"type":"record","name":"A","fields":[{"name":"n","type":"integer"}]}'
    assert_error(post(http, f"/subjects/{subject}/versions", {"schema": unknown}), 422, 42201, "integer")
    assert_error(post(http, f"/subjects/{subject}/versions", {"schema": "{oops"}), 422, 42201, "not valid JSON")
    assert_error(post(http, f"/subjects/{subject}/versions", {"schma": "{}"}), 422, 42201, '"schema"')
    protobuf = {"schema": "syntax = 'proto3';", "schemaType": "PROTOBUF"}
    assert_error(post(http, f"/subjects/{subject}/versions", protobuf), 422, 42201, "AVRO only")


def test_malformed_bodies_are_clear_client_errors(http: httpx.Client, subject: str) -> None:
    path = f"/subjects/{subject}/versions"
    assert_error(http.post(path, content=b'{"schema": '), 400, 400, "not valid JSON")
    assert_error(http.post(path, content=b'["a list"]'), 422, 422, "JSON object")
    assert_error(http.post(path, content=b"", headers={"Content-Type": CT}), 422, 422, "JSON object")
    assert_error(http.post(path, content=b"schema=x", headers={"Content-Type": "text/plain"}), 415, 415, "text/plain")
    assert_error(http.put("/config", content=b"{"), 400, 400)


def test_plain_json_requests_are_accepted(http: httpx.Client, subject: str) -> None:
    resp = http.post(
        f"/subjects/{subject}/versions",
        content=json.dumps({"schema": schema("case_id")}),
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 200 and "id" in resp.json()


def test_an_incompatible_schema_is_409_naming_the_field_and_the_rule(http: httpx.Client, subject: str) -> None:
    post(http, f"/subjects/{subject}/versions", {"schema": schema("case_id")})
    resp = post(http, f"/subjects/{subject}/versions", {"schema": schema("case_id", "beneficiaries")})
    assert_error(resp, 409, 409, "'beneficiaries'", "a new required field needs a default")
    assert http.get(f"/subjects/{subject}/versions").json() == [1]


def test_compatibility_endpoint(http: httpx.Client, subject: str) -> None:
    post(http, f"/subjects/{subject}/versions", {"schema": schema("case_id")})
    bad = {"schema": schema("case_id", "beneficiaries")}
    good = {"schema": with_optional(schema("case_id"), "note")}
    path = f"/compatibility/subjects/{subject}/versions/latest"
    assert post(http, path, bad).json() == {"is_compatible": False}
    verbose = post(http, path, bad, verbose="true").json()
    assert verbose["is_compatible"] is False and "'beneficiaries'" in verbose["messages"][0]
    assert post(http, path, good, verbose="true").json() == {"is_compatible": True, "messages": []}
    assert post(http, f"/compatibility/subjects/{subject}/versions/1", good).json() == {"is_compatible": True}
    assert post(http, f"/compatibility/subjects/{subject}/versions", bad).json() == {"is_compatible": False}
    assert_error(post(http, f"/compatibility/subjects/{subject}/versions/5", good), 404, 40402)
    assert_error(post(http, f"/compatibility/subjects/{subject}-x/versions/latest", good), 404, 40401)
    assert post(http, f"/compatibility/subjects/{subject}-x/versions", good).json() == {"is_compatible": True}


def test_subject_config(http: httpx.Client, subject: str) -> None:
    assert_error(http.get(f"/config/{subject}"), 404, 40408, subject)
    global_level = http.get("/config").json()["compatibilityLevel"]
    assert http.get(f"/config/{subject}", params={"defaultToGlobal": "true"}).json() == {
        "compatibilityLevel": global_level
    }
    put = http.put(f"/config/{subject}", content=json.dumps({"compatibility": "none"}))
    assert put.status_code == 200 and put.headers["content-type"] == CT and put.json() == {"compatibility": "NONE"}
    assert http.get(f"/config/{subject}").json() == {"compatibilityLevel": "NONE"}
    post(http, f"/subjects/{subject}/versions", {"schema": schema("case_id")})
    assert post(http, f"/subjects/{subject}/versions", {"schema": schema("other")}).status_code == 200
    assert_error(http.put(f"/config/{subject}", content=json.dumps({"compatibility": "SIDEWAYS"})), 422, 42203)
    assert_error(http.put(f"/config/{subject}", content=json.dumps({"level": "FULL"})), 422, 42203)
    assert http.delete(f"/config/{subject}").json() == {"compatibilityLevel": "NONE"}
    assert_error(http.get(f"/config/{subject}"), 404, 40408)


def test_global_config(http: httpx.Client) -> None:
    before = http.get("/config")
    assert before.headers["content-type"] == CT
    original = before.json()["compatibilityLevel"]
    assert original == "BACKWARD_TRANSITIVE"  # nobody changed it: the default
    try:
        assert http.put("/config", content=json.dumps({"compatibility": "FULL"})).json() == {"compatibility": "FULL"}
        assert http.get("/config").json() == {"compatibilityLevel": "FULL"}
        assert_error(http.put("/config", content=json.dumps({"compatibility": "SIDEWAYS"})), 422, 42203, "SIDEWAYS")
    finally:
        http.put("/config", content=json.dumps({"compatibility": original}))
    assert http.get("/config").json() == {"compatibilityLevel": original}


def test_delete_subject_soft_then_permanent(http: httpx.Client, subject: str) -> None:
    first = post(http, f"/subjects/{subject}/versions", {"schema": schema("case_id")}).json()["id"]
    post(http, f"/subjects/{subject}/versions", {"schema": with_optional(schema("case_id"), "note")})
    assert_error(http.delete(f"/subjects/{subject}", params={"permanent": "true"}), 404, 40405)
    deleted = http.delete(f"/subjects/{subject}")
    assert deleted.status_code == 200 and deleted.headers["content-type"] == CT and deleted.json() == [1, 2]
    assert subject not in http.get("/subjects").json()
    assert subject in http.get("/subjects", params={"deleted": "true"}).json()
    assert_error(http.get(f"/subjects/{subject}/versions"), 404, 40401)
    assert http.get(f"/subjects/{subject}/versions/1", params={"deleted": "true"}).json()["id"] == first
    assert http.get(f"/schemas/ids/{first}").status_code == 200  # ids outlive a soft delete
    assert_error(http.delete(f"/subjects/{subject}"), 404, 40404)
    assert http.delete(f"/subjects/{subject}", params={"permanent": "true"}).json() == [1, 2]
    assert subject not in http.get("/subjects", params={"deleted": "true"}).json()


def test_delete_one_version(http: httpx.Client, subject: str) -> None:
    post(http, f"/subjects/{subject}/versions", {"schema": schema("case_id")})
    post(http, f"/subjects/{subject}/versions", {"schema": with_optional(schema("case_id"), "note")})
    assert http.delete(f"/subjects/{subject}/versions/latest").json() == 2
    assert http.get(f"/subjects/{subject}/versions").json() == [1]
    assert http.delete(f"/subjects/{subject}/versions/2", params={"permanent": "true"}).json() == 2
    assert http.get(f"/subjects/{subject}/versions", params={"deleted": "true"}).json() == [1]


def test_bad_query_parameters_are_confluent_errors(http: httpx.Client) -> None:
    assert_error(http.get("/subjects", params={"deleted": "perhaps"}), 422, 422, "deleted")


def test_confluent_kafkas_standard_client_and_serializers_work_against_it(registry: str, subject: str) -> None:
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
    from confluent_kafka.schema_registry.error import SchemaRegistryError as ConfluentError
    from confluent_kafka.serialization import MessageField, SerializationContext

    text = schema("case_id", "district")
    client = SchemaRegistryClient({"url": registry})
    schema_id = client.register_schema(subject, Schema(text, "AVRO"))
    assert client.get_latest_version(subject).schema_id == schema_id
    assert client.lookup_schema(subject, Schema(text, "AVRO")).version == 1
    assert client.get_versions(subject) == [1]
    assert subject in client.get_subjects()
    assert json.loads(client.get_schema(schema_id).schema_str or "null") == json.loads(text)
    incompatible = Schema(schema("case_id", "district", "beneficiaries"), "AVRO")
    assert client.test_compatibility(subject, incompatible) is False
    with pytest.raises(ConfluentError) as refused:
        client.register_schema(subject, incompatible)
    assert refused.value.error_code == 409 and "'beneficiaries'" in refused.value.error_message
    client.set_compatibility(subject, "FULL")
    assert client.get_compatibility(subject) == "FULL"

    ctx = SerializationContext(subject.removesuffix("-value"), MessageField.VALUE)
    record = {"case_id": "NS-2026-000123", "district": "shenzhen-nanshan"}
    data = AvroSerializer(client, text, conf={"auto.register.schemas": False, "use.latest.version": True})(record, ctx)
    assert data is not None and data[0] == 0 and int.from_bytes(data[1:5], "big") == schema_id
    assert AvroDeserializer(SchemaRegistryClient({"url": registry}))(data, ctx) == record
    assert client.delete_subject(subject) == [1]
