"""The transfer record, its chain and its signing key: canonical form, refusals naming field and rule, key files."""

from __future__ import annotations

import base64
import json
import os
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from hub.errors import ConfigError, HubError, SerializationError, TransferLogError
from hub.settings import load_settings
from hub.transfers.chain import ChainHead, append
from hub.transfers.record import (
    GENESIS,
    Transfer,
    TransferRecord,
    decode,
    encode,
    payload_digest,
    record_key,
    signed_bytes_of,
)
from hub.transfers.signing import (
    SigningKey,
    load_or_create,
    load_public,
    public_from_pem,
    public_key_path,
    public_pem,
    signing_key_path,
)
from hub.wire import frame
from tests.transfer_chains import flow_world

KEY = SigningKey.generate()


def _record() -> TransferRecord:
    return flow_world(KEY, [2, 3]).records[1]


def test_encode_is_canonical_versioned_json_and_decode_inverts_it() -> None:
    record = _record()
    data = encode(record)
    doc = json.loads(data)
    assert doc["v"] == 1
    assert list(doc) == sorted(doc)
    assert data == json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    assert decode(data) == record
    assert decode(memoryview(data)) == record


def test_flow_digest_and_key() -> None:
    record = _record()
    assert record.flow == "cn->hk"
    assert record_key(record.flow) == b"cn->hk"
    assert len(record.digest) == 64
    other_signature = replace(record, signature=KEY.sign(b"something else"))
    assert other_signature.digest != record.digest, "the digest covers the signature"


def test_the_chain_links_each_record_to_the_digest_of_the_one_before() -> None:
    world = flow_world(KEY, [1, 1, 1])
    first, second, third = world.records
    assert (first.seq, first.prev_hash) == (1, GENESIS)
    assert second.prev_hash == first.digest and third.prev_hash == second.digest
    assert [r.seq for r in world.records] == [1, 2, 3]
    assert ChainHead.of(third) == ChainHead(3, third.digest)


def test_the_signature_covers_seq_prev_hash_and_key_id() -> None:
    record, head = append(ChainHead.start(), _record().transfer, KEY)
    assert head == ChainHead(1, record.digest)
    assert KEY.public.verify(signed_bytes_of(record), record.signature)
    for changed in (
        replace(record, seq=2),
        replace(record, prev_hash="1" * 64),
        replace(record, key_id="0" * 16),
        replace(record, transfer=replace(record.transfer, count=1)),
    ):
        assert not KEY.public.verify(signed_bytes_of(changed), changed.signature)


def test_payload_digest_ignores_the_schema_id_and_separates_bodies() -> None:
    bodies = [b"abc", b"de"]
    assert payload_digest(frame(1, b) for b in bodies) == payload_digest(frame(99, b) for b in bodies)
    assert payload_digest([frame(1, b"abc"), frame(1, b"de")]) != payload_digest([frame(1, b"ab"), frame(1, b"cde")])
    assert payload_digest([frame(1, b"abc")]) != payload_digest([frame(1, b"abc")] * 2)
    with pytest.raises(TransferLogError, match=r"payload: .*5-byte Confluent header") as info:
        payload_digest([b"\x00\x01"])
    assert isinstance(info.value.__cause__, SerializationError)


def _doc(**changes: Any) -> bytes:
    doc = json.loads(encode(_record()))
    for name, value in changes.items():
        if value is _DROP:
            doc.pop(name)
        else:
            doc[name] = value
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


_DROP = object()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "record: empty value"),
        (b"\xff", "record: not UTF-8 JSON"),
        (b"[1]", "record: must be a JSON object"),
        (_doc(v=2), "v: must be 1, got 2"),
        (_doc(extra=1), "extra: unknown field"),
        (_doc(count=_DROP), "count: required"),
        (_doc(count="2"), "count: must be an integer, got str"),
        (_doc(count=True), "count: must be an integer, got bool"),
        (_doc(count=0), "count: must be at least 1, got 0"),
        (_doc(count=9), "count: 9 records do not fit in source offsets"),
        (_doc(source_last=0), "source_last: must be at least 3, got 0"),
        (_doc(partition=-1), "partition: must be at least 0, got -1"),
        (_doc(source="CN"), "source: must be a jurisdiction code"),
        (_doc(target="cn"), "target: must differ from source"),
        (_doc(target_topic=""), "target_topic: must be a non-empty printable ASCII string"),
        (_doc(payload_sha256="ab"), "payload_sha256: must be 64 lowercase hex digits"),
        (_doc(seq=0), "seq: must be at least 1, got 0"),
        (_doc(prev_hash="X" * 64), "prev_hash: must be 64 lowercase hex digits"),
        (_doc(key_id="abc"), "key_id: must be 16 lowercase hex digits"),
        (_doc(signature="not base64!"), "signature: must be base64"),
        (_doc(signature=base64.b64encode(b"x" * 10).decode()), "signature: must be the canonical base64 of 64 bytes"),
        (encode(_record()).replace(b",", b", ", 1), "record: not in canonical form"),
    ],
)
def test_decode_refuses_naming_the_field_and_the_rule(data: bytes | None, message: str) -> None:
    with pytest.raises(TransferLogError) as info:
        decode(data)
    assert str(info.value).startswith(message), str(info.value)
    assert isinstance(info.value, HubError)


def test_a_transfer_cannot_be_built_malformed() -> None:
    with pytest.raises(TransferLogError, match="target_last: must be at least 5"):
        replace(_record().transfer, target_first=5, target_last=4)
    assert isinstance(_record().transfer, Transfer)


def test_load_or_create_keeps_the_key_private_and_writes_its_public_half(tmp_path: Path) -> None:
    settings = load_settings(env_file=None, data_dir=tmp_path / "data")
    path = signing_key_path(settings)
    assert path == (tmp_path / "data" / "secrets" / "transfer-signing.pem").resolve()
    key = load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_or_create(path).key_id == key.key_id, "an existing key is reused, never replaced"
    public = load_public(public_key_path(settings))
    assert public_key_path(settings) == (tmp_path / "data" / "transfer-signing.pub.pem").resolve()
    assert public.key_id == key.key_id and len(key.key_id) == 16
    assert public_pem(key) == public.pem()
    assert public.verify(b"data", key.sign(b"data")) and not public.verify(b"other", key.sign(b"data"))
    assert b"PRIVATE" not in public_key_path(settings).read_bytes()
    assert key.key_id in repr(key) and "PRIVATE" not in repr(key)


def test_a_key_file_others_may_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "transfer-signing.pem"
    load_or_create(path)
    os.chmod(path, 0o640)
    with pytest.raises(ConfigError, match=r"may be read by others \(mode 640\): run `chmod 600"):
        load_or_create(path)


def test_files_that_hold_no_ed25519_key_are_refused(tmp_path: Path) -> None:
    missing = tmp_path / "peer.pub.pem"
    with pytest.raises(TransferLogError, match=r"peer\.pub\.pem: cannot read the public key"):
        load_public(missing)
    missing.write_text("hello")
    with pytest.raises(TransferLogError, match="not a PEM public key"):
        load_public(missing)
    with pytest.raises(TransferLogError, match="not an Ed25519 public key"):
        public_from_pem(_rsa_public_pem())
    private = tmp_path / "secrets" / "k.pem"
    private.parent.mkdir(mode=0o700)
    fd = os.open(private, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"garbage")
    os.close(fd)
    with pytest.raises(TransferLogError, match="not an unencrypted PEM private key"):
        load_or_create(private)


def _rsa_public_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
