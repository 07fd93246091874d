"""``bastion incident``: playbooks by hand from the command line, effects checked on
the keys themselves (a revoked key fails authentication, a rotated one is replaced)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bastion.errors import AuthenticationFailed
from bastion.identity import IdentityService
from bastion.store import make_engine
from bastion.store.tenancy import maintenance
from tests.test_cli import data_dir, run

__all__ = ["data_dir"]


def new_key(data_dir: Path, email: str) -> str:
    created = run(data_dir, "keys", "create", "--user", email, "--role", "member")
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


def works(data_dir: Path, secret: str) -> bool:
    engine = maintenance(make_engine((data_dir / "admin_db_url").read_text()))
    try:
        IdentityService(engine).authenticate(secret, datetime.now(UTC))
    except AuthenticationFailed:
        return False
    finally:
        engine.dispose()
    return True


def test_data_leakage_from_the_cli_revokes_keys_and_is_listed(data_dir: Path) -> None:
    assert run(data_dir, "init").returncode == 0
    secret = new_key(data_dir, "vic@acme.test")
    assert works(data_dir, secret)
    ran = run(
        data_dir,
        "incident",
        "run",
        "data_leakage",
        "--tenant",
        "default",
        "--user",
        "vic@acme.test",
    )
    assert ran.returncode == 0, ran.stderr
    incident = json.loads(ran.stdout)
    steps = {s["step"]: s["status"] for s in incident["steps"]}
    assert steps["revoke_api_keys"] == "done" and incident["status"] == "contained"
    assert incident["opened_by"] == "cli" and incident["issued_keys"] == []
    assert not works(data_dir, secret)

    listed = run(data_dir, "incident", "list", "--tenant", "default")
    assert incident["id"] in listed.stdout and "data_leakage" in listed.stdout
    shown = json.loads(
        run(data_dir, "incident", "show", incident["id"], "--tenant", "default").stdout
    )
    assert shown["steps"] == incident["steps"]
    closed = run(data_dir, "incident", "close", incident["id"], "--tenant", "default")
    assert closed.returncode == 0 and closed.stdout.strip() == "closed"
    none = run(data_dir, "incident", "release", "key", "no-such-key", "--tenant", "default")
    assert none.returncode == 1 and "no active isolation" in none.stderr
    assert run(data_dir, "audit", "verify").returncode == 0


def test_compromised_credentials_from_the_cli_rotates_the_key(data_dir: Path) -> None:
    assert run(data_dir, "init").returncode == 0
    old = new_key(data_dir, "cred@acme.test")
    ran = run(
        data_dir,
        "incident",
        "run",
        "compromised_credentials",
        "--tenant",
        "default",
        "--user",
        "cred@acme.test",
    )
    assert ran.returncode == 0, ran.stderr
    (issued,) = json.loads(ran.stdout)["issued_keys"]
    assert issued["secret"] != old
    assert not works(data_dir, old)
    assert works(data_dir, issued["secret"])
    shown = run(data_dir, "incident", "list", "--tenant", "default").stdout
    assert issued["secret"] not in shown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "format_disk", "--tenant", "default", "--user", "a@b.test"), "unknown playbook"),
        (("run", "injection", "--tenant", "default"), "name the incident's subject"),
        (("run", "injection", "--tenant", "nope", "--key-id", "k"), "no tenant"),
        (("run", "injection", "--tenant", "default", "--user", "x@y.test"), "no user"),
        (("release", "disk", "ref", "--tenant", "default"), "kind must be"),
        (("show", "not-an-id", "--tenant", "default"), "no such incident"),
    ],
)
def test_bad_input_gets_a_clear_error(data_dir: Path, args: tuple[str, ...], message: str) -> None:
    assert run(data_dir, "init").returncode == 0
    result = run(data_dir, "incident", *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr


def test_an_isolation_is_listed_until_it_is_released(data_dir: Path) -> None:
    assert run(data_dir, "init").returncode == 0
    ran = run(data_dir, "incident", "run", "injection", "--tenant", "default", "--key-id", "k-1")
    assert ran.returncode == 0, ran.stderr
    incident_id = json.loads(ran.stdout)["id"]
    listed = run(data_dir, "incident", "isolations", "--tenant", "default")
    assert listed.returncode == 0, listed.stderr
    (line,) = listed.stdout.splitlines()
    assert line.split()[:2] == ["key", "k-1"] and incident_id in line
    assert run(data_dir, "incident", "release", "key", "k-1", "--tenant", "default").returncode == 0
    assert run(data_dir, "incident", "isolations", "--tenant", "default").stdout == ""
