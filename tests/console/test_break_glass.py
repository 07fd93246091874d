"""Break-glass sign-in: off by default; when on, same-origin only, an active owner or
admin's password, one message for every failure, rate limited, every attempt audited
(never the password, never the email in clear)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bastion.console.break_glass import BreakGlass, verify_password
from bastion.crypto import Keyring, LocalKeyProvider
from bastion.identity.directory import Directory
from bastion.secrets import SecretStore
from tests.e2e.conftest import TEST_KEK, Gateway
from tests.test_cli import data_dir, run

__all__ = ["data_dir"]

PASSWORD = "correct horse battery staple 42"


@pytest.fixture
def gateway_extra_settings() -> dict[str, object]:
    return {"console_break_glass": True}


def now() -> datetime:
    return datetime.now(UTC)


def set_password(gateway: Gateway, email: str, role: str) -> None:
    tenant_id = gateway.identity.tenant_id("acme")
    Directory(gateway.engine).add_user(tenant_id, email, role, now())
    keyring = Keyring(gateway.engine, LocalKeyProvider(base64.b64decode(TEST_KEK)), now)
    BreakGlass(SecretStore(gateway.engine, keyring, now)).set(tenant_id, email, PASSWORD)


def attempt(http: httpx.Client, gateway: Gateway, email: str, password: str) -> httpx.Response:
    return http.post(
        "/console/login/break-glass",
        data={"tenant": "acme", "email": email, "password": password},
        headers={"origin": gateway.base_url},
    )


def test_break_glass_lets_an_admin_in_and_records_every_attempt(gateway: Gateway) -> None:
    set_password(gateway, "root@acme.test", "owner")
    set_password(gateway, "mia@acme.test", "member")
    with httpx.Client(base_url=gateway.base_url, timeout=30) as http:
        form = http.get("/console/login").text
        cross = http.post(
            "/console/login/break-glass",
            data={"tenant": "acme", "email": "root@acme.test", "password": PASSWORD},
            headers={"origin": "https://evil.example"},
        )
        wrong = attempt(http, gateway, "root@acme.test", "not the password at all")
        member = attempt(http, gateway, "mia@acme.test", PASSWORD)
        nobody = attempt(http, gateway, "ghost@acme.test", PASSWORD)
        ok = attempt(http, gateway, "root@acme.test", PASSWORD)
        page = http.get("/console/overview")
    assert 'action="/console/login/break-glass"' in form
    assert cross.status_code == 403
    for failed in (wrong, member, nobody):
        assert failed.status_code == 401 and "Sign-in failed." in failed.text
    assert ok.status_code == 303 and ok.headers["location"] == "/console"
    assert "HttpOnly" in ok.headers["set-cookie"] and "SameSite=Lax" in ok.headers["set-cookie"]
    assert page.status_code == 200 and "root@acme.test" in page.text
    bodies = gateway.audit_bodies(deployment=True)
    records = [json.loads(b) for b in bodies if "break_glass" in b]
    outcomes = [(r["outcome"], r.get("error_code")) for r in records]
    assert outcomes == [
        ("break_glass_refused", "bad_credentials"),
        ("break_glass_refused", "bad_credentials"),
        ("break_glass_refused", "bad_credentials"),
        ("break_glass_login", None),
    ]
    assert PASSWORD not in "".join(bodies)
    assert all("root@acme.test" not in json.dumps(r) for r in records)  # its SHA-256 only


def test_attempts_are_rate_limited(gateway: Gateway) -> None:
    set_password(gateway, "root@acme.test", "owner")
    with httpx.Client(base_url=gateway.base_url, timeout=30) as http:
        for _ in range(5):
            assert (
                attempt(http, gateway, "root@acme.test", "guess guess guess guess").status_code
                == 401
            )
        late = attempt(http, gateway, "root@acme.test", PASSWORD)
    assert late.status_code == 401  # the right password, but the window is full
    assert any('"rate_limited"' in b for b in gateway.audit_bodies())


def test_the_hash_is_scrypt_and_the_cli_sets_it(data_dir: Path) -> None:
    assert run(data_dir, "init").returncode == 0
    short = run(data_dir, "console", "break-glass", "--tenant", "default", "--email",
                "admin@localhost", stdin="short\n")  # fmt: skip
    assert short.returncode == 2 and "at least 16 characters" in short.stderr
    stranger = run(data_dir, "console", "break-glass", "--tenant", "default", "--email",
                   "nobody@localhost", stdin=PASSWORD + "\n")  # fmt: skip
    assert stranger.returncode == 2 and "not an active owner or admin" in stranger.stderr
    done = run(data_dir, "console", "break-glass", "--tenant", "default", "--email",
               "admin@localhost", stdin=PASSWORD + "\n")  # fmt: skip
    assert done.returncode == 0 and "break-glass sign-in is off" in done.stdout
    assert PASSWORD not in done.stdout + done.stderr
    assert not verify_password("scrypt:1:1:1:AA==:AA==", PASSWORD)


def test_off_by_default(gateway: Gateway) -> None:
    """(This module turns it on; the default is checked on the settings.)"""
    from bastion.settings import Settings

    assert Settings().console_break_glass is False
