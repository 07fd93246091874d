"""The command line, run for real in subprocesses."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.cli_helpers import bastion


@pytest.fixture
def data_dir(tmp_path: Path, db_url: str, app_db_url: str) -> Path:
    """A data dir whose database is each backend in turn (on PostgreSQL the commands
    connect as the application role, init as the owner)."""
    (tmp_path / "db_url").write_text(app_db_url)
    (tmp_path / "admin_db_url").write_text(db_url)
    return tmp_path


def run(data_dir: Path, *args: str, stdin: str | None = None, subprocess: bool = False):  # type: ignore[no-untyped-def]
    env = {
        "BASTION_DATABASE_URL": (data_dir / "db_url").read_text(),
        "BASTION_DATABASE_ADMIN_URL": (data_dir / "admin_db_url").read_text(),
    }
    return bastion(*args, data_dir=data_dir, stdin=stdin, env=env, subprocess=subprocess)


def test_init_is_idempotent_and_prints_key_once(data_dir: Path) -> None:
    """The first init prints an admin key; the second creates nothing new. (The real
    ``python -m bastion`` entry point, in a subprocess.)"""
    first = run(data_dir, "init", subprocess=True)
    assert first.returncode == 0, first.stderr
    key = first.stdout.strip().splitlines()[-1]
    assert key.startswith("bst_")
    kek = data_dir / "kek"
    assert stat.S_IMODE(kek.stat().st_mode) == 0o600
    kek_before = kek.read_text()
    second = run(data_dir, "init")
    assert second.returncode == 0
    assert "already initialised" in second.stdout
    assert "bst_" not in second.stdout
    assert kek.read_text() == kek_before


def test_keys_create_list_revoke(data_dir: Path) -> None:
    """Keys are listed without secrets and revocation shows in the list."""
    assert run(data_dir, "init").returncode == 0
    created = run(data_dir, "keys", "create", "--user", "bob@acme.test", "--name", "ci")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    prefix = secret.split("_")[1]
    listed = run(data_dir, "keys", "list")
    assert prefix in listed.stdout
    assert secret not in listed.stdout
    assert run(data_dir, "keys", "revoke", prefix).returncode == 0
    rows = [
        json.loads(line) for line in run(data_dir, "keys", "list", "--json").stdout.splitlines()
    ]
    assert {row["prefix"]: row["status"] for row in rows}[prefix] == "revoked"
    assert all(secret not in json.dumps(row) for row in rows)
    missing = run(data_dir, "keys", "revoke", "nope")
    assert missing.returncode == 2 and "no such key" in missing.stderr


def test_commands_need_an_initialised_database(tmp_path: Path) -> None:
    """Before init, commands say to run init instead of crashing."""
    result = bastion("keys", "list", data_dir=tmp_path)
    assert result.returncode == 2
    assert "bastion init" in result.stderr


def test_audit_verify_and_export_on_empty_log(data_dir: Path) -> None:
    """An empty log verifies and exports zero lines."""
    assert run(data_dir, "init").returncode == 0
    verify = run(data_dir, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    export = run(data_dir, "audit", "export", "--format", "jsonl")
    assert export.returncode == 0 and export.stdout == ""
    bad = run(data_dir, "audit", "export", "--format", "xml")
    assert bad.returncode == 2 and "unknown format" in bad.stderr


def test_serve_refuses_unsafe_setup(tmp_path: Path) -> None:
    """No key file and a public address without TLS: refused, with each fix named."""
    result = bastion("serve", "--host", "0.0.0.0", data_dir=tmp_path)
    assert result.returncode == 2
    assert "no key-encryption key" in result.stderr
    assert "TLS is off" in result.stderr
    assert "--dev" in result.stderr


def test_invalid_setting_is_named(tmp_path: Path) -> None:
    """A malformed environment variable is reported by name."""
    result = bastion("serve", data_dir=tmp_path, env={"BASTION_PORT": "eighty"})
    assert result.returncode == 2
    assert "BASTION_PORT" in result.stderr


SCAN_INPUT = "\n".join(
    [
        json.dumps({"id": 1, "text": "What is our refund policy?", "role": "user"}),
        json.dumps({"id": 2, "text": "key AKIAZ7Q3ZJ4XKD2PLM5T here", "role": "user"}),
        json.dumps(
            {"id": 3, "text": "token ghp_hec58Ej0iyy7wAA7rWmSRGR2YBysA7UuQB6F", "role": "assistant"}
        ),
        "{broken",
        "",
        json.dumps({"id": 5, "text": "hid\U000e0041\U000e0042den", "role": "document"}),
    ]
)


def test_scan_contract_without_server_or_database(tmp_path: Path) -> None:
    """`bastion scan` emits one result per line in the documented shape."""
    result = bastion("scan", data_dir=tmp_path, stdin=SCAN_INPUT)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == [1, 2, 3, None, 5]
    ok, secret, output, broken, tags = lines
    assert ok["decision"] == "allow" and ok["findings"] == []
    assert secret["decision"] == "block"
    assert secret["findings"][0]["scanner"] == "secrets"
    assert set(secret["findings"][0]) == {"scanner", "type", "start", "end", "score"}
    assert output["decision"] == "redact" and "ghp_" not in output["text"]
    assert broken["decision"] == "block" and "error" in broken
    assert tags["decision"] == "block"
    assert not (tmp_path / "bastion.db").exists()


def test_scan_with_policy_file(tmp_path: Path) -> None:
    """A policy file chooses the scanners; a bad policy file is named."""
    policy = tmp_path / "p.toml"
    policy.write_text('input = ["prompt_size"]\n[scanners.prompt_size]\nmax_chars = 5\n')
    result = bastion(
        "scan",
        "--policy",
        str(policy),
        data_dir=tmp_path,
        stdin=json.dumps({"id": "a", "text": "AKIAZ7Q3ZJ4XKD2PLM5T"}),
    )
    line = json.loads(result.stdout)
    assert line["decision"] == "block"
    assert line["findings"] == [] or line["findings"][0]["scanner"] == "prompt_size"
    bad = tmp_path / "bad.toml"
    bad.write_text('input = ["no_such_scanner"]\n')
    failed = bastion("scan", "--policy", str(bad), data_dir=tmp_path, stdin="")
    assert failed.returncode == 2
    assert "no_such_scanner" in failed.stderr
