"""The registry client against the running registry: answers, caching and error mapping."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest

from hub.errors import IncompatibleSchemaError, SchemaRegistryError
from hub.registry.client import RegisteredSchema, RegistryClient
from tests.conftest import free_port

pytestmark = pytest.mark.kafka


class CountingTransport(httpx.HTTPTransport):
    """The real HTTP transport, counting the requests that reach the server."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        return super().handle_request(request)


def schema(*fields: str, name: str = "A") -> str:
    return json.dumps({"type": "record", "name": name, "fields": [{"name": n, "type": "string"} for n in fields]})


@pytest.fixture
def transport() -> CountingTransport:
    return CountingTransport()


@pytest.fixture
def client(registry: str, transport: CountingTransport) -> Iterator[RegistryClient]:
    with RegistryClient(registry, timeout_s=30, transport=transport) as c:
        yield c


@pytest.fixture
def subject() -> str:
    return f"shared.gba.test-{uuid.uuid4().hex[:8]}-value"


def test_register_lookup_and_read(client: RegistryClient, subject: str) -> None:
    v1 = schema("case_id")
    v2 = json.loads(schema("case_id"))
    v2["fields"].append({"name": "note", "type": ["null", "string"], "default": None})
    id1 = client.register(subject, v1)
    id2 = client.register(subject, v2)  # a dict works as well as text
    assert id2 > id1
    assert client.subjects().count(subject) == 1
    assert client.versions(subject) == [1, 2]
    latest = client.get_latest(subject)
    assert latest == RegisteredSchema(subject, id2, 2, json.dumps(v2, separators=(",", ":")))
    assert client.get_version(subject, 1).id == id1
    assert json.loads(client.get_schema(id1)) == json.loads(v1)
    found = client.lookup(subject, json.dumps(json.loads(v1), indent=2))
    assert found is not None and (found.id, found.version) == (id1, 1)
    assert client.lookup(subject, schema("something_else")) is None
    assert client.lookup(subject + "-missing", v1) is None


def test_get_schema_is_cached_forever(registry: str, subject: str, transport: CountingTransport) -> None:
    with RegistryClient(registry) as writer:
        schema_id = writer.register(subject, schema("case_id"))
    with RegistryClient(registry, transport=transport) as reader:
        first = reader.get_schema(schema_id)
        assert transport.requests == [f"GET /schemas/ids/{schema_id}"]
        assert reader.get_schema(schema_id) == first
        assert transport.requests == [f"GET /schemas/ids/{schema_id}"]  # no second call


def test_register_is_cached_per_subject_and_normalised_schema(
    client: RegistryClient, subject: str, transport: CountingTransport
) -> None:
    text = schema("case_id", "district")
    schema_id = client.register(subject, text)
    calls = len(transport.requests)
    reordered = json.dumps({"fields": json.loads(text)["fields"], "name": "A", "type": "record"}, indent=1)
    assert client.register(subject, reordered) == schema_id
    assert client.get_schema(schema_id) == text
    assert len(transport.requests) == calls
    assert client.register(subject + "-other", text) == schema_id  # another subject: asks the registry
    assert len(transport.requests) == calls + 1


def test_compatibility_messages(client: RegistryClient, subject: str) -> None:
    assert client.check_compatibility(subject, schema("case_id")) == []  # nothing registered yet
    client.register(subject, schema("case_id"))
    messages = client.check_compatibility(subject, schema("case_id", "beneficiaries"))
    assert len(messages) == 1 and "'beneficiaries'" in messages[0] and "needs a default" in messages[0]
    optional = json.loads(schema("case_id"))
    optional["fields"].append({"name": "note", "type": ["null", "string"], "default": None})
    assert client.check_compatibility(subject, optional, version=1) == []


def test_errors_carry_the_registry_code_and_status(client: RegistryClient, subject: str) -> None:
    with pytest.raises(SchemaRegistryError) as missing:
        client.get_latest(subject)
    assert (missing.value.error_code, missing.value.status) == (40401, 404)
    assert subject in str(missing.value)
    client.register(subject, schema("case_id"))
    with pytest.raises(IncompatibleSchemaError) as refused:
        client.register(subject, schema("case_id", "beneficiaries"))
    assert (refused.value.error_code, refused.value.status) == (409, 409)
    assert "'beneficiaries'" in str(refused.value)
    with pytest.raises(SchemaRegistryError) as invalid:
        client.register(subject, '{"type": "record", "name": "A", "fields": [{"name": "n", "type": "integer"}]}')
    assert (invalid.value.error_code, invalid.value.status) == (42201, 422)
    with pytest.raises(SchemaRegistryError) as unknown:
        client.get_schema(2_000_000_000)
    assert unknown.value.error_code == 40403


def test_config_per_subject_and_deleting_a_subject(client: RegistryClient, subject: str) -> None:
    global_level = client.get_config()
    assert client.get_config(subject) == global_level
    assert client.set_config("full", subject) == "FULL"
    assert client.get_config(subject) == "FULL"
    first = client.register(subject, schema("case_id"))
    assert client.delete_subject(subject) == [1]
    assert subject not in client.subjects()
    assert client.get_schema(first)  # ids outlive a soft delete
    assert client.register(subject, schema("case_id")) == first  # cache was dropped: registered again
    assert client.versions(subject) == [2]


def test_an_unreachable_registry_says_where_and_what_to_do() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with RegistryClient(url, timeout_s=2) as client, pytest.raises(SchemaRegistryError) as info:
        client.subjects()
    message = str(info.value)
    assert url in message and "hub registry serve" in message
    assert info.value.status is None
