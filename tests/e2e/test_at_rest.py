"""Prompts and responses are not stored in clear, and the chain still verifies."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bastion.secrets import SecretStore
from bastion.store.schema import AuditRecord
from tests.conftest import need_service
from tests.e2e.conftest import Gateway

MARKER = "zebra-quartz-marker-7781"


def _run_traffic(gateway: Gateway) -> None:
    client = gateway.openai()
    client.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": f"ECHO:{MARKER} reply"}]
    )
    stream = client.chat.completions.create(
        model="gpt-test",
        messages=[{"role": "user", "content": f"{MARKER} streamed"}],
        stream=True,
    )
    assert MARKER in "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def test_no_plaintext_in_the_database(gateway: Gateway, db_url: str) -> None:
    """After traffic, no database byte holds the marker; opened records do.

    An upstream key stored as a sealed secret carries the marker too.
    """
    assert gateway.sealer is not None
    secrets = SecretStore(gateway.engine, gateway.sealer.keyring, lambda: datetime.now(UTC))
    secrets.put("openai-prod", f"sk-{MARKER}", kind="upstream_api_key")
    assert secrets.get("openai-prod") == f"sk-{MARKER}"
    _run_traffic(gateway)
    assert gateway.verify().ok
    bodies = gateway.audit_bodies()
    assert sum(MARKER in body for body in bodies) == 2  # the key opens them
    with gateway.engine.connect() as conn:
        stored = conn.execute(select(AuditRecord.body, AuditRecord.sealed)).all()
    assert all(sealed is not None for _, sealed in stored)
    assert all(MARKER not in body for body, _ in stored)
    if db_url.startswith("sqlite"):
        path = Path(db_url.removeprefix("sqlite:///"))
        with gateway.engine.connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        for candidate in (path, path.with_name(path.name + "-wal")):
            if candidate.exists():
                assert MARKER.encode() not in candidate.read_bytes()
        return
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        need_service("pg_dump", False)
        pytest.skip("pg_dump not installed")
    dump = subprocess.run(
        [pg_dump, "--data-only", db_url.replace("postgresql+psycopg", "postgresql")],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    assert MARKER.encode() not in dump
    assert b"audit_records" in dump and b"openai-prod" in dump


def test_moved_sealed_content_fails_verification(gateway: Gateway) -> None:
    """Swapping two records' sealed content is caught: it no longer opens there."""
    _run_traffic(gateway)
    with gateway.engine.begin() as conn:
        rows = conn.execute(select(AuditRecord.id, AuditRecord.sealed).order_by(AuditRecord.id))
        (first_id, first), (second_id, second) = list(rows)[:2]
        conn.execute(
            AuditRecord.__table__.update().where(AuditRecord.id == first_id).values(sealed=second)
        )
        conn.execute(
            AuditRecord.__table__.update().where(AuditRecord.id == second_id).values(sealed=first)
        )
    report = gateway.verify()
    assert not report.ok
    assert report.failures[0].problem == "modified"
    assert report.failures[0].seq == 1
