"""`bastion keys rotate --kek`: every data key re-wrapped, ciphertexts unchanged."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime
from pathlib import Path

from bastion.crypto import Keyring, LocalKeyProvider
from bastion.identity import IdentityService
from bastion.settings import decode_kek
from bastion.store import make_engine
from tests.cli_helpers import bastion


def test_rotate_kek(tmp_path: Path, db_url: str) -> None:
    """Old ciphertexts open under the new KEK after rotation; misuse is refused."""
    env = {"BASTION_DATABASE_URL": db_url}
    assert bastion("init", data_dir=tmp_path, env=env).returncode == 0
    old = decode_kek((tmp_path / "kek").read_text(), "kek")
    engine = make_engine(db_url)
    ring = Keyring(engine, LocalKeyProvider(old), lambda: datetime.now(UTC))
    blob = ring.encrypt("t1", "audit", "audit_records", "1", b"marker-prompt")

    assert bastion("keys", "rotate", data_dir=tmp_path, env=env).returncode == 2
    same = tmp_path / "same.kek"
    same.write_text((tmp_path / "kek").read_text())
    refused = bastion(
        "keys", "rotate", "--kek", "--new-kek-file", str(same), data_dir=tmp_path, env=env
    )
    assert refused.returncode == 2
    assert "current one" in refused.stderr

    new_file = tmp_path / "new.kek"
    new = os.urandom(32)
    new_file.write_text(base64.b64encode(new).decode())
    done = bastion(
        "keys", "rotate", "--kek", "--new-kek-file", str(new_file), data_dir=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "re-wrapped 1 data key" in done.stdout
    assert base64.b64encode(new).decode() not in done.stdout + done.stderr
    fresh = Keyring(engine, LocalKeyProvider(new), lambda: datetime.now(UTC))
    assert fresh.decrypt("t1", "audit", "audit_records", "1", blob) == b"marker-prompt"
    engine.dispose()


def test_rotate_dek_cli(tmp_path: Path, db_url: str) -> None:
    """--dek rotates a tenant's keys; misuse gets a clear refusal."""
    env = {"BASTION_DATABASE_URL": db_url, "BASTION_DATA_KEY_REFRESH_SECONDS": "0"}
    assert bastion("init", data_dir=tmp_path, env=env).returncode == 0
    kek = decode_kek((tmp_path / "kek").read_text(), "kek")
    engine = make_engine(db_url)
    tenant_id, _ = IdentityService(engine).ensure_tenant("acme", datetime.now(UTC))
    ring = Keyring(engine, LocalKeyProvider(kek), lambda: datetime.now(UTC))
    ring.current(tenant_id, "app")

    both = bastion("keys", "rotate", "--kek", "--dek", "acme", data_dir=tmp_path, env=env)
    assert both.returncode == 2 and "say what to rotate" in both.stderr
    unknown = bastion("keys", "rotate", "--dek", "nosuch", data_dir=tmp_path, env=env)
    assert unknown.returncode == 2 and "nosuch" in unknown.stderr
    bad = bastion("keys", "rotate", "--dek", "acme", "--purpose", "x", data_dir=tmp_path, env=env)
    assert bad.returncode == 2 and "--purpose" in bad.stderr

    done = bastion("keys", "rotate", "--dek", "acme", data_dir=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "acme/app: now v2" in done.stdout and "destroyed v1" in done.stdout
    assert "acme/audit: no data key yet" in done.stdout
    fresh = Keyring(engine, LocalKeyProvider(kek), lambda: datetime.now(UTC))
    assert fresh.current(tenant_id, "app").version == 2
    engine.dispose()
