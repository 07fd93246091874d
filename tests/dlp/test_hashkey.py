"""Per-tenant hash keys: derived from the tenant's own ``dlp_hash`` data key, stable
across processes that share the database, different between tenants."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select

from bastion.crypto import Keyring, LocalKeyProvider
from bastion.dlp.hashkey import HASH_PURPOSE, HashKeys
from bastion.store.schema import DataKey
from bastion.store.tenancy import maintenance

KEK = bytes(range(7, 39))


def hash_keys(engine: Engine) -> HashKeys:
    return HashKeys(Keyring(engine, LocalKeyProvider(KEK), lambda: datetime.now(UTC)))


def test_each_tenant_has_its_own_stable_key(engine: Engine) -> None:
    first = hash_keys(engine)
    key_a, key_b = first.for_tenant("tenant-a"), first.for_tenant("tenant-b")
    assert len(key_a) == 32 and key_a != key_b
    assert first.for_tenant("tenant-a") == key_a
    # Another process (a second keyring on the same database) derives the same key.
    assert hash_keys(engine).for_tenant("tenant-a") == key_a
    with maintenance(engine).connect() as conn:
        purposes = conn.execute(select(DataKey.tenant_id, DataKey.purpose)).all()
    assert {("tenant-a", HASH_PURPOSE), ("tenant-b", HASH_PURPOSE)} <= set(purposes)


def test_the_key_is_derived_not_the_data_key_and_never_shown(engine: Engine) -> None:
    keyring = Keyring(engine, LocalKeyProvider(KEK), lambda: datetime.now(UTC))
    keys = HashKeys(keyring)
    derived = keys.for_tenant("tenant-a")
    data_key = keyring.current("tenant-a", HASH_PURPOSE).key
    assert derived != data_key
    assert derived.hex() not in repr(keys) and repr(keys) == "HashKeys(cached=1)"
