"""The pseudonym vault: sealed per-conversation maps, bound to caller and row, expiring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from bastion.crypto import Keyring, LocalKeyProvider
from bastion.dlp import EntityType, PiiFinding
from bastion.dlp.operators import Action, Pseudonyms, apply, restore
from bastion.dlp.vault import PseudonymVault, VaultError, purge_expired, vault_owner
from bastion.store.schema import PseudonymVaultRow
from bastion.store.tenancy import maintenance
from tests.cli_helpers import bastion

KEK = bytes(range(3, 35))
EMAIL = "ana.marker@corp.example"
TEXT = f"write to {EMAIL}"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def vault(engine: Engine, clock: Clock) -> PseudonymVault:
    return PseudonymVault(engine, Keyring(engine, LocalKeyProvider(KEK), clock), clock)


def pseudonymized(pseudonyms: Pseudonyms) -> str:
    finding = PiiFinding(EntityType.EMAIL_ADDRESS, 9, 9 + len(EMAIL))
    return apply(TEXT, [finding], {}, default=Action.PSEUDONYMIZE, pseudonyms=pseudonyms).text


def test_a_conversation_keeps_its_map_for_its_caller_only(engine: Engine) -> None:
    clock = Clock()
    store = vault(engine, clock)
    owner = vault_owner("key-1", "conv-a")
    first = store.load("t1", owner)
    assert pseudonymized(first) == "write to <EMAIL_1>"
    store.save("t1", owner, first)
    later = vault(engine, clock).load("t1", owner)  # another process, a later turn
    assert restore("sent to <EMAIL_1>", later) == f"sent to {EMAIL}"
    assert pseudonymized(later) == "write to <EMAIL_1>"  # same value, same placeholder
    for other in (vault_owner("key-2", "conv-a"), vault_owner("key-1", "conv-b")):
        assert restore("sent to <EMAIL_1>", store.load("t1", other)) == "sent to <EMAIL_1>"
    assert restore("sent to <EMAIL_1>", store.load("t2", owner)) == "sent to <EMAIL_1>"


def test_the_map_is_sealed_and_bound_to_its_row(engine: Engine) -> None:
    clock = Clock()
    store = vault(engine, clock)
    mine, theirs = vault_owner("key-1", "c"), vault_owner("key-9", "c")
    ps = Pseudonyms()
    pseudonymized(ps)
    store.save("t1", mine, ps)
    other = Pseudonyms()
    other.placeholder(EntityType.EMAIL_ADDRESS, "someone@else.example")
    store.save("t1", theirs, other)
    with maintenance(engine).connect() as conn:
        blobs = dict(conn.execute(select(PseudonymVaultRow.owner, PseudonymVaultRow.sealed)).all())
    assert EMAIL.encode() not in blobs[mine]
    with maintenance(engine).begin() as conn:  # write access: move my blob to their row
        conn.execute(
            update(PseudonymVaultRow)
            .where(PseudonymVaultRow.owner == theirs)
            .values(sealed=blobs[mine])
        )
    with pytest.raises(VaultError) as caught:
        store.load("t1", theirs)
    assert EMAIL not in str(caught.value) and EMAIL not in repr(store)


def test_saves_merge_and_never_reassign_a_placeholder(engine: Engine) -> None:
    clock = Clock()
    store = vault(engine, clock)
    owner = vault_owner("key-1", "c")
    a, b = store.load("t1", owner), store.load("t1", owner)  # two concurrent requests
    a.placeholder(EntityType.EMAIL_ADDRESS, "a@x.example")
    b.placeholder(EntityType.EMAIL_ADDRESS, "b@x.example")  # also <EMAIL_1>
    b.placeholder(EntityType.PHONE_NUMBER, "+1 415 555 0100")
    store.save("t1", owner, a)
    store.save("t1", owner, b)
    merged = store.load("t1", owner)
    assert merged.by_placeholder == {"<EMAIL_1>": "a@x.example", "<PHONE_1>": "+1 415 555 0100"}


def test_vaults_expire_and_are_purged(engine: Engine) -> None:
    clock = Clock()
    store = vault(engine, clock)
    owner = vault_owner("key-1", "c")
    ps = Pseudonyms()
    pseudonymized(ps)
    store.save("t1", owner, ps)
    clock.now += timedelta(hours=23)
    assert store.load("t1", owner).by_placeholder
    clock.now += timedelta(hours=2)
    assert not store.load("t1", owner).by_placeholder
    assert store.purge("t1") == 1
    assert store.purge("t1") == 0
    with pytest.raises(VaultError):
        vault_owner("", "c")
    with pytest.raises(ValueError, match="ttl"):
        PseudonymVault(
            engine, Keyring(engine, LocalKeyProvider(KEK), clock), clock, ttl=timedelta(0)
        )


def test_the_application_role_uses_vaults_under_row_level_security(
    app_engine: Engine,
) -> None:
    """As the application's database role (on PostgreSQL held to one tenant by
    row-level security), a tenant reads and writes its own vaults only."""
    clock = Clock()
    store = vault(app_engine, clock)
    owner = vault_owner("key-1", "c")
    ps = Pseudonyms()
    pseudonymized(ps)
    store.save("t1", owner, ps)
    assert store.load("t1", owner).by_placeholder == {"<EMAIL_1>": EMAIL}
    assert not store.load("t2", owner).by_placeholder
    assert store.purge("t2") == 0


def test_saves_purge_their_tenants_expired_vaults_and_purge_expired_does_all(
    engine: Engine,
) -> None:
    clock = Clock()
    store = vault(engine, clock)
    ps = Pseudonyms()
    pseudonymized(ps)
    for tenant, owner in (("t1", "old"), ("t2", "old"), ("t1", "new")):
        if owner == "new":
            clock.now += timedelta(hours=25)
        store.save(tenant, vault_owner("key", owner), ps)
    with maintenance(engine).connect() as conn:
        left = sorted(conn.execute(select(PseudonymVaultRow.tenant_id)).scalars())
    assert left == ["t1", "t2"]  # t1's expired vault went with t1's save; t2's stays
    assert purge_expired(engine, clock.now) == 1
    assert purge_expired(engine, clock.now) == 0


def test_dlp_purge_command(tmp_path: Path) -> None:
    assert bastion("init", data_dir=tmp_path).returncode == 0
    result = bastion("dlp", "purge", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "purged 0 expired vault(s)"
