"""An upstream key kept as a sealed secret reaches the upstream, and only there."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import openai
import pytest

from bastion.crypto import Keyring, LocalKeyProvider
from bastion.gateway.app import create_app
from bastion.gateway.runtime import Runtime
from bastion.gateway.server import uvicorn_config
from bastion.identity import IdentityService
from bastion.secrets import SecretError, SecretStore
from bastion.settings import ModelConfig, Settings
from bastion.store import make_engine
from bastion.store.tenancy import maintenance
from bastion.testing.scripted_upstream import ScriptedUpstream
from tests.cli_helpers import bastion
from tests.e2e.conftest import TEST_KEK, ServerThread
from tests.ports import free_port

UPSTREAM_KEY = "sk-proj-sealed-upstream-key-4711"


def now() -> datetime:
    return datetime.now(UTC)


def settings_for(app_db_url: str, db_url: str, base_url: str, port: int) -> Settings:
    return Settings(
        database_url=app_db_url,
        database_admin_url=db_url,
        kek=TEST_KEK,
        port=port,
        models=[ModelConfig(name="gpt-sealed", base_url=base_url, api_key_secret="openai-prod")],
    )


def test_sealed_upstream_key_is_sent_upstream(db_url: str, app_db_url: str, tmp_path: Path) -> None:
    admin = maintenance(make_engine(db_url))
    kek = base64.b64decode(TEST_KEK)
    secrets = SecretStore(admin, Keyring(admin, LocalKeyProvider(kek), now), now)
    identity = IdentityService(admin)
    identity.ensure_tenant("acme", now())
    key = identity.create_key("acme", "alice@acme.test", now()).secret
    with ScriptedUpstream.running(require_key=UPSTREAM_KEY) as upstream:
        port = free_port()
        settings = settings_for(app_db_url, db_url, upstream.openai_base_url, port)
        unopened = make_engine(app_db_url)
        with pytest.raises(SecretError, match="no secret named 'openai-prod'"):
            Runtime.build(settings, engine=unopened)
        unopened.dispose()
        secrets.put("openai-prod", UPSTREAM_KEY, kind="upstream_api_key")
        runtime = Runtime.build(settings, engine=make_engine(app_db_url))
        assert UPSTREAM_KEY not in repr(runtime.settings)
        server = ServerThread(uvicorn_config(settings, app=create_app(runtime)))
        server.start()
        try:
            with openai.OpenAI(
                base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0
            ) as client:
                answer = client.chat.completions.create(
                    model="gpt-sealed", messages=[{"role": "user", "content": "hello"}]
                )
        finally:
            server.stop()
    assert answer.choices[0].message.content
    sent = upstream.requests[-1].headers
    assert sent["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert key not in str(sent)  # the client's Bastion key is never forwarded
    admin.dispose()


def test_serve_refuses_a_missing_sealed_key(db_url: str, tmp_path: Path) -> None:
    assert bastion("init", data_dir=tmp_path, env={"BASTION_DATABASE_URL": db_url}).returncode == 0
    env = {
        "BASTION_DATABASE_URL": db_url,
        "BASTION_MODELS": '[{"name": "m", "base_url": "http://127.0.0.1:9/v1", '
        '"api_key_secret": "absent"}]',
    }
    refused = bastion("serve", "--dev", "--port", "0", data_dir=tmp_path, env=env)
    assert refused.returncode == 2
    assert "no secret named 'absent'" in refused.stderr
    assert "bastion secrets set absent" in refused.stderr


ROTATED_KEY = "sk-proj-rotated-upstream-key-0815"


def test_a_key_rotated_by_another_process_reaches_the_running_gateway(
    db_url: str, app_db_url: str, tmp_path: Path
) -> None:
    """The provider revokes the old key; an operator runs the compromised-credentials
    playbook from the CLI (another process's database writes); the running gateway
    sends the new key from its next check on, and no record holds either key."""
    admin = maintenance(make_engine(db_url))
    kek = base64.b64decode(TEST_KEK)
    secrets = SecretStore(admin, Keyring(admin, LocalKeyProvider(kek), now), now)
    identity = IdentityService(admin)
    identity.ensure_tenant("acme", now())
    key = identity.create_key("acme", "alice@acme.test", now()).secret
    secrets.put("openai-prod", UPSTREAM_KEY, kind="upstream_api_key")
    with ScriptedUpstream.running(require_key=UPSTREAM_KEY) as upstream:
        port = free_port()
        settings = settings_for(app_db_url, db_url, upstream.openai_base_url, port)
        settings = settings.model_copy(update={"models_refresh_seconds": 0.2})
        server = ServerThread(uvicorn_config(settings, app=create_app(Runtime.build(settings))))
        server.start()
        try:
            with openai.OpenAI(
                base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0
            ) as client:

                def ask() -> bool:
                    """Whether the upstream took the key (else the gateway says 502)."""
                    try:
                        client.chat.completions.create(
                            model="gpt-sealed", messages=[{"role": "user", "content": "hi"}]
                        )
                    except openai.APIStatusError as exc:
                        refused.append(exc.status_code)
                        return False
                    return True

                refused: list[int] = []

                assert ask()
                upstream.require_key = ROTATED_KEY  # revoked at the provider
                assert not ask()
                ran = bastion(
                    "incident",
                    "run",
                    "compromised_credentials",
                    "--tenant",
                    "acme",
                    "--user",
                    "alice@acme.test",
                    "--upstream-key",
                    "openai-prod",
                    data_dir=tmp_path,
                    stdin=ROTATED_KEY + "\n",
                    env={
                        "BASTION_DATABASE_URL": db_url,
                        "BASTION_KEK": TEST_KEK,
                        "BASTION_MODELS": json.dumps(
                            [m.model_dump(mode="json") for m in settings.models]
                        ),
                    },
                )
                assert ran.returncode == 0, ran.stderr
                steps = {s["step"]: s for s in json.loads(ran.stdout)["steps"]}
                assert steps["rotate_upstream_keys"]["status"] == "done"
                assert steps["rotate_upstream_keys"]["detail"]["stored"] == ["openai-prod"]
                assert ROTATED_KEY not in ran.stdout + ran.stderr
                (issued,) = json.loads(ran.stdout)["issued_keys"]  # alice's key rotated too
                client.api_key = issued["secret"]
                deadline = time.monotonic() + 20
                answered = ask()
                while not answered and time.monotonic() < deadline:
                    time.sleep(0.1)
                    answered = ask()
        finally:
            server.stop()
    assert answered and set(refused) == {502}  # the upstream refused the old key
    assert upstream.requests[-1].headers["authorization"] == f"Bearer {ROTATED_KEY}"
    with admin.connect() as conn:
        bodies = "".join(
            str(row)
            for table in ("audit_records", "incident_steps")
            for row in conn.exec_driver_sql(f"SELECT * FROM {table}")  # noqa: S608
        )
    assert ROTATED_KEY not in bodies and UPSTREAM_KEY not in bodies
    admin.dispose()
