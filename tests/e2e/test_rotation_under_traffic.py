"""Key rotation while requests flow: no request fails, no record is lost, all decrypt."""

from __future__ import annotations

import base64
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import openai
import pytest
from sqlalchemy import select

from bastion.audit import AuditSealer, verify_chain
from bastion.crypto import Keyring, LocalKeyProvider
from bastion.crypto.columns import SEALED_COLUMNS
from bastion.crypto.keyring import key_id_bytes
from bastion.crypto.rotation import keys_in_use
from bastion.store.schema import DataKey
from tests.cli_helpers import bastion
from tests.e2e.conftest import TEST_KEK, Gateway

THREADS = 3
MAX_PER_THREAD = 300


@pytest.fixture
def gateway_extra_settings() -> dict[str, object]:
    return {"data_key_refresh_seconds": 0.2}


def test_dek_and_kek_rotation_under_traffic(gateway: Gateway, db_url: str, tmp_path: Path) -> None:
    stop = threading.Event()
    started = threading.Semaphore(0)
    lock = threading.Lock()
    sent: list[str] = []
    failures: list[str] = []

    def traffic(n: int) -> None:
        client = openai.OpenAI(base_url=gateway.openai_url, api_key=gateway.key, max_retries=0)
        try:
            for i in range(MAX_PER_THREAD):
                if stop.is_set():
                    return
                marker = f"rotation-marker-{n}-{i}"
                try:
                    client.chat.completions.create(
                        model="gpt-test", messages=[{"role": "user", "content": marker}]
                    )
                except openai.APIError as exc:
                    with lock:
                        failures.append(f"{marker}: {exc}")
                with lock:
                    sent.append(marker)
                if i == 5:
                    started.release()
        finally:
            client.close()

    threads = [threading.Thread(target=traffic, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for _ in threads:
        assert started.acquire(timeout=60)

    env = {
        "BASTION_DATABASE_URL": db_url,
        "BASTION_KEK": TEST_KEK,
        "BASTION_DATA_KEY_REFRESH_SECONDS": "0.2",
    }
    dek = bastion(
        "keys", "rotate", "--dek", "acme", "--purpose", "audit", data_dir=tmp_path, env=env
    )
    new_kek = os.urandom(32)
    kek_file = tmp_path / "new.kek"
    kek_file.write_text(base64.b64encode(new_kek).decode())
    kek = bastion(
        "keys", "rotate", "--kek", "--new-kek-file", str(kek_file), data_dir=tmp_path, env=env
    )
    with lock:
        during = len(sent)
    stop.set()
    for thread in threads:
        thread.join(60)

    assert dek.returncode == 0, dek.stderr
    assert "acme/audit: now v2" in dek.stdout and "destroyed v1" in dek.stdout
    assert kek.returncode == 0, kek.stderr
    assert failures == []
    assert during > 3 * 6  # traffic really flowed while the keys rotated
    assert gateway.audit_count() == len(sent)

    # A process started afterwards, with only the new KEK, opens every record.
    fresh = Keyring(gateway.engine, LocalKeyProvider(new_kek), lambda: datetime.now(UTC))
    report = verify_chain(gateway.engine, sealer=AuditSealer(fresh))
    assert report.ok, report.describe()
    assert report[gateway.tenant_id].count == len(sent)
    current = fresh.current(gateway.tenant_id, "audit")
    assert current.version == 2
    assert keys_in_use(gateway.engine, gateway.tenant_id, SEALED_COLUMNS[0]) == {
        key_id_bytes(current.id)
    }
    with gateway.engine.connect() as conn:
        versions = conn.execute(
            select(DataKey.version).where(
                DataKey.tenant_id == gateway.tenant_id, DataKey.purpose == "audit"
            )
        ).all()
    assert [v for (v,) in versions] == [2]
    bodies = "\n".join(gateway.audit_bodies())
    assert all(marker in bodies for marker in sent)
