"""AWS KMS as the KEK provider, against moto's KMS served on loopback (real HTTP, real botocore).

moto's KMS binds ciphertexts to the EncryptionContext with AES-GCM associated data,
so a context mismatch fails there as it does in KMS. Two differences from KMS that
these tests allow for: moto answers ``AccessDeniedException`` where KMS answers
``IncorrectKeyException`` for a ciphertext of another key, and it does not check
credentials (credential handling is tested with none at all).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy import Engine, select

from bastion.crypto import DecryptionError, Keyring, UnwrapError
from bastion.crypto.aws_kms import AwsKmsProvider
from bastion.crypto.providers import KeyProviderUnavailable, RewrappingKeyProvider
from bastion.store.schema import DataKey
from tests.ports import free_port

REGION = "eu-west-1"
SECRET = "wJalrXUtnFEMI-test-secret-key"
KEY = bytes(range(32))
CONTEXT = "tenant-1/app/1"


def clock() -> datetime:
    return datetime(2026, 11, 25, tzinfo=UTC)


@pytest.fixture(scope="module")
def kms_url() -> Iterator[str]:
    """moto's server on 127.0.0.1 and a free port, for this module."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Test credentials only: no shared config, no instance metadata, no real account."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTKEYID")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def admin(kms_url: str) -> Iterator[Any]:
    """A plain boto3 KMS client for set-up (creating and rotating keys)."""
    client = boto3.session.Session().client("kms", region_name=REGION, endpoint_url=kms_url)
    yield client
    client.close()


@pytest.fixture
def key_id(admin: Any) -> str:
    return str(admin.create_key(Description="bastion test KEK")["KeyMetadata"]["KeyId"])


@pytest.fixture
def opened() -> Iterator[list[AwsKmsProvider]]:
    providers: list[AwsKmsProvider] = []
    yield providers
    for provider in providers:
        provider.close()


Make = Callable[..., AwsKmsProvider]


@pytest.fixture
def make(kms_url: str, opened: list[AwsKmsProvider]) -> Make:
    """Build providers on the moto endpoint, closed at the end of the test."""

    def build(key_id: str, **options: Any) -> AwsKmsProvider:
        options.setdefault("endpoint_url", kms_url)
        provider = AwsKmsProvider(key_id, region=REGION, **options)
        opened.append(provider)
        return provider

    return build


@pytest.fixture
def provider(make: Make, key_id: str) -> AwsKmsProvider:
    return make(key_id)


def _everything(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc)


def test_round_trip(provider: AwsKmsProvider) -> None:
    """Encrypt then Decrypt gives the data key back; the blob does not contain it."""
    wrapped = provider.wrap(KEY, CONTEXT)
    assert KEY not in wrapped
    assert provider.unwrap(wrapped, CONTEXT) == KEY


@pytest.mark.parametrize(
    "other",
    ["tenant-2/app/1", "tenant-1/audit/1", "tenant-1/app/2", "tenant-1/app/1 ", "", "tenant-1"],
)
def test_wrapped_key_is_bound_to_its_context(provider: AwsKmsProvider, other: str) -> None:
    """The EncryptionContext mismatch fails in KMS (here moto): UnwrapError."""
    wrapped = provider.wrap(KEY, CONTEXT)
    with pytest.raises(UnwrapError):
        provider.unwrap(wrapped, other)


def _flip(wrapped: bytes) -> bytes:
    raw = bytearray(wrapped)
    raw[-3] ^= 1
    return bytes(raw)


@pytest.mark.parametrize(
    "tamper",
    [_flip, lambda w: w[:-1], lambda w: w[:20], lambda w: b"", lambda w: b"x" * 6145],
)
def test_tampered_ciphertext_does_not_unwrap(
    provider: AwsKmsProvider, tamper: Callable[[bytes], bytes]
) -> None:
    """Flipped, truncated, empty or oversized blobs give UnwrapError, nothing more."""
    wrapped = provider.wrap(KEY, CONTEXT)
    with pytest.raises(UnwrapError) as caught:
        provider.unwrap(tamper(wrapped), CONTEXT)
    assert str(caught.value) == "could not unwrap the data key"


def test_ciphertext_of_another_key_is_refused(make: Make, admin: Any, key_id: str) -> None:
    """Decrypt names the configured key, so another key's blob does not open."""
    other = make(str(admin.create_key()["KeyMetadata"]["KeyId"]))
    wrapped = make(key_id).wrap(KEY, CONTEXT)
    with pytest.raises((UnwrapError, KeyProviderUnavailable)):  # moto: AccessDenied
        other.unwrap(wrapped, CONTEXT)


def test_unknown_key_is_unavailable(make: Make) -> None:
    """A key id KMS does not know is a configuration fault, named by its AWS code."""
    provider = make("alias/does-not-exist")
    with pytest.raises(KeyProviderUnavailable, match=r"Encrypt failed \(NotFoundException\)"):
        provider.wrap(KEY, CONTEXT)


def test_no_credentials_is_unavailable(make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without credentials nothing is sent and the provider says so."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(KeyProviderUnavailable, match="no AWS credentials"):
        make("alias/any").wrap(KEY, CONTEXT)


def test_kms_down_fails_closed(provider: AwsKmsProvider, make: Make, key_id: str) -> None:
    """An unreachable endpoint gives KeyProviderUnavailable, never UnwrapError."""
    wrapped = provider.wrap(KEY, CONTEXT)
    port = free_port()
    down = make(key_id, endpoint_url=f"http://127.0.0.1:{port}", max_attempts=1)
    calls: list[Callable[[], bytes]] = [
        lambda: down.wrap(KEY, CONTEXT),
        lambda: down.unwrap(wrapped, CONTEXT),
    ]
    for call in calls:
        with pytest.raises(KeyProviderUnavailable, match="could not connect") as caught:
            call()
        assert SECRET not in _everything(caught.value)


def test_rotation_and_rewrap(provider: AwsKmsProvider, make: Make, admin: Any, key_id: str) -> None:
    """After KMS rotates, old blobs open; ReEncrypt moves a blob, checking its context."""
    assert isinstance(provider, RewrappingKeyProvider)
    old = provider.wrap(KEY, CONTEXT)
    admin.rotate_key_on_demand(KeyId=key_id)
    assert provider.unwrap(old, CONTEXT) == KEY
    moved = provider.rewrap(old, CONTEXT)
    assert moved != old and provider.unwrap(moved, CONTEXT) == KEY
    with pytest.raises(UnwrapError):
        provider.rewrap(old, "tenant-2/app/1")
    with pytest.raises(UnwrapError):
        provider.unwrap(moved, "tenant-2/app/1")
    target = make(str(admin.create_key()["KeyMetadata"]["KeyId"]))
    assert target.unwrap(target.rewrap(old, CONTEXT), CONTEXT) == KEY


def test_keyring_through_kms(engine: Engine, make: Make, key_id: str) -> None:
    """A keyring stores KMS blobs; another process opens them; the tenant still binds."""
    provider = make(key_id)
    ring = Keyring(engine, provider, clock)
    blob = ring.encrypt("t1", "audit", "audit_records", "7", b"secret prompt")
    with engine.connect() as conn:
        rows = conn.execute(select(DataKey.wrapped, DataKey.kek_id)).all()
    assert len(rows) == 1 and rows[0].kek_id == f"aws-kms:{key_id}"
    assert KEY not in bytes(rows[0].wrapped)
    other = Keyring(engine, make(key_id), clock)
    assert other.decrypt("t1", "audit", "audit_records", "7", blob) == b"secret prompt"
    with pytest.raises(DecryptionError):
        other.decrypt("t2", "audit", "audit_records", "7", blob)


def test_repr_and_key_id_hold_no_secret(provider: AwsKmsProvider, key_id: str) -> None:
    """The key id is the configured key; no repr shows a credential."""
    assert provider.key_id == f"aws-kms:{key_id}"
    assert repr(provider) == f"AwsKmsProvider(key_id='aws-kms:{key_id}')"
    assert SECRET not in repr(provider) and "AKIA" not in repr(provider)


def test_bad_configuration_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty key id, or no region anywhere, fails at construction with the fix."""
    with pytest.raises(ValueError, match="key id is empty"):
        AwsKmsProvider("  ", region=REGION)
    with pytest.raises(ValueError, match="BASTION_AWS_REGION"):
        AwsKmsProvider("alias/bastion")


def test_missing_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without boto3 the provider cannot be built, and the error gives the pip command."""
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(ImportError, match=r"pip install 'bastion-gateway\[aws\]'"):
        AwsKmsProvider("alias/bastion", region=REGION)
