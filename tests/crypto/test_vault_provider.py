"""HashiCorp Vault transit as the KEK provider, against the loopback transit stand-in."""

from __future__ import annotations

import base64
import sys
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import hvac
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select

from bastion.crypto import DecryptionError, Keyring, UnwrapError
from bastion.crypto.providers import KeyProviderUnavailable, RewrappingKeyProvider
from bastion.crypto.vault import VaultTransitProvider, binding
from bastion.identity import IdentityService
from bastion.store import make_engine
from bastion.store.schema import DataKey
from bastion.store.tenancy import maintenance
from bastion.testing.certs import TestPKI
from bastion.testing.vault_transit import VaultTransitStandIn
from tests.cli_helpers import bastion
from tests.ports import free_port

TOKEN = "hvs.test-token-7f3a9c41"
KEY = bytes(range(32))
CONTEXT = "tenant-1/app/1"


def clock() -> datetime:
    return datetime(2026, 11, 25, tzinfo=UTC)


@pytest.fixture
def vault() -> Iterator[VaultTransitStandIn]:
    """The transit stand-in on 127.0.0.1, plain HTTP."""
    with VaultTransitStandIn.running(token=TOKEN) as server:
        yield server


@pytest.fixture
def opened() -> Iterator[list[VaultTransitProvider]]:
    """Providers a test builds, closed at its end."""
    providers: list[VaultTransitProvider] = []
    yield providers
    for provider in providers:
        provider.close()


def provider_on(
    opened: list[VaultTransitProvider], url: str, token: str = TOKEN, **options: object
) -> VaultTransitProvider:
    provider = VaultTransitProvider(url, SecretStr(token), **options)  # type: ignore[arg-type]
    opened.append(provider)
    return provider


@pytest.fixture
def provider(
    vault: VaultTransitStandIn, opened: list[VaultTransitProvider]
) -> VaultTransitProvider:
    return provider_on(opened, vault.base_url)


def _everything(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc)


def test_round_trip_and_what_goes_over_the_wire(
    provider: VaultTransitProvider, vault: VaultTransitStandIn
) -> None:
    """Wrap is transit encrypt of the bound key; the token travels only as a header."""
    wrapped = provider.wrap(KEY, CONTEXT)
    assert wrapped.startswith(b"vault:v1:")
    assert provider.unwrap(wrapped, CONTEXT) == KEY
    encrypt, decrypt = vault.requests
    assert (encrypt.method, encrypt.path) == ("POST", "/v1/transit/encrypt/bastion")
    assert decrypt.path == "/v1/transit/decrypt/bastion"
    sent = base64.b64decode(encrypt.body["plaintext"])
    assert sent == b"\x01" + binding(CONTEXT) + KEY
    assert decrypt.body == {"ciphertext": wrapped.decode()}
    for request in vault.requests:
        assert request.headers["x-vault-token"] == TOKEN
        assert TOKEN not in request.path + str(request.query) + str(request.body)
        assert CONTEXT.encode() not in base64.b64decode(encrypt.body["plaintext"])
        assert "x-vault-namespace" not in request.headers


@pytest.mark.parametrize(
    "other",
    ["tenant-2/app/1", "tenant-1/audit/1", "tenant-1/app/2", "tenant-1/app/1 ", "", "tenant-1"],
)
def test_wrapped_key_is_bound_to_its_context(provider: VaultTransitProvider, other: str) -> None:
    """A wrapped key moved to another tenant, purpose or version does not unwrap."""
    wrapped = provider.wrap(KEY, CONTEXT)
    with pytest.raises(UnwrapError):
        provider.unwrap(wrapped, other)


def _flip(wrapped: bytes) -> bytes:
    prefix, body = wrapped.rsplit(b":", 1)
    raw = bytearray(base64.b64decode(body))
    raw[20] ^= 1
    return prefix + b":" + base64.b64encode(bytes(raw))


@pytest.mark.parametrize(
    ("tamper", "reaches_vault"),
    [
        (_flip, True),
        (lambda w: w.replace(b"vault:v1:", b"vault:v7:"), True),
        (lambda w: w[:-12] + b"=", True),
        (lambda w: w[:9], False),
        (lambda w: w + b"\xff", False),
        (lambda w: b"", False),
        (lambda w: b"\x01" + bytes(60), False),
    ],
)
def test_tampered_ciphertext_does_not_unwrap(
    provider: VaultTransitProvider,
    vault: VaultTransitStandIn,
    tamper: Callable[[bytes], bytes],
    reaches_vault: bool,
) -> None:
    """Flipped, truncated, re-versioned or foreign blobs give UnwrapError, nothing more."""
    wrapped = provider.wrap(KEY, CONTEXT)
    with pytest.raises(UnwrapError) as caught:
        provider.unwrap(tamper(wrapped), CONTEXT)
    assert str(caught.value) == "could not unwrap the data key"
    assert len(vault.requests) == (2 if reaches_vault else 1)


def test_wrong_token_is_unavailable_and_never_echoed(
    vault: VaultTransitStandIn, opened: list[VaultTransitProvider]
) -> None:
    """Vault's 403 is KeyProviderUnavailable; no message or traceback holds a token."""
    good = provider_on(opened, vault.base_url)
    wrapped = good.wrap(KEY, CONTEXT)
    bad = provider_on(opened, vault.base_url, token="hvs.wrong-token-0000")
    calls: list[Callable[[], bytes]] = [
        lambda: bad.wrap(KEY, CONTEXT),
        lambda: bad.unwrap(wrapped, CONTEXT),
    ]
    for call in calls:
        with pytest.raises(KeyProviderUnavailable, match="permission denied") as caught:
            call()
        text = _everything(caught.value)
        assert "hvs." not in text and TOKEN not in text
        assert caught.value.provider == bad.key_id


def test_vault_down_fails_closed(opened: list[VaultTransitProvider]) -> None:
    """A stopped Vault gives KeyProviderUnavailable, never a wrapped key or UnwrapError."""
    with VaultTransitStandIn.running(token=TOKEN) as server:
        provider = provider_on(opened, server.base_url)
        wrapped = provider.wrap(KEY, CONTEXT)
    with pytest.raises(KeyProviderUnavailable, match="could not connect"):
        provider.wrap(KEY, CONTEXT)
    with pytest.raises(KeyProviderUnavailable, match="could not connect"):
        provider.unwrap(wrapped, CONTEXT)


def test_sealed_vault_is_unavailable(
    provider: VaultTransitProvider, vault: VaultTransitStandIn
) -> None:
    """503 (sealed) is an outage, reported as one."""
    wrapped = provider.wrap(KEY, CONTEXT)
    vault.sealed = True
    with pytest.raises(KeyProviderUnavailable, match="sealed"):
        provider.unwrap(wrapped, CONTEXT)
    with pytest.raises(KeyProviderUnavailable, match="sealed"):
        provider.rewrap(wrapped, CONTEXT)


def test_rotation_keeps_old_keys_and_rewrap_moves_them(
    provider: VaultTransitProvider, vault: VaultTransitStandIn
) -> None:
    """After a rotation v1 still unwraps, new wraps are v2, rewrap lifts v1 to v2."""
    assert isinstance(provider, RewrappingKeyProvider)
    old = provider.wrap(KEY, CONTEXT)
    admin = hvac.Client(url=vault.base_url, token=TOKEN)
    admin.secrets.transit.rotate_key("bastion")
    admin.adapter.close()
    assert vault.requests[-1].path == "/v1/transit/keys/bastion/rotate"
    assert provider.unwrap(old, CONTEXT) == KEY
    assert provider.wrap(KEY, CONTEXT).startswith(b"vault:v2:")
    moved = provider.rewrap(old, CONTEXT)
    assert moved.startswith(b"vault:v2:")
    assert vault.requests[-1].path == "/v1/transit/rewrap/bastion"
    assert "plaintext" not in str(vault.requests[-1].body)
    assert provider.unwrap(moved, CONTEXT) == KEY
    with pytest.raises(UnwrapError):
        provider.unwrap(moved, "tenant-2/app/1")  # the binding travelled with it
    vault.requests.clear()
    with pytest.raises(UnwrapError):
        provider.rewrap(b"vault:v1:", CONTEXT)
    assert vault.requests == []


def test_min_decryption_version_retires_old_ciphertexts(
    provider: VaultTransitProvider, vault: VaultTransitStandIn
) -> None:
    """Once Vault refuses v1, a v1 key is UnwrapError and its rewrapped copy still opens."""
    old = provider.wrap(KEY, CONTEXT)
    vault.rotate("bastion")
    moved = provider.rewrap(old, CONTEXT)
    admin = hvac.Client(url=vault.base_url, token=TOKEN)
    admin.secrets.transit.update_key_configuration("bastion", min_decryption_version=2)
    admin.adapter.close()
    with pytest.raises(UnwrapError):
        provider.unwrap(old, CONTEXT)
    assert provider.unwrap(moved, CONTEXT) == KEY


def test_keyring_through_vault(
    engine: Engine, vault: VaultTransitStandIn, opened: list[VaultTransitProvider]
) -> None:
    """A keyring stores Vault ciphertexts; another process opens them; rotation re-wraps."""
    provider = provider_on(opened, vault.base_url)
    ring = Keyring(engine, provider, clock)
    blob = ring.encrypt("t1", "audit", "audit_records", "7", b"secret prompt")
    with engine.connect() as conn:
        rows = conn.execute(select(DataKey.wrapped, DataKey.kek_id)).all()
    assert [(bytes(w)[:9], k) for w, k in rows] == [(b"vault:v1:", provider.key_id)]
    other = Keyring(engine, provider_on(opened, vault.base_url), clock)
    assert other.decrypt("t1", "audit", "audit_records", "7", blob) == b"secret prompt"
    with pytest.raises(DecryptionError):
        other.decrypt("t2", "audit", "audit_records", "7", blob)

    vault.rotate("bastion")
    ring.current("t2", "app")
    assert ring.rewrap_all(provider) == 2
    with engine.connect() as conn:
        assert {bytes(w)[:9] for w in conn.execute(select(DataKey.wrapped)).scalars()} == {
            b"vault:v2:"
        }
    fresh = Keyring(engine, provider_on(opened, vault.base_url), clock)
    assert fresh.decrypt("t1", "audit", "audit_records", "7", blob) == b"secret prompt"


def test_namespace_is_sent_as_a_header(opened: list[VaultTransitProvider]) -> None:
    """With a namespace, X-Vault-Namespace is sent and the key id names it."""
    with VaultTransitStandIn.running(token=TOKEN, namespace="team-a") as server:
        without = provider_on(opened, server.base_url)
        with pytest.raises(KeyProviderUnavailable):
            without.wrap(KEY, CONTEXT)
        provider = provider_on(opened, server.base_url, namespace="team-a")
        assert provider.unwrap(provider.wrap(KEY, CONTEXT), CONTEXT) == KEY
        assert server.requests[-1].headers["x-vault-namespace"] == "team-a"
    port = server.base_url.rsplit(":", 1)[1]
    assert provider.key_id == f"vault:127.0.0.1:{port}/team-a/transit/bastion"


def test_other_mount_and_key(opened: list[VaultTransitProvider]) -> None:
    """Mount and key name are configurable and end up in the path and the key id."""
    with VaultTransitStandIn.running(token=TOKEN, mount="kms/transit") as server:
        provider = provider_on(opened, server.base_url, mount="kms/transit", key="gw-prod")
        assert provider.unwrap(provider.wrap(KEY, CONTEXT), CONTEXT) == KEY
        assert server.requests[0].path == "/v1/kms/transit/encrypt/gw-prod"
        wrong_mount = provider_on(opened, server.base_url)
        with pytest.raises(KeyProviderUnavailable, match="no such path"):
            wrong_mount.wrap(KEY, CONTEXT)
    assert provider.key_id.endswith("/kms/transit/gw-prod")


def test_tls_is_verified(
    tmp_path: Path, opened: list[VaultTransitProvider], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Vault certificate must chain to the CA file; CA-bundle variables are ignored."""
    pki = TestPKI.create(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.ca_file))
    monkeypatch.setenv("VAULT_CACERT", str(pki.ca_file))
    with VaultTransitStandIn.running(token=TOKEN, ssl_context=pki.server_context()) as server:
        assert server.base_url.startswith("https://")
        untrusted = provider_on(opened, server.base_url)
        with pytest.raises(KeyProviderUnavailable, match="TLS verification failed"):
            untrusted.wrap(KEY, CONTEXT)
        assert server.requests == []
        trusted = provider_on(opened, server.base_url, ca_file=pki.ca_file)
        assert trusted.unwrap(trusted.wrap(KEY, CONTEXT), CONTEXT) == KEY
        trusted.close()  # before the server stops: a TLS close needs both ends


def test_repr_and_key_id_hold_no_token(provider: VaultTransitProvider) -> None:
    """The key id names host, mount and key; no repr shows the token."""
    assert provider.key_id.startswith("vault:127.0.0.1:")
    assert provider.key_id.endswith("/transit/bastion")
    assert TOKEN not in repr(provider) + provider.key_id
    assert repr(provider) == f"VaultTransitProvider(key_id={provider.key_id!r})"


@pytest.mark.parametrize(
    ("address", "token", "options", "needle"),
    [
        ("ftp://vault:8200", TOKEN, {}, "address"),
        ("https://user:pw@vault:8200", TOKEN, {}, "address"),
        ("https://vault:8200?x=1", TOKEN, {}, "address"),
        ("vault:8200", TOKEN, {}, "address"),
        ("https://vault:port", TOKEN, {}, "address"),
        ("https://vault:8200", "", {}, "token"),
        ("https://vault:8200", "hvs.two words", {}, "token"),
        ("https://vault:8200", "hvs.line\nbreak", {}, "token"),
        ("https://vault:8200", TOKEN, {"mount": "../sys"}, "mount"),
        ("https://vault:8200", TOKEN, {"key": "a/b"}, "key name"),
        ("https://vault:8200", TOKEN, {"namespace": "a/../b"}, "namespace"),
        ("https://vault:8200", TOKEN, {"ca_file": Path("/nonexistent/ca.pem")}, "CA file"),
    ],
)
def test_bad_configuration_is_refused(
    address: str, token: str, options: dict[str, object], needle: str
) -> None:
    """Malformed settings fail at construction, naming what to fix and not the token."""
    with pytest.raises(ValueError, match=needle) as caught:
        VaultTransitProvider(address, SecretStr(token), **options)  # type: ignore[arg-type]
    assert "hvs." not in str(caught.value) and "pw" not in str(caught.value)


def test_missing_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without hvac the provider cannot be built, and the error gives the pip command."""
    monkeypatch.setitem(sys.modules, "hvac", None)
    with pytest.raises(ImportError, match=r"pip install 'bastion-gateway\[vault\]'"):
        VaultTransitProvider("https://vault:8200", SecretStr(TOKEN))


def test_no_network_at_construction() -> None:
    """Building a provider contacts nothing: an unused port is fine until first use."""
    port = free_port()
    provider = VaultTransitProvider(f"http://127.0.0.1:{port}", SecretStr(TOKEN))
    provider.close()


def test_cli_rotates_through_vault(
    tmp_path: Path, db_url: str, vault: VaultTransitStandIn, opened: list[VaultTransitProvider]
) -> None:
    """`keys rotate --kek` re-wraps under Vault's latest version; `--dek` works through it."""
    env = {
        "BASTION_DATABASE_URL": db_url,
        "BASTION_KEK_PROVIDER": "vault",
        "BASTION_VAULT_ADDR": vault.base_url,
        "BASTION_VAULT_TOKEN": TOKEN,
        "BASTION_DATA_KEY_REFRESH_SECONDS": "0",
    }
    engine = make_engine(db_url)
    try:
        tenant_id, _ = IdentityService(engine).ensure_tenant("acme", clock())
        ring = Keyring(engine, provider_on(opened, vault.base_url), clock)
        blob = ring.encrypt(tenant_id, "app", "sealed_secrets", "s1", b"upstream-key")
        vault.rotate("bastion")
        file_given = bastion(
            "keys", "rotate", "--kek", "--new-kek-file", str(tmp_path), data_dir=tmp_path, env=env
        )
        assert file_given.returncode == 2 and "local provider" in file_given.stderr
        done = bastion("keys", "rotate", "--kek", data_dir=tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        assert "re-wrapped 1 data key(s) under the latest version" in done.stdout
        assert TOKEN not in done.stdout + done.stderr
        with maintenance(engine).connect() as conn:
            assert [bytes(w)[:9] for w in conn.execute(select(DataKey.wrapped)).scalars()] == [
                b"vault:v2:"
            ]
        dek = bastion(
            "keys", "rotate", "--dek", "acme", "--purpose", "app", data_dir=tmp_path, env=env
        )
        assert dek.returncode == 0, dek.stderr
        assert "acme/app: now v2" in dek.stdout
        fresh = Keyring(engine, provider_on(opened, vault.base_url), clock)
        assert fresh.current(tenant_id, "app").version == 2
        with pytest.raises(DecryptionError):  # v1 was destroyed: the old blob is dead
            fresh.decrypt(tenant_id, "app", "sealed_secrets", "s1", blob)
    finally:
        engine.dispose()
